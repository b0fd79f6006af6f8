"""The frozen benchmark scenario of ../shared/bench as regimen reads it.

The frozen scenario predates RECIST on lesion diameters (issue 11): regimen reads a copy
whose `rule: recist` is the rule it meant then, `rise_over_nadir` (marker ≥ 1.2 × nadir).
"""
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = ROOT.parent / "shared" / "bench"
DAYS = 1095


def regimen_copy(frozen: Path, folder: Path) -> Path:
    """Writes regimen's copy of `frozen` into `folder` and returns its path."""
    text = frozen.read_text()
    if "rule: recist" not in text:
        raise SystemExit(f"{frozen} changed: check the conversion in {__file__}")
    copy = folder / "persister-bench.yaml"
    copy.write_text(text.replace("rule: recist", "rule: rise_over_nadir", 1))
    return copy


def regimen_seconds(binary, scenario, n, out) -> float:
    """Wall time of `regimen -q simulate` of `n` rollouts of arm `continuous` on one thread."""
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    started = time.perf_counter()
    subprocess.run(
        [binary, "-q", "simulate", scenario, "--rollouts", str(n), "--arm", "continuous",
         "--no-png", "--out", out],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started

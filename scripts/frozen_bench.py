"""The frozen benchmark scenario of ../shared/bench as regimen reads it.

The frozen scenario predates RECIST on lesion diameters (issue 11): regimen reads a copy
whose `rule: recist` is the rule it meant then, `rise_over_nadir` (marker ≥ 1.2 × nadir).

Its arm `continuous` stops dosing at progression (regimen's default since issue 11) near
day 900; the persisters then revert and fall below the joint law's 1e5 cells, and the
last ~145 of the 1095 days take exact small-count draws. The NumPy peer doses every day to
day 1095 and tracks no progression, so it never takes those steps. With `through=True` the
copy also says `treat_beyond_progression: true`: regimen then doses as the peer does.
"""
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = ROOT.parent / "shared" / "bench"
DAYS = 1095


def regimen_copy(frozen: Path, folder: Path, through: bool = False) -> Path:
    """Writes regimen's copy of `frozen` into `folder` and returns its path; `through`: it
    treats beyond progression (the peer's schedule: a dose every day to the horizon)."""
    text = frozen.read_text()
    rule = "\n  rule: recist"
    if text.count(rule) != 1 or "treat_beyond_progression" in text:
        raise SystemExit(f"{frozen} changed: check the conversion in {__file__}")
    new = "\n  rule: rise_over_nadir"
    if through:
        new = "\n  treat_beyond_progression: true" + new
    copy = folder / ("persister-bench-through.yaml" if through else "persister-bench.yaml")
    copy.write_text(text.replace(rule, new, 1))
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

#!/usr/bin/env python3
"""regimen's stochastic engine against the NumPy peer, measured in the same run.

Runs, in turn and REPEATS times, `regimen simulate <bench scenario> --rollouts N --arm
continuous` on one thread, on two copies of the scenario, and `peer_numpy.py N
--no-record` (all on the frozen benchmark scenario of ../shared/bench), and prints the
median cost per rollout-day of each and the median of the runs' own ratios. regimen reads
copies of the frozen scenario (scripts/frozen_bench.py) whose `rule: recist` is the rule
it meant then, `rise_over_nadir`:

- "same doses": with `treat_beyond_progression: true`, regimen doses every day to day
  1095, as the peer does (the peer has no progression rule; its mean trajectory is within
  2.5 % of regimen's ODE on this copy from day 300 to the last day, docs/performance.md).
  The like-for-like figure.
- "own rule": the scenario as regimen reads it by default, dosing stopped at progression
  (near day 900). In its last ~145 days the persisters revert below 1e5 cells and take
  exact small-count draws, steps the peer's simulation never reaches.

regimen's first figure is the whole command's wall time: loading and checking the
scenario, the outcomes (progression, endpoints) and the summary and its files included.
The peer's figure is its simulation loop only (its YAML, set-up and start-up left out, and
it tracks no endpoint), so that ratio favours the peer. The second figure is regimen's
cost per added rollout-day, the slope between N/10 and N rollouts run in turn with the
others (the ≈ 15 ms a command spends whatever its size left out, as the peer's figure
leaves its own out): the like-for-like measure of time.

    target/py-venv/bin/python scripts/bench-peer.py [N] [--repeats R] [--bench DIR]

Needs the release binary (cargo build --release) and numpy + pyyaml for the peer.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from frozen_bench import DAYS, DEFAULT_BENCH, ROOT, regimen_copy, regimen_seconds


def peer_ns(peer, scenario, n):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    text = subprocess.run(
        [sys.executable, peer, str(n), "--no-record", "--scenario", scenario],
        check=True, env=env, capture_output=True, text=True,
    ).stdout
    found = re.search(r"= (\d+) ns wall", text)
    if not found:
        raise SystemExit(f"cannot read the peer's timing from: {text!r}")
    return float(found.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=1000, help="rollouts per run")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bench", default=str(DEFAULT_BENCH))
    a = ap.parse_args()
    bench = Path(a.bench)
    frozen = bench / "persister-bench.yaml"
    binary = str(ROOT / "target" / "release" / "regimen")
    days = DAYS
    small = max(a.n // 10, 1)
    runs = {"same doses": True, "own rule": False}
    whole = {name: [] for name in runs}
    marginal = {name: [] for name in runs}
    theirs = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {name: str(regimen_copy(frozen, Path(tmp), through))
                 for name, through in runs.items()}
        for k in range(a.repeats):
            line = []
            for name, scenario in files.items():
                full = regimen_seconds(binary, scenario, a.n, f"{tmp}/run{k}")
                few = regimen_seconds(binary, scenario, small, f"{tmp}/few{k}")
                whole[name].append(full / (a.n * days) * 1e9)
                marginal[name].append((full - few) / ((a.n - small) * days) * 1e9)
                line.append(f"regimen ({name}) {whole[name][-1]:.0f} / "
                            f"{marginal[name][-1]:.0f} ns")
            theirs.append(peer_ns(str(bench / "peer_numpy.py"), str(frozen), a.n))
            print(f"run {k + 1}: {'; '.join(line)} (whole command / per added rollout-day); "
                  f"NumPy peer {theirs[-1]:.0f} ns per rollout-day", flush=True)
    p = statistics.median(theirs)
    print(f"median of {a.repeats} paired runs, {a.n} rollouts x {days} days, one thread: "
          f"NumPy peer {p:.0f} ns per rollout-day")
    # The ratios are medians of each run's own ratio: regimen and the peer run within
    # seconds of each other, so a machine whose speed drifts from minute to minute moves
    # both parts of a run's ratio alike.
    for name in runs:
        r, m = statistics.median(whole[name]), statistics.median(marginal[name])
        rr = statistics.median(x / y for x, y in zip(whole[name], theirs))
        mr = statistics.median(x / y for x, y in zip(marginal[name], theirs))
        print(f"  regimen, {name}: {r:.0f} ns whole command (regimen/peer = {rr:.3f}), "
              f"{m:.0f} ns per added rollout-day (regimen/peer = {mr:.3f})")


if __name__ == "__main__":
    main()

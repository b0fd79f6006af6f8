#!/usr/bin/env python3
"""regimen's stochastic engine against another build of regimen, measured in the same run.

Issue 15 asks how much faster the engine is per rollout-day than main before the issue. This
runs `regimen -q simulate <frozen bench> --rollouts N --arm continuous --no-png` on one thread
with the two binaries in turn, REPEATS times at a small and a large N, and prints the
whole-command medians and the cost per rollout as the slope between the two sizes (which
leaves out start-up, loading and the output files, the same for any N).

    target/py-venv/bin/python scripts/bench-against.py BASE [--binary NEW] [--small 200]
        [--large 2000] [--repeats 5] [--bench DIR]

BASE is the other build, e.g. main before issue 15:
    git worktree add /tmp/base 8e84272
    CARGO_TARGET_DIR=/tmp/base-target cargo build --release --manifest-path /tmp/base/Cargo.toml
    ... scripts/bench-against.py /tmp/base-target/release/regimen
NEW defaults to this checkout's target/release/regimen (cargo build --release first).
"""
import argparse
import statistics
import tempfile
from pathlib import Path

from frozen_bench import DAYS, DEFAULT_BENCH, ROOT, regimen_copy, regimen_seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base", help="the other regimen binary")
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "regimen"))
    ap.add_argument("--small", type=int, default=200, help="rollouts of the small runs")
    ap.add_argument("--large", type=int, default=2000, help="rollouts of the large runs")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bench", default=str(DEFAULT_BENCH))
    a = ap.parse_args()
    if not a.small < a.large:
        raise SystemExit("--small must be fewer rollouts than --large")
    runs = {(who, n): [] for who in ("base", "new") for n in (a.small, a.large)}
    binaries = {"base": a.base, "new": a.binary}
    with tempfile.TemporaryDirectory() as tmp:
        scenario = str(regimen_copy(Path(a.bench) / "persister-bench.yaml", Path(tmp)))
        for k in range(a.repeats):
            for n in (a.small, a.large):
                for who in ("base", "new"):
                    runs[who, n].append(
                        regimen_seconds(binaries[who], scenario, n, f"{tmp}/{who}{k}"))
            print(f"run {k + 1}: " + ", ".join(
                f"{who} {n} rollouts {runs[who, n][-1]:.3f} s"
                for who in ("base", "new") for n in (a.small, a.large)), flush=True)
    median = {key: statistics.median(v) for key, v in runs.items()}
    per = {who: (median[who, a.large] - median[who, a.small]) / (a.large - a.small)
           for who in ("base", "new")}
    print(f"medians of {a.repeats} alternated runs, one thread: "
          f"{a.large} rollouts {median['base', a.large]:.3f} s (base) against "
          f"{median['new', a.large]:.3f} s (new), "
          f"{median['base', a.large] / median['new', a.large]:.2f}x whole commands")
    print(f"per rollout (slope {a.small} -> {a.large}): base {per['base'] * 1e3:.3f} ms, "
          f"new {per['new'] * 1e3:.3f} ms ({per['new'] / DAYS * 1e9:.0f} ns per rollout-day): "
          f"new is {per['base'] / per['new']:.2f}x faster")


if __name__ == "__main__":
    main()

"""The Python package: each call, its tables as NumPy/pandas, errors, threads, Ctrl-C, and
that a comparison gives the command line's files byte for byte."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import regimen

ROOT = Path(__file__).resolve().parents[2]
ALGAZI = ROOT / "scenarios" / "algazi2020-melanoma.yaml"
PERSISTER = ROOT / "scenarios" / "persister-nsclc.yaml"


def cli():
    """The regimen binary the README's test command built (cargo test --release)."""
    exe = Path(os.environ.get("REGIMEN_BIN", ROOT / "target" / "release" / "regimen"))
    assert exe.is_file(), f"{exe} missing: build it with cargo build --release"
    return exe


def test_a_comparison_runs_from_text_without_the_file_system(tmp_path, monkeypatch):
    text = ALGAZI.read_text()
    # From an empty folder: the text's named schedules come from the built-in library.
    monkeypatch.chdir(tmp_path)
    s = regimen.Scenario.from_yaml(text)
    assert s.arms == ["continuous", "5w-on-3w-off"]
    assert s.source == "<string>"
    c = s.compare(rollouts=120, seed=5)
    assert list(tmp_path.iterdir()) == []
    summary = c.summary
    assert list(summary["arm"]) == s.arms
    assert summary["rollouts"].dtype == np.float64
    assert np.all(summary["rollouts"] == 120)
    # The reference has no contrast (NaN); the other arm has a finite one.
    assert np.isnan(summary["rmst_difference"][0])
    assert np.isfinite(summary["rmst_difference"][1])
    outcomes = c.outcomes
    assert len(outcomes) == 240
    assert outcomes["time"].dtype == np.float64
    assert set(outcomes["event"]) <= {0.0, 1.0}
    assert c.reference == "continuous"


def test_compare_gives_the_command_lines_files_byte_for_byte(tmp_path):
    out = tmp_path / "cli"
    said = subprocess.run(
        [cli(), "compare", ALGAZI, "--rollouts", "300", "--seed", "7", "--no-png",
         "--out", out],
        check=True, capture_output=True, text=True,
    ).stdout
    c = regimen.Scenario.from_yaml(ALGAZI).compare(rollouts=300, seed=7)
    assert c.summary_csv() == (out / "summary.csv").read_text()
    assert c.summary_json() == (out / "summary.json").read_text()
    # The printed tables are the command's, before its "wrote ..." line.
    assert said.startswith(str(c))
    # Written from Python, the folder holds the same summary.
    written = c.write(tmp_path / "py", plots=False)
    assert "summary.csv" in written
    assert (tmp_path / "py" / "summary.csv").read_text() == (out / "summary.csv").read_text()


def test_tables_convert_to_pandas():
    pd = pytest.importorskip("pandas")
    c = regimen.Scenario.from_yaml(ALGAZI).compare(rollouts=50, seed=2, trajectories=3)
    frame = c.summary.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == c.summary.columns
    assert frame.shape[0] == 2
    trajectory = c.table("trajectory").to_pandas()
    assert set(trajectory["rollout"]) == {0.0, 1.0, 2.0}
    assert {"time", "total", "marker"} <= set(trajectory.columns)


def test_the_same_seed_gives_the_same_numbers_on_any_number_of_threads():
    s = regimen.Scenario.from_yaml(ALGAZI)
    one = s.compare(rollouts=200, seed=11, threads=1)
    two = s.compare(rollouts=200, seed=11, threads=2)
    assert one.summary_csv() == two.summary_csv()


def test_simulate_returns_every_arm_or_one():
    s = regimen.Scenario.from_yaml(PERSISTER)
    every = s.simulate()
    assert list(every.outcomes["arm"]) == s.arms
    one = s.simulate(arm=s.arms[1], record_every=7.0)
    assert list(one.outcomes["arm"]) == [s.arms[1]]
    times = one.trajectory["time"]
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    assert "TTP" in str(one)


def test_with_params_sweeps_a_parameter_and_keeps_the_rules():
    s = regimen.Scenario.from_yaml(ALGAZI)
    path = "model.compartments.resistant.initial"
    ttp = []
    for initial in [3e7, 1e8, 1e9]:
        run = s.with_params({path: initial}).simulate(arm="continuous")
        ttp.append(run.outcomes["ttp"][0])
    # More resistant cells at the start, earlier progression.
    assert ttp[0] > ttp[1] > ttp[2]
    with pytest.raises(regimen.InvalidScenario, match="resistnt"):
        s.with_params({"model.compartments.resistnt.initial": 1.0})
    with pytest.raises(regimen.InvalidScenario, match="initial"):
        s.with_params({path: -5.0})


def test_errors_carry_the_located_message():
    with pytest.raises(regimen.InvalidScenario) as e:
        regimen.Scenario.from_yaml("name: x\nhorizon: -1\n")
    assert "<string>" in str(e.value)
    with pytest.raises(FileNotFoundError):
        regimen.Scenario.from_yaml("no-such-file.yaml")
    s = regimen.Scenario.from_yaml(ALGAZI)
    with pytest.raises(regimen.RegimenError, match="no arm `nope`"):
        s.compare(rollouts=10, reference="nope")
    with pytest.raises(regimen.LimitError):
        s.compare(rollouts=10**9)


def test_optimise_ranks_searched_schedules_with_the_arms():
    s = regimen.Scenario.from_yaml(ALGAZI)
    o = s.optimise(budget_evals=3, rollouts=20, holdout=50, families=["intermittent"])
    board = o.leaderboard
    assert len(board) >= len(s.arms) + 1
    assert board["rank"][0] == 1.0
    assert board["feasible"].dtype == bool
    assert len(o.trace) == 3
    assert "arm:continuous" in set(board["schedule"])
    assert "search:" in str(o)
    # The sensitivity report: every entry as the scenario stands, one parameter at a time.
    sens = o.sensitivity
    assert {"nominal", "oneway"} <= set(sens["kind"])
    assert set(sens["schedule"]) == set(board["schedule"])
    assert "cliff_parameter" in o.leaderboard.columns
    assert "robust" not in o.tables
    with pytest.raises(regimen.RegimenError, match="no robust table"):
        o.robust
    quick = s.optimise(budget_evals=2, rollouts=10, holdout=20, families=["intermittent"],
                       sensitivity=False)
    assert "sensitivity" not in quick.tables
    with pytest.raises(regimen.RegimenError, match="unknown family"):
        s.optimise(families=["nope"])


def test_runs_release_the_gil():
    s = regimen.Scenario.from_yaml(PERSISTER)
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        s.compare(rollouts=200, seed=1)
    finally:
        done.set()
        counter.join()
    # The run takes about a second; a thread starved of the GIL would barely tick.
    assert ticks > 50


def test_ctrl_c_stops_a_run_and_the_next_one_runs():
    s = regimen.Scenario.from_yaml(PERSISTER)
    # Python keeps SIGINT ignored when it starts with it ignored (a test run launched in the
    # background by a non-interactive shell): give it Python's usual handler for this test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            # About a minute of work if it were not stopped.
            s.compare(rollouts=40_000, seed=1)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 20
    # The stop was for that run only.
    assert len(s.compare(rollouts=20, seed=1).summary) == len(s.arms)


def test_fit_three_subjects_and_optimise_one(tmp_path):
    # Three men of the synthetic cohort, without profiles (seconds, not minutes).
    lines = (ROOT / "scenarios/data/iadt-cohort.csv").read_text().splitlines()
    keep = [lines[0]] + [l for l in lines[1:] if l.split(",")[0] in ("1", "2", "3")]
    data = tmp_path / "three.csv"
    data.write_text("\n".join(keep) + "\n")
    s = regimen.Scenario.from_yaml(ROOT / "scenarios/iadt-bruchovsky.yaml")
    fit = s.fit(data=data, profiles=False, starts=4)
    assert fit.subjects == ["1", "2", "3"]
    est = fit.estimates.to_pandas()
    assert list(est["id"]) == ["1", "2", "3"]
    assert (est["model.compartments.sensitive.initial"] > 0).all()
    assert (est["r2"] > 0.9).all()
    assert "subject" in str(fit) and "Population" in str(fit)
    one = fit.subject("1")
    assert one.arms[0] == "observed"
    assert len(one.compare(rollouts=20).summary) == len(one.arms)
    written = fit.write(tmp_path / "out", plots=False)
    assert "estimates.csv" in written and "subjects/1.yaml" in written
    with pytest.raises(regimen.RegimenError):
        s.fit(data=data, error="cauchy")


def test_calibrate_to_trial_summaries(tmp_path):
    # The synthetic trial scenario with a small targets block: a few evaluations, the same
    # tables and folder as `regimen fit --targets`.
    text = (ROOT / "tests/cases/calibration/synthetic-trial.yaml").read_text()
    text += """
fit:
  targets:
    arm: continuous
    patients: 300
    rollouts: 200
    budget: 6
    parameters:
      drugs.drug.effects.sensitive.kill.linear.slope: { lower: 0.004, upper: 0.064 }
    statistics:
      - median_pfs: { value: 569, ci: [555, 583] }
      - response_rate: { value: 0.6 }
"""
    s = regimen.Scenario.from_yaml(text)
    c = s.calibrate(seed=3)
    targets = c.targets.to_pandas()
    assert list(targets["statistic"]) == ["median_pfs", "response_rate"]
    assert (targets["model"] > 0).all()
    params = c.parameters.to_pandas()
    assert params["path"][0] == "drugs.drug.effects.sensitive.kill.linear.slope"
    assert 0.004 <= params["estimate"][0] <= 0.064
    assert "calibrated to" in str(c)
    assert len(c.scenario.arms) == 2
    written = c.write(tmp_path / "cal", plots=False)
    assert "targets.csv" in written and "calibrated.yaml" in written


def test_a_model_predictive_arm_explains_itself():
    s = regimen.Scenario.from_yaml(ROOT / "scenarios" / "strobl2021-mpc.yaml")
    run = s.simulate(arm="mpc", record_every=28.0)
    f = run.mpc_filter
    # One row per visit; the filter's median lies inside its own 5–95 % band.
    assert len(f["time"]) > 10
    assert np.all(f["resistant_q05"] <= f["resistant_q50"])
    assert np.all(f["resistant_q50"] <= f["resistant_q95"])
    d = run.mpc_decisions
    assert set(d["action"]) == {"off", "on 1"}
    # Exactly one action given per decision.
    times = d["time"]
    assert sum(d["chosen"]) == len(set(times))
    with pytest.raises(regimen.RegimenError, match="model-predictive"):
        s.simulate(arm="continuous").mpc_filter

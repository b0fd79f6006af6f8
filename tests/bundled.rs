//! Every bundled scenario loads, resolves idempotently and runs; the command line works on
//! them as the README says.

mod common;
use regimen::Scenario;
use regimen::sim::{RunOptions, run_deterministic};
use std::path::{Path, PathBuf};
use std::process::Command;

fn scenarios() -> Vec<PathBuf> {
    common::yaml_files("scenarios")
}

#[test]
fn the_five_published_and_default_scenarios_are_bundled() {
    let names: Vec<String> = scenarios()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "persister-nsclc",
        "zhang2022-prostate",
        "strobl2021-turnover",
        "viossat-noble-containment",
        "greene2019-induced",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "missing scenarios/{want}.yaml"
        );
    }
}

#[test]
fn resolved_form_reads_back_to_the_same_scenario() {
    for file in scenarios() {
        let s = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let printed = s.resolved_yaml();
        let again = Scenario::from_text(&file, &printed)
            .unwrap_or_else(|e| panic!("{}: resolved form does not load:\n{e}", file.display()));
        assert_eq!(
            s.resolved_spec(),
            again.resolved_spec(),
            "{}: resolution is not idempotent",
            file.display()
        );
        assert_eq!(s.model, again.model);
        assert_eq!(s.arms, again.arms);
    }
}

#[test]
fn every_bundled_arm_runs_and_conserves_sanity() {
    for file in scenarios() {
        let s = Scenario::load(&file).unwrap();
        assert!(
            s.arms.len() >= 2,
            "{}: compare at least two arms",
            file.display()
        );
        for arm in &s.arms {
            let r = run_deterministic(&s, arm, RunOptions::default())
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert!(
                r.trajectory
                    .counts
                    .iter()
                    .all(|x| x.is_finite() && *x >= 0.0)
            );
            assert_eq!(*r.trajectory.times.last().unwrap(), s.horizon);
            let o = &r.outcome;
            assert!(o.ttp > 0.0 && o.ttp <= s.horizon);
            assert!((0.0..=1.0).contains(&o.fraction_on_drug));
            assert!(o.cumulative_dose.iter().all(|d| *d >= 0.0));
            // Visits every `every` from 0 to the horizon.
            let expected_visits = (s.horizon / s.marker.every).floor() as usize + 1;
            assert_eq!(
                r.visits.len(),
                expected_visits,
                "{} {}",
                file.display(),
                arm.name
            );
        }
    }
}

fn regimen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run regimen")
}

#[test]
fn simulate_prints_a_table_and_writes_whole_csv_files() {
    let out = std::env::temp_dir().join(format!("regimen-cli-{}", std::process::id()));
    let o = regimen(&[
        "simulate",
        "scenarios/persister-nsclc.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for arm in [
        "continuous",
        "3w-on-1w-off",
        "holiday-2w",
        "adaptive-50",
        "continuous-gpx4i",
    ] {
        assert!(stdout.contains(arm), "{stdout}");
    }
    assert!(
        stdout.contains("TTP") && stdout.contains("Times in days"),
        "{stdout}"
    );
    let traj = std::fs::read_to_string(out.join("trajectory.csv")).unwrap();
    let header = traj.lines().next().unwrap();
    assert_eq!(
        header,
        "arm,time,sensitive,primed,persister,cycling_persister,resistant,total,marker,\
         exposure_osimertinib,exposure_gpx4i,dose_osimertinib,dose_gpx4i"
    );
    // 5 arms × 1461 daily rows (0..=1460, the four-year horizon) + header.
    assert_eq!(traj.lines().count(), 1 + 5 * 1461);
    let outcomes = std::fs::read_to_string(out.join("outcomes.csv")).unwrap();
    assert_eq!(outcomes.lines().count(), 6);
    assert!(outcomes.starts_with("arm,ttp,event,cnsr,"));
    assert!(out.join("visits.csv").is_file());
    // No temporary files left behind.
    let leftovers = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(leftovers, 0);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn simulate_one_arm_and_reject_an_unknown_one() {
    let out = std::env::temp_dir().join(format!("regimen-cli-arm-{}", std::process::id()));
    let o = regimen(&[
        "simulate",
        "scenarios/zhang2022-prostate.yaml",
        "--arm",
        "adaptive-50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let outcomes = std::fs::read_to_string(out.join("outcomes.csv")).unwrap();
    assert_eq!(outcomes.lines().count(), 2);
    std::fs::remove_dir_all(&out).unwrap();

    let o = regimen(&[
        "simulate",
        "scenarios/zhang2022-prostate.yaml",
        "--arm",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("no arm `nope`") && stderr.contains("adaptive-50"),
        "{stderr}"
    );
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let o = regimen(&["check", "scenarios/does-not-exist.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("cannot read scenarios/does-not-exist.yaml"),
        "{stderr}"
    );
}

#[test]
fn errors_in_a_schedule_file_point_into_that_file() {
    let dir = std::env::temp_dir().join(format!("regimen-schedfile-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("schedules")).unwrap();
    std::fs::write(
        dir.join("schedules/my-cycle.yaml"),
        "format_version: 1\ndescription: broken\nschedule:\n  intermittent: { on: 0, off: 7 }\n",
    )
    .unwrap();
    let scenario = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/valid/minimal.yaml"),
    )
    .unwrap()
    .replace("schedule: continuous-mtd", "schedule: my-cycle");
    let file = dir.join("s.yaml");
    std::fs::write(&file, scenario).unwrap();
    let err = Scenario::load(&file).unwrap_err().to_string();
    assert!(
        err.contains("schedules/my-cycle.yaml:4:")
            && err.contains("schedule.intermittent.on")
            && err.contains("on period must be a finite number > 0"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stochastic_simulate_is_identical_across_thread_counts() {
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        // The same folder for both runs: its name is printed.
        let out = std::env::temp_dir().join(format!("regimen-cli-rollouts-{}", std::process::id()));
        let o = Command::new(env!("CARGO_BIN_EXE_regimen"))
            .args([
                "simulate",
                "scenarios/persister-nsclc.yaml",
                "--rollouts",
                "150",
                "--seed",
                "4",
                "--trajectories",
                "2",
                "--out",
                out.to_str().unwrap(),
            ])
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run regimen");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            stdout.contains("median TTP") && stdout.contains("adaptive-50"),
            "{stdout}"
        );
        // The last line reports the wall time, which may differ.
        let stdout: String = stdout
            .lines()
            .filter(|l| !l.starts_with("wrote "))
            .collect::<Vec<_>>()
            .join("\n");
        let files: Vec<String> = [
            "summary.csv",
            "outcomes.csv",
            "trajectory.csv",
            "visits.csv",
        ]
        .iter()
        .map(|f| std::fs::read_to_string(out.join(f)).unwrap())
        .collect();
        // 5 arms × 150 rollouts + header.
        assert_eq!(files[1].lines().count(), 1 + 5 * 150);
        assert!(files[1].starts_with("arm,rollout,time,event,cnsr,"));
        std::fs::remove_dir_all(&out).unwrap();
        outputs.push((stdout, files));
    }
    assert_eq!(outputs[0], outputs[1], "same seed, different thread counts");
}

fn deterministic_ttp(name: &str, arm: &str) -> f64 {
    let s = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.yaml")),
    )
    .unwrap();
    run_deterministic(&s, s.arm(arm).unwrap(), RunOptions::default())
        .unwrap()
        .outcome
        .ttp
}

#[test]
fn bundled_scenarios_show_holidays_winning_and_losing() {
    // Competition lets sensitive cells hold resistant ones back: containment beats
    // maximum-dose therapy (Viossat & Noble 2021), adaptive beats standard of care (Zhang 2022).
    let mtd = deterministic_ttp("viossat-noble-containment", "maximum-dose");
    let contained = deterministic_ttp("viossat-noble-containment", "containment");
    assert!(
        contained > 1.5 * mtd,
        "containment {contained} vs MTD {mtd}"
    );
    let soc = deterministic_ttp("zhang2022-prostate", "standard-of-care");
    let adaptive = deterministic_ttp("zhang2022-prostate", "adaptive-50");
    assert!(adaptive > 2.0 * soc, "adaptive {adaptive} vs SOC {soc}");
    // Without competition and with partial resistance, a holiday only lets the resistant
    // clone grow: intermittent dosing loses (Algazi 2020, PFS 5.5 vs 9.0 months).
    let continuous = deterministic_ttp("algazi2020-melanoma", "continuous");
    let intermittent = deterministic_ttp("algazi2020-melanoma", "5w-on-3w-off");
    assert!(
        intermittent < 0.8 * continuous,
        "intermittent {intermittent} vs {continuous}"
    );
}

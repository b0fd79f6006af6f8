//! Endpoints a trialist would sign (issue 11): RECIST on diameters, adaptive arms measured
//! from baseline, cures that are not events, dosing that stops at progression, hazard
//! ratios flagged where hazards cross, and notes on rollouts that are near copies.

mod common;
use common::regimen_ok;
use regimen::Scenario;
use regimen::sim::rollouts::{ArmRollouts, Rollout, RolloutSettings, run_rollouts};
use regimen::sim::{RunOptions, run_deterministic};
use regimen::stats::contrast::compare;
use std::path::Path;

fn bundled(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.yaml"))
}

fn settings(count: u64) -> RolloutSettings {
    RolloutSettings {
        seed: 5,
        first: 0,
        count,
        keep_trajectories: 0,
        record_every: 0.0,
    }
}

/// Every rollout of this tumour dies out within weeks (net −0.3/day from 1000 cells).
const CURED: &str = r#"
format_version: 1
name: cured
time_units: days
horizon: 365
model:
  growth: exponential
  compartments:
    tumour: { birth: 0.1, death: 0.1, initial: 1000 }
drugs:
  drug:
    exposure: level
    standard_dose: 1
    effects:
      tumour: { kill: { linear: { slope: 0.3 } } }
observation: { every: 28 }
progression: { rule: rise_over_nadir }
arms:
  - name: continuous
    schedule: continuous-mtd
"#;

#[test]
fn an_extinct_tumour_is_cured_not_progressed() {
    // Before: nadir 0 and detection limit 0 made `0 ≥ 1.2 × 0` an event at the first visit
    // after extinction (median TTP 56, PFS 0).
    let s = Scenario::from_text(Path::new("cured.yaml"), CURED).unwrap();
    let runs = run_rollouts(&s, &s.arms[0], settings(200)).unwrap();
    let rows = compare(&s, &[("continuous", &runs)], 0);
    let summary = &rows[0].summary;
    assert!(runs.rollouts.iter().all(|r| !r.outcome.progressed));
    assert!(
        runs.rollouts
            .iter()
            .all(|r| r.outcome.extinct_at.is_some_and(|t| t < 100.0))
    );
    assert_eq!(summary.median_ttp, None);
    assert_eq!(summary.restricted_mean_ttp, 365.0);
    assert_eq!(summary.p_cured, 1.0);
    assert!(summary.pfs.iter().all(|(_, p)| *p == 1.0));
}

#[test]
fn standard_of_care_stops_dosing_at_progression() {
    // Zhang 2022: standard of care progresses at day 672. Dose and time on drug count up to
    // then; before, the arm was charged abiraterone through the 1825-day horizon.
    let s = Scenario::load(&bundled("zhang2022-prostate")).unwrap();
    let soc = run_deterministic(
        &s,
        s.arm("standard-of-care").unwrap(),
        RunOptions::default(),
    )
    .unwrap()
    .outcome;
    assert_eq!(soc.ttp, 672.0);
    assert_eq!(soc.end_of_treatment, 672.0);
    assert!((soc.cumulative_dose[0] - 672.0).abs() < 1e-9, "{soc:?}");
    assert!((soc.fraction_on_drug - 1.0).abs() < 1e-12);
    // Treating beyond progression keeps the old accounting.
    let text = std::fs::read_to_string(bundled("zhang2022-prostate"))
        .unwrap()
        .replace(
            "  factor: 1.2\n",
            "  factor: 1.2\n  treat_beyond_progression: true\n",
        );
    let beyond = Scenario::from_text(&bundled("zhang2022-prostate"), &text).unwrap();
    let o = run_deterministic(
        &beyond,
        beyond.arm("standard-of-care").unwrap(),
        RunOptions::default(),
    )
    .unwrap()
    .outcome;
    assert_eq!(o.ttp, 672.0);
    assert_eq!(o.end_of_treatment, 1825.0);
    assert!((o.cumulative_dose[0] - 1825.0).abs() < 1e-9);
}

#[test]
fn recist_reads_diameters_and_the_adaptive_arm_is_measured_from_baseline() {
    let s = Scenario::load(&bundled("persister-nsclc")).unwrap();
    // The 10 mm detection limit is a sphere of 0.52 cm³, 5.2e8 cells at 1e9 cells per cm³.
    assert!((s.marker.detection_limit / 5.236e8 - 1.0).abs() < 1e-3);
    let adaptive =
        run_deterministic(&s, s.arm("adaptive-50").unwrap(), RunOptions::default()).unwrap();
    // The first planned regrowth after the drug stopped below 50 %: the old rule (marker ≥
    // 1.2 × nadir) called progression at the first visit that met it.
    let mut nadir = f64::INFINITY;
    let regrowth = adaptive
        .visits
        .iter()
        .find(|v| {
            let rise = v.true_value >= 1.2 * nadir;
            nadir = nadir.min(v.true_value);
            rise
        })
        .unwrap();
    assert!(!regrowth.progression, "{regrowth:?}");
    assert!(adaptive.outcome.ttp > regrowth.observation.time);
    // When it is called, the diameter is ≥ 1.2 × the baseline diameter: volume ≥ 1.728 ×.
    let baseline = adaptive.visits[0].true_value;
    let at = adaptive.visits.iter().find(|v| v.progression).unwrap();
    assert!(at.observation.value >= 1.2f64.powi(3) * baseline);
}

/// One arm's rollouts from (time, progressed) pairs.
fn arm_of(times: &[(f64, bool)]) -> ArmRollouts {
    let template = {
        let s = Scenario::from_text(Path::new("cured.yaml"), CURED).unwrap();
        run_rollouts(&s, &s.arms[0], settings(1)).unwrap().rollouts[0].clone()
    };
    ArmRollouts {
        rollouts: times
            .iter()
            .enumerate()
            .map(|(i, &(t, e))| {
                let mut r: Rollout = template.clone();
                r.index = i as u64;
                r.outcome.ttp = t;
                r.outcome.progressed = e;
                r
            })
            .collect(),
        trajectories: Vec::new(),
    }
}

#[test]
fn a_hazard_ratio_against_the_curves_is_flagged() {
    // Arm a: a third progress at once, the rest much later; reference: steady progression.
    // a's median is shorter and its RMST lower, yet its Cox HR is below 1.
    let n = 600;
    let quantile = |i: usize, m: usize, rate: f64| -(1.0 - (i as f64 + 0.5) / m as f64).ln() / rate;
    let a: Vec<(f64, bool)> = (0..n)
        .map(|i| {
            let t = if i % 3 == 0 {
                quantile(i / 3, n / 3, 1.0 / 20.0)
            } else {
                300.0 + quantile(i, n, 1.0 / 5000.0)
            };
            if t < 730.0 {
                (t.round(), true)
            } else {
                (730.0, false)
            }
        })
        .collect();
    let b: Vec<(f64, bool)> = (0..n)
        .map(|i| {
            let t = quantile((i * 7) % n, n, 1.0 / 400.0);
            if t < 730.0 {
                (t.round(), true)
            } else {
                (730.0, false)
            }
        })
        .collect();
    let s = Scenario::from_text(Path::new("cured.yaml"), &CURED.replace("365", "730")).unwrap();
    let (ra, rb) = (arm_of(&a), arm_of(&b));
    let rows = compare(&s, &[("reference", &rb), ("crossing", &ra)], 0);
    let c = rows[1].contrast.as_ref().unwrap();
    assert!(c.proportional_hazards_p.unwrap() < 0.05, "{c:?}");
    assert!(c.hazard_ratio_misleading);
    let table = regimen::report::compare_table(&s, &rows);
    assert!(table.contains('‡'), "{table}");
    let notes =
        regimen::stats::contrast::notes(&s, &rows, &[("reference", &rb), ("crossing", &ra)]);
    assert!(notes.iter().any(|n| n.contains("read ΔRMST")), "{notes:?}");
}

#[test]
fn near_identical_rollouts_are_called_so() {
    // Zhang 2022 has no virtual patients: every rollout of an arm progresses at nearly the
    // same visit. The persister scenario draws each patient's resistant clone.
    let zhang = regimen_ok(&[
        "compare",
        bundled("zhang2022-prostate").to_str().unwrap(),
        "--rollouts",
        "200",
        "--no-png",
        "--out",
        std::env::temp_dir()
            .join(format!("regimen-endpoints-z-{}", std::process::id()))
            .to_str()
            .unwrap(),
    ]);
    assert!(zhang.contains("demographic noise"), "{zhang}");
    let persister = regimen_ok(&[
        "compare",
        bundled("persister-nsclc").to_str().unwrap(),
        "--rollouts",
        "200",
        "--no-png",
        "--out",
        std::env::temp_dir()
            .join(format!("regimen-endpoints-p-{}", std::process::id()))
            .to_str()
            .unwrap(),
    ]);
    assert!(!persister.contains("demographic noise"), "{persister}");
    // The tables fit 100 columns.
    for line in persister.lines().chain(zhang.lines()) {
        if line.starts_with("wrote ") {
            continue;
        }
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
}

#[test]
fn objectives_that_cannot_discriminate_are_refused_or_called_so() {
    // The flag is held to the optimise: block's rule (before, pfs:5000 on a 1095-day horizon
    // ran and ranked everything at P = 1).
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args([
            "optimise",
            "--no-sensitivity",
            bundled("persister-nsclc").to_str().unwrap(),
            "--objective",
            "pfs:5000",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("pfs_at must be a time in (0, horizon = 1460]"),
        "{err}"
    );
    // Zhang: adaptive schedules all hold the tumour to the horizon.
    let out = regimen_ok(&[
        "optimise",
        "--no-sensitivity",
        bundled("zhang2022-prostate").to_str().unwrap(),
        "--budget-evals",
        "6",
        "--rollouts",
        "20",
        "--holdout",
        "40",
        "--families",
        "intermittent,adaptive",
        "--no-png",
        "--out",
        std::env::temp_dir()
            .join(format!("regimen-endpoints-o-{}", std::process::id()))
            .to_str()
            .unwrap(),
    ]);
    assert!(out.contains("the objective is saturated"), "{out}");
    assert!(out.contains("fell to dose"), "{out}");
    // The leaderboard fits 100 columns (it was ~155): parameters go on their own line.
    for line in out.lines().filter(|l| !l.starts_with("wrote ")) {
        assert!(line.chars().count() <= 100, "{line}");
    }
}

#[test]
fn coinciding_arms_are_named_in_the_km_legend() {
    // An arm repeating the reference has the same curve, drawn exactly over it.
    let dir = std::env::temp_dir().join(format!("regimen-endpoints-km-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(bundled("zhang2022-prostate"))
        .unwrap()
        .replace(
            "  - name: adaptive-50\n",
            "  - name: soc-again\n    schedule: continuous-mtd\n  - name: adaptive-50\n",
        );
    let file = dir.join("zhang-twice.yaml");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    let report = dir.join("report.html");
    let stdout = regimen_ok(&[
        "compare",
        file.to_str().unwrap(),
        "--rollouts",
        "100",
        "--no-png",
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    // The report leads with the formatted contrasts and the notes; every column of
    // summary.csv stays one click away.
    let html = std::fs::read_to_string(&report).unwrap();
    let results = &html[html.find("<h2>Results</h2>").unwrap()..];
    assert!(results.contains("ΔRMST vs reference (95% CI)"));
    assert!(
        results.contains("<td>672 (672–672)</td>"),
        "{}",
        &results[..2000]
    );
    assert!(results.contains("soc-again and standard-of-care have the same TTP"));
    let details = results
        .find("<details><summary>every column of summary.csv")
        .unwrap();
    assert!(results.find("rmst_difference_lower").unwrap() > details);
    assert!(
        stdout.contains("soc-again and standard-of-care have the same TTP"),
        "{stdout}"
    );
    let svg = std::fs::read_to_string(out.join("plots/km.svg")).unwrap();
    // The legend wraps long names: "soc-again (= standard-" / "of-care)".
    assert!(
        svg.contains(">soc-again (= standard-</text>") && svg.contains(">of-care)</text>"),
        "legend lacks the note"
    );
    assert!(!svg.contains("adaptive-50 (="));
    // Swimmer lanes are numbered from #1; a lane without progression ends in an arrow.
    let swimmer = std::fs::read_to_string(out.join("plots/swimmer-adaptive-50.svg")).unwrap();
    assert!(swimmer.contains(">#1</text>") && swimmer.contains(">#30</text>"));
    assert!(!swimmer.contains(">#0</text>"));
    assert_eq!(
        swimmer.matches(">→</text>").count(),
        30,
        "adaptive-50 never progresses"
    );
    let soc = std::fs::read_to_string(out.join("plots/swimmer-standard-of-care.svg")).unwrap();
    assert_eq!(
        soc.matches(">→</text>").count(),
        0,
        "standard of care always progresses"
    );
}

#[test]
fn small_things_read_right() {
    // `check` counts in words; a deterministic report says so instead of "seed 0 · 1 rollouts".
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args(["check", bundled("zhang2022-prostate").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("(2 compartments, 1 drug, 2 arms)"), "{err}");
    let dir = std::env::temp_dir().join(format!("regimen-endpoints-sim-{}", std::process::id()));
    let report = dir.join("report.html");
    regimen_ok(&[
        "simulate",
        bundled("zhang2022-prostate").to_str().unwrap(),
        "--no-png",
        "--out",
        dir.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("deterministic run (mean-field ODE)"));
    // simulate's table fits 100 columns too (it was 130 wide for the persister scenario).
    let table = regimen_ok(&[
        "simulate",
        bundled("persister-nsclc").to_str().unwrap(),
        "--no-png",
        "--out",
        dir.join("persister").to_str().unwrap(),
    ]);
    for line in table.lines().filter(|l| !l.starts_with("wrote ")) {
        assert!(line.chars().count() <= 100, "{line}");
    }
    assert!(!html.contains("1 rollouts"));
    // No CSV number is written with a run of zeros or as −0.
    for name in ["trajectory.csv", "visits.csv", "outcomes.csv"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(!text.contains("0.00000000"), "{name}");
        assert!(!text.contains(",-0,") && !text.contains(",-0\n"), "{name}");
    }
}

#[test]
fn an_arm_rule_inherits_treating_beyond_progression() {
    let file = bundled("persister-nsclc");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  rule: recist\n  lesion:",
        "  rule: recist\n  treat_beyond_progression: true\n  lesion:",
    );
    let s = Scenario::from_text(&file, &text).unwrap();
    // adaptive-50 has its own block (measured from baseline) that does not say.
    let adaptive = s.arm("adaptive-50").unwrap();
    assert!(adaptive.treat_beyond_progression);
    assert_ne!(adaptive.progression, s.progression);
    assert!(s.arm("continuous").unwrap().treat_beyond_progression);
}

#[test]
fn optimise_scores_each_arm_by_its_own_rule() {
    // The leaderboard's arm:adaptive-50 must be the arm compare runs (judged from baseline),
    // not its schedule under the scenario's rule (which ended it at its first regrowth).
    let dir = std::env::temp_dir().join(format!("regimen-endpoints-opt-{}", std::process::id()));
    let (opt, cmp) = (dir.join("optimise"), dir.join("compare"));
    let scenario = bundled("persister-nsclc");
    regimen_ok(&[
        "optimise",
        "--no-sensitivity",
        scenario.to_str().unwrap(),
        "--families",
        "intermittent",
        "--budget-evals",
        "3",
        "--rollouts",
        "10",
        "--holdout",
        "60",
        "--seed",
        "4",
        "--no-png",
        "--out",
        opt.to_str().unwrap(),
    ]);
    // Hold-out seeds are seed + 1.
    regimen_ok(&[
        "compare",
        scenario.to_str().unwrap(),
        "--rollouts",
        "60",
        "--seed",
        "5",
        "--no-png",
        "--out",
        cmp.to_str().unwrap(),
    ]);
    let field = |file: &std::path::Path, key: &str, row: &str, col: &str| -> f64 {
        let text = std::fs::read_to_string(file).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let (k, c) = (
            header.iter().position(|h| *h == key).unwrap(),
            header.iter().position(|h| *h == col).unwrap(),
        );
        text.lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f[k] == row)
            .unwrap()[c]
            .parse()
            .unwrap()
    };
    let board = field(
        &opt.join("leaderboard.csv"),
        "schedule",
        "arm:adaptive-50",
        "holdout",
    );
    let compared = field(
        &cmp.join("summary.csv"),
        "arm",
        "adaptive-50",
        "restricted_mean_ttp",
    );
    assert!(
        (board - compared).abs() < 1e-9,
        "leaderboard {board} vs compare {compared}"
    );
    assert!(board > 300.0, "judged from the nadir again: {board}");
}

/// A tumour that shrinks by 1 %/day, then regrows from a resistant clone.
const SHRINKING: &str = r#"
format_version: 1
name: shrinking
time_units: days
horizon: 730
model:
  growth: exponential
  compartments:
    sensitive: { birth: 0.0, death: 0.0, initial: 1.0e9 }
    resistant: { birth: 0.02, initial: 1.0e4, role: resistant }
drugs:
  drug:
    exposure: level
    standard_dose: 1
    effects:
      sensitive: { kill: { linear: { slope: 0.01 } } }
observation: { every: 28 }
progression:
  rule: recist
  lesion: { cells_per_cm3: 1.0e9 }
arms:
  - name: continuous
    schedule: continuous-mtd
  - name: marker
    schedule: continuous-mtd
    progression: { rule: rise_over_nadir }
"#;

#[test]
fn response_is_a_thirty_percent_fall_of_the_diameter_before_progression() {
    let s = Scenario::from_text(Path::new("shrinking.yaml"), SHRINKING).unwrap();
    let run = |arm: &str| {
        run_deterministic(&s, s.arm(arm).unwrap(), RunOptions::default())
            .unwrap()
            .outcome
    };
    // Sensitive cells fall as e^{−0.01 t}; the resistant clone (1e4 cells, +2 %/day) is
    // negligible until day ~400. RECIST partial response: diameter ≤ 0.7 × baseline, burden
    // ≤ 0.343 × baseline, i.e. e^{−0.01 t} ≤ 0.343 at t ≥ 107: the visit on day 112.
    let recist = run("continuous");
    assert_eq!(recist.response_at, Some(112.0));
    // A marker rule's response is a 50 % fall: t ≥ 69.3, the visit on day 84.
    let marker = run("marker");
    assert_eq!(marker.response_at, Some(84.0));
    // The best response is the nadir visit's burden over baseline, before progression.
    assert!(recist.progressed && recist.best_response < 0.05);
    assert!(recist.best_response > 0.0);
}

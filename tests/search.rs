//! The family search against exhaustive enumeration.

use regimen::Scenario;
use regimen::search::family::{Family, SearchOptions, search};
use regimen::search::objective::{Engine, Evaluator, Objective};
use std::path::Path;

/// Strobl et al. 2021's competition model (turnover 0.3, no cost), with daily burden
/// measurements so that time to progression moves in steps of one day.
fn scenario() -> Scenario {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/strobl2021-turnover.yaml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("  every: 7  ", "  every: 1  ");
    Scenario::from_text(&file, &text).unwrap()
}

#[test]
fn nelder_mead_reaches_the_grid_optimum_with_a_tenth_of_the_evaluations() {
    // Grid: on, off ∈ 1..=28 days at full dose (784 schedules), scored by restricted mean
    // TTP on the deterministic model. The search must come within 2 % of the grid's best
    // with at most 78 evaluations.
    let s = scenario();
    assert_eq!(s.marker.every, 1.0);
    let family = Family::Intermittent {
        drug: 0,
        interval: 1.0,
        on: (1.0, 28.0),
        off: (1.0, 28.0),
        dose: (1.0, 1.0),
        levels: vec![],
    };
    let mut grid_eval = Evaluator::new(&s, Objective::RestrictedMeanTtp, Engine::Deterministic);
    let mut grid_best = f64::NEG_INFINITY;
    let mut grid_arg = (0.0, 0.0);
    for on in 1..=28 {
        for off in 1..=28 {
            let sched = family.schedule(&[on as f64, off as f64, 1.0]);
            let v = grid_eval.score(&sched).unwrap().value;
            if v > grid_best {
                grid_best = v;
                grid_arg = (on as f64, off as f64);
            }
        }
    }
    assert_eq!(grid_eval.evaluations, 784);
    let mut eval = Evaluator::new(&s, Objective::RestrictedMeanTtp, Engine::Deterministic);
    let found = search(&mut eval, &family, &SearchOptions::budget(78)).unwrap();
    eprintln!(
        "grid best {grid_best:.1} at {grid_arg:?}; search {:.1} at {:?} with {} evaluations",
        found.best.score,
        found.best.values,
        found.trace.len()
    );
    assert!(found.trace.len() <= 78);
    assert_eq!(eval.evaluations as usize, found.trace.len());
    assert!(
        found.best.score >= 0.98 * grid_best,
        "search {} vs grid {grid_best}",
        found.best.score
    );
}

#[test]
fn optimise_writes_a_best_arm_that_compare_reproduces() {
    use regimen::search::objective::Engine;
    let dir = std::env::temp_dir().join(format!("regimen-optimise-{}", std::process::id()));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_regimen"))
        .args([
            "optimise",
            "scenarios/zhang2022-prostate.yaml",
            "--budget-evals",
            "8",
            "--rollouts",
            "20",
            "--holdout",
            "60",
            "--seed",
            "5",
            "--out",
            dir.to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("arm:standard-of-care") && stdout.contains("search:"),
        "{stdout}"
    );
    for f in ["best.yaml", "leaderboard.csv", "trace.csv", "manifest.json"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let best = std::fs::read_to_string(dir.join("best.yaml")).unwrap();
    let trace = std::fs::read_to_string(dir.join("trace.csv")).unwrap();
    // Header, at most 8 schedules for each of the four families, one row for the LP.
    assert!(trace.lines().count() > 1 && trace.lines().count() <= 1 + 4 * 8 + 1);
    // The leaderboard's hold-out score of the best searched schedule …
    let board = std::fs::read_to_string(dir.join("leaderboard.csv")).unwrap();
    let row = board
        .lines()
        .find(|l| {
            l.split(',')
                .nth(1)
                .is_some_and(|c| c.starts_with("search:"))
        })
        .unwrap()
        .to_owned();
    let holdout: f64 = row.split(',').nth(4).unwrap().parse().unwrap();
    // … is what the pasted arm scores on the hold-out seed (seed + 1) with compare's rollouts.
    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/zhang2022-prostate.yaml");
    let text = std::fs::read_to_string(&original).unwrap();
    let arm_lines: String = best
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let pasted = format!("{}\n{arm_lines}", text.trim_end());
    let file = dir.join("with-best.yaml");
    std::fs::write(&file, pasted).unwrap();
    let s = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let arm = s.arms.last().unwrap();
    assert!(arm.name.starts_with("best-"));
    let mut eval = Evaluator::new(
        &s,
        Objective::RestrictedMeanTtp,
        Engine::Stochastic {
            seed: 6,
            rollouts: 60,
        },
    );
    let score = eval.score(&arm.schedule).unwrap().value;
    assert!(
        (score - holdout).abs() < 1e-9,
        "pasted arm {score} vs leaderboard {holdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

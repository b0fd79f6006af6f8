//! The family search against exhaustive enumeration.

use regimen::Scenario;
use regimen::search::family::{Family, search};
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
    let found = search(&mut eval, &family, 78, None).unwrap();
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

//! Robust optimisation on three test problems (tests/cases/robust/): a Gompertz model with a
//! cost of resistance, a drug-induced-tolerance model, and adaptive therapy on a noisy marker.
//! Each file's `optimise.robust` block makes ±30 % on the drug's effect on sensitive cells
//! and on their birth rate uncertain; the points are the nominal model and the four corners.
//!
//! On each problem the family searches are run twice: on the nominal model (the optimum a
//! modeller would report) and with the regret objective (the schedule whose worst loss
//! against continuous dosing over the corners is smallest). The test prints both optima at
//! every point and checks that the nominal optimum falls below continuous dosing at some
//! corner (the problem has the cliff the issue describes), that the robust optimum (a) never
//! scores below continuous dosing at any point and (b) gives up at most a stated share of the
//! nominal gain, and, on the deterministic problems, that its worst-case regret is the best
//! of a brute-force grid of the same families.

use regimen::Scenario;
use regimen::protocol::schedule::Schedule;
use regimen::search::config::{Overrides, Plan};
use regimen::search::family::{Family, SearchOptions, search};
use regimen::search::objective::{Engine, Evaluator, Objective};
use regimen::search::robust::Robust;
use std::path::Path;

fn problem(name: &str) -> Scenario {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/cases/robust/{name}.yaml"));
    Scenario::load(&file).unwrap()
}

/// The scenario's robust points, as `regimen optimise` builds them from its file.
fn points(s: &Scenario) -> Robust {
    let plan = Plan::new(s, 1, &Overrides::default(), None).unwrap();
    Robust::build(s, plan.robust.as_ref().unwrap(), plan.seed).unwrap()
}

fn continuous() -> Schedule {
    Schedule::Continuous {
        drug: 0,
        dose: 1.0,
        interval: 1.0,
    }
}

/// Intermittent cycles at the standard dose (on 1–28 days, off 0–28: off 0 is continuous
/// dosing) and adaptive rules checked daily or weekly.
fn families(every: f64) -> Vec<Family> {
    vec![
        Family::Intermittent {
            drug: 0,
            interval: 1.0,
            on: (1.0, 28.0),
            off: (0.0, 28.0),
            dose: (1.0, 1.0),
            levels: vec![],
        },
        Family::Adaptive {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            stop_below: (0.1, 0.9),
            resume_above: (0.5, 1.5),
            every_visits: (every, every),
            levels: vec![],
        },
    ]
}

/// The best schedule over `families`, searched with `evaluator` (`budget` schedules each).
fn best_of(evaluator: &mut Evaluator, families: &[Family], budget: u64) -> (Schedule, f64) {
    let mut best: Option<(Schedule, f64)> = None;
    for family in families {
        let found = search(evaluator, family, &SearchOptions::budget(budget)).unwrap();
        if best.as_ref().is_none_or(|b| found.best.score > b.1) {
            best = Some((found.schedule, found.best.score));
        }
    }
    best.unwrap()
}

/// What one problem shows, printed and returned: the nominal gain the robust optimum gives
/// up, and the optima's values at each point.
struct Shown {
    share_given_up: f64,
    continuous: Vec<f64>,
    nominal: Vec<f64>,
    robust: Vec<f64>,
    robust_regret: f64,
}

fn show(name: &str, engine: Engine, every: f64, budget: u64) -> Shown {
    let s = problem(name);
    let robust = points(&s);
    assert_eq!(robust.points.len(), 5, "nominal and four corners");
    let families = families(every);
    let objective = Objective::RestrictedMeanTtp;
    let at_points = |schedule: &Schedule| {
        Evaluator::new(&s, objective, engine)
            .with_robust(Some(&robust), continuous())
            .score(schedule)
            .unwrap()
            .points
    };
    let (nominal_best, _) = best_of(
        &mut Evaluator::new(&s, objective, engine),
        &families,
        budget,
    );
    let mut regret = Evaluator::new(&s, objective, engine).with_robust(Some(&robust), continuous());
    let (robust_best, robust_regret) = best_of(&mut regret, &families, budget);
    let (c, n, r) = (
        at_points(&continuous()),
        at_points(&nominal_best),
        at_points(&robust_best),
    );
    eprintln!("\n{name}: restricted mean TTP (horizon {})", s.horizon);
    eprintln!("  nominal optimum: {nominal_best:?}");
    eprintln!("  robust optimum:  {robust_best:?} (worst regret {robust_regret:+.1})");
    eprintln!(
        "  {:<48} {:>10} {:>10} {:>10}",
        "point", "continuous", "nominal", "robust"
    );
    for (i, label) in robust.labels().iter().enumerate() {
        eprintln!("  {label:<48} {:>10.1} {:>10.1} {:>10.1}", c[i], n[i], r[i]);
    }
    let gain = n[0] - c[0];
    let share_given_up = (n[0] - r[0]) / gain;
    eprintln!(
        "  nominal gain over continuous {gain:.1}; the robust optimum gives up {:.1} % of it",
        100.0 * share_given_up
    );
    Shown {
        share_given_up,
        continuous: c,
        nominal: n,
        robust: r,
        robust_regret,
    }
}

/// The checks every problem must pass; `max_share` is the share of the nominal gain the
/// robust optimum may give up (measured values are in each test's comment).
fn check(shown: &Shown, max_share: f64) {
    let Shown {
        continuous: c,
        nominal: n,
        robust: r,
        ..
    } = shown;
    // The problem has a cliff: the nominal optimum beats continuous dosing as the model
    // stands but falls below it at some corner.
    assert!(
        n[0] > c[0],
        "the nominal optimum must gain on continuous dosing"
    );
    assert!(
        n.iter().zip(c).any(|(n, c)| n < c),
        "the nominal optimum should fall below continuous dosing at a corner: {n:?} vs {c:?}"
    );
    // (a) The robust optimum is never worse than continuous dosing, at any point (on the
    // same seeds: the comparison is exact, not statistical).
    for (i, (r, c)) in r.iter().zip(c).enumerate() {
        assert!(r >= c, "point {i}: robust optimum {r} below continuous {c}");
    }
    assert!(shown.robust_regret >= 0.0);
    // (b) It keeps most of the nominal gain.
    assert!(
        shown.share_given_up <= max_share,
        "gives up {:.1} % of the nominal gain (at most {:.0} % allowed)",
        100.0 * shown.share_given_up,
        100.0 * max_share
    );
}

/// The best worst-case regret over a grid of both families (intermittent: on 1–28 × off
/// 0–28 days; adaptive: stop 0.1–0.9 × resume from stop to 1.5, 28 × 29 rules), the
/// brute-force check of the search on the deterministic problems.
fn grid_regret(name: &str) -> f64 {
    let s = problem(name);
    let robust = points(&s);
    let mut eval = Evaluator::new(&s, Objective::RestrictedMeanTtp, Engine::Deterministic)
        .with_robust(Some(&robust), continuous());
    let [intermittent, adaptive] = <[Family; 2]>::try_from(families(1.0)).unwrap();
    let mut best = f64::NEG_INFINITY;
    for i in 1..=28 {
        for j in 0..=28 {
            let stop = 0.1 + 0.8 * (i - 1) as f64 / 27.0;
            let resume = stop + (1.5 - stop) * j as f64 / 28.0;
            for schedule in [
                intermittent.schedule(&[i as f64, j as f64, 1.0]),
                adaptive.schedule(&[stop, resume, 1.0]),
            ] {
                best = best.max(eval.score(&schedule).unwrap().value);
            }
        }
    }
    best
}

/// The search's worst-case regret against the grid's: within 1 % of the nominal gain.
fn near_grid(name: &str, shown: &Shown) {
    let grid = grid_regret(name);
    let gain = shown.nominal[0] - shown.continuous[0];
    eprintln!(
        "  grid's best worst regret {grid:+.1}; the search's {:+.1}",
        shown.robust_regret
    );
    assert!(shown.robust_regret >= grid - 0.01 * gain);
}

#[test]
fn gompertz_with_a_cost_of_resistance() {
    // Measured: the nominal optimum (adaptive, stop 0.9, resume 1.16) scores 397 against
    // continuous dosing's 228 but 31 against 223 with kill and birth both 30 % higher; the
    // robust one (resume 1.14) keeps 394 and gives up 1.8 % of the gain; grid regret +41.
    let shown = show("gompertz-cost", Engine::Deterministic, 1.0, 60);
    check(&shown, 0.05);
    near_grid("gompertz-cost", &shown);
}

#[test]
fn drug_induced_tolerance() {
    // Measured: the nominal optimum (adaptive, stop 0.9, resume 1.04) scores 1434 against
    // 126 but 80 against 84 with kill 30 % weaker and birth 30 % faster; the robust one
    // (13 days on, 3 off) keeps 1228, giving up 15.7 % of the gain, worst regret +59 against
    // the grid's +66 (4 on, 1 off).
    let shown = show("induced-tolerance", Engine::Deterministic, 1.0, 60);
    check(&shown, 0.20);
    near_grid("induced-tolerance", &shown);
}

#[test]
fn adaptive_therapy_on_a_noisy_marker() {
    let engine = Engine::Stochastic {
        seed: 1,
        rollouts: 32,
    };
    // Measured: the nominal optimum (stop and resume at 0.9) scores 4657 against 4020 but
    // 3754 against 3996 with the drug's effect 30 % weaker and birth 30 % faster; the robust
    // one (both at 0.83) keeps 4488, giving up 26.6 % of the gain, and gains on continuous
    // dosing at every point (worst regret +412).
    let shown = show("adaptive-noisy", engine, 1.0, 40);
    check(&shown, 0.30);
}

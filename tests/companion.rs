//! The companion family (a second drug given with the first) finds the best timing of the
//! second drug that an enumeration finds, at a tenth of its cost.

use regimen::Scenario;
use regimen::search::family::{Family, SearchOptions, search};
use regimen::search::objective::{Engine, Evaluator, Objective};
use std::path::Path;

fn problem() -> Scenario {
    Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/companion/timing.yaml"))
        .unwrap()
}

/// Drug `a` throughout; drug `b` from day 0–60, 1–14 days on, `off` days off, at its one
/// dose, within its time-on `budget`.
fn family_with(off: (f64, f64), budget: Option<(f64, f64)>) -> Family {
    Family::Companion {
        base: 0,
        base_dose: 1.0,
        drug: 1,
        interval: 1.0,
        start: (0.0, 60.0),
        on: (1.0, 14.0),
        off,
        dose: (1.0, 1.0),
        levels: vec![],
        budget,
    }
}

#[test]
fn the_search_finds_the_enumerated_best_timing_at_a_tenth_of_the_cost() {
    let s = problem();
    let f = family_with((0.0, 14.0), None);
    let mut eval = Evaluator::new(&s, Objective::RestrictedMeanTtp, Engine::Deterministic);
    // Enumeration: every start, on and off (61 × 14 × 15 = 12,810 schedules).
    let mut best = (f64::NEG_INFINITY, [0.0; 3]);
    let mut count = 0u64;
    for start in 0..=60 {
        for on in 1..=14 {
            for off in 0..=14 {
                let v = [f64::from(start), f64::from(on), f64::from(off)];
                let score = eval.score(&f.schedule(&v)).unwrap().value;
                count += 1;
                if score > best.0 {
                    best = (score, v);
                }
            }
        }
    }
    let alone = eval
        .score(&s.arm("a-alone").unwrap().schedule)
        .unwrap()
        .value;
    let early = eval.score(&f.schedule(&[0.0, 14.0, 0.0])).unwrap().value;
    println!(
        "enumeration: {count} schedules, best {:.1} at start {} on {} off {}; drug a alone \
         {alone:.1}; b at once for 14 days {early:.1}",
        best.0, best.1[0], best.1[1], best.1[2]
    );
    // The problem has an interior best: b at once is worse than the best start.
    assert!(best.1[0] > 0.0 && best.0 > early && early > alone);
    let budget = count / 10;
    let mut fresh = Evaluator::new(&s, Objective::RestrictedMeanTtp, Engine::Deterministic);
    let found = search(&mut fresh, &f, &SearchOptions::budget(budget)).unwrap();
    println!(
        "search: {} schedules, best {:.1} at {:?}",
        found.trace.len(),
        found.best.score,
        found.best.values
    );
    assert!(found.trace.len() as u64 <= budget);
    // Within 2 % of the enumeration's gain over drug a alone.
    assert!(
        found.best.score >= best.0 - 0.02 * (best.0 - alone),
        "{} vs {}",
        found.best.score,
        best.0
    );
}

#[test]
fn a_time_on_budget_is_kept_by_every_candidate() {
    // At most 7 days on in any 28: every decoded point keeps to it, so the toxicity guard
    // never has to clip a searched schedule.
    let f = family_with((0.0, 56.0), Some((7.0, 28.0)));
    let mut checked = 0;
    for i in 0..400u64 {
        let x: Vec<f64> = regimen::support::design::halton(i + 1, 3);
        let v = f.decode(&x);
        let (on, off) = (v[1], v[2]);
        assert!(on <= 7.0, "{v:?}");
        // The most days on in any 28-day window of the cycle.
        let cycle = on + off;
        let whole = (28.0 / cycle).floor();
        let most = whole * on + on.min(28.0 - whole * cycle);
        assert!(most <= 7.0 + 1e-9, "{v:?}: {most} days on in 28");
        checked += 1;
    }
    assert_eq!(checked, 400);
}

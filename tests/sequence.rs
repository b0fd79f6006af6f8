//! The sequence family (the searched drug, then a second drug from a planned day or at
//! progression, whichever first) finds the enumerated best switch day at a tenth of the cost,
//! and a planned switch never hides a progression on the first line. (On this problem the
//! best plan is to switch at progression; a problem with an earlier best day, e.g. one where
//! the first drug breeds cells the second cannot kill, is still to be built.)

use regimen::Scenario;
use regimen::protocol::observe::ProgressionRule;
use regimen::search::family::{Family, SearchOptions, search};
use regimen::search::objective::{Engine, Evaluator, Objective};
use regimen::sim::{RunOptions, run_deterministic};
use std::path::Path;

fn problem() -> Scenario {
    Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/sequence/switch.yaml"))
        .unwrap()
}

fn family(rule: ProgressionRule, horizon: f64) -> Family {
    Family::Sequence {
        first: 0,
        first_dose: 1.0,
        second: 1,
        second_dose: 1.0,
        interval: 1.0,
        switch: (28.0, horizon),
        rule,
    }
}

#[test]
fn the_search_finds_the_enumerated_best_switch_day() {
    let s = problem();
    let f = family(s.progression, s.horizon);
    let mut eval = Evaluator::new(&s, Objective::RestrictedMeanTtp, Engine::Deterministic);
    let at_progression = eval
        .score(&s.arm("a-then-b-at-progression").unwrap().schedule)
        .unwrap()
        .value;
    let mut best = (f64::NEG_INFINITY, 0.0);
    let mut count = 0u64;
    for day in 28..=s.horizon as u32 {
        let score = eval.score(&f.schedule(&[f64::from(day)])).unwrap().value;
        count += 1;
        if score > best.0 {
            best = (score, f64::from(day));
        }
    }
    let late = eval.score(&f.schedule(&[s.horizon])).unwrap().value;
    let earliest = eval.score(&f.schedule(&[28.0])).unwrap().value;
    println!(
        "enumeration: {count} switch days, best {:.1} at day {}; switch at day 28 {earliest:.1}, \
         at progression {at_progression:.1} (the family's latest day: {late:.1})",
        best.0, best.1
    );
    // The family's latest switch day is switching at progression, and the day matters: an
    // early switch loses more than a tenth of the best time to progression.
    assert_eq!(late, at_progression);
    assert!(earliest < 0.9 * best.0);
    let mut fresh = Evaluator::new(&s, Objective::RestrictedMeanTtp, Engine::Deterministic);
    let found = search(&mut fresh, &f, &SearchOptions::budget(count / 10)).unwrap();
    println!(
        "search: {} switch days, best {:.1} at {:?}",
        found.trace.len(),
        found.best.score,
        found.best.values
    );
    assert!(found.trace.len() as u64 <= count / 10);
    // Within 2 % of the enumeration's gain over the earliest switch.
    assert!(
        found.best.score >= best.0 - 0.02 * (best.0 - earliest),
        "{} vs {}",
        found.best.score,
        best.0
    );
}

#[test]
fn a_planned_switch_never_hides_a_progression_on_the_first_line() {
    // A switch planned after the first line progresses happens at that progression instead:
    // the second line starts then, exactly as with `after: progression`.
    let s = problem();
    let f = family(s.progression, s.horizon);
    let arm = s.candidate_arm("late", f.schedule(&[1400.0]));
    let planned = run_deterministic(&s, &arm, RunOptions::default()).unwrap();
    let at_progression = run_deterministic(
        &s,
        s.arm("a-then-b-at-progression").unwrap(),
        RunOptions::default(),
    )
    .unwrap();
    assert_eq!(planned.outcome, at_progression.outcome);
}

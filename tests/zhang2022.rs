//! The Zhang et al. 2022 (eLife 11:e76284) scenario reproduces the paper's qualitative
//! result: with the fitted competition α_RS = 6, adaptive-50 keeps the tumour controlled
//! while continuous standard of care progresses; with a weak α_RS = 0.8 adaptive therapy
//! fails too.

use regimen::Scenario;
use regimen::sim::{RunOptions, run_deterministic};
use std::path::Path;

const FILE: &str = "scenarios/zhang2022-prostate.yaml";
const FITTED: &str = "competition: { sensitive: 6, resistant: 1 }";

fn outcomes(alpha_rs: &str) -> Vec<(String, regimen::sim::outcome::RunOutcome)> {
    let text = std::fs::read_to_string(FILE).expect("bundled scenario");
    assert!(
        text.contains(FITTED),
        "the scenario no longer states α_RS = 6 as expected"
    );
    let text = text.replace(
        FITTED,
        &format!("competition: {{ sensitive: {alpha_rs}, resistant: 1 }}"),
    );
    let s = Scenario::from_text(Path::new(FILE), &text).expect("valid scenario");
    s.arms
        .iter()
        .map(|arm| {
            let r = run_deterministic(&s, arm, RunOptions::default()).expect("run");
            (arm.name.clone(), r.outcome)
        })
        .collect()
}

fn get<'a>(
    all: &'a [(String, regimen::sim::outcome::RunOutcome)],
    name: &str,
) -> &'a regimen::sim::outcome::RunOutcome {
    &all.iter().find(|(n, _)| n == name).expect("arm").1
}

#[test]
fn adaptive_controls_the_tumour_when_competition_is_strong() {
    let all = outcomes("6");
    let soc = get(&all, "standard-of-care");
    let adaptive = get(&all, "adaptive-50");
    assert!(soc.progressed, "standard of care should progress: {soc:?}");
    assert!(soc.ttp < 1750.0);
    assert!(
        !adaptive.progressed || adaptive.ttp > 1750.0,
        "adaptive-50 should not progress within 1750 days: {adaptive:?}"
    );
    // Control with far less drug (the trial: 46 % of the time off drug).
    assert!(adaptive.cumulative_dose[0] < 0.6 * soc.cumulative_dose[0]);
    // Resistant cells never take over under adaptive dosing.
    assert_eq!(adaptive.resistance_majority, None);
}

#[test]
fn adaptive_fails_when_competition_is_weak() {
    let all = outcomes("0.8");
    let soc = get(&all, "standard-of-care");
    let adaptive = get(&all, "adaptive-50");
    assert!(soc.progressed);
    assert!(
        adaptive.progressed && adaptive.ttp < 1750.0,
        "with α_RS = 0.8 adaptive therapy should fail within 1750 days: {adaptive:?}"
    );
    assert!(adaptive.resistance_majority.is_some());
}

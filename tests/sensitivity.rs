//! The sensitivity report's distance to the cliff against a brute-force scan: on the
//! Gompertz test problem (tests/cases/robust/gompertz-cost.yaml), the nominal optimum of the
//! adaptive family is scored at every 1 % change of each uncertain parameter in each
//! direction, on the report's own rollouts; the first change that puts it below continuous
//! dosing must be the one the report's stepped search and bisection found.

use regimen::Scenario;
use regimen::protocol::schedule::Schedule;
use regimen::search::config::{Overrides, Plan};
use regimen::search::leaderboard::Entry;
use regimen::search::objective::{Engine, Evaluator};
use regimen::search::sensitivity::{CLIFF_STEPS, Cliff, analyse};
use std::path::Path;

#[test]
fn the_cliff_distance_matches_a_brute_force_scan() {
    // The nominal optimum of tests/robust.rs: better than continuous dosing as the scenario
    // stands, far worse with kill and birth both 30 % higher.
    cliff_matches_the_scan(Schedule::Adaptive {
        drug: 0,
        dose: 1.0,
        interval: 1.0,
        stop_below: 0.9,
        resume_above: 1.163616,
        every_visits: 1,
    });
    for (on, off) in [(1.0, 1.0), (2.0, 1.0), (4.0, 1.0), (3.0, 2.0)] {
        cliff_matches_the_scan(Schedule::Intermittent {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            on,
            off,
            start_delay: 0.0,
        });
    }
}

fn cliff_matches_the_scan(schedule: Schedule) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/robust/gompertz-cost.yaml");
    let s = Scenario::load(&file).unwrap();
    let mut plan = Plan::new(&s, 1, &Overrides::default(), None).unwrap();
    let mut report = plan.sensitivity.clone().unwrap();
    report.rollouts = 16;
    plan.sensitivity = Some(report.clone());
    assert_eq!(
        report.parameters.len(),
        2,
        "the robust block's two parameters"
    );
    let entry = Entry::unscored("search:adaptive".to_owned(), schedule.clone(), Vec::new());
    let found = analyse(&s, &plan, &report, &[entry]).unwrap();
    let cliff = found.cliff("search:adaptive").unwrap().clone();
    eprintln!("report: {cliff:?}");

    // Brute force: each parameter, each direction, every 1 % up to the report's last step, on
    // the report's engine (seed and rollouts), until the schedule scores below continuous.
    let engine = Engine::Stochastic {
        seed: found.seed,
        rollouts: found.rollouts,
    };
    let continuous = Schedule::Continuous {
        drug: 0,
        dose: 1.0,
        interval: 1.0,
    };
    let score = |at: &Scenario, schedule: &Schedule| {
        Evaluator::new(at, plan.objective, engine)
            .score(schedule)
            .unwrap()
            .value
    };
    let mut first: Option<(String, f64)> = None;
    let last = (CLIFF_STEPS[CLIFF_STEPS.len() - 1] * 100.0).round() as i32;
    for (path, _) in &report.parameters {
        let nominal = regimen::scenario::params::number_at(s.resolved_spec(), path).unwrap();
        for sign in [-1.0, 1.0] {
            for pct in 1..=last {
                let change = sign * pct as f64 / 100.0;
                if first.as_ref().is_some_and(|(_, c)| change.abs() >= c.abs()) {
                    break;
                }
                let at = s
                    .with_params(&[(path.as_str(), (nominal * (1.0 + change)).into())])
                    .unwrap();
                if score(&at, &schedule) < score(&at, &continuous) {
                    first = Some((path.clone(), change));
                    break;
                }
            }
        }
    }
    eprintln!("brute force: {first:?}");
    let (path, change) = first.expect("the schedule has a cliff within the scanned range");
    let Cliff::At {
        parameter,
        change: reported,
    } = cliff
    else {
        panic!("the report found no cliff, the scan one at {path} {change:+}");
    };
    assert_eq!(parameter, path);
    assert_eq!(reported.signum(), change.signum());
    // The report's change is one at which the schedule was seen below continuous dosing, at
    // most an eighth of its bracket past the crossing; the scan's is within 1 % of it.
    let bracket = CLIFF_STEPS
        .windows(2)
        .find(|w| w[1] >= reported.abs() - 1e-9)
        .map_or(CLIFF_STEPS[0], |w| w[1] - w[0]);
    assert!(
        (reported - change).abs() <= bracket / 8.0 + 0.01,
        "report {reported:+} vs scan {change:+}"
    );
}

//! Containment on the Viossat & Noble 2021 model does what its name says: the burden stays in
//! a stated band around the tolerable size, and the model-based rule fails when the paper's
//! ideal containment does.

use regimen::Scenario;
use regimen::sim::{RunOptions, RunResult, run_deterministic};
use serde_json::json;
use std::path::Path;

/// The paper's parameters (scenarios/viossat-noble-containment.yaml cites them).
const RHO: f64 = 0.005928;
const K: f64 = 2.0e12;
const N0: f64 = 1.0e10;
const R0: f64 = 2.3e5;
const TOLERABLE: f64 = 7.0e10;
const CRITICAL: f64 = 5.0e11;
const CMAX: f64 = 2.0;

/// Ideal containment on the paper's equations, integrated here independently of regimen
/// (RK4, step 0.01 day): no drug until N reaches the tolerable size, then the dose
/// C = 1 + R/S that holds dN/dt = 0 while C ≤ Cmax, then Cmax until N reaches the critical
/// size. Returns (the day resistant cells outnumber sensitive ones, the failure day).
fn ideal_containment() -> (f64, f64) {
    let g = |n: f64| RHO * (K / n).ln();
    // The dose of the ideal policy in state (s, r).
    let dose = |s: f64, r: f64, holding: bool| {
        if !holding {
            0.0
        } else {
            (1.0 + r / s).min(CMAX)
        }
    };
    let f = |s: f64, r: f64, c: f64| {
        let gn = g(s + r);
        (gn * s * (1.0 - c), gn * r)
    };
    let (mut s, mut r, mut t) = (N0 - R0, R0, 0.0);
    let h = 0.01;
    let mut holding = false;
    let mut crossover = f64::NAN;
    while s + r < CRITICAL {
        holding |= s + r >= TOLERABLE;
        if crossover.is_nan() && r > s {
            crossover = t;
        }
        // The dose is fixed over a step (as it is between a rule's decisions).
        let c = dose(s, r, holding);
        let (a1, b1) = f(s, r, c);
        let (a2, b2) = f(s + 0.5 * h * a1, r + 0.5 * h * b1, c);
        let (a3, b3) = f(s + 0.5 * h * a2, r + 0.5 * h * b2, c);
        let (a4, b4) = f(s + h * a3, r + h * b3, c);
        s += h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4);
        r += h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4);
        t += h;
    }
    (crossover, t)
}

fn scenario(visit_every: f64) -> Scenario {
    let s = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/viossat-noble-containment.yaml"),
    )
    .unwrap();
    s.with_params(&[("observation.every", json!(visit_every))])
        .unwrap()
}

fn run(s: &Scenario, arm: &str) -> RunResult {
    run_deterministic(s, s.arm(arm).unwrap(), RunOptions::default()).unwrap()
}

/// (smallest, largest) burden over the tolerable size at the visits from the first one at
/// or above it (from `from` on, if later) up to `until`.
fn band(run: &RunResult, from: f64, until: f64) -> (f64, f64) {
    let ratios: Vec<(f64, f64)> = run
        .visits
        .iter()
        .map(|v| (v.observation.time, v.true_value / TOLERABLE))
        .collect();
    let first = ratios
        .iter()
        .position(|(_, x)| *x >= 1.0 - 1e-6)
        .expect("the burden reaches the target");
    ratios[first..]
        .iter()
        .filter(|(t, _)| *t >= from && *t <= until)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), (_, x)| {
            (lo.min(*x), hi.max(*x))
        })
}

#[test]
fn ideal_containment_fails_when_the_papers_model_says() {
    let (crossover, failure) = ideal_containment();
    // The paper's model: failure about 764 days after the start (issue 17); here 766.5.
    assert!((failure - 766.5).abs() < 1.0, "{failure}");
    let daily = run(&scenario(1.0), "containment");
    let monthly = run(&scenario(28.0), "containment");
    println!(
        "ideal containment: resistant majority {crossover:.1}, failure {failure:.1}; hold rule, \
         daily visits {:.1}, 28-day visits {:.1}",
        daily.outcome.ttp, monthly.outcome.ttp
    );
    // Daily visits see the failure within a day: within 2 % of the paper's model.
    assert!(
        (daily.outcome.ttp / failure - 1.0).abs() < 0.02,
        "{} vs {failure}",
        daily.outcome.ttp
    );
    // Monthly visits see it at the first visit after it.
    let first_visit_after = (failure / 28.0).ceil() * 28.0;
    assert_eq!(monthly.outcome.ttp, first_visit_after);
}

#[test]
fn containment_holds_the_burden_within_its_stated_band() {
    // The band is claimed from the first visit at the target until resistant cells
    // outnumber sensitive ones: from then on the holding dose 1 + R/S exceeds Cmax = 2 and
    // nothing can hold the burden (Viossat & Noble 2021).
    let (crossover, _) = ideal_containment();
    let (daily, monthly) = (scenario(1.0), scenario(28.0));
    let report = |name: &str, r: (f64, f64)| println!("{name}: {:.3}–{:.3} × target", r.0, r.1);

    // hold: the model is the truth here, so the burden sits on the target (root finder's
    // tolerance 1e-7 in ln, ODE tolerance) at either cadence.
    for (label, s) in [("daily", &daily), ("28-day", &monthly)] {
        let b = band(&run(s, "containment"), 0.0, crossover);
        report(&format!("hold, {label}"), b);
        assert!(b.0 > 0.999 && b.1 < 1.001, "{b:?}");
    }

    // pi, daily visits: tuned gains put the closed-loop poles at 0.5 per visit, and one
    // day's growth at the target is 2 %: within 3 % above and 1 % below.
    let b = band(&run(&daily, "containment-pi"), 0.0, crossover);
    report("pi, daily", b);
    assert!(b.0 > 0.99 && b.1 < 1.03, "{b:?}");

    // pi, 28-day visits: the month in which the target is first crossed goes untreated
    // (the marker was below target at the visit before), so the burden overshoots — up to
    // e^{0.56} = 1.75 × from one month's growth at the target. Seven visits later the
    // error has halved seven times: within 10 % from day 280 until the crossover (it lags
    // behind the holding dose, which rises ever faster as resistant cells grow, and is 9 %
    // over at the last visit before it).
    let pi = run(&monthly, "containment-pi");
    let whole = band(&pi, 0.0, crossover);
    let settled = band(&pi, 280.0, crossover);
    report("pi, 28-day", whole);
    report("pi, 28-day from day 280", settled);
    assert!(whole.1 < 1.75, "{whole:?}");
    assert!(settled.0 > 0.9 && settled.1 < 1.1, "{settled:?}");

    // integral control alone oscillates: its closed loop has poles on the unit circle.
    let b = band(&run(&monthly, "containment-integral"), 0.0, crossover);
    report("integral, 28-day", b);
    assert!(b.0 < 0.5 && b.1 > 1.9, "{b:?}");
}

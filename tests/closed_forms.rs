//! The deterministic evaluator against closed-form solutions, to ≤ 1e-6 relative error.

use regimen::Scenario;
use regimen::sim::{RunOptions, RunResult, run_deterministic};
use std::path::Path;

fn load(yaml: &str) -> Scenario {
    match Scenario::from_text(Path::new("closed-form-test.yaml"), yaml) {
        Ok(s) => s,
        Err(e) => panic!("test scenario invalid:\n{e}"),
    }
}

fn run(s: &Scenario, record_every: f64) -> RunResult {
    run_deterministic(
        s,
        &s.arms[0],
        RunOptions {
            record_every,
            noise: None,
        },
    )
    .expect("run")
}

/// Relative error; absolute where the exact value is 0 (an oral dose at the instant it is given).
fn rel_err(got: f64, want: f64) -> f64 {
    if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    }
}

/// A scenario around one model block and one drug block, dosed by `schedule`.
fn scenario(horizon: f64, model: &str, drug: &str, schedule: &str) -> String {
    format!(
        "format_version: 1
name: closed form
time_units: days
horizon: {horizon}
model:
{model}
drugs:
  d:
{drug}
observation: {{ every: 10 }}
# The closed forms assume dosing through the horizon.
progression: {{ rule: rise_over_nadir, treat_beyond_progression: true }}
arms:
  - {{ name: arm, schedule: {schedule} }}
"
    )
}

const LEVEL_DRUG_NO_EFFECT: &str = "    effects: { a: { kill: { linear: { slope: 0.0 } } } }";

#[test]
fn exponential_growth() {
    let s = load(&scenario(
        300.0,
        "  growth: exponential
  compartments:
    a: { birth: 0.05, death: 0.01, initial: 1000 }",
        LEVEL_DRUG_NO_EFFECT,
        "{ continuous: { dose: 0 } }",
    ));
    let r = run(&s, 10.0);
    for (i, &t) in r.trajectory.times.iter().enumerate() {
        let want = 1000.0 * (0.04 * t).exp();
        let got = r.trajectory.counts[i];
        assert!(rel_err(got, want) <= 1e-6, "t={t}: {got} vs {want}");
    }
    assert_eq!(*r.trajectory.times.last().unwrap(), 300.0);
}

#[test]
fn logistic_growth_with_death() {
    // dN/dt = b(1 − N/K)N − dN is logistic with rate r = b − d and capacity K(1 − d/b).
    let (b, d, k, n0) = (0.1, 0.02, 1.0e6, 10.0);
    let s = load(&scenario(
        400.0,
        "  growth: logistic
  carrying_capacity: 1.0e6
  compartments:
    a: { birth: 0.1, death: 0.02, initial: 10 }",
        LEVEL_DRUG_NO_EFFECT,
        "{ continuous: { dose: 0 } }",
    ));
    let r = run(&s, 5.0);
    let (rate, cap) = (b - d, k * (1.0 - d / b));
    for (i, &t) in r.trajectory.times.iter().enumerate() {
        let want = cap / (1.0 + (cap / n0 - 1.0) * (-rate * t).exp());
        let got = r.trajectory.counts[i];
        assert!(rel_err(got, want) <= 1e-6, "t={t}: {got} vs {want}");
    }
}

/// Superposed one-compartment concentrations after doses at 0, 1, 2, … (amount `dose`).
fn pk_closed_form(t: f64, dose: f64, k: f64, ka: Option<f64>, f: f64, v: f64) -> f64 {
    let mut c = 0.0;
    let mut tj = 0.0;
    while tj <= t + 1e-12 {
        let tau = t - tj;
        c += match ka {
            None => f * dose / v * (-k * tau).exp(),
            Some(ka) => f * dose * ka / (v * (ka - k)) * ((-k * tau).exp() - (-ka * tau).exp()),
        };
        tj += 1.0;
    }
    c
}

/// ∫₀ᵗ C for IV bolus doses at 0, 1, 2, …
fn bolus_auc(t: f64, dose: f64, k: f64, f: f64, v: f64) -> f64 {
    let mut auc = 0.0;
    let mut tj = 0.0;
    while tj <= t + 1e-12 {
        auc += f * dose / (v * k) * (1.0 - (-k * (t - tj)).exp());
        tj += 1.0;
    }
    auc
}

#[test]
fn one_compartment_pk_after_repeated_doses() {
    // Daily doses; concentrations checked every quarter day, between and at doses.
    for (ka, label) in [(None, "bolus"), (Some(3.0), "oral")] {
        let ka_line = ka.map_or(String::new(), |x| format!(", ka: {x}"));
        let drug = format!(
            "    exposure: {{ pk: {{ half_life: 1.5, volume: 20, bioavailability: 0.8{ka_line} }} }}
    standard_dose: 100
    effects: {{ a: {{ kill: {{ linear: {{ slope: 0.0 }} }} }} }}"
        );
        let s = load(&scenario(
            30.0,
            "  growth: exponential
  compartments:
    a: { birth: 0.0, initial: 1 }",
            &drug,
            "continuous-mtd",
        ));
        let r = run(&s, 0.25);
        let k = std::f64::consts::LN_2 / 1.5;
        assert!(r.trajectory.times.len() > 100);
        for (i, &t) in r.trajectory.times.iter().enumerate() {
            if t >= 30.0 {
                continue; // no dose is given at the horizon itself
            }
            let want = pk_closed_form(t, 100.0, k, ka, 0.8, 20.0);
            let got = r.trajectory.exposure[i];
            assert!(rel_err(got, want) <= 1e-9, "{label} t={t}: {got} vs {want}");
        }
    }
}

#[test]
fn ode_integrates_through_pk_driven_kill() {
    // dN/dt = (b − s·C(t))·N with bolus PK: N(t) = N0·exp(b·t − s·∫C).
    let (b, s_kill, k, f, v, dose) = (0.05, 0.02, std::f64::consts::LN_2 / 0.7, 1.0, 5.0, 10.0);
    let sc = load(&scenario(
        40.0,
        "  growth: exponential
  compartments:
    a: { birth: 0.05, initial: 1.0e6 }",
        "    exposure: { pk: { half_life: 0.7, volume: 5 } }
    standard_dose: 10
    effects: { a: { kill: { linear: { slope: 0.02 } } } }",
        "continuous-mtd",
    ));
    let r = run(&sc, 0.5);
    for (i, &t) in r.trajectory.times.iter().enumerate() {
        // No dose is given at the horizon, but a dose at t adds nothing to ∫₀ᵗ C anyway.
        let auc = bolus_auc(t, dose, k, f, v);
        let want = 1.0e6 * (b * t - s_kill * auc).exp();
        let got = r.trajectory.counts[i];
        assert!(rel_err(got, want) <= 1e-6, "t={t}: {got} vs {want}");
    }
}

#[test]
fn two_compartment_linear_switching_matches_matrix_exponential() {
    // A ⇄ B with per-capita switching p (A→B) and q (B→A), exponential growth, and a
    // per-division mutation A→B with probability μ:
    //   d/dt [A, B] = M [A, B],  M = [[bA(1−μ) − dA − p, q], [bA·μ + p, bB − dB − q]].
    let (ba, da, bb, db, p, q, mu): (f64, f64, f64, f64, f64, f64, f64) =
        (0.06, 0.01, 0.03, 0.02, 0.004, 0.05, 1.0e-3);
    let (a0, b0) = (1.0e6, 1.0e3);
    let s = load(&scenario(
        200.0,
        "  growth: exponential
  compartments:
    a: { birth: 0.06, death: 0.01, initial: 1.0e6 }
    b: { birth: 0.03, death: 0.02, initial: 1.0e3, role: resistant }
  transitions:
    - { from: a, to: b, rate: 0.004 }
    - { from: b, to: a, rate: 0.05 }
  mutations:
    - { from: a, to: b, per_division: 1.0e-3 }",
        LEVEL_DRUG_NO_EFFECT,
        "{ continuous: { dose: 0 } }",
    ));
    let m = [[ba * (1.0 - mu) - da - p, q], [ba * mu + p, bb - db - q]];
    // e^{Mt} = e^{τt}[cosh(Δt)·I + sinh(Δt)/Δ·(M − τI)], τ = tr/2, Δ² = ((m00 − m11)/2)² + m01·m10.
    let tau = (m[0][0] + m[1][1]) / 2.0;
    let delta = (((m[0][0] - m[1][1]) / 2.0).powi(2) + m[0][1] * m[1][0]).sqrt();
    let r = run(&s, 10.0);
    for (i, &t) in r.trajectory.times.iter().enumerate() {
        let (ch, sh) = ((delta * t).cosh(), (delta * t).sinh() / delta);
        let e = (tau * t).exp();
        let want_a = e * ((ch + sh * (m[0][0] - tau)) * a0 + sh * m[0][1] * b0);
        let want_b = e * (sh * m[1][0] * a0 + (ch + sh * (m[1][1] - tau)) * b0);
        let got = &r.trajectory.counts[2 * i..2 * i + 2];
        assert!(
            rel_err(got[0], want_a) <= 1e-6,
            "A at t={t}: {} vs {want_a}",
            got[0]
        );
        assert!(
            rel_err(got[1], want_b) <= 1e-6,
            "B at t={t}: {} vs {want_b}",
            got[1]
        );
    }
}

#[test]
fn level_dose_changes_are_step_ends() {
    // On/off kill with a level drug: exact piecewise exponential. Intermittent 2 on / 3 off
    // with half-day doses ending mid-day, so steps must stop where the level drops.
    let s = load(&scenario(
        50.0,
        "  growth: exponential
  compartments:
    a: { birth: 0.1, initial: 100 }",
        "    effects: { a: { kill: { linear: { slope: 0.3 } } } }",
        "{ intermittent: { dose: 1.0, on: 2.5, off: 2.5 } }",
    ));
    let r = run(&s, 5.0);
    for (i, &t) in r.trajectory.times.iter().enumerate() {
        // Each 5-day cycle: 2.5 days at net −0.2, 2.5 days at +0.1.
        let cycles = (t / 5.0).floor();
        let phase = t - 5.0 * cycles;
        let on = phase.min(2.5);
        let off = (phase - 2.5).max(0.0);
        let log_n = (100.0f64).ln() + cycles * 2.5 * (0.1 - 0.2) + on * -0.2 + off * 0.1;
        let got = r.trajectory.counts[i];
        assert!(
            rel_err(got, log_n.exp()) <= 1e-6,
            "t={t}: {got} vs {}",
            log_n.exp()
        );
    }
    assert!((r.outcome.fraction_on_drug - 0.5).abs() < 1e-12);
    assert!((r.outcome.cumulative_dose[0] - 25.0).abs() < 1e-9);
}

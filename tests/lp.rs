//! The sequential LP relaxation against a model whose optimum is known in closed form, and
//! its rounding against the dose budget.

use regimen::Scenario;
use regimen::protocol::schedule::Schedule;
use regimen::search::lp::{LpSettings, LpTarget, optimise_lp};
use std::path::Path;

fn load(yaml: &str) -> Scenario {
    match Scenario::from_text(Path::new("lp-test.yaml"), yaml) {
        Ok(s) => s,
        Err(e) => panic!("test scenario invalid:\n{e}"),
    }
}

/// One exponentially growing compartment (net rate r = 0.02/day) and a drug given as a dose
/// level with linear kill (slope 0.05 per unit, dose 1): while on drug the log-population
/// falls at 0.03/day. So ln N(H) = ln N0 + r·H − k·D·T_on, linear in the total time on
/// drug T_on whatever its placement, and the best schedule spends the whole budget:
/// ln N(H) = ln N0 + r·H − k·D·B.
const EXPONENTIAL: &str = "format_version: 1
name: exponential with linear kill
time_units: days
horizon: 280
model:
  growth: exponential
  compartments:
    tumour: { birth: 0.03, death: 0.01, initial: 1.0e9 }
drugs:
  d:
    standard_dose: 1
    effects:
      tumour: { kill: { linear: { slope: 0.05 } } }
observation: { every: 28 }
progression: { rule: rise_over_nadir }
arms:
  - { name: continuous, schedule: continuous-mtd }
";

fn settings(max_on: f64) -> LpSettings {
    LpSettings {
        drug: 0,
        dose: 1.0,
        interval: 1.0,
        period: 28.0,
        target: LpTarget::Total,
        cap: None,
        max_on,
        trust_region: 7.0,
        max_iterations: 20,
        deadline: None,
        levels: Vec::new(),
        others: Vec::new(),
    }
}

#[test]
fn lp_optimum_matches_the_closed_form_and_rounding_keeps_the_budget() {
    let s = load(EXPONENTIAL);
    let (ln_n0, r, kill, horizon) = (1.0e9f64.ln(), 0.02, 0.05, 280.0);
    // A budget that is not a whole number of days, so the relaxed and the rounded optima
    // differ by exactly half a day of kill.
    for budget in [100.5, 37.25, 280.0] {
        let got = optimise_lp(&s, &settings(budget)).expect("LP");
        // The LP scores ln(N + one cell), so that an extinct population has a finite log.
        let log10_plus_cell = |ln_n: f64| (ln_n.exp() + 1.0).log10();
        let relaxed_exact = log10_plus_cell(ln_n0 + r * horizon - kill * budget);
        let whole_days = budget.floor();
        let rounded_exact = log10_plus_cell(ln_n0 + r * horizon - kill * whole_days);
        assert!(
            (got.relaxed_log10 - relaxed_exact).abs() < 1e-6,
            "budget {budget}: relaxed {} vs exact {relaxed_exact}",
            got.relaxed_log10
        );
        assert!(
            (got.rounded_log10 - rounded_exact).abs() < 1e-6,
            "budget {budget}: rounded {} vs exact {rounded_exact}",
            got.rounded_log10
        );
        let relaxed_total: f64 = got.relaxed_on.iter().sum();
        assert!((relaxed_total - budget).abs() < 1e-6, "{relaxed_total}");
        // Rounding: whole days, within each period, never over the budget.
        let total: f64 = got.on.iter().sum();
        assert!(total <= budget + 1e-9, "rounded total {total} > {budget}");
        assert_eq!(total, whole_days);
        for o in &got.on {
            assert_eq!(o.fract(), 0.0);
            assert!((0.0..=28.0).contains(o));
        }
        // The schedule it returns is the one it scored, and gives that many dosing days.
        let Schedule::Piecewise { on, .. } = &got.schedule else {
            panic!("LP schedule is not piecewise");
        };
        assert_eq!(on, &got.on);
    }
}

/// Zhang 2022 (Lotka–Volterra competition, resistant cells suppressed by sensitive ones):
/// minimising resistant cells at the horizon under a cap of 1.2 × the initial marker. The
/// LP must keep every period under the cap and leave fewer resistant cells than the
/// feasible starting point (continuous dosing).
#[test]
fn lp_on_zhang_keeps_the_cap_and_reduces_resistance() {
    let s = Scenario::load(Path::new("scenarios/zhang2022-prostate.yaml")).expect("scenario");
    let dose = s.drugs[0].standard_dose.expect("standard dose");
    let settings = LpSettings {
        drug: 0,
        dose,
        interval: 1.0,
        period: 28.0,
        target: LpTarget::Resistant,
        cap: Some(1.2),
        max_on: s.horizon,
        trust_region: 14.0,
        max_iterations: 30,
        deadline: None,
        levels: Vec::new(),
        others: Vec::new(),
    };
    let got = optimise_lp(&s, &settings).expect("LP");
    let first = got.steps.first().expect("at least one step");
    assert!(got.cap_excess <= 1e-9, "peak over cap: {}", got.cap_excess);
    let accepted = got.steps.iter().filter(|s| s.accepted).count();
    assert!(accepted > 0, "no LP step improved: {:?}", got.steps);
    let best = got
        .steps
        .iter()
        .map(|s| s.actual)
        .fold(f64::INFINITY, f64::min);
    assert!(best < first.actual || got.steps[0].accepted);
    println!(
        "Zhang LP: log10 resistant relaxed {:.3}, rounded {:.3}, on {} of {} days, TTP {}, {} ODE runs",
        got.relaxed_log10,
        got.rounded_log10,
        got.on.iter().sum::<f64>(),
        s.horizon,
        got.deterministic_ttp,
        got.evaluations
    );
}

/// The LP's schedule written as an arm reads back as the same schedule.
#[test]
fn lp_schedule_pasted_as_an_arm_is_the_same_schedule() {
    let s = load(EXPONENTIAL);
    let got = optimise_lp(&s, &settings(100.5)).expect("LP");
    let arm = regimen::search::export::arm_yaml("best-lp", &got.schedule, &["d".to_owned()]);
    let text = format!("{}{arm}", EXPONENTIAL);
    let pasted = load(&text);
    let back = &pasted.arms.last().expect("arm").schedule;
    assert_eq!(back, &got.schedule, "{arm}");
}

/// Strobl 2021's competition model without a cost of resistance: the resistant clone grows
/// whatever the schedule, so every schedule progresses (total burden above 1.2 × its start)
/// before the ten-year horizon and no schedule holds the cap to the end. Minimising the
/// summed violation then says nothing about time to progression; the LP must track it
/// instead (most leading periods under the cap) and do at least as well as continuous
/// dosing on the ODE, with and without a dose budget that rules continuous dosing out.
#[test]
fn lp_where_progression_is_unavoidable_tracks_time_to_progression() {
    use regimen::search::lp::LpMode;
    use regimen::sim::{RunOptions, run_deterministic};
    let s = Scenario::load(Path::new("scenarios/strobl2021-turnover.yaml")).expect("scenario");
    let options = RunOptions {
        record_every: 0.0,
        noise: None,
    };
    let ttp = |schedule: &Schedule| {
        run_deterministic(&s, &s.candidate_arm("x", schedule.clone()), options)
            .expect("run")
            .outcome
    };
    let continuous = ttp(&Schedule::Continuous {
        drug: 0,
        dose: 1.0,
        interval: 1.0,
    });
    assert!(continuous.progressed && continuous.ttp < s.horizon);
    for budget in [1.0, 0.6] {
        let settings = LpSettings {
            drug: 0,
            dose: 1.0,
            interval: 1.0,
            period: 28.0,
            target: LpTarget::Resistant,
            cap: Some(1.2),
            max_on: budget * s.horizon,
            trust_region: 7.0,
            max_iterations: 30,
            deadline: None,
            levels: Vec::new(),
            others: Vec::new(),
        };
        let got = optimise_lp(&s, &settings).expect("LP");
        let run = ttp(&got.schedule);
        println!(
            "Strobl LP, budget {budget}: {} of {} periods held, TTP {} (continuous {}), on {} of {} \
             days, {} ODE runs, {} failed solves",
            got.held_periods,
            got.periods,
            run.ttp,
            continuous.ttp,
            got.on.iter().sum::<f64>(),
            s.horizon,
            got.evaluations,
            got.solver_failures
        );
        assert_eq!(got.mode, LpMode::TimeToProgression);
        assert!(got.held_periods >= 1 && got.held_periods < got.periods);
        // The LP's own report is the schedule's run as the scenario judges it.
        assert_eq!(run.ttp, got.deterministic_ttp);
        assert!(run.progressed);
        assert!(
            run.ttp >= continuous.ttp,
            "LP {} vs continuous {}",
            run.ttp,
            continuous.ttp
        );
        assert!(got.on.iter().sum::<f64>() <= settings.max_on + 1e-9);
    }
}

/// Two compartments growing at 0.02/day, each killed by its own drug (dose levels, linear
/// kill): drug `a` kills sensitive cells at 0.1/day per unit of level, drug `b` resistant
/// cells at 0.05/day. No crowding, so each log-population is linear in its drug's
/// level × days on wherever they fall, and with budgets of days on the best plan gives `a`
/// at its higher level for its whole budget and `b` for its whole budget:
/// N(H) = S0·e^{rH − 0.1·1·Ba} + R0·e^{rH − 0.05·Bb}.
const TWO_DRUGS: &str = "format_version: 1
name: two drugs with linear kills
time_units: days
horizon: 56
model:
  growth: exponential
  compartments:
    sensitive: { birth: 0.02, initial: 1.0e9 }
    resistant: { birth: 0.02, initial: 1.0e8, role: resistant }
drugs:
  a:
    exposure: level
    standard_dose: 1
    max_dose: 1
    effects:
      sensitive: { kill: { linear: { slope: 0.1 } } }
  b:
    exposure: level
    standard_dose: 1
    max_dose: 1
    effects:
      resistant: { kill: { linear: { slope: 0.05 } } }
observation: { every: 7 }
progression: { rule: above_baseline, factor: 100 }
arms:
  - { name: a, schedule: { continuous: { drug: a } } }
";

#[test]
fn the_two_drug_lp_with_dose_levels_matches_its_closed_form() {
    let s = load(TWO_DRUGS);
    let (budget_a, budget_b, horizon, r) = (20.0, 10.0, 56.0, 0.02);
    // Drug a starts at its lower level (0.5) and may move its days to 1.0; b has one level.
    let settings = LpSettings {
        drug: 0,
        dose: 0.5,
        interval: 1.0,
        period: 7.0,
        target: LpTarget::Total,
        cap: None,
        max_on: budget_a,
        trust_region: 7.0,
        max_iterations: 30,
        deadline: None,
        levels: vec![1.0],
        others: vec![regimen::search::lp::LpDrug {
            drug: 1,
            levels: vec![1.0],
            max_on: budget_b,
        }],
    };
    let result = optimise_lp(&s, &settings).unwrap();
    let closed = (1.0e9 * (r * horizon - 0.1 * budget_a).exp()
        + 1.0e8 * (r * horizon - 0.05 * budget_b).exp())
    .log10();
    // Variables: a at 0.5 (8 periods), a at 1.0 (8), b (8).
    let sum = |from: usize| result.on[from..from + 8].iter().sum::<f64>();
    println!(
        "two drugs: log10 N(H) {:.6} (closed form {closed:.6}); days on a@0.5 {}, a@1 {}, b {}",
        result.rounded_log10,
        sum(0),
        sum(8),
        sum(16)
    );
    assert_eq!(result.on.len(), 24);
    assert_eq!(sum(0), 0.0, "a's days all moved to its higher level");
    assert_eq!(sum(8), budget_a);
    assert_eq!(sum(16), budget_b);
    assert!((result.rounded_log10 - closed).abs() < 1e-4);
    // The relaxation is no worse than the rounded plan (it can only split days).
    assert!(result.relaxed_log10 <= result.rounded_log10 + 1e-6);
    // The plan is dose events: per period, a's days at 1.0 then none at 0.5, and b's.
    let Schedule::Events { doses } = &result.schedule else {
        panic!("a two-drug plan is written as dose events");
    };
    assert_eq!(doses.len(), (budget_a + budget_b) as usize);
    assert!(doses.iter().all(|(_, d)| d.amount == 1.0));
}

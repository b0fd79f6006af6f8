//! Cost of one model-predictive decision: the plan at the first visit of the bundled
//! Lotka–Volterra scenario (scenarios/strobl2021-mpc.yaml, default settings: 2 actions ×
//! 2 continuations × 32 plan particles × a one-year look-ahead) and of the persister
//! flagship with the same settings; and one filter update of 200 hypotheses.
//!
//! Run: `cargo bench --bench mpc`.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use regimen::Scenario;
use regimen::model::pk::Dose;
use regimen::protocol::observe::Observation;
use regimen::protocol::schedule::Policy;
use regimen::sim::forecast::ScenarioEnv;
use std::path::Path;

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.yaml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh model-predictive policy for `arm` that has seen the baseline visit.
fn ready(s: &Scenario, arm: &str) -> Box<dyn Policy + Send> {
    let arm = s.arm(arm).unwrap();
    let env = ScenarioEnv {
        scenario: s,
        progression: arm.progression,
        key: None,
    };
    let mut policy = arm.schedule.policy(&env);
    let value = s.marker.true_value(&s.model.initial_state());
    policy.observe(&Observation {
        time: 0.0,
        value,
        detected: true,
    });
    policy
}

/// The first decision of a ready policy (the plan at the baseline visit).
fn first_decision(mut p: Box<dyn Policy + Send>) -> Vec<Dose> {
    let mut doses = Vec::new();
    p.decide(0.0, &mut doses);
    doses
}

fn decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("mpc");
    group.sample_size(20);
    let lv = load("strobl2021-mpc");
    group.bench_function("decision/strobl2021-mpc", |b| {
        b.iter_batched(|| ready(&lv, "mpc"), first_decision, BatchSize::LargeInput)
    });
    let persister = load("persister-nsclc")
        .with_params(&[(
            "arms.continuous.schedule",
            serde_json::json!({ "mpc": { "drug": "osimertinib" } }),
        )])
        .unwrap();
    group.bench_function("decision/persister-nsclc", |b| {
        b.iter_batched(
            || ready(&persister, "continuous"),
            first_decision,
            BatchSize::LargeInput,
        )
    });
    // One filter update: 200 hypotheses moved a month on and weighed.
    group.bench_function("filter-update/strobl2021-mpc", |b| {
        b.iter_batched(
            || ready(&lv, "mpc"),
            |mut p| {
                p.observe(&Observation {
                    time: 28.0,
                    value: 0.55,
                    detected: true,
                });
                p
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);

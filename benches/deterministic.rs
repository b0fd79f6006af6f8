//! Speed of the deterministic evaluator: one full run of each bundled scenario's first
//! arm, and the `rates` kernel every engine calls.
//!
//! Run: `cargo bench --bench deterministic`.

use criterion::{Criterion, criterion_group, criterion_main};
use regimen::Scenario;
use regimen::sim::{RunOptions, run_deterministic};
use std::hint::black_box;
use std::path::Path;

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.yaml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn full_runs(c: &mut Criterion) {
    let mut group = c.benchmark_group("ode_run");
    for name in [
        "persister-nsclc",
        "zhang2022-prostate",
        "strobl2021-turnover",
        "viossat-noble-containment",
        "greene2019-induced",
    ] {
        let s = load(name);
        for arm in &s.arms {
            // Outcome only (no trajectory recording): what a search evaluates.
            let options = RunOptions {
                record_every: 0.0,
                noise: None,
            };
            group.bench_function(format!("{name}/{}", arm.name), |b| {
                b.iter(|| run_deterministic(black_box(&s), arm, options).unwrap())
            });
        }
    }
    group.finish();
}

fn rates_kernel(c: &mut Criterion) {
    let s = load("persister-nsclc");
    let n = s.model.initial_state();
    let exposure = vec![0.2; s.drugs.len()];
    let mut rates = s.model.new_rates();
    let mut dn = vec![0.0; n.len()];
    c.bench_function("derivative/persister-nsclc", |b| {
        b.iter(|| {
            s.model
                .derivative(black_box(&n), black_box(&exposure), &mut rates, &mut dn);
            dn[0]
        })
    });
}

criterion_group!(benches, full_runs, rates_kernel);
criterion_main!(benches);

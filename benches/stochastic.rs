//! Speed of the stochastic engine on the five-compartment persister model
//! (`scenarios/persister-nsclc.yaml`, continuous osimertinib, 1095 days).
//!
//! Run: `cargo bench --bench stochastic`. Report ns per rollout-day = time / (rollouts × 1095).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regimen::Scenario;
use regimen::sim::rollouts::{RolloutSettings, in_cells, run_rollout, run_rollouts};
use std::hint::black_box;
use std::path::Path;

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/persister-nsclc.yaml");
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn one_rollout(c: &mut Criterion) {
    let s = scenario();
    let cells = in_cells(&s);
    let arm = s.arm("continuous").unwrap();
    let mut group = c.benchmark_group("stochastic_one_rollout");
    // Throughput in rollout-days: criterion then reports days per second.
    group.throughput(Throughput::Elements(s.horizon as u64));
    let mut rollout = 0u64;
    group.bench_function("persister-nsclc/continuous", |b| {
        b.iter(|| {
            rollout += 1;
            run_rollout(black_box(&cells), arm, 1, rollout, 0.0).unwrap()
        })
    });
    group.finish();
}

fn many_rollouts(c: &mut Criterion) {
    let s = scenario();
    let arm = s.arm("continuous").unwrap();
    let mut group = c.benchmark_group("stochastic_parallel");
    group.sample_size(10);
    let count = 10_000u64;
    group.throughput(Throughput::Elements(count * s.horizon as u64));
    group.bench_function(format!("persister-nsclc/continuous/{count}"), |b| {
        b.iter(|| {
            run_rollouts(
                black_box(&s),
                arm,
                RolloutSettings {
                    seed: 1,
                    first: 0,
                    count,
                    keep_trajectories: 0,
                    record_every: 0.0,
                },
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, one_rollout, many_rollouts);
criterion_main!(benches);

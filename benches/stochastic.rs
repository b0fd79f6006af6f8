//! Speed of the stochastic engine on the five-compartment persister model of issue 15's
//! frozen benchmark (`benches/data/persister-bench.yaml`, a copy of
//! `../shared/bench/persister-bench.yaml`: 1095 days, one-compartment oral PK — not the
//! bundled flagship, which later calibrations change), one benchmark per kind of step the
//! kernel cache sees:
//!
//! - `open_loop`: arm `continuous`, one patient — every rollout takes the same exposure path,
//!   so each day's kernel is built once and shared;
//! - `closed_loop`: arm `adaptive-50` — rollouts stop and restart dosing at different visits
//!   and share kernels only while their exposure histories agree;
//! - `virtual_patients`: arm `continuous` with each patient's sensitive death rate drawn —
//!   every rollout has its own model, so kernels are shared only within a rollout (once the
//!   daily exposure repeats).
//!
//! Each runs 64 rollouts on one thread. Run: `cargo bench --bench stochastic`; ns per
//! rollout-day = time / (64 × 1095) (criterion prints the throughput in rollout-days).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use regimen::Scenario;
use regimen::sim::rollouts::{RolloutSettings, run_rollouts};
use std::hint::black_box;
use std::path::Path;

const ROLLOUTS: u64 = 64;

/// The frozen benchmark scenario, with `patient_line` as its only virtual-patient law.
fn scenario(patient_line: Option<&str>) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/persister-bench.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    if let Some(line) = patient_line {
        text.push_str(&format!("virtual_patients:\n{line}\n"));
    }
    Scenario::from_text(&path, &text).unwrap_or_else(|e| panic!("{e}"))
}

fn rollouts(s: &Scenario, arm: &str, seed: u64, count: u64) {
    let arm = s.arm(arm).unwrap();
    let settings = RolloutSettings {
        seed,
        first: 0,
        count,
        keep_trajectories: 0,
        record_every: 0.0,
    };
    black_box(run_rollouts(black_box(s), arm, settings).unwrap());
}

fn step_kinds(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let one_patient = scenario(None);
    let patients = scenario(Some(
        "  model.compartments.sensitive.death: { lognormal: { median: 0.028, cv: 0.2 } }",
    ));
    let mut group = c.benchmark_group("stochastic");
    group.sample_size(20);
    group.throughput(Throughput::Elements(ROLLOUTS * one_patient.horizon as u64));
    let mut seed = 0u64;
    for (name, s, arm) in [
        ("open_loop", &one_patient, "continuous"),
        ("closed_loop", &one_patient, "adaptive-50"),
        ("virtual_patients", &patients, "continuous"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                // A fresh seed each time, so no run repeats the last one's draws.
                seed += 1;
                pool.install(|| rollouts(s, arm, seed, ROLLOUTS))
            })
        });
    }
    group.finish();
}

fn many_rollouts(c: &mut Criterion) {
    let s = scenario(None);
    let mut group = c.benchmark_group("stochastic_parallel");
    group.sample_size(10);
    let count = 10_000u64;
    group.throughput(Throughput::Elements(count * s.horizon as u64));
    group.bench_function(format!("persister-bench/continuous/{count}"), |b| {
        b.iter(|| rollouts(&s, "continuous", 1, count))
    });
    group.finish();
}

criterion_group!(benches, step_kinds, many_rollouts);
criterion_main!(benches);

//! Speed of `regimen fit` on the synthetic IADT cohort (scenarios/iadt-bruchovsky.yaml:
//! two populations, four free parameters and a log-additive error, 86 monthly PSA values
//! per man): one subject fitted with profile-likelihood intervals, and the whole 40-subject
//! cohort (rayon over subjects, every core).
//!
//! Run: `cargo bench --bench fit` (about four minutes: the cohort takes ~20 s a sample).

use criterion::{Criterion, criterion_group, criterion_main};
use regimen::Scenario;
use regimen::fit::{Settings, fit_all, fit_subject};
use regimen::protocol::dataset::{self, Layout};
use std::hint::black_box;
use std::path::Path;

fn fits(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(&root.join("scenarios/iadt-bruchovsky.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let settings = Settings::of(&scenario).unwrap_or_else(|e| panic!("{e}"));
    let file = root.join("scenarios/data/iadt-cohort.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let data = dataset::read(&file, &text, Layout::Observed).unwrap_or_else(|e| panic!("{e:?}"));
    let mut group = c.benchmark_group("fit");
    group.sample_size(10);
    group.bench_function("one_subject_with_profiles", |b| {
        b.iter(|| fit_subject(black_box(&scenario), &settings, &file, &data.subjects[0]).unwrap())
    });
    group.bench_function("cohort_40_subjects", |b| {
        b.iter(|| fit_all(black_box(&scenario), &settings, &data, &|| {}).unwrap())
    });
    group.finish();
}

criterion_group!(benches, fits);
criterion_main!(benches);

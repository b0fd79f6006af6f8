//! Statistical validation of the stochastic engine. Every test uses fixed seeds; every bound
//! is derived from theory in the comment beside it.

mod common;
use common::correlation;
use rayon::prelude::*;
use regimen::Scenario;
use regimen::sim::exact::ExactPropagator;
use regimen::sim::rollouts::{RolloutSettings, in_cells, run_rollouts};
use regimen::sim::{RunOptions, RunResult, run, run_deterministic};
use std::path::Path;

fn load(yaml: &str) -> Scenario {
    Scenario::from_text(Path::new("stochastic-test.yaml"), yaml)
        .unwrap_or_else(|e| panic!("test scenario invalid:\n{e}"))
}

fn bundled(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.yaml"));
    Scenario::load(&path).unwrap()
}

/// An untreated single-drug scenario around a model block.
fn untreated(horizon: f64, every: f64, model: &str) -> String {
    format!(
        "format_version: 1
name: stochastic test
time_units: days
horizon: {horizon}
model:
{model}
drugs:
  d:
    effects: {{ x: {{ kill: {{ linear: {{ slope: 0.0 }} }} }} }}
observation: {{ every: {every} }}
progression: {{ rule: above_baseline, factor: 1.0e9 }}
arms:
  - {{ name: untreated, schedule: {{ continuous: {{ dose: 0 }} }} }}
"
    )
}

/// Counts of compartment `comp` at each recorded time, over `n` rollouts.
fn counts_at(s: &Scenario, n: u64, seed: u64, record_every: f64, comp: usize) -> Vec<Vec<f64>> {
    let runs = run_rollouts(
        s,
        &s.arms[0],
        RolloutSettings {
            seed,
            first: 0,
            count: n,
            keep_trajectories: n,
            record_every,
        },
    )
    .unwrap();
    let nc = s.model.n_compartments();
    runs.trajectories
        .iter()
        .map(|(_, r)| {
            r.trajectory
                .counts
                .iter()
                .skip(comp)
                .step_by(nc)
                .copied()
                .collect()
        })
        .collect()
}

/// DSMTS acceptance (Evans, Gillespie & Wilkinson 2008): with n runs, sample mean m and
/// variance S² against the true μ and σ², Z = √n(m − μ)/σ must lie in (−3, 3) and
/// Y = (S² − σ²)/sd(S²) in (−5, 5). Under a correct engine each fails with probability
/// below 0.3 % and 1e-6 respectively. DSMTS takes sd(S²) = σ²√(2/n), true for normal data;
/// counts near extinction are heavy-tailed, so we use the exact large-n value
/// sd(S²) = √((κ4 + 2σ⁴)/n) with the fourth cumulant κ4 of the true law (`kappa4`).
fn dsmts_check(label: &str, samples: &[f64], mean: f64, var: f64, kappa4: f64) {
    let n = samples.len() as f64;
    let m = samples.iter().sum::<f64>() / n;
    let s2 = samples.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    let z = n.sqrt() * (m - mean) / var.sqrt();
    let y = (s2 - var) / ((kappa4 + 2.0 * var * var) / n).sqrt();
    eprintln!("{label}: Z = {z:+.2}, Y = {y:+.2}");
    assert!(z.abs() < 3.0, "{label}: Z = {z:.2} (mean {m} vs {mean})");
    assert!(
        y.abs() < 5.0,
        "{label}: Y = {y:.2} (variance {s2} vs {var})"
    );
}

/// Second and fourth cumulants of one lineage: P(0) = α, P(k) = (1−α)(1−β)β^{k−1}, k ≥ 1.
fn lineage_cumulants(alpha: f64, beta: f64) -> (f64, f64) {
    let mut raw = [0.0f64; 5];
    let mut pk = (1.0 - alpha) * (1.0 - beta);
    let mut k = 1.0f64;
    while pk > 1e-300 && k < 1e7 {
        let mut power = 1.0;
        for r in raw.iter_mut() {
            *r += pk * power;
            power *= k;
        }
        pk *= beta;
        k += 1.0;
    }
    let m = raw[1];
    let c2 = raw[2] - m * m;
    let c4 = raw[4] - 4.0 * m * raw[3] + 6.0 * m * m * raw[2] - 3.0 * m.powi(4);
    (c2, c4 - 3.0 * c2 * c2)
}

#[test]
fn birth_death_moments_match_dsmts_rule() {
    // Linear birth–death from n0 cells: mean n0·e^{rt}, variance
    // n0·(λ+μ)/(λ−μ)·e^{rt}(e^{rt} − 1), r = λ − μ. Parameter sets of DSMTS models 001-01
    // (n0 100, λ 0.1, μ 0.11), 001-03 (λ 1, μ 1.1), 001-04 (n0 10) and 001-05 (n0 10000),
    // and n0 = 1e6, which takes the engine's normal-law path.
    for (n0, lambda, mu) in [
        (100.0, 0.1, 0.11),
        (100.0, 1.0, 1.1),
        (10.0, 0.1, 0.11),
        (10000.0, 0.1, 0.11),
        (1.0e6, 0.1, 0.11),
    ] {
        let s = load(&untreated(
            50.0,
            50.0,
            &format!(
                "  growth: exponential\n  compartments:\n    x: {{ birth: {lambda}, death: {mu}, initial: {n0} }}"
            ),
        ));
        let runs = counts_at(&s, 10_000, 20260101, 10.0, 0);
        for (row, t) in [(1usize, 10.0f64), (2, 20.0), (5, 50.0)] {
            let r: f64 = lambda - mu;
            let e = (r * t).exp();
            let mean = n0 * e;
            let var = n0 * (lambda + mu) / (lambda - mu) * e * (e - 1.0);
            let samples: Vec<f64> = runs.iter().map(|c| c[row]).collect();
            // The count is a sum of n0 independent lineages, each 0 with probability α and
            // otherwise 1 + Geometric(β): cumulants add over lineages.
            let alpha = mu * (e - 1.0) / (lambda * e - mu);
            let beta = lambda * (e - 1.0) / (lambda * e - mu);
            let (k2, k4) = lineage_cumulants(alpha, beta);
            assert!((n0 * k2 / var - 1.0).abs() < 1e-6, "variance formula check");
            dsmts_check(
                &format!("n0={n0} λ={lambda} μ={mu} t={t}"),
                &samples,
                mean,
                var,
                n0 * k4,
            );
        }
    }
}

#[test]
fn extinction_probability_matches_kendall() {
    // From n0 = 3 cells with λ = 0.2, μ = 0.1, P(extinct by t) = α(t)^{n0} with
    // α = μ(e^{rt} − 1)/(λe^{rt} − μ); it tends to (μ/λ)^{n0} = 0.125. With 10000 runs
    // the estimate's standard error is √(p(1−p)/n) ≤ 0.005; we allow 4 SE.
    let (n0, lambda, mu) = (3.0f64, 0.2f64, 0.1f64);
    let s = load(&untreated(
        150.0,
        150.0,
        "  growth: exponential\n  compartments:\n    x: { birth: 0.2, death: 0.1, initial: 3 }",
    ));
    let runs = counts_at(&s, 10_000, 7, 25.0, 0);
    for (row, t) in [(1usize, 25.0f64), (6, 150.0)] {
        let e = ((lambda - mu) * t).exp();
        let alpha = mu * (e - 1.0) / (lambda * e - mu);
        let p = alpha.powf(n0);
        let observed = runs.iter().filter(|c| c[row] == 0.0).count() as f64 / runs.len() as f64;
        let se = (p * (1.0 - p) / runs.len() as f64).sqrt();
        eprintln!("extinct by {t}: {observed:.4} vs {p:.4} (SE {se:.4})");
        assert!(
            (observed - p).abs() < 4.0 * se,
            "t={t}: extinct {observed} vs {p} (SE {se})"
        );
    }
    let eventual = (mu / lambda).powf(n0);
    assert!((eventual - 0.125).abs() < 1e-12);
}

#[test]
fn immigration_death_matches_dsmts_rule() {
    // DSMTS 002-01: immigration at rate 1, death 0.1 per cell, from 0. X(t) is Poisson with
    // mean (1/0.1)(1 − e^{−0.1t}). Immigration is a switch from a reservoir of 1e12 cells at
    // 1e-12 per cell (it loses under 1e-10 of itself over the run, so the rate stays 1).
    let s = load(&untreated(
        50.0,
        50.0,
        "  growth: exponential
  compartments:
    reservoir: { birth: 0.0, initial: 1.0e12 }
    x: { birth: 0.0, death: 0.1, initial: 0 }
  transitions:
    - { from: reservoir, to: x, rate: 1.0e-12 }",
    ));
    let runs = counts_at(&s, 10_000, 11, 10.0, 1);
    for (row, t) in [(1usize, 10.0f64), (2, 20.0), (5, 50.0)] {
        let mean = 10.0 * (1.0 - (-0.1 * t).exp());
        let samples: Vec<f64> = runs.iter().map(|c| c[row]).collect();
        // Poisson: every cumulant equals the mean.
        dsmts_check(
            &format!("immigration-death t={t}"),
            &samples,
            mean,
            mean,
            mean,
        );
    }
}

#[test]
fn stochastic_mean_matches_the_ode_for_large_populations() {
    // 10^10 cells under 3-weeks-on/1-off osimertinib: relative fluctuations of the large
    // compartments are below 1e-4 per rollout, so the mean of 100 rollouts must sit on the
    // ODE; we require every compartment above 1000 cells within 1 % at the horizon and at
    // day 400. One patient (no virtual patients) dosed through the horizon, so progression
    // at different visits does not split the rollouts.
    let mut s = bundled("persister-nsclc");
    s.patients.clear();
    let mut arm = s.arm("3w-on-1w-off").unwrap().clone();
    arm.treat_beyond_progression = true;
    let arm = &arm;
    let ode = run_deterministic(&s, arm, RunOptions::default()).unwrap();
    let runs = run_rollouts(
        &s,
        arm,
        RolloutSettings {
            seed: 3,
            first: 0,
            count: 100,
            keep_trajectories: 100,
            record_every: 1.0,
        },
    )
    .unwrap();
    let nc = s.model.n_compartments();
    for day in [400usize, 1095] {
        for c in 0..nc {
            let want = ode.trajectory.counts[day * nc + c];
            if want < 1000.0 {
                continue;
            }
            let mean = runs
                .trajectories
                .iter()
                .map(|(_, r)| r.trajectory.counts[day * nc + c])
                .sum::<f64>()
                / runs.trajectories.len() as f64;
            let rel = (mean / want - 1.0).abs();
            eprintln!(
                "{} day {day}: {:+.4} %",
                s.model.compartments[c].name,
                100.0 * (mean / want - 1.0)
            );
            assert!(
                rel < 0.01,
                "{} at day {day}: stochastic mean {mean:.4e} vs ODE {want:.4e} ({:.3} %)",
                s.model.compartments[c].name,
                100.0 * rel
            );
        }
    }
}

/// Lea–Coulson mutant-count distribution with m expected mutations, by the recursion of
/// Ma, Sandri & Sarkar (1992): p0 = e^{−m}, pn = (m/n) Σ_{i<n} p_i/(n − i + 1).
fn luria_delbruck(m: f64, up_to: usize) -> Vec<f64> {
    let mut p = vec![(-m).exp()];
    for n in 1..=up_to {
        let s: f64 = (0..n).map(|i| p[i] / (n - i + 1) as f64).sum();
        p.push(m / n as f64 * s);
    }
    p
}

/// Chi-square critical values at p = 0.001 by degrees of freedom (1..=12).
const CHI2_999: [f64; 12] = [
    10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88, 29.59, 31.26, 32.91,
];

#[test]
fn mutant_counts_follow_luria_delbruck() {
    // 1e5 sensitive cells dividing at rate 1 (no death) for T = ln 301: about 3e7 divisions,
    // each yielding a resistant daughter with probability 1e-7, so m = μ·(divisions) ≈ 3.
    // Mutant clones grow at the same rate (a Yule process), the Lea–Coulson setting. With
    // μ the parent's expected growth is e^{(1−μ)T}; m = μ·S0·(e^{(1−μ)T} − 1)/(1 − μ).
    let (s0, mu) = (1.0e5f64, 1.0e-7f64);
    let t = 301.0f64.ln();
    let s = load(&untreated(
        t,
        t,
        "  growth: exponential
  compartments:
    x: { birth: 1.0, initial: 1.0e5 }
    resistant: { birth: 1.0, initial: 0, role: resistant }
  mutations:
    - { from: x, to: resistant, per_division: 1.0e-7 }",
    ));
    let m = mu * s0 * (((1.0 - mu) * t).exp() - 1.0) / (1.0 - mu);
    let n = 4000;
    let runs = run_rollouts(
        &s,
        &s.arms[0],
        RolloutSettings {
            seed: 5,
            first: 0,
            count: n,
            keep_trajectories: 0,
            record_every: 0.0,
        },
    )
    .unwrap();
    let counts: Vec<usize> = runs
        .rollouts
        .iter()
        .map(|r| r.outcome.final_resistant as usize)
        .collect();
    // Pool into bins with expected counts of at least 20.
    let edges = [0usize, 1, 2, 3, 4, 5, 6, 8, 11, 16, 25, 45, usize::MAX];
    let p = luria_delbruck(m, 45);
    let mut chi2 = 0.0;
    let bins = edges.len() - 1;
    for b in 0..bins {
        let (lo, hi) = (edges[b], edges[b + 1]);
        let expected_p: f64 = if hi == usize::MAX {
            1.0 - p[..lo].iter().sum::<f64>()
        } else {
            p[lo..hi].iter().sum()
        };
        let expected = expected_p * n as f64;
        assert!(expected >= 20.0, "bin {lo}..{hi} expects only {expected}");
        let observed = counts.iter().filter(|&&c| c >= lo && c < hi).count() as f64;
        chi2 += (observed - expected).powi(2) / expected;
    }
    let critical = CHI2_999[bins - 2];
    eprintln!(
        "Luria–Delbrück m = {m:.3}: chi-square {chi2:.2}, df {}, critical {critical}",
        bins - 1
    );
    assert!(
        chi2 < critical,
        "chi-square {chi2:.1} ≥ {critical} (df {}), m = {m:.3}",
        bins - 1
    );
}

/// Two-sample Kolmogorov–Smirnov statistic.
fn ks(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

#[test]
fn leaping_agrees_with_exact_simulation_at_small_populations() {
    // A small logistic tumour (K = 1500) with 1 resistant cell, an intermittent
    // cytotoxic drug and switching: the quantities that drive decisions — extinction of the
    // resistant clone, time to progression and the resistant count at the horizon — from
    // the leaping engine and from exact event simulation must be indistinguishable. With
    // n = 1500 runs each, the two-sample KS statistic exceeds 1.95·√(2/n) = 0.071 with
    // probability 0.001 if the laws are equal; a proportion test uses 4 standard errors.
    let yaml = "format_version: 1
name: small tumour
time_units: days
horizon: 200
model:
  growth: logistic
  carrying_capacity: 1500
  compartments:
    sensitive: { birth: 0.12, death: 0.02, initial: 600 }
    tolerant: { birth: 0.02, death: 0.01, initial: 0, role: persister }
    resistant: { birth: 0.08, death: 0.02, initial: 1, role: resistant }
  transitions:
    - { from: sensitive, to: tolerant, rate: 0.02, induced_by: drug }
    - { from: tolerant, to: sensitive, rate: 0.05, only_off_drug: true }
  mutations:
    - { from: tolerant, to: resistant, per_division: 0.002 }
drugs:
  drug:
    effects:
      sensitive: { kill: { linear: { slope: 0.3 } } }
observation: { every: 7 }
progression: { rule: above_baseline, factor: 1.2 }
arms:
  - { name: pulsed, schedule: { intermittent: { on: 14, off: 14 } } }
";
    let s = load(yaml);
    let arm = &s.arms[0];
    let n: u64 = std::env::var("REGIMEN_LEAP_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let leap = run_rollouts(
        &s,
        arm,
        RolloutSettings {
            seed: 17,
            first: 0,
            count: n,
            keep_trajectories: 0,
            record_every: 0.0,
        },
    )
    .unwrap();
    let cells = in_cells(&s);
    let exact: Vec<RunResult> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut p = ExactPropagator::new(&cells.model, cells.drugs.len(), 17, i);
            run(
                &cells,
                arm,
                &mut p,
                RunOptions {
                    record_every: 0.0,
                    noise: None,
                },
            )
            .unwrap()
        })
        .collect();
    let leap_ttp: Vec<f64> = leap.rollouts.iter().map(|r| r.outcome.ttp).collect();
    let exact_ttp: Vec<f64> = exact.iter().map(|r| r.outcome.ttp).collect();
    let leap_res: Vec<f64> = leap
        .rollouts
        .iter()
        .map(|r| r.outcome.final_resistant)
        .collect();
    let exact_res: Vec<f64> = exact.iter().map(|r| r.outcome.final_resistant).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    eprintln!(
        "mean TTP leap {:.2} exact {:.2}; mean resistant leap {:.1} exact {:.1}",
        mean(&leap_ttp),
        mean(&exact_ttp),
        mean(&leap_res),
        mean(&exact_res)
    );
    let critical = 1.95 * (2.0 / n as f64).sqrt();
    let d_ttp = ks(&leap_ttp, &exact_ttp);
    let d_res = ks(&leap_res, &exact_res);
    eprintln!(
        "leap vs exact: KS(TTP) {d_ttp:.4}, KS(resistant) {d_res:.4}, critical {critical:.4}"
    );
    assert!(d_ttp < critical, "TTP: KS {d_ttp:.3} ≥ {critical:.3}");
    assert!(
        d_res < critical,
        "resistant count: KS {d_res:.3} ≥ {critical:.3}"
    );
    // Sanity that the comparison has power: the laws are not degenerate.
    let progressed = exact.iter().filter(|r| r.outcome.progressed).count();
    assert!(
        progressed > n as usize / 10 && progressed < n as usize * 9 / 10,
        "{progressed}"
    );
    let extinct = |v: &[f64]| v.iter().filter(|x| **x == 0.0).count() as f64 / v.len() as f64;
    let (pl, pe) = (extinct(&leap_res), extinct(&exact_res));
    let pooled = (pl + pe) / 2.0;
    let se = (2.0 * pooled * (1.0 - pooled) / n as f64).sqrt();
    eprintln!("resistant extinct at horizon: leap {pl:.4}, exact {pe:.4}");
    assert!(
        (pl - pe).abs() < 4.0 * se.max(1e-3),
        "resistant extinct: leap {pl} vs exact {pe}"
    );
}

/// Correlations of final log burdens across 1000 rollouts between the continuous arm and
/// one 1 % higher in dose: with the same seed, and with different seeds. Five resistant
/// cells at the start make the outcome a matter of chance. `one_patient` drops the virtual
/// patients and the measurement noise, so only the engine's own draws are shared.
fn crn_correlations(one_patient: bool) -> (f64, f64) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/persister-nsclc.yaml"),
    )
    .unwrap()
    .replace("initial: 1.0e6                   #", "initial: 5                       #")
    .replace(
        "  - name: continuous\n    schedule: continuous-mtd",
        "  - name: continuous\n    schedule: continuous-mtd\n  - name: continuous-plus-1pct\n    schedule: { continuous: { dose: 80.8 } }",
    );
    let mut s = Scenario::from_text(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/persister-nsclc.yaml"),
        &text,
    )
    .unwrap();
    if one_patient {
        s.patients.clear();
        s.marker.noise_cv = 0.0;
    }
    assert_eq!(s.model.compartments[4].initial, 5.0);
    let finals = |arm: &str, seed: u64| -> Vec<f64> {
        run_rollouts(
            &s,
            s.arm(arm).unwrap(),
            RolloutSettings {
                seed,
                first: 0,
                count: 1000,
                keep_trajectories: 0,
                record_every: 0.0,
            },
        )
        .unwrap()
        .rollouts
        .iter()
        .map(|r| r.outcome.final_total.ln())
        .collect()
    };
    let a = finals("continuous", 1);
    let b = finals("continuous-plus-1pct", 1);
    let c = finals("continuous-plus-1pct", 2);
    let same = correlation(&a, &b);
    let independent = correlation(&a, &c);
    (same, independent)
}

#[test]
fn common_random_numbers_keep_nearby_doses_correlated() {
    // Two arms 1 % apart in dose, same seed: where their states agree they draw the same
    // numbers, so final burdens stay strongly correlated (> 0.8) across 1000 rollouts of a
    // scenario whose outcome is dominated by chance (5 resistant cells at the start).
    // Independent seeds give a correlation near 0 (|r| < 0.15 at n = 1000: 4.7 SE). With the
    // scenario's virtual patients (each draws its own resistant clone, shared by both arms)
    // and its measurement noise (which dates progression, and so the end of treatment) those
    // alone correlate the arms; with one patient and exact measurements only the engine's
    // keyed streams can.
    for one_patient in [false, true] {
        let (same, independent) = crn_correlations(one_patient);
        eprintln!(
            "one patient {one_patient}: correlation same seed {same:.3}, different seeds \
             {independent:.3}"
        );
        assert!(same > 0.8, "correlation with common random numbers {same}");
        assert!(
            independent.abs() < 0.15,
            "correlation across seeds {independent}"
        );
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let s = bundled("persister-nsclc");
    let run_with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            s.arms
                .iter()
                .map(|arm| {
                    run_rollouts(
                        &s,
                        arm,
                        RolloutSettings {
                            seed: 99,
                            first: 0,
                            count: 64,
                            keep_trajectories: 2,
                            record_every: 7.0,
                        },
                    )
                    .unwrap()
                })
                .collect::<Vec<_>>()
        })
    };
    let one = run_with(1);
    let three = run_with(3);
    assert_eq!(one, three);
}

//! `regimen fit`: closed forms, censoring, recovery on a synthetic cohort, located errors.

use regimen::Scenario;
use regimen::fit::{Settings, fit_subject};
use regimen::protocol::dataset::{self, Layout};
use std::path::Path;

/// Exponential growth, no drug effect: ln N(t) = ln N0 + r t.
const EXPONENTIAL: &str = r#"
format_version: 1
name: exponential growth
time_units: days
horizon: 400
model:
  growth: exponential
  compartments:
    tumour: { birth: 0.01, initial: 100 }
drugs:
  placebo: { exposure: level, standard_dose: 1, effects: { tumour: { kill: { linear: { slope: 0 } } } } }
observation: { every: 10 }
progression: { rule: above_baseline, factor: 1.2 }
arms:
  - { name: none, schedule: continuous-mtd }
fit:
  parameters:
    model.compartments.tumour.birth: { lower: 0.001, upper: 0.05, scale: linear }
    model.compartments.tumour.initial: { lower: 1, upper: 10000 }
  error: log_additive
  starts: 4
"#;

/// Standard normal draws from a fixed seed (Box–Muller on a simple LCG: the test needs
/// fixed noise, not good noise).
fn normals(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    let mut uniform = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (uniform(), uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        })
        .collect()
}

/// Log-normal noise on exponential growth is linear regression on the log: the ML estimates
/// are least squares, σ̂² = RSS/n, and the observed information gives
/// SE(r̂) = σ̂/√Sxx and SE(ln N̂0) = σ̂·√(1/n + t̄²/Sxx). regimen must agree to 1e-4.
#[test]
fn exponential_growth_with_lognormal_noise_matches_the_closed_form() {
    let (n0, r, sigma) = (150.0_f64, 0.012_f64, 0.15_f64);
    let times: Vec<f64> = (0..25).map(|i| 12.0 * i as f64).collect();
    let eps = normals(times.len(), 7);
    let ys: Vec<f64> = times
        .iter()
        .zip(&eps)
        .map(|(t, e)| n0 * (r * t + sigma * e).exp())
        .collect();
    let mut csv = String::from("ID,TIME,EVID,AMT,DV\n");
    for (t, y) in times.iter().zip(&ys) {
        csv.push_str(&format!("1,{t},0,.,{y}\n"));
    }
    // Closed form.
    let n = times.len() as f64;
    let tbar = times.iter().sum::<f64>() / n;
    let lbar = ys.iter().map(|y| y.ln()).sum::<f64>() / n;
    let sxx: f64 = times.iter().map(|t| (t - tbar).powi(2)).sum();
    let sxy: f64 = times
        .iter()
        .zip(&ys)
        .map(|(t, y)| (t - tbar) * (y.ln() - lbar))
        .sum();
    let r_hat = sxy / sxx;
    let ln_n0_hat = lbar - r_hat * tbar;
    let rss: f64 = times
        .iter()
        .zip(&ys)
        .map(|(t, y)| (y.ln() - ln_n0_hat - r_hat * t).powi(2))
        .sum();
    let sigma_hat = (rss / n).sqrt();
    let se_r = sigma_hat / sxx.sqrt();
    let se_n0 = ln_n0_hat.exp() * sigma_hat * (1.0 / n + tbar * tbar / sxx).sqrt();
    // The profile of r with σ profiled out is n·ln(RSS(r)/n), RSS(r) = RSS + (r − r̂)²·Sxx:
    // it rises by χ²₁(95 %) = 3.8415 at r̂ ± √(RSS/Sxx · (e^{3.8415/n} − 1)).
    let half = (rss / sxx * ((3.841_458_820_694_124 / n).exp() - 1.0)).sqrt();

    let scenario = Scenario::from_yaml_str(EXPONENTIAL).unwrap();
    let settings = Settings::of(&scenario).unwrap();
    let data = dataset::read(Path::new("exp.csv"), &csv, Layout::Observed).unwrap();
    let fit = fit_subject(
        &scenario,
        &settings,
        Path::new("exp.csv"),
        &data.subjects[0],
    )
    .unwrap();
    let p = &fit.parameters;
    println!("r̂ {} vs {r_hat}; SE {} vs {se_r}", p[0].value, p[0].se);
    println!(
        "N̂0 {} vs {}; SE {} vs {se_n0}",
        p[1].value,
        ln_n0_hat.exp(),
        p[1].se
    );
    println!(
        "σ̂ {} vs {sigma_hat}; {} model runs",
        p[2].value, fit.evaluations
    );
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * b.abs();
    assert!(close(p[0].value, r_hat), "r̂");
    assert!(close(p[1].value, ln_n0_hat.exp()), "N̂0");
    assert!(close(p[2].value, sigma_hat), "σ̂");
    assert!(close(p[0].se, se_r), "SE(r̂)");
    assert!(close(p[1].se, se_n0), "SE(N̂0)");
    println!(
        "profile CI of r {:?} vs ({}, {})",
        p[0].ci,
        r_hat - half,
        r_hat + half
    );
    let (lo, hi) = (p[0].ci.0.unwrap(), p[0].ci.1.unwrap());
    assert!((lo - (r_hat - half)).abs() < 1e-3 * half, "lower end");
    assert!((hi - (r_hat + half)).abs() < 1e-3 * half, "upper end");
    assert!(p.iter().all(|q| q.identifiable));
}

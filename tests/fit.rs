//! `regimen fit`: closed forms, censoring, recovery on a synthetic cohort, located errors.

mod common;

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

fn fit_text(scenario: &str, csv: &str) -> regimen::fit::SubjectFit {
    let scenario = Scenario::from_yaml_str(scenario).unwrap_or_else(|e| panic!("{e}"));
    let settings = Settings::of(&scenario).unwrap();
    let data = dataset::read(Path::new("d.csv"), csv, Layout::Observed).unwrap();
    fit_subject(&scenario, &settings, Path::new("d.csv"), &data.subjects[0])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A compartment the marker does not see: its birth rate cannot be estimated from any
/// amount of marker data. Its profile is flat, and the fit must say so, while still
/// estimating the tumour's own parameters.
#[test]
fn a_parameter_the_marker_cannot_see_is_flagged_not_identifiable() {
    let scenario = EXPONENTIAL
        .replace(
            "    tumour: { birth: 0.01, initial: 100 }",
            "    tumour: { birth: 0.01, initial: 100 }\n    unseen: { birth: 0.02, initial: 50 }",
        )
        .replace(
            "observation: { every: 10 }",
            "observation: { every: 10, marker: { weighted: { tumour: 1 } } }",
        )
        .replace(
            "  error: log_additive",
            "    model.compartments.unseen.birth: { lower: 0.001, upper: 0.05 }\n  error: log_additive",
        );
    let eps = normals(20, 3);
    let mut csv = String::from("ID,TIME,DV\n");
    for (i, e) in eps.iter().enumerate() {
        let t = 15.0 * i as f64;
        csv.push_str(&format!("7,{t},{}\n", 100.0 * (0.01 * t + 0.1 * e).exp()));
    }
    let fit = fit_text(&scenario, &csv);
    let p = &fit.parameters;
    assert_eq!(p[2].path, "model.compartments.unseen.birth");
    assert!(!p[2].identifiable, "{:?}", p[2]);
    assert_eq!(p[2].ci, (None, None), "flat both ways");
    assert!(p[0].identifiable && p[1].identifiable, "{p:?}");
}

/// Exponential decline below the limit of quantification: half the measurements are
/// BLQ. Dropping them keeps only the late values that noise lifted above the limit, so the
/// decline looks slower; M3 (each BLQ value contributes P(measurement < limit)) does not.
/// Over 24 datasets the mean relative bias of the death rate must be under 3 % with M3
/// (its Monte Carlo SE is about 1 %: SE of one estimate ≈ 5 %, / √24) and at least three
/// times smaller than when BLQ rows are dropped.
#[test]
fn censored_values_in_the_likelihood_beat_dropping_them() {
    let scenario = r#"
format_version: 1
name: decline below the limit
time_units: days
horizon: 400
model:
  growth: exponential
  compartments:
    tumour: { birth: 0.0, death: 0.02, initial: 100 }
drugs:
  placebo: { exposure: level, standard_dose: 1, effects: { tumour: { kill: { linear: { slope: 0 } } } } }
observation: { every: 10, detection_limit: 1.0 }
progression: { rule: above_baseline, factor: 1.2 }
arms:
  - { name: none, schedule: continuous-mtd }
fit:
  parameters:
    model.compartments.tumour.death: { lower: 0.002, upper: 0.2 }
    model.compartments.tumour.initial: { lower: 1, upper: 10000 }
  error: log_additive
  starts: 2
  profiles: false
"#;
    let (k, sigma) = (0.02_f64, 0.4_f64);
    let (mut m3, mut dropped, mut blq) = (Vec::new(), Vec::new(), 0);
    for seed in 0..24 {
        let eps = normals(40, 100 + seed);
        let mut with = String::from("ID,TIME,DV,BLQ\n");
        let mut without = with.clone();
        for (i, e) in eps.iter().enumerate() {
            let t = 10.0 * i as f64;
            let y = 100.0 * (-k * t + sigma * e).exp();
            if y < 1.0 {
                with.push_str(&format!("1,{t},1.0,1\n"));
                blq += 1;
            } else {
                with.push_str(&format!("1,{t},{y},0\n"));
                without.push_str(&format!("1,{t},{y},0\n"));
            }
        }
        m3.push(fit_text(scenario, &with).parameters[0].value / k - 1.0);
        dropped.push(fit_text(scenario, &without).parameters[0].value / k - 1.0);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (b3, bd) = (mean(&m3), mean(&dropped));
    println!(
        "{blq} of {} measurements BLQ; mean relative bias of the death rate: M3 {:+.2} %, \
         BLQ dropped {:+.2} %",
        24 * 40,
        100.0 * b3,
        100.0 * bd
    );
    assert!(blq > 24 * 40 / 3, "the case needs many BLQ rows");
    assert!(b3.abs() < 0.03, "M3 bias {b3}");
    assert!(b3.abs() * 3.0 < bd.abs(), "M3 {b3} vs dropped {bd}");
}

/// Bad data and bad fit blocks get located errors that say what is allowed.
#[test]
fn bad_data_and_fit_blocks_are_located() {
    let scenario = Scenario::from_yaml_str(EXPONENTIAL).unwrap();
    let settings = Settings::of(&scenario).unwrap();
    // A dose for a drug the scenario does not have (CMT 2 of 1), on line 3.
    let data = dataset::read(
        Path::new("d.csv"),
        "ID,TIME,EVID,AMT,CMT,DV\n1,0,0,.,.,100\n1,1,1,1,2,.\n1,5,0,.,.,110\n",
        Layout::Observed,
    )
    .unwrap();
    let e = fit_subject(&scenario, &settings, Path::new("d.csv"), &data.subjects[0])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("d.csv:3") && e.contains("CMT 2 names no drug"),
        "{e}"
    );
    // A zero on the log scale, not flagged BLQ.
    let data = dataset::read(
        Path::new("d.csv"),
        "ID,TIME,DV\n1,0,100\n1,5,0\n",
        Layout::Observed,
    )
    .unwrap();
    let e = fit_subject(&scenario, &settings, Path::new("d.csv"), &data.subjects[0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("d.csv:3") && e.contains("flag it BLQ"), "{e}");
    // A path that is not a parameter lists the ones there are.
    let bad = EXPONENTIAL.replace("tumour.birth: { lower", "tumour.brith: { lower");
    let e = Scenario::from_yaml_str(&bad).unwrap_err().to_string();
    assert!(
        e.contains("fit.parameters.model.compartments.tumour.brith"),
        "{e}"
    );
    assert!(
        e.contains("the parameters are: ") && e.contains("model.compartments.tumour.birth"),
        "{e}"
    );
    // Bounds that exclude the scenario's value (the first start).
    let bad = EXPONENTIAL.replace(
        "{ lower: 0.001, upper: 0.05, scale: linear }",
        "{ lower: 0.02, upper: 0.05, scale: linear }",
    );
    let e = Scenario::from_yaml_str(&bad).unwrap_err().to_string();
    assert!(e.contains("exclude the scenario's value 0.01"), "{e}");
    // A linear parameter needs bounds; a log one needs lower > 0.
    let bad = EXPONENTIAL.replace(
        "{ lower: 0.001, upper: 0.05, scale: linear }",
        "{ scale: linear }",
    );
    let e = Scenario::from_yaml_str(&bad).unwrap_err().to_string();
    assert!(e.contains("give lower and upper bounds"), "{e}");
}

/// The committed synthetic cohort, fitted whole: every parameter recovered. Truth is the
/// file the generator wrote beside the data. For a correctly specified model, 95 %
/// profile intervals cover the truth in 95 % of subjects; over the 160 intervals (40
/// subjects × 4 parameters) the binomial SD of the coverage is 1.7 %, so the pooled
/// coverage must lie in 90–99 % and each parameter's (SD 3.4 %) above 85 %.
#[test]
fn the_synthetic_cohort_is_recovered() {
    let scenario = Scenario::load(Path::new("scenarios/iadt-bruchovsky.yaml")).unwrap();
    let fitted = regimen::api::fit(
        &scenario,
        &regimen::api::FitOptions::default(),
        &regimen::Silent,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let truth = std::fs::read_to_string("scenarios/data/iadt-cohort-truth.csv").unwrap();
    let mut lines = truth.lines();
    let names: Vec<&str> = lines.next().unwrap().split(',').skip(1).collect();
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), fitted.subjects.len());
    let (mut covered, mut total) = (0, 0);
    for (j, name) in names.iter().enumerate() {
        let (mut cov, mut n, mut errors) = (0, 0, Vec::new());
        for (s, t) in fitted.subjects.iter().zip(&rows) {
            let p = &s.parameters[j];
            assert_eq!(p.path, *name);
            if !p.identifiable {
                continue;
            }
            let (lo, hi) = (p.ci.0.unwrap(), p.ci.1.unwrap());
            n += 1;
            cov += usize::from(lo <= t[j] && t[j] <= hi);
            errors.push((p.value - t[j]).abs() / t[j]);
        }
        errors.sort_by(f64::total_cmp);
        let median = errors[errors.len() / 2];
        println!(
            "{name}: {n} identifiable, coverage {cov}/{n}, median relative error {:.2} %",
            100.0 * median
        );
        assert!(n >= 30, "{name}: too few identifiable");
        assert!(cov as f64 >= 0.85 * n as f64, "{name}: coverage {cov}/{n}");
        assert!(median < 0.10, "{name}: median relative error {median}");
        covered += cov;
        total += n;
    }
    let coverage = covered as f64 / total as f64;
    println!("pooled coverage {covered}/{total} = {:.3}", coverage);
    assert!(
        (0.90..=0.99).contains(&coverage),
        "pooled coverage {coverage}"
    );
}

/// The cohort is what its generator makes: the example rebuilds both files byte for byte.
#[test]
fn the_committed_cohort_is_what_the_generator_writes() {
    let exe = std::env::current_exe().unwrap();
    let generator = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("examples").join("iadt_cohort"))
        .unwrap();
    assert!(generator.exists(), "{} not built", generator.display());
    let out = std::env::temp_dir().join(format!("regimen-cohort-{}", std::process::id()));
    let status = std::process::Command::new(&generator)
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    for file in ["iadt-cohort.csv", "iadt-cohort-truth.csv"] {
        let made = std::fs::read(out.join(file)).unwrap();
        let committed = std::fs::read(Path::new("scenarios/data").join(file)).unwrap();
        assert!(
            made == committed,
            "{file} differs from what the generator writes"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// Same data, same estimates, on one thread or two.
#[test]
fn fits_do_not_depend_on_the_thread_count() {
    let scenario = Scenario::load(Path::new("scenarios/iadt-bruchovsky.yaml")).unwrap();
    let text = std::fs::read_to_string("scenarios/data/iadt-cohort.csv").unwrap();
    let three: String = text
        .lines()
        .filter(|l| {
            l.starts_with("ID") || l.starts_with("1,") || l.starts_with("2,") || l.starts_with("3,")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let data = dataset::read(Path::new("three.csv"), &three, Layout::Observed).unwrap();
    let mut settings = Settings::of(&scenario).unwrap();
    settings.profiles = false;
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let fits = pool
            .install(|| regimen::fit::fit_all(&scenario, &settings, &data, &|| {}))
            .unwrap();
        regimen::fit::output::estimates(&fits).to_csv()
    };
    assert_eq!(run(1), run(2));
}

/// The honest test of a fit: fitted on each man's first two IADT cycles, the model
/// forecasts the rest of his PSA under the doses he then received. Floors (measured: 31 of
/// 36 progressions within three visits, median RMSE of ln PSA 0.106 against an assay noise
/// of 0.100; docs/fitting.md): progression right for at least 75 % of the men with data
/// left to forecast, and the median forecast error within 1.5 × the assay noise.
#[test]
fn fits_on_two_cycles_forecast_the_rest() {
    let scenario = Scenario::load(Path::new("scenarios/iadt-bruchovsky.yaml")).unwrap();
    let options = regimen::api::FitOptions {
        cycles: Some(2),
        profiles: Some(false),
        ..regimen::api::FitOptions::default()
    };
    let fitted = regimen::api::fit(&scenario, &options, &regimen::Silent).unwrap();
    let forecasts: Vec<_> = fitted
        .subjects
        .iter()
        .filter_map(|s| s.forecast)
        .filter(|f| !f.progressed_while_fitted)
        .collect();
    let right = forecasts.iter().filter(|f| f.progression_agrees()).count();
    let mut rmse: Vec<f64> = forecasts.iter().map(|f| f.rmse_log).collect();
    rmse.sort_by(f64::total_cmp);
    let median = rmse[rmse.len() / 2];
    println!(
        "progression right for {right} of {}; median RMSE(ln) {median:.3}",
        forecasts.len()
    );
    assert!(forecasts.len() >= 30);
    assert!(right as f64 >= 0.75 * forecasts.len() as f64);
    assert!(median < 0.15, "{median}");
}

/// Correlated virtual patients (the Gaussian copula behind `virtual_patient_correlations`,
/// which population.yaml writes for strong correlations): over 4000 patients the sample
/// correlation of the logs is within 0.05 of the one asked for (its SE is
/// (1 − r²)/√n ≈ 0.010: five SEs), the marginals keep their spread, and a uniform parameter
/// stays uniform (mean within 0.02 of ½: SE 0.0046).
#[test]
fn correlated_virtual_patients_have_the_correlation_asked_for() {
    let yaml = r#"
format_version: 1
name: correlated patients
time_units: days
horizon: 100
model:
  growth: exponential
  compartments:
    tumour: { birth: 0.02, death: 0.01, initial: 1000 }
drugs:
  drug: { effects: { tumour: { kill: { linear: { slope: 0.05 } } } } }
observation: { every: 28 }
progression: { rule: rise_over_nadir }
virtual_patients:
  model.compartments.tumour.birth: { lognormal: { cv: 0.5 } }
  model.compartments.tumour.initial: { lognormal: { median: 1000, cv: 1.0 } }
  model.compartments.tumour.death: { uniform: { low: 0.0, high: 0.02 } }
virtual_patient_correlations:
  - { between: [model.compartments.tumour.birth, model.compartments.tumour.initial], r: -0.6 }
  - { between: [model.compartments.tumour.birth, model.compartments.tumour.death], r: 0.3 }
arms:
  - { name: continuous, schedule: continuous-mtd }
"#;
    let s = Scenario::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{e}"));
    let n = 4000;
    let (mut a, mut b, mut u) = (Vec::new(), Vec::new(), Vec::new());
    for rollout in 0..n {
        let mut m = s.model.clone();
        regimen::model::patients::apply(
            &s.patients,
            s.patient_correlation.as_deref(),
            &mut m,
            7,
            rollout,
            false,
        );
        a.push(m.compartments[0].birth.ln());
        b.push(m.compartments[0].initial.ln());
        u.push(m.compartments[0].death / 0.02);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let sd = |v: &[f64]| {
        let m = mean(v);
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    };
    let (ma, mb) = (mean(&a), mean(&b));
    let r = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / ((n - 1) as f64 * sd(&a) * sd(&b));
    println!(
        "r = {r:.3} (asked -0.6); SD of ln birth {:.3} (asked {:.3}); uniform mean {:.3}",
        sd(&a),
        (1.25_f64).ln().sqrt(),
        mean(&u)
    );
    assert!((r + 0.6).abs() < 0.05, "{r}");
    assert!((sd(&a) - 1.25_f64.ln().sqrt()).abs() < 0.03);
    assert!((mean(&u) - 0.5).abs() < 0.02);
    assert!(u.iter().all(|x| (0.0..=1.0).contains(x)));
}

/// The command end to end on three men: every file, the figures (well-formed SVG), the
/// report, a subject's scenario that `compare` runs, and `regimen plot` redrawing the
/// figures byte for byte.
#[test]
fn the_fit_command_writes_its_folder_and_figures() {
    let dir = std::env::temp_dir().join(format!("regimen-fit-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string("scenarios/data/iadt-cohort.csv").unwrap();
    let three: String = text
        .lines()
        .filter(|l| l.starts_with("ID") || ["1,", "2,", "3,"].iter().any(|p| l.starts_with(p)))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("three.csv"), three).unwrap();
    let out = dir.join("out");
    let run = common::regimen_ok;
    let printed = run(&[
        "fit",
        "scenarios/iadt-bruchovsky.yaml",
        "--data",
        dir.join("three.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cycles",
        "2",
        "--no-profiles",
        "--no-png",
        "--report",
        dir.join("fit.html").to_str().unwrap(),
    ]);
    assert!(
        printed.contains("fit of 3 subjects") && printed.contains("Forecast"),
        "{printed}"
    );
    for file in [
        "estimates.csv",
        "predictions.csv",
        "forecast.csv",
        "population.csv",
        "population.yaml",
        "curves.csv",
        "dosing.csv",
        "vpc.csv",
        "scenario.yaml",
        "manifest.json",
        "subjects/1.yaml",
        "subjects/3.yaml",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    for figure in ["fit-subjects", "fit-residuals", "fit-vpc"] {
        let svg = std::fs::read_to_string(out.join(format!("plots/{figure}.svg"))).unwrap();
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{figure}: {e}"));
    }
    let html = std::fs::read_to_string(dir.join("fit.html")).unwrap();
    assert!(html.contains("estimates.csv") && html.contains("Population (two-stage)"));
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"command\": \"fit\"") && manifest.contains("data_sha256"));
    // The subject's scenario runs as is.
    let compared = run(&[
        "compare",
        out.join("subjects/2.yaml").to_str().unwrap(),
        "--rollouts",
        "20",
        "--out",
        dir.join("cmp").to_str().unwrap(),
        "--no-png",
    ]);
    assert!(compared.contains("observed"), "{compared}");
    // Redrawn from the folder, the figures are the same bytes.
    let before = std::fs::read(out.join("plots/fit-subjects.svg")).unwrap();
    run(&["plot", out.to_str().unwrap(), "--no-png"]);
    assert_eq!(
        before,
        std::fs::read(out.join("plots/fit-subjects.svg")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

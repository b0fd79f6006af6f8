//! The model-predictive rule against continuous dosing and AT50 (docs/mpc.md): median time
//! to progression, its ratio to AT50, restricted mean, time on drug and the share of
//! patients for whom each arm does best, first with the rule's model right, then with the
//! truth off it (the rule still assumes the scenario's numbers), then under other visit
//! intervals and measurement errors.
//!
//!     cargo run --release --example mpc_benchmark [-- scenarios/strobl2021-mpc.yaml [rollouts]]

use regimen::{CompareOptions, Scenario, Silent};
use serde_json::json;

fn main() -> Result<(), regimen::Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "scenarios/strobl2021-mpc.yaml".to_owned());
    let rollouts = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let nominal = Scenario::load(path.as_ref())?;
    let options = CompareOptions {
        rollouts,
        ..CompareOptions::default()
    };
    // The truths a misspecified rule meets: its numbers stay the scenario's (`assuming`).
    let growth = "virtual_patients.compartments.resistant.birth.uniform";
    let low = 0.0216;
    let high = 0.027;
    let truths: Vec<(String, Scenario)> = if path.contains("strobl2021-mpc") {
        let mut v = vec![("model right".to_owned(), nominal.clone())];
        for f in [0.7, 1.3] {
            let s = nominal.with_params(&[
                (&format!("{growth}.low"), json!(low * f)),
                (&format!("{growth}.high"), json!(high * f)),
            ])?;
            v.push((format!("resistant growth ×{f}"), s.assuming(&nominal)));
        }
        for c in [0.7, 1.3] {
            let s = nominal.with_params(&[(
                "model.compartments.resistant.competition.sensitive",
                json!(c),
            )])?;
            v.push((format!("competition cSR = {c}"), s.assuming(&nominal)));
        }
        v
    } else {
        vec![("model right".to_owned(), nominal.clone())]
    };
    let mut truths = truths;
    if path.contains("strobl2021-mpc") {
        // Monitoring: the visit interval and the measurement error, the rule re-planning at
        // every visit (its model right).
        for (every, noise) in [
            (7.0, 0.0),
            (7.0, 0.1),
            (28.0, 0.0),
            (28.0, 0.2),
            (56.0, 0.1),
        ] {
            let s = nominal.with_params(&[
                ("observation.every", json!(every)),
                ("observation.noise_cv", json!(noise)),
                ("arms.mpc.schedule.mpc.every", json!(every)),
                (
                    "arms.mpc.schedule.mpc.likelihood_cv",
                    json!(f64::max(noise, 0.1)),
                ),
            ])?;
            truths.push((format!("visits every {every} days, noise CV {noise}"), s));
        }
    }
    for (label, truth) in &truths {
        let c = regimen::compare(truth, &options, &Silent)?;
        println!("\n{label} ({rollouts} patients, seed {})", c.rollouts.seed);
        let by_arm = c.rollouts.by_arm();
        let at50 = c
            .rows
            .iter()
            .find(|r| r.arm == "adaptive-50")
            .and_then(|r| r.summary.median_ttp);
        // Per patient: the arms with the longest time to progression share the win.
        let n = by_arm.first().map_or(0, |(_, r)| r.rollouts.len());
        let mut wins = vec![0.0; by_arm.len()];
        for i in 0..n {
            let ttp: Vec<f64> = by_arm
                .iter()
                .map(|(_, r)| r.rollouts[i].outcome.ttp)
                .collect();
            let best = ttp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let tied = ttp.iter().filter(|&&t| t >= best - 1e-9).count() as f64;
            for (w, t) in wins.iter_mut().zip(&ttp) {
                if *t >= best - 1e-9 {
                    *w += 1.0 / tied;
                }
            }
        }
        println!(
            "{:<14} {:>10} {:>9} {:>6} {:>9} {:>7}",
            "arm", "median TTP", "vs AT50", "RMST", "% on drug", "best %"
        );
        for (row, w) in c.rows.iter().zip(&wins) {
            let m = row.summary.median_ttp;
            println!(
                "{:<14} {:>10} {:>9} {:>6.0} {:>9.1} {:>7.1}",
                row.arm,
                m.map_or("NR".to_owned(), |m| format!("{m:.0}")),
                match (m, at50) {
                    (Some(m), Some(a)) => format!("{:.2}", m / a),
                    _ => "—".to_owned(),
                },
                row.summary.restricted_mean_ttp,
                100.0 * row.summary.mean_fraction_on_drug,
                100.0 * w / n.max(1) as f64
            );
        }
    }
    Ok(())
}

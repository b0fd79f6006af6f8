//! A comparison in twenty lines: every arm of a scenario on the same 500 rollouts.
//!
//!     cargo run --release --example compare [-- scenarios/algazi2020-melanoma.yaml]

use regimen::{CompareOptions, Scenario, Silent};

fn main() -> Result<(), regimen::Error> {
    let path = std::env::args().nth(1);
    let scenario = Scenario::load(
        path.as_deref()
            .unwrap_or("scenarios/persister-nsclc.yaml")
            .as_ref(),
    )?;
    let options = CompareOptions {
        rollouts: 500,
        ..CompareOptions::default()
    };
    let comparison = regimen::compare(&scenario, &options, &Silent)?;
    for row in &comparison.rows {
        let median = row
            .summary
            .median_ttp
            .map_or("not reached".to_owned(), |m| format!("{m:.0}"));
        let contrast = row.contrast.as_ref().map_or("reference".to_owned(), |c| {
            let (lo, hi) = c.rmst_difference_ci;
            format!("ΔRMST {:+.0} ({lo:+.0} to {hi:+.0})", c.rmst_difference)
        });
        println!("{:<18} median TTP {median:>11}   {contrast}", row.arm);
    }
    Ok(())
}

//! Makes the synthetic cohort `regimen fit` is tested and documented on: men on
//! intermittent androgen deprivation (IADT) by the protocol of Bruchovsky et al. 2006
//! (Cancer 107:389: deprivation for at least 36 weeks and until PSA < 4 ng/mL, then off
//! until PSA > 10 ng/mL, PSA monthly), simulated on scenarios/iadt-bruchovsky.yaml with
//! each man's parameters drawn around the scenario's values.
//!
//! Writes the data in the NONMEM layout (ID,TIME,EVID,AMT,CMT,II,ADDL,DV,MDV,BLQ) and the
//! true parameters beside it:
//!
//!     cargo run --release --example iadt_cohort [-- OUT_DIR [SUBJECTS [SEED]]]
//!
//! (default scenarios/data, 40 subjects, seed 2006). The same arguments give the same
//! files, byte for byte.

use rand_distr::{Distribution, StandardNormal};
use regimen::Scenario;
use regimen::model::pk::Dose;
use regimen::protocol::schedule::{Custom, Observation, Policy, PolicyFactory, Schedule};
use regimen::sim::{NoiseKey, OdePropagator, RunOptions, ode::Tolerance, run};
use regimen::support::format::Num;
use regimen::support::rng::{Key, ROLLOUT_LEVEL_STEP};
use std::fmt::Write as _;
use std::sync::Arc;

/// Bruchovsky 2006 as the modelling literature summarises it: on for at least 36 weeks and
/// until PSA < 4 ng/mL; off until PSA > 10 ng/mL (thresholds not checked against the
/// paper's text; docs/fitting.md).
struct Bruchovsky;

struct BruchovskyPolicy {
    on: bool,
    cycle_start: f64,
}

const MIN_ON: f64 = 36.0 * 7.0;
const STOP_BELOW: f64 = 4.0;
const RESUME_ABOVE: f64 = 10.0;

impl PolicyFactory for Bruchovsky {
    fn name(&self) -> &str {
        "bruchovsky-iadt"
    }
    fn make(&self) -> Box<dyn Policy + Send> {
        Box::new(BruchovskyPolicy {
            on: true,
            cycle_start: 0.0,
        })
    }
    fn interval(&self) -> f64 {
        1.0
    }
}

impl Policy for BruchovskyPolicy {
    fn decision_time(&self, k: usize) -> Option<f64> {
        Some(k as f64)
    }
    fn observe(&mut self, obs: &Observation) {
        let low = !obs.detected || obs.value < STOP_BELOW;
        if self.on && obs.time - self.cycle_start >= MIN_ON && low {
            self.on = false;
        } else if !self.on && obs.detected && obs.value > RESUME_ABOVE {
            self.on = true;
            self.cycle_start = obs.time;
        }
    }
    fn decide(&mut self, _t: f64, doses: &mut Vec<Dose>) {
        if self.on {
            doses.push(Dose {
                drug: 0,
                amount: 1.0,
                duration: 1.0,
            });
        }
    }
}

/// The free parameters of the scenario's `fit:` block and the between-subject spread of
/// each (CV of a log-normal about the scenario's value; illustrative, chosen so the
/// cohort spans fast and slow responders and early and late resistance).
const SPREAD: [(&str, f64); 4] = [
    ("model.compartments.sensitive.initial", 0.3),
    ("model.compartments.sensitive.birth", 0.25),
    ("drugs.adt.effects.sensitive.cytostatic.linear.slope", 0.15),
    ("model.compartments.resistant.initial", 1.5),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().map_or("scenarios/data", String::as_str);
    let subjects: u64 = args.get(1).map_or(Ok(40), |s| s.parse())?;
    let seed: u64 = args.get(2).map_or(Ok(2006), |s| s.parse())?;
    let base = Scenario::load("scenarios/iadt-bruchovsky.yaml".as_ref())?;
    let limit = base.marker.detection_limit;
    let mut data = String::from("ID,TIME,EVID,AMT,CMT,II,ADDL,DV,MDV,BLQ\n");
    let mut truth = String::from("ID");
    for (path, _) in SPREAD {
        let _ = write!(truth, ",{path}");
    }
    truth.push('\n');
    for id in 1..=subjects {
        // Each man's parameters: log-normal about the scenario's value, within the fit's
        // bounds (a draw outside them is drawn again).
        let mut values = Vec::new();
        // One keyed stream per man (channel 9: not one the engines use).
        let mut rng = Key {
            seed,
            rollout: id,
            step: ROLLOUT_LEVEL_STEP,
            unit: 0,
            channel: 9,
        }
        .stream();
        for (path, cv) in SPREAD {
            let p = regimen::scenario::paths::find(base.resolved_spec(), path)?;
            let bounds = &base
                .resolved_spec()
                .fit
                .as_ref()
                .ok_or("no fit block")?
                .parameters;
            let free = bounds.get(path).ok_or("a spread names no free parameter")?;
            let (lo, hi) = (
                free.lower.unwrap_or(0.0),
                free.upper.unwrap_or(f64::INFINITY),
            );
            let sigma = (1.0 + cv * cv).ln().sqrt();
            let v = loop {
                let z: f64 = StandardNormal.sample(&mut rng);
                let v = p.value * (sigma * z).exp();
                if v > lo * 1.05 && v < hi / 1.05 {
                    break v;
                }
            };
            values.push((path, serde_json::json!(v)));
        }
        let mut man = base.with_params(&values)?;
        let arm = man.candidate_arm(
            "bruchovsky-iadt",
            Schedule::Custom(Custom(Arc::new(Bruchovsky))),
        );
        man.arms = vec![arm];
        let mut ode = OdePropagator::new(&man.model, man.drugs.len(), Tolerance::default());
        let options = RunOptions {
            record_every: 1.0,
            noise: Some(NoiseKey { seed, rollout: id }),
        };
        let result = run(&man, &man.arms[0], &mut ode, options)?;
        let _ = write!(truth, "{id}");
        for (_, v) in &values {
            let _ = write!(truth, ",{}", Num(v.as_f64().unwrap_or(f64::NAN)));
        }
        truth.push('\n');
        // Rows in time order: a block of daily doses at its first day, measurements at
        // their visits (a measurement and a dose on the same day: the measurement first).
        let mut rows: Vec<(f64, u8, String)> = Vec::new();
        let days: Vec<f64> = result.doses.iter().map(|d| d.time).collect();
        let mut i = 0;
        while i < days.len() {
            let mut j = i;
            while j + 1 < days.len() && (days[j + 1] - days[j] - 1.0).abs() < 1e-9 {
                j += 1;
            }
            let (ii, addl) = if j > i {
                ("1".to_owned(), (j - i).to_string())
            } else {
                (".".to_owned(), "0".to_owned())
            };
            rows.push((
                days[i],
                1,
                format!("{id},{},1,1,1,{ii},{addl},.,1,0", Num(days[i])),
            ));
            i = j + 1;
        }
        for v in &result.visits {
            let o = v.observation;
            let (dv, blq) = if o.detected { (o.value, 0) } else { (limit, 1) };
            // Four significant digits, as a laboratory reports PSA.
            let dv = format!("{:.4}", dv).parse::<f64>().unwrap_or(dv);
            let dv: f64 = format!("{:.3e}", dv).parse().unwrap_or(dv);
            rows.push((
                o.time,
                0,
                format!("{id},{},0,.,.,.,.,{},0,{blq}", Num(o.time), Num(dv)),
            ));
        }
        rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, _, row) in rows {
            data.push_str(&row);
            data.push('\n');
        }
    }
    std::fs::create_dir_all(out)?;
    std::fs::write(format!("{out}/iadt-cohort.csv"), data)?;
    std::fs::write(format!("{out}/iadt-cohort-truth.csv"), truth)?;
    println!(
        "wrote {subjects} subjects to {out}/iadt-cohort.csv and their parameters to {out}/iadt-cohort-truth.csv"
    );
    Ok(())
}

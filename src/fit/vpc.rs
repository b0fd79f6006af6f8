//! A visual predictive check of the population: virtual subjects drawn from the fitted
//! population, each simulated under a real subject's doses and measurement times with the
//! fitted measurement error, and the 5th, 50th and 95th percentiles of the simulated
//! measurements set against those of the observed ones, time bin by time bin.

use super::likelihood::{Objective, SEARCH_TOLERANCE};
use super::population::Population;
use super::settings::{ErrorModel, Free, Settings};
use super::{SubjectFit, fitted_measurements, subject};
use crate::error::Result;
use crate::protocol::dataset::Dataset;
use crate::scenario::Scenario;
use crate::stats::quantile;
use crate::support::rng::{Key, ROLLOUT_LEVEL_STEP};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// Channel of the VPC's draws (not one the engines use).
const VPC_CHANNEL: u64 = 11;

/// One time bin.
#[derive(Debug, Clone, PartialEq)]
pub struct VpcBin {
    /// Mean time of the observed measurements in the bin.
    pub time: f64,
    /// Observed measurements in the bin.
    pub observed_n: usize,
    /// 5th, 50th and 95th percentiles of the observed measurements (BLQ at the limit).
    pub observed: [f64; 3],
    /// The same percentiles of the simulated measurements.
    pub simulated: [f64; 3],
}

fn percentiles(mut v: Vec<f64>) -> [f64; 3] {
    [0.05, 0.5, 0.95].map(|q| quantile(&mut v, q))
}

/// A bin being filled: observed times, observed values, simulated values.
type Bin = (Vec<f64>, Vec<f64>, Vec<f64>);

/// A draw of `z` standard normals from the stream of (seed, replicate, unit).
fn normal(seed: u64, replicate: u64, unit: u64) -> f64 {
    let mut rng = Key {
        seed,
        rollout: replicate,
        step: ROLLOUT_LEVEL_STEP,
        unit,
        channel: VPC_CHANNEL,
    }
    .stream();
    StandardNormal.sample(&mut rng)
}

/// The VPC of `population` against `data`: `replicates` virtual subjects per real one.
/// Bins are the scenario's visit intervals.
pub fn vpc(
    base: &Scenario,
    settings: &Settings,
    data: &Dataset,
    fits: &[SubjectFit],
    population: &Population,
    replicates: u64,
    seed: u64,
) -> Result<Vec<VpcBin>> {
    let limit = base.marker.detection_limit;
    let error = super::population::typical_error(fits, settings);
    let per_subject: Vec<Vec<(f64, f64)>> = data
        .subjects
        .par_iter()
        .enumerate()
        .map(|(i, s)| -> Result<Vec<(f64, f64)>> {
            let ms = fitted_measurements(s, None, limit);
            let typical: Vec<(&Free, f64)> = settings.free.iter().map(|f| (f, f.value)).collect();
            let own = subject::scenario(base, s, &typical, &base.source)?;
            let objective = Objective::new(&own, 0, &ms, &settings.free, settings.error);
            objective.set_tolerance(SEARCH_TOLERANCE);
            let mut out = Vec::new();
            for r in 0..replicates {
                let replicate = i as u64 * replicates + r;
                let values: Vec<f64> = settings
                    .free
                    .iter()
                    .zip(&population.parameters)
                    .enumerate()
                    .map(|(k, (f, p))| {
                        let v = if p.median.is_finite() {
                            p.median * (p.omega * normal(seed, replicate, k as u64)).exp()
                        } else {
                            f.value
                        };
                        v.clamp(f.lower, f.upper)
                    })
                    .collect();
                let Ok(predicted) = objective.predict(&values) else {
                    continue;
                };
                for (j, (m, f)) in ms.iter().zip(predicted).enumerate() {
                    let z = normal(seed, replicate, 1000 + j as u64);
                    let y = match settings.error {
                        ErrorModel::Additive => f + error[0] * z,
                        ErrorModel::Proportional => f * (1.0 + error[0] * z),
                        ErrorModel::Combined => {
                            f + (error[0] * error[0] + (error[1] * f).powi(2)).sqrt() * z
                        }
                        ErrorModel::LogAdditive => f * (error[0] * z).exp(),
                    };
                    out.push((m.time, y.max(limit)));
                }
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let every = base.marker.every.max(f64::MIN_POSITIVE);
    let bin = |t: f64| (t / every).round() as i64;
    let mut bins: std::collections::BTreeMap<i64, Bin> = std::collections::BTreeMap::new();
    for s in &data.subjects {
        for m in fitted_measurements(s, None, limit) {
            let entry = bins.entry(bin(m.time)).or_default();
            entry.0.push(m.time);
            entry.1.push(m.value);
        }
    }
    for (t, y) in per_subject.into_iter().flatten() {
        if let Some(entry) = bins.get_mut(&bin(t)) {
            entry.2.push(y);
        }
    }
    Ok(bins
        .into_values()
        .filter(|(times, _, sim)| times.len() >= 3 && !sim.is_empty())
        .map(|(times, obs, sim)| VpcBin {
            time: times.iter().sum::<f64>() / times.len() as f64,
            observed_n: obs.len(),
            observed: percentiles(obs),
            simulated: percentiles(sim),
        })
        .collect())
}

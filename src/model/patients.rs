//! Virtual patients: model parameters drawn per rollout from the scenario's distributions.
//!
//! A patient's draws come from streams keyed by (seed, rollout, parameter) alone, so every
//! arm of a comparison treats the same patients, and adding an arm changes nobody.

use crate::model::{DrugEffect, Model};
use crate::support::rng::{Key, ROLLOUT_LEVEL_STEP};
use rand::RngExt;
use rand_distr::{Distribution as _, StandardNormal};

/// Channel of patient draws in the rollout-level streams (measurement noise uses 1).
const PATIENT_CHANNEL: u64 = 2;

/// One numeric parameter of the compiled model: what virtual patients draw and fits
/// estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Birth rate of compartment `i`.
    Birth(usize),
    /// Death rate of compartment `i`.
    Death(usize),
    /// Count at time 0 of compartment `i`.
    Initial(usize),
    /// Carrying capacity of compartment `i`.
    Capacity(usize),
    /// Competition coefficient `a_ij` of compartment `by` (j) on compartment `of` (i).
    Competition {
        /// The compartment crowded.
        of: usize,
        /// The compartment crowding it.
        by: usize,
    },
    /// Per-capita rate of transition `k`.
    Transition(usize),
    /// Probability per division of mutation `k`.
    Mutation(usize),
    /// Scale (emax or slope) of drug `drug`'s effect of `kind` on compartment `compartment`.
    Effect {
        /// The drug.
        drug: usize,
        /// The compartment it acts on.
        compartment: usize,
        /// Which effect.
        kind: EffectKind,
    },
}

/// Which effect of a drug a patient parameter scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectKind {
    /// Log-kill added to the death rate.
    Kill,
    /// Growth inhibition.
    Cytostatic,
    /// Carrying-capacity reduction.
    Capacity,
}

/// A distribution of a patient parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Log-normal with coefficient of variation `cv`; its median is `median`, or the
    /// typical patient's value when `None`.
    Lognormal {
        /// The median (the typical patient's value if `None`).
        median: Option<f64>,
        /// Coefficient of variation.
        cv: f64,
    },
    /// Normal, truncated at 0.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Uniform on [low, high].
    Uniform {
        /// Lowest value.
        low: f64,
        /// Highest value.
        high: f64,
    },
}

impl Distribution {
    /// The distribution of `factor` × the parameter (a count given in burden units, say,
    /// taken to whole cells).
    pub fn scaled(self, factor: f64) -> Distribution {
        match self {
            Distribution::Lognormal { median, cv } => Distribution::Lognormal {
                median: median.map(|m| m * factor),
                cv,
            },
            Distribution::Normal { mean, sd } => Distribution::Normal {
                mean: mean * factor,
                sd: sd * factor,
            },
            Distribution::Uniform { low, high } => Distribution::Uniform {
                low: low * factor,
                high: high * factor,
            },
        }
    }
}

impl Target {
    /// The parameter's value in `model` (0 for an effect the model does not have).
    pub fn get(self, model: &Model) -> f64 {
        match self {
            Target::Birth(i) => model.compartments[i].birth,
            Target::Death(i) => model.compartments[i].death,
            Target::Initial(i) => model.compartments[i].initial,
            Target::Capacity(i) => model.compartments[i].capacity,
            Target::Competition { of, by } => model.compartments[of].competition[by],
            Target::Transition(k) => model.transitions[k].rate,
            Target::Mutation(k) => model.mutations[k].probability,
            Target::Effect {
                drug,
                compartment,
                kind,
            } => {
                let c = &model.compartments[compartment];
                let list = match kind {
                    EffectKind::Kill => &c.kill,
                    EffectKind::Cytostatic => &c.cytostatic,
                    EffectKind::Capacity => &c.capacity_effects,
                };
                list.iter()
                    .find(|e| model.shapes.get(e.shape).is_some_and(|s| s.0 == drug))
                    .map_or(0.0, |e| e.scale)
            }
        }
    }

    /// Sets the parameter in `model` to `value`.
    pub fn set(self, model: &mut Model, value: f64) {
        match self {
            Target::Birth(i) => model.compartments[i].birth = value,
            Target::Death(i) => model.compartments[i].death = value,
            Target::Initial(i) => model.compartments[i].initial = value,
            Target::Capacity(i) => model.compartments[i].capacity = value.max(f64::MIN_POSITIVE),
            Target::Competition { of, by } => model.compartments[of].competition[by] = value,
            Target::Transition(k) => model.transitions[k].rate = value,
            Target::Mutation(k) => model.mutations[k].probability = value,
            Target::Effect {
                drug,
                compartment,
                kind,
            } => {
                if let Some(e) = effect_mut(model, drug, compartment, kind) {
                    e.scale = value;
                }
            }
        }
    }
}

/// One parameter's distribution, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientParameter {
    /// The model's parameters that take the drawn value (one, or every compartment that
    /// shares the model's carrying capacity).
    pub targets: Vec<Target>,
    /// Its distribution over patients.
    pub distribution: Distribution,
}

fn effect_mut(
    model: &mut Model,
    drug: usize,
    compartment: usize,
    kind: EffectKind,
) -> Option<&mut DrugEffect> {
    let Model {
        shapes,
        compartments,
        ..
    } = model;
    let c = compartments.get_mut(compartment)?;
    let list = match kind {
        EffectKind::Kill => &mut c.kill,
        EffectKind::Cytostatic => &mut c.cytostatic,
        EffectKind::Capacity => &mut c.capacity_effects,
    };
    list.iter_mut()
        .find(|e| shapes.get(e.shape).is_some_and(|s| s.0 == drug))
}

/// The Cholesky factor (row-major, lower triangular) of the `n`×`n` correlation matrix
/// `r`, or `None` if `r` is not a valid correlation matrix (not clearly positive definite).
pub fn cholesky(n: usize, r: &[f64]) -> Option<Vec<f64>> {
    crate::support::linalg::cholesky(n, r, 1e-12)
}

/// Patients as rows of values (e.g. the per-subject estimates of a fit): each rollout draws
/// one row, so the parameters keep the joint distribution the rows have.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientTable {
    /// Per column: where its values go in the model.
    pub targets: Vec<Vec<Target>>,
    /// The rows, one value per column.
    pub rows: Vec<Vec<f64>>,
}

/// Stream unit of the table's row draw (below the parameters' units, which count up).
const TABLE_UNIT: u64 = u64::MAX;

impl PatientTable {
    /// The row patient `rollout` draws: uniform over the rows, from its own keyed stream.
    pub fn row(&self, seed: u64, rollout: u64) -> usize {
        let word = Key {
            seed,
            rollout,
            step: ROLLOUT_LEVEL_STEP,
            unit: TABLE_UNIT,
            channel: PATIENT_CHANNEL,
        }
        .stream()
        .next_word();
        // The high part of word × rows: uniform over the rows to within rows / 2⁶⁴.
        ((u128::from(word) * self.rows.len() as u128) >> 64) as usize
    }

    /// Sets patient `rollout`'s row into `model` (counts rounded when `whole_counts`).
    pub fn apply(&self, model: &mut Model, seed: u64, rollout: u64, whole_counts: bool) {
        let Some(row) = self.rows.get(self.row(seed, rollout)) else {
            return;
        };
        for (targets, &value) in self.targets.iter().zip(row) {
            for target in targets {
                let value = match target {
                    Target::Initial(_) if whole_counts => value.round(),
                    _ => value,
                };
                target.set(model, value);
            }
        }
    }
}

/// Patient values given in burden units scaled with the counts (`scale` cells per unit).
pub fn in_cells(parameters: &mut [PatientParameter], scale: f64) {
    for p in parameters {
        if p.targets
            .iter()
            .any(|t| matches!(t, Target::Initial(_) | Target::Capacity(_)))
        {
            p.distribution = p.distribution.scaled(scale);
        }
    }
}

/// Everything a scenario says about how its patients differ: the laws a rule that weighs
/// hypotheses about a patient draws them from.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientLaws {
    /// The per-parameter distributions.
    pub parameters: Vec<PatientParameter>,
    /// The Cholesky factor of their correlation, if any.
    pub correlation: Option<Vec<f64>>,
    /// Patients as rows of values, if given.
    pub table: Option<PatientTable>,
}

impl PatientLaws {
    /// The laws with burden-unit values in cells (`scale` cells per unit).
    pub fn in_cells(&mut self, scale: f64) {
        in_cells(&mut self.parameters, scale);
    }

    /// Draws patient `index` of the streams of `seed` into `model` (the typical model), as
    /// a rollout draws its patient.
    pub fn draw(&self, model: &mut Model, seed: u64, index: u64, whole_counts: bool) {
        apply(
            &self.parameters,
            self.correlation.as_deref(),
            model,
            seed,
            index,
            whole_counts,
        );
        if let Some(table) = &self.table {
            table.apply(model, seed, index, whole_counts);
        }
    }
}

/// Draws patient `rollout`'s parameters into `model` (whose values are the typical
/// patient's). Counts are rounded when `whole_counts`. With `correlation` (the Cholesky
/// factor of the parameters' correlation matrix, [`cholesky`]) the draws are correlated
/// through a Gaussian copula: one standard normal per parameter from its own stream, mixed
/// by the factor, then mapped through each distribution (a uniform through Φ). Without it,
/// each parameter is drawn on its own, exactly as before correlations existed.
pub fn apply(
    parameters: &[PatientParameter],
    correlation: Option<&[f64]>,
    model: &mut Model,
    seed: u64,
    rollout: u64,
    whole_counts: bool,
) {
    let stream = |index: usize| {
        Key {
            seed,
            rollout,
            step: ROLLOUT_LEVEL_STEP,
            unit: index as u64,
            channel: PATIENT_CHANNEL,
        }
        .stream()
    };
    let n = parameters.len();
    let mixed: Option<Vec<f64>> = correlation.filter(|l| l.len() == n * n).map(|l| {
        let z: Vec<f64> = (0..n)
            .map(|i| StandardNormal.sample(&mut stream(i)))
            .collect();
        (0..n)
            .map(|i| (0..=i).map(|k| l[i * n + k] * z[k]).sum())
            .collect()
    });
    for (index, p) in parameters.iter().enumerate() {
        let mut rng = stream(index);
        let Some(first) = p.targets.first() else {
            continue;
        };
        let current = first.get(model);
        let z = |rng: &mut _| match &mixed {
            Some(m) => m[index],
            None => StandardNormal.sample(rng),
        };
        let value = match p.distribution {
            Distribution::Lognormal { median, cv } => {
                let sigma = (1.0 + cv * cv).ln().sqrt();
                median.unwrap_or(current) * (sigma * z(&mut rng)).exp()
            }
            Distribution::Normal { mean, sd } => (mean + sd * z(&mut rng)).max(0.0),
            Distribution::Uniform { low, high } => {
                let u = match &mixed {
                    Some(m) => crate::support::special::normal_cdf(m[index]),
                    None => rng.random::<f64>(),
                };
                low + (high - low) * u
            }
        };
        for target in &p.targets {
            let value = match target {
                Target::Initial(_) if whole_counts => value.round(),
                _ => value,
            };
            target.set(model, value);
        }
    }
}

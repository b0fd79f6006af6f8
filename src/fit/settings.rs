//! A fit's settings, compiled from the scenario's resolved `fit:` block: the free parameters
//! with their scale, bounds and prior, the residual error model, and the search's knobs.

use crate::error::{Error, Result};
use crate::model::patients::Target;
use crate::scenario::Scenario;
use crate::scenario::paths;
use crate::scenario::spec::{DistributionSpec, ErrorModelName, ParameterScale};

/// How measurements scatter about the model's marker (see docs/fitting.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorModel {
    /// SD `a`.
    Additive,
    /// SD `b` × prediction.
    Proportional,
    /// SD √(a² + (b × prediction)²).
    Combined,
    /// ln(measurement) normal about ln(prediction) with SD σ.
    LogAdditive,
}

impl ErrorModel {
    /// The model a scenario names.
    pub fn of(name: ErrorModelName) -> Self {
        match name {
            ErrorModelName::Additive => ErrorModel::Additive,
            ErrorModelName::Proportional => ErrorModel::Proportional,
            ErrorModelName::Combined => ErrorModel::Combined,
            ErrorModelName::LogAdditive => ErrorModel::LogAdditive,
        }
    }

    /// The names of its parameters, in the order the fit carries them.
    pub fn parameters(self) -> &'static [&'static str] {
        match self {
            ErrorModel::Additive => &["error.a"],
            ErrorModel::Proportional => &["error.b"],
            ErrorModel::Combined => &["error.a", "error.b"],
            ErrorModel::LogAdditive => &["error.sigma"],
        }
    }

    /// The name as the scenario spells it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorModel::Additive => "additive",
            ErrorModel::Proportional => "proportional",
            ErrorModel::Combined => "combined",
            ErrorModel::LogAdditive => "log_additive",
        }
    }
}

/// A prior on a free parameter (MAP fits add −2 ln of its density, up to a constant).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prior {
    /// Normal.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Log-normal: ln(value) normal about ln(median) with SD `sigma`.
    LogNormal {
        /// Median.
        median: f64,
        /// SD of the log.
        sigma: f64,
    },
}

impl Prior {
    /// −2 ln density (up to a constant) at `value`.
    pub fn penalty(self, value: f64) -> f64 {
        match self {
            Prior::Normal { mean, sd } => ((value - mean) / sd).powi(2),
            Prior::LogNormal { median, sigma } => {
                if value <= 0.0 {
                    f64::INFINITY
                } else {
                    ((value / median).ln() / sigma).powi(2) + 2.0 * value.ln()
                }
            }
        }
    }
}

/// One free parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Free {
    /// Its path in the scenario.
    pub path: String,
    /// The fields of the resolved scenario that hold it (written in a subject's file).
    pub fields: Vec<String>,
    /// Where it lives in the compiled model.
    pub targets: Vec<Target>,
    /// The scenario's value (the first start).
    pub value: f64,
    /// Smallest value searched.
    pub lower: f64,
    /// Largest value searched.
    pub upper: f64,
    /// Searched on the log scale.
    pub log: bool,
    /// Its prior, for a MAP fit.
    pub prior: Option<Prior>,
}

impl Free {
    /// The search coordinate of `value`.
    pub fn to_search(&self, value: f64) -> f64 {
        if self.log { value.ln() } else { value }
    }

    /// The value at search coordinate `x`.
    pub fn from_search(&self, x: f64) -> f64 {
        if self.log { x.exp() } else { x }
    }

    /// The bounds in search coordinates.
    pub fn search_bounds(&self) -> (f64, f64) {
        (self.to_search(self.lower), self.to_search(self.upper))
    }
}

/// What a fit estimates and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The data file as the scenario names it (relative to the scenario's folder).
    pub data: Option<String>,
    /// The free parameters.
    pub free: Vec<Free>,
    /// The residual error model.
    pub error: ErrorModel,
    /// Starting points of the multi-start search.
    pub starts: u32,
    /// Fit the data up to this time only and forecast the rest.
    pub until: Option<f64>,
    /// Or fit each subject's first K treatment cycles and forecast the rest.
    pub cycles: Option<u32>,
    /// Profile-likelihood intervals.
    pub profiles: bool,
}

fn missing(field: &str) -> Error {
    Error::Internal(format!("the resolved fit block has no {field}"))
}

impl Settings {
    /// The settings of `scenario`'s `fit:` block (an error naming the block if it has none).
    pub fn of(scenario: &Scenario) -> Result<Settings> {
        let spec = scenario.resolved_spec();
        let Some(fit) = &spec.fit else {
            return Err(Error::Usage(format!(
                "{} has no `fit:` block: name the free parameters there (docs/fitting.md), \
                 e.g.\n  fit:\n    data: cohort.csv\n    parameters:\n      \
                 model.compartments.<name>.birth: {{ lower: 0.001, upper: 0.1 }}",
                scenario.source.display()
            )));
        };
        let mut free = Vec::new();
        for (path, f) in fit.parameters.iter() {
            let p = paths::find(spec, path).map_err(Error::Usage)?;
            let prior = match f.prior {
                Some(DistributionSpec::Normal { mean, sd }) => Some(Prior::Normal { mean, sd }),
                Some(DistributionSpec::Lognormal { median, cv }) => Some(Prior::LogNormal {
                    median: median.unwrap_or(p.value),
                    sigma: (1.0 + cv * cv).ln().sqrt(),
                }),
                // A uniform prior is a pair of bounds.
                Some(DistributionSpec::Uniform { .. }) | None => None,
            };
            free.push(Free {
                path: path.to_owned(),
                fields: p.fields,
                targets: p.targets,
                value: p.value,
                lower: f.lower.ok_or_else(|| missing("lower bound"))?,
                upper: f.upper.ok_or_else(|| missing("upper bound"))?,
                log: f.scale.ok_or_else(|| missing("scale"))? == ParameterScale::Log,
                prior,
            });
        }
        Ok(Settings {
            data: fit.data.clone(),
            free,
            error: ErrorModel::of(fit.error.ok_or_else(|| missing("error model"))?),
            starts: fit.starts.ok_or_else(|| missing("starts"))?,
            until: fit.until,
            cycles: fit.cycles,
            profiles: fit.profiles.ok_or_else(|| missing("profiles"))?,
        })
    }
}

//! `fit`: each subject of a dataset fitted to the scenario's model (docs/fitting.md), the
//! population their estimates make, and the files a fit writes.

use super::progress::Progress;
use crate::error::{Error, Result};
use crate::fit::{self, Settings, SubjectFit, output, population::Population};
use crate::protocol::dataset::{self, Dataset, Layout};
use crate::scenario::Scenario;
use crate::scenario::spec::{ErrorModelName, FreeParameterSpec};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// Virtual subjects per real one in the visual predictive check, and their seed.
const VPC_REPLICATES: u64 = 50;
const VPC_SEED: u64 = 1;

/// What to change of the scenario's `fit:` block (the command line's flags).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitOptions {
    /// The data file (relative to the working folder), instead of `fit.data`.
    pub data: Option<PathBuf>,
    /// Fit the data up to this time and forecast the rest.
    pub until: Option<f64>,
    /// Or fit each subject's first K cycles and forecast the rest.
    pub cycles: Option<u32>,
    /// Starts of the multi-start search.
    pub starts: Option<u32>,
    /// The residual error model.
    pub error: Option<ErrorModelName>,
    /// The free parameters, replacing the block's.
    pub free: Option<Vec<(String, FreeParameterSpec)>>,
    /// Profile-likelihood intervals on or off.
    pub profiles: Option<bool>,
}

/// A finished fit.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The scenario as fitted (the options applied to its `fit:` block).
    pub scenario: Scenario,
    /// The fit's settings.
    pub settings: Settings,
    /// The data file read.
    pub data_file: PathBuf,
    /// SHA-256 of the data file's text.
    pub data_sha256: String,
    /// What the reader noted (extra columns, skipped rows).
    pub notes: Vec<String>,
    /// Every subject's fit, in the data's order.
    pub subjects: Vec<SubjectFit>,
    /// The two-stage population summary.
    pub population: Population,
    /// The population scenario (`population.yaml`).
    pub population_yaml: String,
    /// The visual predictive check of the population against the data.
    pub vpc: Vec<fit::vpc::VpcBin>,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
}

impl Fitted {
    /// Total model runs over all subjects.
    pub fn evaluations(&self) -> u64 {
        self.subjects.iter().map(|s| s.evaluations).sum()
    }
}

/// The scenario with `options` written into its `fit:` block (and checked as the file's
/// own values are).
pub fn with_options(scenario: &Scenario, options: &FitOptions) -> Result<Scenario> {
    let mut edits: Vec<(&str, Value)> = Vec::new();
    if scenario.resolved_spec().fit.is_none() {
        edits.push(("fit", json!({})));
    }
    // A flag's until or cycles replaces the block's (of either kind).
    if (options.until.is_some() || options.cycles.is_some())
        && let Some(fit) = &scenario.resolved_spec().fit
    {
        if fit.until.is_some() {
            edits.push(("fit.until", Value::Null));
        }
        if fit.cycles.is_some() {
            edits.push(("fit.cycles", Value::Null));
        }
    }
    if let Some(until) = options.until {
        edits.push(("fit.until", json!(until)));
    }
    if let Some(cycles) = options.cycles {
        edits.push(("fit.cycles", json!(cycles)));
    }
    if let Some(starts) = options.starts {
        edits.push(("fit.starts", json!(starts)));
    }
    if let Some(error) = options.error {
        edits.push(("fit.error", json!(error.as_str())));
    }
    if let Some(profiles) = options.profiles {
        edits.push(("fit.profiles", json!(profiles)));
    }
    if let Some(free) = &options.free {
        let mut map = serde_json::Map::new();
        for (path, spec) in free {
            let value = serde_json::to_value(spec)
                .map_err(|e| Error::Internal(format!("cannot represent --free: {e}")))?;
            map.insert(path.clone(), value);
        }
        edits.push(("fit.parameters", Value::Object(map)));
    }
    if edits.is_empty() {
        Ok(scenario.clone())
    } else {
        scenario.with_params(&edits)
    }
}

/// Reads the data a fit of `scenario` uses.
pub fn read_data(
    scenario: &Scenario,
    settings: &Settings,
    data: Option<&PathBuf>,
) -> Result<(PathBuf, String, Dataset)> {
    let path = match (data, &settings.data) {
        (Some(path), _) => path.clone(),
        (None, Some(name)) => scenario.data_path("fit.data", name)?,
        (None, None) => {
            return Err(Error::Usage(format!(
                "no data to fit: give --data FILE or `fit: {{ data: FILE }}` in {}",
                scenario.source.display()
            )));
        }
    };
    let text = crate::scenario::parse::read_text(&path)?;
    let data = dataset::read(&path, &text, Layout::Observed).map_err(Error::Invalid)?;
    Ok((path, crate::support::format::sha256_hex(&text), data))
}

/// Fits every subject of the data to `scenario`'s model.
pub fn fit(scenario: &Scenario, options: &FitOptions, progress: &dyn Progress) -> Result<Fitted> {
    let started = Instant::now();
    let scenario = with_options(scenario, options)?;
    let settings = Settings::of(&scenario)?;
    let (data_file, data_sha256, data) = read_data(&scenario, &settings, options.data.as_ref())?;
    progress.begin(data.subjects.len() as u64);
    progress.label("fitting");
    let subjects = fit::fit_all(&scenario, &settings, &data, &|| progress.step());
    progress.end();
    let subjects = subjects?;
    let population = fit::population::summarise(&subjects, settings.free.len());
    let residual_sigma = (settings.error == fit::ErrorModel::LogAdditive)
        .then(|| fit::population::typical_error(&subjects, &settings)[0]);
    let header = format!(
        "Population of {} subjects fitted by `regimen fit` to {} (two-stage: each free\n\
         parameter's estimates summarised as a log-normal; docs/fitting.md says what this\n\
         misses against a mixed-effects fit).",
        subjects.len(),
        data_file.display()
    );
    let population_yaml =
        output::population_scenario(&scenario, &settings, &population, residual_sigma, &header)?;
    let vpc = fit::vpc::vpc(
        &scenario,
        &settings,
        &data,
        &subjects,
        &population,
        VPC_REPLICATES,
        VPC_SEED,
    )?;
    Ok(Fitted {
        scenario,
        settings,
        data_file,
        data_sha256,
        notes: data.notes,
        subjects,
        population,
        population_yaml,
        vpc,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

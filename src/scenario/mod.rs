//! Scenario files: reading, resolving defaults, validating, and compiling into the model,
//! drugs, observation and arms that the engines consume.

mod compile;
mod library;
pub mod locate;
pub mod named;
pub mod params;
pub mod parse;
pub mod paths;
pub mod patients;
pub mod resolve;
pub mod spec;
pub mod validate;

use crate::error::{Diagnostic, Error, Result};
use crate::model::Model;
use crate::model::pk::Drug;
use crate::protocol::observe::{MarkerModel, ProgressionRule};
use crate::protocol::schedule::Schedule;
use locate::Locations;
use parse::{Parsed, diagnostic};
use spec::{ScenarioSpec, ScheduleFile, ScheduleRef};
use std::path::{Path, PathBuf};

/// Data files (`events.file`) may lie outside the scenario's folder only when this is set
/// (the command line's `--allow-outside-data`): a scenario from elsewhere must not read
/// arbitrary files of the machine it runs on.
pub static ALLOW_OUTSIDE_DATA: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Where a scenario in `dir` may read the data file `name` from: inside `dir` (unless
/// [`ALLOW_OUTSIDE_DATA`]), and a regular file.
pub(super) fn data_file(dir: &Path, name: &str) -> std::result::Result<PathBuf, String> {
    let path = dir.join(name);
    let outside = || {
        format!(
            "`{name}` lies outside the scenario's folder; data files are read from that \
             folder only (run with --allow-outside-data to allow it)"
        )
    };
    let allowed = ALLOW_OUTSIDE_DATA.load(std::sync::atomic::Ordering::Relaxed);
    if !allowed
        && Path::new(name).components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    {
        return Err(outside());
    }
    let Ok(meta) = std::fs::metadata(&path) else {
        // Reading it says what is wrong (missing, no permission).
        return Ok(path);
    };
    if !meta.is_file() {
        return Err(format!(
            "`{name}` is not a regular file (a folder, device or pipe); give a CSV file"
        ));
    }
    if !allowed {
        // A link inside the folder may still point outside it.
        let (Ok(real), Ok(root)) = (path.canonicalize(), dir.canonicalize()) else {
            return Err(outside());
        };
        if !real.starts_with(&root) {
            return Err(outside());
        }
    }
    Ok(path)
}

/// One trial arm, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Arm {
    /// Unique name, shown in every table.
    pub name: String,
    /// What the arm is, in words.
    pub description: String,
    /// The arm's schedule, resolved.
    pub schedule: Schedule,
    /// The arm's progression rule (its own, or the scenario's).
    pub progression: ProgressionRule,
    /// Dosing goes on after progression on the last line.
    pub treat_beyond_progression: bool,
}

/// A validated scenario: the compiled parts every engine uses, and (privately) the resolved
/// file it was compiled from, for printing, hashing and editing.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it was read from.
    pub source: PathBuf,
    /// The scenario's name.
    pub name: String,
    /// The unit of every time in the scenario.
    pub time_units: spec::TimeUnit,
    /// The resolved form: every default filled in, every schedule inline.
    resolved: ScenarioSpec,
    /// The compiled population model.
    pub model: Model,
    /// The drugs, in scenario order.
    pub drugs: Vec<Drug>,
    /// What the clinic measures and when.
    pub marker: MarkerModel,
    /// The scenario's progression rule (an arm may have its own: [`Arm::progression`]).
    pub progression: ProgressionRule,
    /// The arms, in scenario order.
    pub arms: Vec<Arm>,
    /// Length of the run, in time units.
    pub horizon: f64,
    /// Times at which rollout summaries report P(progression-free).
    pub pfs_at: Vec<f64>,
    /// Grid step of the stochastic engine.
    pub stochastic_step: f64,
    /// Cells per unit of burden (1 when counts are cells).
    pub cells_per_unit: f64,
    /// Between-patient variability, drawn per rollout.
    pub patients: Vec<crate::model::patients::PatientParameter>,
    /// The Cholesky factor of the virtual patients' correlation matrix, if any pair is
    /// correlated.
    pub patient_correlation: Option<Vec<f64>>,
    /// Patients as rows of values (`virtual_patient_table`), one drawn per rollout.
    pub patient_table: Option<crate::model::patients::PatientTable>,
    /// Per drug: its toxicity budget, if any.
    pub toxicity: Vec<Option<crate::model::toxicity::Budget>>,
    /// When this is one virtual patient's scenario: the population's typical model, which
    /// a model-based dosing rule assumes (it cannot know the patient's own draws).
    pub typical_model: Option<std::sync::Arc<Model>>,
    /// With `typical_model`: the population's patient laws, which a rule that weighs
    /// hypotheses about the patient (the model-predictive policy's filter) draws from.
    pub typical_laws: Option<std::sync::Arc<crate::model::patients::PatientLaws>>,
    /// The counts are whole cells (the scenario as the stochastic engine runs it, after
    /// `sim::rollouts::in_cells`).
    pub counts_in_cells: bool,
}

/// The source of a scenario read by [`Scenario::from_yaml_str`].
pub const FROM_STRING: &str = "<string>";

impl Scenario {
    /// Reads, resolves and validates the scenario in `path`. Arms that name a schedule are
    /// looked up in `schedules/` beside the scenario, then in `../schedules/`, then in the
    /// library built into regimen.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = parse::read_text(path)?;
        Self::from_text(path, &text)
    }

    /// As [`Scenario::load`], from text already read (`path` names it in messages and is
    /// where schedule files are looked up from).
    pub fn from_text(path: &Path, text: &str) -> Result<Scenario> {
        let parsed: Parsed<ScenarioSpec> = parse::parse(path, text)?;
        let mut spec = parsed.value;
        // A problem located at a field of this scenario file.
        let at_field = |field: &str, message: String| {
            diagnostic(path, parsed.locations.find(field), field, message)
        };
        // Where each named schedule came from (by field path prefix), to point errors at the
        // right file.
        let mut origins: Vec<Origin> = Vec::new();
        let mut problems: Vec<Diagnostic> = Vec::new();
        for (i, arm) in spec.arms.iter_mut().enumerate() {
            let arm_name = arm.name.clone();
            for (suffix, schedule) in arm.schedules_mut() {
                let field = format!("arms[{i}].{suffix}");
                let ScheduleRef::Named(name) = &*schedule else {
                    continue;
                };
                match library::find(path, name) {
                    Ok((file, text)) => match parse::parse::<ScheduleFile>(&file, &text) {
                        Ok(sf) => {
                            if sf.value.format_version != spec::FORMAT_VERSION {
                                problems.push(diagnostic(
                                    &file,
                                    sf.locations.find("format_version"),
                                    "format_version",
                                    format!(
                                        "format_version {} is not supported; this build reads {}",
                                        sf.value.format_version,
                                        spec::FORMAT_VERSION
                                    ),
                                ));
                            }
                            let units = sf.value.time_units.unwrap_or(spec::TimeUnit::Days);
                            if units != spec.time_units {
                                problems.push(at_field(
                                    &field,
                                    format!(
                                        "schedule `{name}` ({}) is written in {} but the \
                                         scenario counts time in {}: write the schedule inline \
                                         in {2}, or use a copy of the file with time_units: {2} \
                                         and its times converted",
                                        file.display(),
                                        units.as_str(),
                                        spec.time_units.as_str()
                                    ),
                                ));
                            }
                            *schedule = ScheduleRef::Inline(sf.value.schedule);
                            origins.push(Origin {
                                prefix: field,
                                file,
                                locations: sf.locations,
                                arm: arm_name.clone(),
                                description: sf.value.description,
                            });
                        }
                        Err(Error::Invalid(mut d)) => problems.append(&mut d),
                        Err(other) => return Err(other),
                    },
                    Err(message) => {
                        problems.push(at_field(&field, message));
                    }
                }
            }
            // An arm without a description takes its main schedule's.
            if arm.description.is_empty()
                && let Some(o) = origins
                    .iter()
                    .find(|o| o.prefix == format!("arms[{i}].schedule"))
            {
                arm.description = o.description.clone();
            }
        }
        // Dosing records kept in CSV files join their schedules.
        let dir = path.parent().unwrap_or(Path::new("."));
        for (i, arm) in spec.arms.iter_mut().enumerate() {
            for (suffix, schedule) in arm.schedules_mut() {
                let ScheduleRef::Inline(spec::ScheduleSpec::Events(events)) = schedule else {
                    continue;
                };
                let Some(name) = events.file.take() else {
                    continue;
                };
                let field = format!("arms[{i}].{suffix}.events.file");
                let csv = match data_file(dir, &name) {
                    Ok(csv) => csv,
                    Err(message) => {
                        problems.push(at_field(&field, message));
                        continue;
                    }
                };
                match parse::read_text(&csv) {
                    Ok(text) => match crate::protocol::events::parse_csv(&csv, &text) {
                        Ok(mut records) => events.records.append(&mut records),
                        Err(mut d) => problems.append(&mut d),
                    },
                    Err(Error::Read { source, .. }) => problems.push(at_field(
                        &field,
                        format!("cannot read dosing records {}: {source}", csv.display()),
                    )),
                    Err(Error::Invalid(mut d)) => problems.append(&mut d),
                    Err(other) => return Err(other),
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        resolve::resolve(&mut spec);
        let problems = validate::validate(&spec);
        if !problems.is_empty() {
            let located = problems
                .into_iter()
                .map(|p| locate_problem(path, &parsed.locations, &origins, p))
                .collect();
            return Err(Error::Invalid(located));
        }
        compile::compile(path, spec)
    }

    /// Reads a scenario from YAML text that comes from no file (a notebook, a test). Its
    /// named schedules come from the library built into regimen; messages name it
    /// `<string>`.
    pub fn from_yaml_str(text: &str) -> Result<Scenario> {
        Self::from_text(Path::new(FROM_STRING), text)
    }

    /// The data file `name` as the scenario's field `field` names it: relative to the
    /// scenario's folder and inside it (unless [`ALLOW_OUTSIDE_DATA`]), a regular file.
    pub fn data_path(&self, field: &str, name: &str) -> Result<PathBuf> {
        let dir = self.source.parent().unwrap_or(Path::new("."));
        data_file(dir, name).map_err(|message| Error::in_field(&self.source, field, message))
    }

    /// The arm called `name`, if there is one.
    pub fn arm(&self, name: &str) -> Option<&Arm> {
        self.arms.iter().find(|a| a.name == name)
    }

    /// The arm called `name`, or an error that lists the arms (`what` names the request:
    /// `--arm`, `--reference`).
    pub fn find_arm(&self, what: &str, name: &str) -> Result<&Arm> {
        self.arm(name).ok_or_else(|| Error::UnknownArm {
            what: what.to_owned(),
            name: name.to_owned(),
            arms: self.arm_names(),
        })
    }

    /// The index of the arm called `name` (see [`Scenario::find_arm`]).
    pub fn arm_index(&self, what: &str, name: &str) -> Result<usize> {
        let arm = self.find_arm(what, name)?;
        Ok(self
            .arms
            .iter()
            .position(|a| std::ptr::eq(a, arm))
            .unwrap_or(0))
    }

    /// SHA-256 of the resolved scenario: the identity of a run's scenario in manifests and
    /// checkpoints.
    pub fn sha256(&self) -> String {
        crate::support::format::sha256_hex(&self.resolved_yaml())
    }

    /// Dosing continues after progression (the scenario-wide setting).
    pub fn treats_beyond_progression(&self) -> bool {
        self.resolved
            .progression
            .treat_beyond_progression
            .unwrap_or(false)
    }

    /// Some drug has one-compartment pharmacokinetics (the stochastic engine then grades its
    /// quadrature towards each dose).
    pub fn has_pk(&self) -> bool {
        self.drugs.iter().any(|d| {
            matches!(
                d.kinetics,
                crate::model::pk::Kinetics::OneCompartment { .. }
            )
        })
    }

    /// The model a model-based dosing rule assumes in this scenario: the typical model of
    /// the population when this scenario is one patient's, or one with parameters off their
    /// nominal values (robustness, sensitivity); else its own.
    pub fn assumed_model(&self) -> std::sync::Arc<Model> {
        self.typical_model
            .clone()
            .filter(|m| m.n_compartments() == self.model.n_compartments())
            .unwrap_or_else(|| std::sync::Arc::new(self.model.clone()))
    }

    /// This scenario as the truth that a model-based rule assuming `nominal`'s model meets:
    /// what robustness and sensitivity analyses run (a rule cannot know the parameter error).
    pub fn assuming(mut self, nominal: &Scenario) -> Scenario {
        self.typical_model = Some(nominal.assumed_model());
        self.typical_laws = nominal.assumed_laws();
        self
    }

    /// The patient laws a rule weighing hypotheses about the patient assumes (see
    /// [`Self::assumed_model`]): the population's when this is one patient's scenario, else
    /// this scenario's own; `None` when it has none.
    pub fn assumed_laws(&self) -> Option<std::sync::Arc<crate::model::patients::PatientLaws>> {
        if self.typical_model.is_some() {
            return self.typical_laws.clone();
        }
        self.own_laws()
    }

    /// This scenario's own patient laws (`None` when it has none).
    pub fn own_laws(&self) -> Option<std::sync::Arc<crate::model::patients::PatientLaws>> {
        (!self.patients.is_empty() || self.patient_table.is_some()).then(|| {
            std::sync::Arc::new(crate::model::patients::PatientLaws {
                parameters: self.patients.clone(),
                correlation: self.patient_correlation.clone(),
                table: self.patient_table.clone(),
            })
        })
    }

    /// The scenario as resolved: the file with every default filled in and every schedule
    /// inline (what `regimen check` prints). The engines never read it; reports that
    /// describe the scenario as written and the optimise block's planner do.
    pub fn resolved_spec(&self) -> &ScenarioSpec {
        &self.resolved
    }

    /// The arms' names, comma-separated (for messages).
    pub fn arm_names(&self) -> String {
        self.arms
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A searched schedule as an arm, judged by the scenario's progression rule — or, for an
    /// adaptive schedule, by the rule of the scenario's first adaptive arm, so a tuned
    /// adaptive protocol is judged as the protocol it tunes (e.g. from baseline).
    pub fn candidate_arm(&self, name: &str, schedule: Schedule) -> Arm {
        let like = match schedule {
            Schedule::Adaptive { .. } => self
                .arms
                .iter()
                .find(|a| matches!(a.schedule, Schedule::Adaptive { .. })),
            _ => None,
        };
        Arm {
            name: name.to_owned(),
            description: String::new(),
            schedule,
            progression: like.map_or(self.progression, |a| a.progression),
            treat_beyond_progression: like.map_or_else(
                || self.treats_beyond_progression(),
                |a| a.treat_beyond_progression,
            ),
        }
    }

    /// The resolved scenario as YAML (what `regimen check` prints).
    pub fn resolved_yaml(&self) -> String {
        serde_saphyr::to_string(&self.resolved)
            .unwrap_or_else(|e| format!("# cannot print the resolved form: {e}\n"))
    }
}

/// Turns a validation problem into a diagnostic in the file that holds the field: the
/// scenario, or the schedule file an arm took its schedule from.
/// A named schedule's file, and the field path in the scenario that refers to it.
struct Origin {
    prefix: String,
    file: PathBuf,
    locations: Locations,
    arm: String,
    description: String,
}

fn locate_problem(
    path: &Path,
    locations: &Locations,
    origins: &[Origin],
    problem: validate::Problem,
) -> Diagnostic {
    let hit = origins.iter().find_map(|o| {
        let tail = problem.path.strip_prefix(&o.prefix)?;
        (tail.is_empty() || tail.starts_with('.')).then_some((o, tail))
    });
    if let Some((origin, tail)) = hit {
        let field = format!("schedule{tail}");
        if !origin.locations.contains(&field) {
            // The value was filled in from the scenario (a drug or dose left out of the
            // schedule file): the fix belongs in the scenario's arm.
            return diagnostic(
                path,
                locations.find(&problem.path),
                &problem.path,
                format!(
                    "{} (arm `{}` takes its schedule from {}; to set this field, write the schedule inline)",
                    problem.message,
                    origin.arm,
                    origin.file.display()
                ),
            );
        }
        return diagnostic(
            &origin.file,
            origin.locations.find(&field),
            &field,
            format!(
                "{} (schedule used by arm `{}` of {})",
                problem.message,
                origin.arm,
                path.display()
            ),
        );
    }
    diagnostic(
        path,
        locations.find(&problem.path),
        &problem.path,
        problem.message,
    )
}

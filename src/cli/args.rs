//! The command line's flags (clap). Closed sets of words are `ValueEnum`s; values with
//! structure (`pfs:T`, `K/N`) are parsed by the library's own parsers.

use clap::{Args, Parser, Subcommand, ValueEnum};
use regimen::api::shard::Shard;
use regimen::scenario::spec::{ErrorModelName, FamilyName, FreeParameterSpec};
use regimen::search::family::Solver;
use regimen::search::objective::Objective;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "regimen",
    version,
    about = "Evaluate cancer drug dosing schedules against drug-tolerant persister dynamics",
    long_about = "Evaluate cancer drug dosing schedules (continuous, intermittent, adaptive) \
                  against a population model of sensitive, persister and resistant cells.\n\n\
                  Scenarios are YAML files; see README.md and docs/model.md."
)]
pub struct Cli {
    /// More log output on stderr (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Let a scenario read data files (events.file) outside its own folder: absolute paths,
    /// `..` and links that leave it are refused otherwise.
    #[arg(long, global = true)]
    pub allow_outside_data: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the deterministic (mean-field ODE) evaluator on every arm, or one, and write CSV
    /// and plots.
    ///
    /// Prints one row per arm: time to progression (TTP), time at which resistant cells become
    /// the majority, cumulative dose per drug and % of time on drug. Writes trajectory.csv,
    /// visits.csv and outcomes.csv to the output folder.
    Simulate(SimulateArgs),
    /// Compare every arm on the same stochastic rollouts (same virtual patients and random
    /// numbers) and contrast each with a reference arm.
    ///
    /// Prints one row per arm: median TTP (Kaplan–Meier, 95 % CI), restricted mean TTP, the
    /// paired difference in restricted mean TTP against the reference with a 95 % CI, the
    /// hazard ratio and a log-rank p-value, P(progression-free) at the scenario's time points,
    /// P(resistance emerged), dose relative to the reference, % of time on drug and treatment
    /// cycles. Writes outcomes.csv (one row per rollout and arm), summary.csv, summary.json
    /// and manifest.json.
    Compare(CompareArgs),
    /// Search schedule families (intermittent, holiday, adaptive, modulation) and a sequential
    /// LP relaxation for the schedule that maximises the objective, on fixed tuning seeds,
    /// then rank the best of each with the scenario's arms on fresh hold-out seeds.
    ///
    /// Settings come from the scenario's `optimise:` block; flags override them. Writes
    /// best.yaml (an arm to paste into the scenario), leaderboard.csv, trace.csv (every
    /// evaluation), pareto.csv (with --pareto), manifest.json and plots/.
    Optimise(OptimiseArgs),
    /// Redraw the plots (and optionally the HTML report) from a run's output folder, without
    /// running anything again.
    Plot(PlotArgs),
    /// Put the shards of a `compare --shard K/N` or `optimise --shard K/N` job back
    /// together: checks they share the scenario, version, seed, settings and N and that
    /// every unit is present once, then writes the files a single machine would.
    Merge(MergeArgs),
    /// Export the doses an arm gave as NONMEM-style records
    /// (ID,TIME,EVID,AMT,CMT,RATE,II,ADDL,SS; CMT is the 1-based drug index).
    ///
    /// Without --rollouts: the deterministic run (ID 1). With --rollouts N: the first N
    /// stochastic rollouts (ID = rollout + 1), which differ for closed-loop schedules.
    /// The file can be read back as `events: { file: … }`.
    Events(EventsArgs),
    /// Fit the scenario's model to observed data (a NONMEM-layout CSV: ID, TIME, EVID, AMT,
    /// CMT, DV, MDV, BLQ), each subject by maximum likelihood under the doses it received.
    ///
    /// Settings come from the scenario's `fit:` block; flags override them. Writes
    /// estimates.csv (per subject: estimates, SEs, profile intervals, identifiability, -2LL,
    /// AIC, BIC, R²), predictions.csv, forecast.csv (with --fit-until), population.csv,
    /// population.yaml (virtual patients drawn from the estimates), subjects/<ID>.yaml
    /// (each subject's scenario, for compare/optimise/simulate) and manifest.json.
    Fit(FitArgs),
    /// Validate a scenario and print its resolved form (every default filled in).
    ///
    /// Exit code 0 if the scenario is valid; otherwise every problem found is listed with
    /// file, line, column and field.
    Check {
        /// The scenario YAML file.
        scenario: PathBuf,
    },
    /// Print the JSON Schema of scenario files (docs/scenario.schema.json), for editors that
    /// check YAML as it is typed.
    Schema,
}

/// The schedule families `--families` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    Intermittent,
    Holiday,
    Adaptive,
    Modulation,
    Lp,
    /// A second drug with the first (start, on, off, dose).
    Companion,
    /// The searched drug, then the second drug from a switch day or at progression.
    Sequence,
}

impl From<FamilyArg> for FamilyName {
    fn from(f: FamilyArg) -> FamilyName {
        match f {
            FamilyArg::Intermittent => FamilyName::Intermittent,
            FamilyArg::Holiday => FamilyName::Holiday,
            FamilyArg::Adaptive => FamilyName::Adaptive,
            FamilyArg::Modulation => FamilyName::Modulation,
            FamilyArg::Lp => FamilyName::Lp,
            FamilyArg::Companion => FamilyName::Companion,
            FamilyArg::Sequence => FamilyName::Sequence,
        }
    }
}

/// The solvers `--solver` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SolverArg {
    NelderMead,
    ParticleSwarm,
}

impl From<SolverArg> for Solver {
    fn from(s: SolverArg) -> Solver {
        match s {
            SolverArg::NelderMead => Solver::NelderMead,
            SolverArg::ParticleSwarm => Solver::ParticleSwarm,
        }
    }
}

fn objective(text: &str) -> Result<Objective, String> {
    regimen::search::config::parse_objective(text).map_err(|e| e.to_string())
}

fn shard(text: &str) -> Result<Shard, String> {
    Shard::parse(text).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct OptimiseArgs {
    /// The scenario YAML file (its `optimise:` block sets the defaults of every flag below).
    pub scenario: PathBuf,
    /// Distinct schedules scored per family [default: 40].
    #[arg(long)]
    pub budget_evals: Option<u64>,
    /// Rollouts per candidate while searching (the tuning seeds) [default: 200].
    #[arg(long)]
    pub rollouts: Option<u64>,
    /// Rollouts of the hold-out re-scoring (seed + 1) [default: 1000].
    #[arg(long)]
    pub holdout: Option<u64>,
    /// Seed of the tuning rollouts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Objective: rmst (restricted mean TTP), median, pfs:T (P(progression-free) at T) or
    /// cvar:A (mean of the worst fraction A of TTPs) [default: rmst].
    #[arg(long, value_parser = objective)]
    pub objective: Option<Objective>,
    /// Most mean cumulative dose of the searched drug relative to continuous dosing at its
    /// standard dose.
    #[arg(long)]
    pub max_relative_dose: Option<f64>,
    /// Families to search, comma-separated.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub families: Option<Vec<FamilyArg>>,
    /// Solver after the design.
    #[arg(long, value_enum)]
    pub solver: Option<SolverArg>,
    /// Score every candidate on all tuning rollouts (no racing).
    #[arg(long)]
    pub no_racing: bool,
    /// Bi-objective mode: search under each of these dose limits (relative to continuous,
    /// comma-separated) and write the front of benefit against dose to pareto.csv.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_missing_value = "0.25,0.5,0.75,1")]
    pub pareto: Option<Vec<f64>>,
    /// Stop searching after this many seconds and report the best found so far.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Output folder (default: out/<scenario file name>-optimise).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write a self-contained HTML report (leaderboard, best schedule, plots, manifest).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Continue the interrupted run whose output folder is DIR (same scenario and flags).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Write checkpoint.json every this many new evaluations.
    #[arg(long, default_value_t = 10)]
    pub checkpoint_every: u64,
    /// Stop as if interrupted after this many new evaluations (for testing resume).
    #[arg(long, hide = true)]
    pub stop_after_evaluations: Option<u64>,
    /// Run only shard K of N (0 ≤ K < N) of the search units (family × dose limit, and the
    /// LP) for `regimen merge`, which scores the finalists on the hold-out seeds; defaults to
    /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT when set.
    #[arg(long, value_name = "K/N", value_parser = shard)]
    pub shard: Option<Shard>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    pub no_png: bool,
    /// Leave out the sensitivity report (tornado, distance to the cliff, two-parameter map
    /// of the finalists and arms), which scores each again with parameters changed.
    #[arg(long)]
    pub no_sensitivity: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard folders (all N of them).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output folder of the merged result.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the self-contained HTML report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    pub no_png: bool,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// An output folder of simulate, compare or optimise.
    pub dir: PathBuf,
    /// Also write the self-contained HTML report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    pub no_png: bool,
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// The scenario YAML file (with a `fit:` block, or --free).
    pub scenario: PathBuf,
    /// The data file (default: the scenario's fit.data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output folder (default: out/<scenario file name>-fit).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Fit the data up to this time and forecast the rest.
    #[arg(long, conflicts_with = "cycles")]
    pub fit_until: Option<f64>,
    /// Fit each subject's first K treatment cycles and forecast the rest.
    #[arg(long)]
    pub cycles: Option<u32>,
    /// Starting points of each subject's multi-start search.
    #[arg(long)]
    pub starts: Option<u32>,
    /// The residual error model.
    #[arg(long, value_enum)]
    pub error: Option<ErrorArg>,
    /// A free parameter, PATH or PATH=LOWER..UPPER (repeat for each; replaces the block's
    /// list), e.g. --free model.compartments.resistant.birth=0.001..0.05
    #[arg(long, value_parser = parse_free)]
    pub free: Vec<(String, FreeParameterSpec)>,
    /// Skip the profile-likelihood intervals (standard errors only; much faster).
    #[arg(long)]
    pub no_profiles: bool,
    /// Calibrate the population to the published trial statistics of `fit.targets`
    /// instead of fitting subjects' data (docs/fitting.md §12).
    #[arg(long)]
    pub targets: bool,
    /// With --targets: virtual patients per evaluation.
    #[arg(long, requires = "targets")]
    pub rollouts: Option<u64>,
    /// With --targets: evaluations the search may spend.
    #[arg(long, requires = "targets")]
    pub budget: Option<u32>,
    /// With --targets: seed of the virtual patients.
    #[arg(long, requires = "targets")]
    pub seed: Option<u64>,
    /// Also write a self-contained HTML report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    pub no_png: bool,
}

/// The error models `--error` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ErrorArg {
    Additive,
    Proportional,
    Combined,
    LogAdditive,
}

impl From<ErrorArg> for ErrorModelName {
    fn from(e: ErrorArg) -> ErrorModelName {
        match e {
            ErrorArg::Additive => ErrorModelName::Additive,
            ErrorArg::Proportional => ErrorModelName::Proportional,
            ErrorArg::Combined => ErrorModelName::Combined,
            ErrorArg::LogAdditive => ErrorModelName::LogAdditive,
        }
    }
}

/// `PATH` or `PATH=LOWER..UPPER`.
fn parse_free(text: &str) -> Result<(String, FreeParameterSpec), String> {
    let Some((path, range)) = text.split_once('=') else {
        return Ok((text.to_owned(), FreeParameterSpec::default()));
    };
    let Some((lower, upper)) = range.split_once("..") else {
        return Err(format!(
            "`{range}`: write the bounds as LOWER..UPPER, e.g. 0.001..0.05"
        ));
    };
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| format!("`{s}` is not a number"))
    };
    Ok((
        path.to_owned(),
        FreeParameterSpec {
            lower: Some(number(lower)?),
            upper: Some(number(upper)?),
            ..FreeParameterSpec::default()
        },
    ))
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The scenario YAML file.
    pub scenario: PathBuf,
    /// The arm whose doses to export (may be left out when the scenario has one arm).
    #[arg(long)]
    pub arm: Option<String>,
    /// Export the doses of this many stochastic rollouts instead of the deterministic run.
    #[arg(long)]
    pub rollouts: Option<u64>,
    /// Seed of the stochastic rollouts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output CSV file (default: out/<scenario>-<arm>-doses.csv).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The scenario YAML file.
    pub scenario: PathBuf,
    /// Stochastic rollouts per arm.
    #[arg(long, default_value_t = 1000)]
    pub rollouts: u64,
    /// Seed: the same seed gives the same numbers on any number of threads.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder (default: out/<scenario file name>-compare).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The arm the others are contrasted with (default: the first arm).
    #[arg(long)]
    pub reference: Option<String>,
    /// Keep and write the trajectories and doses of the first K rollouts of each arm (for
    /// the trajectory, composition and swimmer plots).
    #[arg(long, default_value_t = 30)]
    pub trajectories: u64,
    /// Trajectory recording interval of kept trajectories, in time units.
    #[arg(long, default_value_t = 7.0)]
    pub record_every: f64,
    /// Also write a self-contained HTML report (tables, plots, manifest) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    pub no_png: bool,
    /// Run only shard K of N (0 ≤ K < N) of the work and write its outcomes for
    /// `regimen merge`; defaults to SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT when set.
    #[arg(long, value_name = "K/N", value_parser = shard)]
    pub shard: Option<Shard>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The scenario YAML file.
    pub scenario: PathBuf,
    /// Run only this arm (default: every arm).
    #[arg(long)]
    pub arm: Option<String>,
    /// Output folder (default: out/<scenario file name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Trajectory recording interval, in the scenario's time units.
    #[arg(long, default_value_t = 1.0)]
    pub record_every: f64,
    /// Apply the scenario's measurement noise, drawn from this seed (deterministic runs;
    /// stochastic runs always use the scenario's noise, keyed by --seed).
    #[arg(long)]
    pub noise_seed: Option<u64>,
    /// Run this many stochastic rollouts per arm instead of the deterministic evaluator.
    #[arg(long)]
    pub rollouts: Option<u64>,
    /// Seed of the stochastic rollouts: the same seed gives the same numbers on any number
    /// of threads (RAYON_NUM_THREADS).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep and write the trajectories of the first K rollouts of each arm.
    #[arg(long, default_value_t = 0)]
    pub trajectories: u64,
    /// Also write a self-contained HTML report (tables, plots, manifest) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    pub no_png: bool,
}

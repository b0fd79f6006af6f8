//! The command line: `regimen simulate | check`.

use crate::error::{Error, Result};
use crate::outcome::ArmSummary;
use crate::report;
use crate::scenario::Scenario;
use crate::sim::rollouts::{ArmRollouts, RolloutSettings, run_rollouts};
use crate::sim::{self, RunOptions, RunResult};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the deterministic (mean-field ODE) evaluator on every arm, or one, and write CSV.
    ///
    /// Prints one row per arm: time to progression (TTP), time at which resistant cells become
    /// the majority, cumulative dose per drug and % of time on drug. Writes trajectory.csv,
    /// visits.csv and outcomes.csv to the output folder.
    Simulate(SimulateArgs),
    /// Validate a scenario and print its resolved form (every default filled in).
    ///
    /// Exit code 0 if the scenario is valid; otherwise every problem found is listed with
    /// file, line, column and field.
    Check {
        /// The scenario YAML file.
        scenario: PathBuf,
    },
}

#[derive(Debug, Args)]
struct SimulateArgs {
    /// The scenario YAML file.
    scenario: PathBuf,
    /// Run only this arm (default: every arm).
    #[arg(long)]
    arm: Option<String>,
    /// Output folder (default: out/<scenario file name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Trajectory recording interval, in the scenario's time units.
    #[arg(long, default_value_t = 1.0)]
    record_every: f64,
    /// Apply the scenario's measurement noise, drawn from this seed (deterministic runs;
    /// stochastic runs always use the scenario's noise, keyed by --seed).
    #[arg(long)]
    noise_seed: Option<u64>,
    /// Run this many stochastic rollouts per arm instead of the deterministic evaluator.
    #[arg(long)]
    rollouts: Option<u64>,
    /// Seed of the stochastic rollouts: the same seed gives the same numbers on any number
    /// of threads (RAYON_NUM_THREADS).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep and write the trajectories of the first K rollouts of each arm.
    #[arg(long, default_value_t = 0)]
    trajectories: u64,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", format_error(&e));
            ExitCode::FAILURE
        }
    }
}

fn format_error(e: &Error) -> String {
    match e {
        Error::Invalid(_) => e.to_string(),
        other => format!("error: {other}"),
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Check { scenario } => {
            let s = Scenario::load(&scenario)?;
            print!("{}", s.resolved_yaml());
            eprintln!(
                "{}: valid ({} compartments, {} drugs, {} arms)",
                scenario.display(),
                s.model.n_compartments(),
                s.drugs.len(),
                s.arms.len()
            );
            Ok(())
        }
        Command::Simulate(args) => simulate(args),
    }
}

fn simulate(args: SimulateArgs) -> Result<()> {
    if !(args.record_every.is_finite() && args.record_every > 0.0) {
        return Err(Error::Usage(format!(
            "--record-every must be a positive number, got {}",
            args.record_every
        )));
    }
    let scenario = Scenario::load(&args.scenario)?;
    const MAX_ROWS: f64 = 2.0e6;
    if scenario.horizon / args.record_every > MAX_ROWS {
        return Err(Error::Usage(format!(
            "--record-every {} over a horizon of {} would record more than {MAX_ROWS:e} rows per arm;              record less often",
            args.record_every, scenario.horizon
        )));
    }
    let arms: Vec<_> = match &args.arm {
        Some(name) => vec![scenario.arm(name).ok_or_else(|| {
            Error::Usage(format!(
                "no arm `{name}` in {}; its arms are: {}",
                args.scenario.display(),
                scenario
                    .arms
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?],
        None => scenario.arms.iter().collect(),
    };
    if let Some(n) = args.rollouts {
        return simulate_rollouts(&args, &scenario, &arms, n);
    }
    let options = RunOptions {
        record_every: args.record_every,
        noise: args
            .noise_seed
            .map(|seed| sim::NoiseKey { seed, rollout: 0 }),
    };
    let mut results: Vec<(&str, RunResult)> = Vec::with_capacity(arms.len());
    for arm in arms {
        tracing::info!(arm = %arm.name, "simulating");
        results.push((&arm.name, sim::run_deterministic(&scenario, arm, options)?));
    }
    let refs: Vec<(&str, &RunResult)> = results.iter().map(|(n, r)| (*n, r)).collect();
    let labelled: Vec<report::LabelledRun> = results.iter().map(|(n, r)| (*n, None, r)).collect();
    let out = args.out.unwrap_or_else(|| default_out_dir(&args.scenario));
    report::write_atomic(
        &out.join("trajectory.csv"),
        report::trajectory_csv(&scenario, &labelled).as_bytes(),
    )?;
    report::write_atomic(
        &out.join("visits.csv"),
        report::visits_csv(&labelled).as_bytes(),
    )?;
    report::write_atomic(
        &out.join("outcomes.csv"),
        report::outcomes_csv(&scenario, &refs).as_bytes(),
    )?;
    println!(
        "{} — deterministic evaluation, horizon {} {}\n",
        scenario.spec.name,
        scenario.horizon,
        scenario.spec.time_units.as_str()
    );
    print!("{}", report::summary_table(&scenario, &refs));
    println!(
        "\nwrote trajectory.csv, visits.csv, outcomes.csv to {}",
        out.display()
    );
    Ok(())
}

/// `simulate --rollouts N`: stochastic rollouts of every chosen arm, summarised.
fn simulate_rollouts(
    args: &SimulateArgs,
    scenario: &Scenario,
    arms: &[&crate::scenario::Arm],
    n: u64,
) -> Result<()> {
    if n == 0 {
        return Err(Error::Usage("--rollouts must be at least 1".to_owned()));
    }
    let settings = RolloutSettings {
        seed: args.seed,
        first: 0,
        count: n,
        keep_trajectories: args.trajectories.min(n),
        record_every: args.record_every,
    };
    let started = std::time::Instant::now();
    let mut runs: Vec<(&str, ArmRollouts)> = Vec::with_capacity(arms.len());
    for arm in arms {
        tracing::info!(arm = %arm.name, rollouts = n, "simulating");
        runs.push((&arm.name, run_rollouts(scenario, arm, settings)?));
    }
    let elapsed = started.elapsed();
    let summaries: Vec<(&str, ArmSummary)> = runs
        .iter()
        .map(|(name, r)| {
            let summary = ArmSummary::new(
                r.rollouts
                    .iter()
                    .map(|x| (&x.outcome, x.resistance_emerged)),
                scenario.horizon,
                &scenario.pfs_at,
            );
            (*name, summary)
        })
        .collect();
    let summary_refs: Vec<(&str, &ArmSummary)> = summaries.iter().map(|(n, s)| (*n, s)).collect();
    let run_refs: Vec<(&str, &ArmRollouts)> = runs.iter().map(|(n, r)| (*n, r)).collect();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&args.scenario));
    report::write_atomic(
        &out.join("rollouts.csv"),
        report::rollouts_csv(scenario, &run_refs).as_bytes(),
    )?;
    report::write_atomic(
        &out.join("summary.csv"),
        report::summary_csv(scenario, &summary_refs).as_bytes(),
    )?;
    let mut written = vec!["rollouts.csv", "summary.csv"];
    if settings.keep_trajectories > 0 {
        let labelled: Vec<report::LabelledRun> = runs
            .iter()
            .flat_map(|(name, r)| {
                r.trajectories
                    .iter()
                    .map(move |(i, run)| (*name, Some(*i), run))
            })
            .collect();
        report::write_atomic(
            &out.join("trajectory.csv"),
            report::trajectory_csv(scenario, &labelled).as_bytes(),
        )?;
        report::write_atomic(
            &out.join("visits.csv"),
            report::visits_csv(&labelled).as_bytes(),
        )?;
        written.extend(["trajectory.csv", "visits.csv"]);
    }
    println!(
        "{} — {n} stochastic rollouts per arm, seed {}, horizon {} {}\n",
        scenario.spec.name,
        args.seed,
        scenario.horizon,
        scenario.spec.time_units.as_str()
    );
    print!("{}", report::rollout_table(scenario, &summary_refs));
    println!(
        "\nTTP: Kaplan–Meier over rollouts, censored at the horizon (>{:.0}: median not reached; NR: CI end not reached).",
        scenario.horizon
    );
    println!("P(resistance): resistant cells alive at the horizon.");
    println!("wrote {} to {}", written.join(", "), out.display());
    tracing::info!(seconds = elapsed.as_secs_f64(), "rollouts done");
    Ok(())
}

fn default_out_dir(scenario: &Path) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".to_owned());
    PathBuf::from("out").join(stem)
}

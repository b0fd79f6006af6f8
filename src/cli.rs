//! The command line: `regimen simulate | check`.

use crate::error::{Error, Result};
use crate::report;
use crate::scenario::Scenario;
use crate::sim::rollouts::{
    ArmRollouts, RolloutSettings, run_rollouts, run_rollouts_with_progress,
};
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
    /// Let a scenario read data files (events.file) outside its own folder: absolute paths,
    /// `..` and links that leave it are refused otherwise.
    #[arg(long, global = true)]
    allow_outside_data: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
struct OptimiseArgs {
    /// The scenario YAML file (its `optimise:` block sets the defaults of every flag below).
    scenario: PathBuf,
    /// Distinct schedules scored per family [default: 40].
    #[arg(long)]
    budget_evals: Option<u64>,
    /// Rollouts per candidate while searching (the tuning seeds) [default: 200].
    #[arg(long)]
    rollouts: Option<u64>,
    /// Rollouts of the hold-out re-scoring (seed + 1) [default: 1000].
    #[arg(long)]
    holdout: Option<u64>,
    /// Seed of the tuning rollouts.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Objective: rmst (restricted mean TTP), median, pfs:T (P(progression-free) at T) or
    /// cvar:A (mean of the worst fraction A of TTPs) [default: rmst].
    #[arg(long)]
    objective: Option<String>,
    /// Most mean cumulative dose of the searched drug relative to continuous dosing at its
    /// standard dose.
    #[arg(long)]
    max_relative_dose: Option<f64>,
    /// Families to search, comma-separated: intermittent, holiday, adaptive, modulation, lp.
    #[arg(long, value_delimiter = ',')]
    families: Option<Vec<String>>,
    /// Solver after the design: nelder-mead or particle-swarm.
    #[arg(long)]
    solver: Option<String>,
    /// Score every candidate on all tuning rollouts (no racing).
    #[arg(long)]
    no_racing: bool,
    /// Bi-objective mode: search under each of these dose limits (relative to continuous,
    /// comma-separated) and write the front of benefit against dose to pareto.csv.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_missing_value = "0.25,0.5,0.75,1")]
    pareto: Option<Vec<f64>>,
    /// Stop searching after this many seconds and report the best found so far.
    #[arg(long)]
    time_limit: Option<f64>,
    /// Output folder (default: out/<scenario file name>-optimise).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Also write a self-contained HTML report (leaderboard, best schedule, plots, manifest).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Continue the interrupted run whose output folder is DIR (same scenario and flags).
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Write checkpoint.json every this many new evaluations.
    #[arg(long, default_value_t = 10)]
    checkpoint_every: u64,
    /// Stop as if interrupted after this many new evaluations (for testing resume).
    #[arg(long, hide = true)]
    stop_after_evaluations: Option<u64>,
    /// Run only shard K of N (0 ≤ K < N) of the search units (family × dose limit, and the
    /// LP) for `regimen merge`, which scores the finalists on the hold-out seeds; defaults to
    /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT when set.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    no_png: bool,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// The shard folders (all N of them).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Output folder of the merged result.
    #[arg(long)]
    out: PathBuf,
    /// Also write the self-contained HTML report to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    no_png: bool,
}

#[derive(Debug, Args)]
struct PlotArgs {
    /// An output folder of simulate, compare or optimise.
    dir: PathBuf,
    /// Also write the self-contained HTML report to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    no_png: bool,
}

#[derive(Debug, Args)]
struct EventsArgs {
    /// The scenario YAML file.
    scenario: PathBuf,
    /// The arm whose doses to export (may be left out when the scenario has one arm).
    #[arg(long)]
    arm: Option<String>,
    /// Export the doses of this many stochastic rollouts instead of the deterministic run.
    #[arg(long)]
    rollouts: Option<u64>,
    /// Seed of the stochastic rollouts.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output CSV file (default: out/<scenario>-<arm>-doses.csv).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// The scenario YAML file.
    scenario: PathBuf,
    /// Stochastic rollouts per arm.
    #[arg(long, default_value_t = 1000)]
    rollouts: u64,
    /// Seed: the same seed gives the same numbers on any number of threads.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder (default: out/<scenario file name>-compare).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The arm the others are contrasted with (default: the first arm).
    #[arg(long)]
    reference: Option<String>,
    /// Keep and write the trajectories and doses of the first K rollouts of each arm (for
    /// the trajectory, composition and swimmer plots).
    #[arg(long, default_value_t = 30)]
    trajectories: u64,
    /// Trajectory recording interval of kept trajectories, in time units.
    #[arg(long, default_value_t = 7.0)]
    record_every: f64,
    /// Also write a self-contained HTML report (tables, plots, manifest) to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    no_png: bool,
    /// Run only shard K of N (0 ≤ K < N) of the work and write its outcomes for
    /// `regimen merge`; defaults to SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT when set.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
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
    /// Also write a self-contained HTML report (tables, plots, manifest) to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Draw SVG plots only (no PNG copies).
    #[arg(long)]
    no_png: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    crate::scenario::ALLOW_OUTSIDE_DATA
        .store(cli.allow_outside_data, std::sync::atomic::Ordering::Relaxed);
    match run(cli.command, cli.quiet) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", format_error(&e));
            ExitCode::FAILURE
        }
    }
}

fn format_error(e: &Error) -> String {
    let text = match e {
        Error::Invalid(_) => e.to_string(),
        other => format!("error: {other}"),
    };
    printable(&text)
}

/// `text` with control characters (ESC, BEL, NUL …) shown as escapes, so a message that
/// quotes user input cannot drive the terminal; line breaks and tabs stay.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
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

fn run(command: Command, quiet: bool) -> Result<()> {
    match command {
        Command::Check { scenario } => {
            let s = Scenario::load(&scenario)?;
            print!("{}", s.resolved_yaml());
            eprintln!(
                "{}: valid ({}, {}, {})",
                scenario.display(),
                plural(s.model.n_compartments(), "compartment"),
                plural(s.drugs.len(), "drug"),
                plural(s.arms.len(), "arm")
            );
            Ok(())
        }
        Command::Simulate(args) => simulate(args),
        Command::Compare(args) => compare(args, quiet),
        Command::Events(args) => export_events(args),
        Command::Optimise(args) => optimise(args),
        Command::Merge(args) => merge(args),
        Command::Plot(args) => {
            // Not while a run is writing the folder.
            let _lock = crate::outdir::lock(&args.dir)?;
            let said = draw(&args.dir, args.report.as_deref(), args.no_png)?;
            println!("drew {said} of {}", args.dir.display());
            Ok(())
        }
    }
}

fn simulate(args: SimulateArgs) -> Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    crate::limits::record_every(args.record_every, scenario.horizon)?;
    let arms: Vec<_> = match &args.arm {
        Some(name) => vec![scenario.arm(name).ok_or_else(|| {
            Error::Usage(format!(
                "no arm `{name}` in {}; its arms are: {}",
                args.scenario.display(),
                scenario.arm_names()
            ))
        })?],
        None => scenario.arms.iter().collect(),
    };
    if let Some(n) = args.rollouts {
        return run_stochastic(StochasticJob {
            scenario: &scenario,
            arms,
            reference: 0,
            rollouts: n,
            seed: args.seed,
            trajectories: args.trajectories,
            record_every: args.record_every,
            out: args
                .out
                .clone()
                .unwrap_or_else(|| default_out_dir(&args.scenario)),
            quiet: false,
            command: "simulate --rollouts",
            report: args.report.clone(),
            no_png: args.no_png,
            shard: None,
        });
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&args.scenario));
    check_outputs(&out, args.report.as_deref(), &[&args.scenario])?;
    let shown = out.clone();
    let options = RunOptions {
        record_every: args.record_every,
        noise: args
            .noise_seed
            .map(|seed| sim::NoiseKey { seed, rollout: 0 }),
    };
    let mut results: Vec<(&str, RunResult)> = Vec::with_capacity(arms.len());
    crate::stop::install_handler();
    for arm in arms {
        if crate::stop::requested() {
            return Err(Error::Interrupted(format!(
                "stopped after {} of the arms; no file written: {} keeps its previous contents",
                results.len(),
                shown.display()
            )));
        }
        tracing::info!(arm = %arm.name, "simulating");
        results.push((&arm.name, sim::run_deterministic(&scenario, arm, options)?));
    }
    let refs: Vec<(&str, &RunResult)> = results.iter().map(|(n, r)| (*n, r)).collect();
    let labelled: Vec<report::LabelledRun> = results.iter().map(|(n, r)| (*n, None, r)).collect();
    // Written into a staging folder, swapped in whole at the end.
    let staged = crate::outdir::Staged::begin(&out)?;
    let out = staged.path().to_path_buf();
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
    report::write_atomic(
        &out.join("doses.csv"),
        report::doses_csv(&scenario, &labelled).as_bytes(),
    )?;
    write_provenance(&scenario, &out, "simulate", 0, 1, 0.0)?;
    let report_file = args.report.as_deref().map(|r| staged.redirect(r));
    let figures = draw(&out, report_file.as_deref(), args.no_png)?;
    println!(
        "{} — deterministic evaluation, horizon {} {}\n",
        scenario.spec.name,
        scenario.horizon,
        scenario.spec.time_units.as_str()
    );
    print!("{}", report::summary_table(&scenario, &refs));
    let stops = if scenario.spec.progression.treat_beyond_progression == Some(true) {
        "dosing continues beyond progression"
    } else {
        "treatment stops at progression"
    };
    println!(
        "\nTimes in {}. TTP: time to progression (>: none by the horizon, censored).\n\
         Resistant >50%: when resistant cells became the majority. Treated: time on treatment\n\
         ({stops}); doses and % on drug count that time.",
        scenario.spec.time_units.as_str()
    );
    staged.commit_unless_stopped()?;
    println!(
        "\nwrote trajectory.csv, visits.csv, outcomes.csv, doses.csv, scenario.yaml, manifest.json \
         and {figures} to {}",
        shown.display()
    );
    Ok(())
}

/// The resolved scenario and the manifest, beside a run's other files.
fn write_provenance(
    scenario: &Scenario,
    out: &std::path::Path,
    command: &str,
    seed: u64,
    rollouts: u64,
    wall: f64,
) -> Result<()> {
    report::write_atomic(
        &out.join("scenario.yaml"),
        scenario.resolved_yaml().as_bytes(),
    )?;
    let reference = scenario
        .arms
        .first()
        .map(|a| a.name.clone())
        .unwrap_or_default();
    report::write_atomic(
        &out.join("manifest.json"),
        report::manifest(scenario, command, seed, rollouts, &reference, wall).as_bytes(),
    )
}

/// Draws the folder's plots (and the report, if asked); says what was drawn.
fn draw(out: &std::path::Path, report: Option<&std::path::Path>, no_png: bool) -> Result<String> {
    let names = crate::plot::render_folder(out, report, !no_png)?;
    let mut said = format!(
        "{} plot{} in plots/",
        names.len(),
        if names.len() == 1 { "" } else { "s" }
    );
    if let Some(r) = report {
        said.push_str(&format!(" (report: {})", r.display()));
    }
    Ok(said)
}

fn optimise(args: OptimiseArgs) -> Result<()> {
    use crate::scenario::spec::FamilyName;
    use crate::search::{config, family::Solver, leaderboard, output};
    let objective = args
        .objective
        .as_deref()
        .map(config::parse_objective)
        .transpose()?;
    if let Some(o) = objective {
        // The same rule as the optimise: block's objective.
        config::check_objective(o, scenario_horizon(&args.scenario)?)?;
    }
    for (flag, v) in [("--rollouts", args.rollouts), ("--holdout", args.holdout)] {
        if let Some(n) = v {
            // The same caps as the optimise: block's.
            crate::limits::rollouts(flag, n)?;
        }
    }
    if let Some(n) = args.budget_evals
        && !(1..=crate::limits::MAX_BUDGET_EVALS).contains(&n)
    {
        return Err(Error::Usage(format!(
            "--budget-evals must be between 1 and {}, got {n}",
            crate::limits::MAX_BUDGET_EVALS
        )));
    }
    let positive = |flag: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(Error::Usage(format!(
                "{flag} must be a positive number, got {v}"
            )))
        }
    };
    if let Some(m) = args.max_relative_dose {
        positive("--max-relative-dose", m)?;
    }
    if let Some(levels) = &args.pareto {
        if levels.is_empty() {
            return Err(Error::Usage(
                "--pareto needs at least one dose limit".to_owned(),
            ));
        }
        for l in levels {
            positive("--pareto", *l)?;
        }
    }
    let time_limit = match args.time_limit {
        Some(t) => {
            positive("--time-limit", t)?;
            Some(std::time::Duration::from_secs_f64(t.min(1.0e9)))
        }
        None => None,
    };
    let families = match &args.families {
        Some(names) => Some(
            names
                .iter()
                .map(|n| {
                    FamilyName::ALL
                        .into_iter()
                        .find(|f| f.as_str() == n.trim())
                        .ok_or_else(|| {
                            Error::Usage(format!(
                                "--families: unknown family `{n}`; use intermittent, holiday, \
                                 adaptive, modulation or lp"
                            ))
                        })
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        None => None,
    };
    let solver = match args.solver.as_deref() {
        None => None,
        Some("nelder-mead") => Some(Solver::NelderMead),
        Some("particle-swarm") => Some(Solver::ParticleSwarm),
        Some(other) => {
            return Err(Error::Usage(format!(
                "--solver must be nelder-mead or particle-swarm, got `{other}`"
            )));
        }
    };
    let scenario = Scenario::load(&args.scenario)?;
    let overrides = config::Overrides {
        objective,
        rollouts: args.rollouts,
        holdout: args.holdout,
        budget_evals: args.budget_evals,
        max_relative_dose: args.max_relative_dose,
        families,
        solver,
        racing: args.no_racing.then_some(false),
        pareto: args.pareto.clone(),
    };
    let plan = config::Plan::new(&scenario, args.seed, &overrides, time_limit)?;
    let shard = match &args.shard {
        Some(text) => Some(crate::shard::Shard::parse(text)?),
        None => crate::shard::Shard::from_slurm()?,
    };
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let levels = plan.dose_limits().len() as u64;
    let total = levels
        * (plan.families.len() as u64 * plan.budget_per_family + u64::from(plan.lp.is_some()))
        + levels * (plan.families.len() as u64 + u64::from(plan.lp.is_some()))
        + scenario.arms.len() as u64;
    let bar = progress_bar(total, args.quiet);
    bar.set_message("searching");
    let tick = || bar.inc(1);
    let out = match (&args.resume, &args.out) {
        (Some(r), Some(o)) if r != o => {
            return Err(Error::Usage(
                "--resume DIR continues in DIR; leave out --out or give the same folder".to_owned(),
            ));
        }
        (Some(r), _) => r.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => {
            let mut dir = default_out_dir(&args.scenario);
            dir.as_mut_os_string().push("-optimise");
            if let Some(s) = shard {
                dir.push(format!("shard-{}-of-{}", s.index, s.count));
            }
            dir
        }
    };
    check_outputs(&out, args.report.as_deref(), &[&args.scenario])?;
    // The run's identity: a checkpoint only resumes the same scenario, seed and plan.
    let fingerprint = format!(
        "{} seed={} {:?} rollouts={} holdout={} budget={} families={:?} lp={:?} solver={:?} \
         racing={} dose={:?} cap={:?} pareto={:?}",
        report::sha256_hex(&scenario.resolved_yaml()),
        plan.seed,
        plan.objective,
        plan.rollouts,
        plan.holdout,
        plan.budget_per_family,
        plan.families,
        plan.lp,
        plan.solver,
        plan.racing,
        plan.max_relative_dose,
        plan.marker_cap,
        plan.pareto
    );
    let fingerprint_copy = fingerprint.clone();
    if let Some(s) = shard
        && args.resume.is_none()
        && crate::shard::already_done(
            &out,
            s,
            &report::sha256_hex(&scenario.resolved_yaml()),
            plan.seed,
            plan.rollouts,
        )
    {
        println!(
            "shard {}/{} already done in {}; nothing to run",
            s.index,
            s.count,
            out.display()
        );
        return Ok(());
    }
    // Written into a staging folder and swapped in at the end (or at a handled stop); the
    // journal lives beside the folder meanwhile, so even a hard kill can be resumed.
    let staged = crate::outdir::Staged::begin(&out)?;
    let shown = out.clone();
    let checkpoint = staged.journal_path();
    if let Some(parent) = checkpoint.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let journal = match &args.resume {
        Some(_) => {
            // A killed run's live journal is newer than the folder's copy.
            let source = if checkpoint.is_file() {
                checkpoint.clone()
            } else {
                out.join("checkpoint.json")
            };
            let j = crate::search::checkpoint::Journal::resume(
                &source,
                &checkpoint,
                fingerprint,
                args.checkpoint_every,
                args.stop_after_evaluations,
            )?;
            eprintln!(
                "resuming: {} evaluations from {}",
                j.len(),
                source.display()
            );
            j
        }
        None => crate::search::checkpoint::Journal::new(
            &checkpoint,
            fingerprint,
            args.checkpoint_every,
            args.stop_after_evaluations,
        ),
    };
    // Ctrl-C and SIGTERM stop the searches at their next evaluation.
    crate::stop::install_handler();
    // The journal's copy goes into the folder with whatever the run commits.
    let keep_journal = |staged: &crate::outdir::Staged| -> Result<()> {
        if checkpoint.is_file() {
            let copy = staged.path().join("checkpoint.json");
            std::fs::copy(&checkpoint, &copy)
                .map_err(|source| Error::Write { path: copy, source })?;
        }
        Ok(())
    };
    if let Some(shard) = shard {
        let result = optimise_shard(
            &scenario,
            &plan,
            &overrides,
            shard,
            staged.path(),
            &shown,
            &journal,
            &tick,
            &fingerprint_copy,
        );
        bar.finish_and_clear();
        // Done or stopped, the folder takes the shard's files (or its journal) whole.
        if result.is_ok() || crate::stop::requested() {
            keep_journal(&staged)?;
            staged.commit()?;
        }
        return result;
    }
    let started = std::time::Instant::now();
    let board = match leaderboard::optimise(&scenario, &plan, Some(&tick), Some(&journal)) {
        Err(Error::Interrupted(what)) => {
            // The searches are done and journalled: a resume replays them and scores again.
            bar.finish_and_clear();
            journal.save()?;
            return Err(Error::Interrupted(format!(
                "{what}; {} keeps its previous contents and the {} evaluations of the searches \
                 are in {}: continue with regimen optimise {} --resume {} (and the same flags)",
                shown.display(),
                journal.len(),
                checkpoint.display(),
                args.scenario.display(),
                shown.display()
            )));
        }
        other => other?,
    };
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    if board.interrupted {
        journal.save()?;
        report::write_atomic(
            &staged.path().join("trace.csv"),
            output::trace_csv(&board).as_bytes(),
        )?;
        keep_journal(&staged)?;
        staged.commit()?;
        let checkpoint = out.join("checkpoint.json");
        let best = board
            .trace
            .iter()
            .filter(|r| r.evaluation.rollouts == plan.rollouts)
            .max_by(|a, b| a.evaluation.penalised.total_cmp(&b.evaluation.penalised));
        let best_text = best.map_or_else(
            || "no schedule was scored yet".to_owned(),
            |r| {
                format!(
                    "best so far: {} {:?} scoring {:.1} on the tuning seeds",
                    r.search, r.evaluation.values, r.evaluation.score
                )
            },
        );
        return Err(Error::Usage(format!(
            "interrupted after {} evaluations; {best_text}. Wrote {} and trace.csv to {}. \
             Continue with: regimen optimise {} --resume {} (and the same flags)",
            journal.len(),
            checkpoint.display(),
            out.display(),
            args.scenario.display(),
            out.display()
        )));
    }
    journal.save()?;
    keep_journal(&staged)?;
    let report_file = args.report.as_deref().map(|r| staged.redirect(r));
    write_optimise_outputs(
        &board,
        &plan,
        &scenario,
        (staged.path(), &shown),
        wall,
        report_file.as_deref(),
        args.no_png,
    )?;
    staged.commit()
}

/// best.yaml, leaderboard.csv, trace.csv, pareto.csv, manifest, scenario, plots and the
/// table on stdout — for a run on one machine and for merged shards alike.
fn write_optimise_outputs(
    board: &crate::search::leaderboard::Leaderboard,
    plan: &crate::search::config::Plan,
    scenario: &Scenario,
    (out, shown): (&std::path::Path, &std::path::Path),
    wall: f64,
    report_file: Option<&std::path::Path>,
    no_png: bool,
) -> Result<()> {
    use crate::search::output;
    let mut written = vec!["leaderboard.csv", "trace.csv", "manifest.json"];
    if out.join("checkpoint.json").is_file() {
        written.push("checkpoint.json");
    }
    if let Some(best) = output::best_yaml(board, plan, scenario) {
        report::write_atomic(&out.join("best.yaml"), best.as_bytes())?;
        written.insert(0, "best.yaml");
    }
    report::write_atomic(
        &out.join("leaderboard.csv"),
        output::leaderboard_csv(board).as_bytes(),
    )?;
    report::write_atomic(&out.join("trace.csv"), output::trace_csv(board).as_bytes())?;
    if plan.pareto.is_some() {
        report::write_atomic(
            &out.join("pareto.csv"),
            output::pareto_csv(board).as_bytes(),
        )?;
        written.push("pareto.csv");
    }
    report::write_atomic(
        &out.join("manifest.json"),
        output::manifest_json(board, plan, scenario, wall).as_bytes(),
    )?;
    report::write_atomic(
        &out.join("scenario.yaml"),
        scenario.resolved_yaml().as_bytes(),
    )?;
    written.push("scenario.yaml");
    let figures = draw(out, report_file, no_png)?;
    let units = scenario.spec.time_units.as_str();
    let heading = format!(
        "{} — search: {} distinct schedules per family on {} rollouts (seed {}, {}{}); \
         hold-out: {} rollouts (seed {}); times in {units}",
        scenario.spec.name,
        plan.budget_per_family,
        plan.rollouts,
        plan.seed,
        plan.solver.as_str(),
        if plan.racing { ", racing" } else { "" },
        plan.holdout,
        board.holdout_seed
    );
    println!("{}\n", wrap(&heading, 100));
    print!("{}", output::table(board, plan));
    if let Some(note) = output::saturation_note(board, plan.objective, scenario.horizon) {
        println!("\n{}", wrap(&format!("note: {note}"), 100));
    }
    if board.timed_out {
        println!("\nstopped by --time-limit: the leaderboard holds the best found so far.");
    }
    println!(
        "\n{} evaluations ({} tuning rollouts; {} without racing) in {wall:.1} s.\nwrote {} and {figures} to {}",
        board.trace.len(),
        board.rollouts_run,
        board.rollouts_without_racing,
        written.join(", "),
        shown.display()
    );
    Ok(())
}

/// One shard of an optimisation: its search units, written for `regimen merge`.
#[allow(clippy::too_many_arguments)]
fn optimise_shard(
    scenario: &Scenario,
    plan: &crate::search::config::Plan,
    overrides: &crate::search::config::Overrides,
    shard: crate::shard::Shard,
    out: &std::path::Path,
    shown: &std::path::Path,
    journal: &crate::search::checkpoint::Journal,
    progress: &(dyn Fn() + Sync),
    fingerprint: &str,
) -> Result<()> {
    use crate::search::leaderboard;
    let units: std::collections::BTreeSet<u64> = (0..leaderboard::unit_count(plan))
        .filter(|u| u % shard.count == shard.index)
        .collect();
    let started = std::time::Instant::now();
    let searched =
        leaderboard::search_units(scenario, plan, Some(progress), Some(journal), Some(&units))?;
    journal.save()?;
    if searched.interrupted {
        return Err(Error::Usage(format!(
            "interrupted; wrote {} — run the same command again with --resume {}",
            shown.join("checkpoint.json").display(),
            shown.display()
        )));
    }
    let text = serde_json::to_string(&searched)
        .map_err(|e| Error::Usage(format!("cannot encode search.json: {e}")))?;
    report::write_atomic(&out.join("search.json"), text.as_bytes())?;
    report::write_atomic(
        &out.join("scenario.yaml"),
        scenario.resolved_yaml().as_bytes(),
    )?;
    let mut manifest: serde_json::Value = serde_json::from_str(&report::manifest(
        scenario,
        "optimise",
        plan.seed,
        plan.rollouts,
        "continuous",
        started.elapsed().as_secs_f64(),
    ))
    .unwrap_or_default();
    manifest["optimise_overrides"] = serde_json::to_value(overrides).unwrap_or_default();
    manifest["optimise_fingerprint"] = serde_json::json!(fingerprint);
    manifest["shard"] = serde_json::json!({
        "index": shard.index,
        "count": shard.count,
        "units": units,
        "complete": true,
    });
    write_manifest(out, &manifest)?;
    println!(
        "optimise shard {}/{}: {} of {} search units, {} evaluations; wrote search.json, \
         scenario.yaml, manifest.json to {}",
        shard.index,
        shard.count,
        units.len(),
        leaderboard::unit_count(plan),
        searched.trace.len(),
        shown.display()
    );
    Ok(())
}

/// Merges the shards of an optimisation: ranks their finalists with the arms on the
/// hold-out seeds on this machine.
fn merge_optimise(args: &MergeArgs, manifests: &[serde_json::Value]) -> Result<()> {
    use crate::search::{config, leaderboard};
    let started = std::time::Instant::now();
    let first = &args.dirs[0];
    let scenario_path = first.join("scenario.yaml");
    let text = crate::scenario::parse::read_text(&scenario_path)?;
    let mut scenario = Scenario::from_text(&scenario_path, &text)?;
    for key in [
        "optimise_fingerprint",
        "scenario_sha256",
        "regimen_version",
        "seed",
    ] {
        if let Some((i, _)) = manifests
            .iter()
            .enumerate()
            .find(|(_, m)| m[key] != manifests[0][key])
        {
            return Err(Error::Usage(format!(
                "{} and {} are not shards of the same optimisation: `{key}` differs",
                first.display(),
                args.dirs[i].display()
            )));
        }
    }
    if report::sha256_hex(&scenario.resolved_yaml()) != manifests[0]["scenario_sha256"] {
        return Err(Error::Usage(format!(
            "{}: scenario.yaml does not match the manifest's scenario hash",
            first.display()
        )));
    }
    // best.yaml names the scenario file the shards were started from.
    if let Some(file) = manifests[0]["scenario_file"].as_str() {
        scenario.source = PathBuf::from(file);
    }
    let overrides: config::Overrides =
        serde_json::from_value(manifests[0]["optimise_overrides"].clone())
            .map_err(|e| Error::Usage(format!("{}: manifest.json: {e}", first.display())))?;
    let seed = manifests[0]["seed"].as_u64().unwrap_or(0);
    let plan = config::Plan::new(&scenario, seed, &overrides, None)?;
    let count = manifests[0]["shard"]["count"].as_u64().unwrap_or(0);
    let mut indices = std::collections::BTreeSet::new();
    let mut units = std::collections::BTreeSet::new();
    let mut parts = Vec::new();
    for (dir, m) in args.dirs.iter().zip(manifests) {
        let index = m["shard"]["index"].as_u64().unwrap_or(u64::MAX);
        if m["shard"]["count"].as_u64() != Some(count) || !indices.insert(index) {
            return Err(Error::Usage(format!(
                "{}: shard {index} of {count} is given twice or belongs to another split",
                dir.display()
            )));
        }
        for u in m["shard"]["units"].as_array().into_iter().flatten() {
            if !units.insert(u.as_u64().unwrap_or(u64::MAX)) {
                return Err(Error::Usage(format!("unit {u} is in two shards")));
            }
        }
        let text = std::fs::read_to_string(dir.join("search.json"))
            .map_err(|e| Error::Usage(format!("{}: search.json: {e}", dir.display())))?;
        let part: leaderboard::Searched = serde_json::from_str(&text)
            .map_err(|e| Error::Usage(format!("{}: search.json: {e}", dir.display())))?;
        parts.push(part);
    }
    if indices.len() as u64 != count {
        return Err(Error::Usage(format!(
            "shards missing: {} of {count} given",
            indices.len()
        )));
    }
    let expected: std::collections::BTreeSet<u64> = (0..leaderboard::unit_count(&plan)).collect();
    if units != expected {
        return Err(Error::Usage(format!(
            "the shards hold units {units:?}; the optimisation has {}",
            expected.len()
        )));
    }
    let mut searched = leaderboard::Searched::combine(parts);
    for (unit, entry) in &mut searched.finalists {
        entry.schedule = leaderboard::rebuild_schedule(&plan, *unit, &entry.values)
            .ok_or_else(|| Error::Usage(format!("unit {unit} names no search of this plan")))?;
    }
    let board = leaderboard::finish(&scenario, &plan, searched, None)?;
    let staged = crate::outdir::Staged::begin(&args.out)?;
    let report_file = args.report.as_deref().map(|r| staged.redirect(r));
    write_optimise_outputs(
        &board,
        &plan,
        &scenario,
        (staged.path(), &args.out),
        started.elapsed().as_secs_f64(),
        report_file.as_deref(),
        args.no_png,
    )?;
    staged.commit_unless_stopped()
}

fn export_events(args: EventsArgs) -> Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    let arm = match &args.arm {
        Some(name) => scenario.arm(name),
        None if scenario.arms.len() == 1 => scenario.arms.first(),
        None => None,
    }
    .ok_or_else(|| {
        Error::Usage(format!(
            "{}name the arm with --arm; the arms are: {}",
            args.arm
                .as_ref()
                .map_or(String::new(), |a| format!("no arm `{a}`; ")),
            scenario.arm_names()
        ))
    })?;
    if let Some(n) = args.rollouts {
        crate::limits::rollouts("--rollouts", n)?;
        crate::limits::rollout_work(n, 1, scenario.horizon / scenario.stochastic_step)?;
    }
    // Recording must be on for doses to be kept; one row per horizon is enough.
    let record = scenario.horizon;
    let runs: Vec<(u64, RunResult)> = match args.rollouts {
        None => vec![(
            1,
            sim::run_deterministic(
                &scenario,
                arm,
                RunOptions {
                    record_every: record,
                    noise: None,
                },
            )?,
        )],
        Some(n) => {
            let settings = RolloutSettings {
                seed: args.seed,
                first: 0,
                count: n,
                keep_trajectories: n,
                record_every: record,
            };
            run_rollouts(&scenario, arm, settings)?
                .trajectories
                .into_iter()
                .map(|(i, r)| (i + 1, r))
                .collect()
        }
    };
    let kinetics: Vec<_> = scenario.drugs.iter().map(|d| d.kinetics).collect();
    let refs: Vec<(u64, &[crate::events::GivenDose])> = runs
        .iter()
        .map(|(id, r)| (*id, r.doses.as_slice()))
        .collect();
    let csv = crate::events::to_csv(&refs, &kinetics);
    let out = args.out.clone().unwrap_or_else(|| {
        let mut file = default_out_dir(&args.scenario);
        file.as_mut_os_string()
            .push(format!("-{}-doses.csv", arm.name));
        file
    });
    crate::outdir::check_file("--out", &out, &[&args.scenario])?;
    report::write_atomic(&out, csv.as_bytes())?;
    let doses: usize = runs.iter().map(|(_, r)| r.doses.len()).sum();
    println!(
        "wrote {doses} doses of arm `{}` ({} run{}) to {}",
        arm.name,
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        out.display()
    );
    Ok(())
}

/// A progress bar on stderr, drawn only when stderr is a terminal and not `--quiet`.
fn progress_bar(total: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>14} [{bar:30}] {pos}/{len} rollouts, {elapsed} elapsed, ~{eta} left",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn compare(args: CompareArgs, quiet: bool) -> Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    crate::limits::record_every(args.record_every, scenario.horizon)?;
    let reference = match &args.reference {
        None => 0,
        Some(name) => scenario
            .arms
            .iter()
            .position(|a| &a.name == name)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--reference: no arm `{name}`; the arms are: {}",
                    scenario.arm_names()
                ))
            })?,
    };
    let shard = match &args.shard {
        Some(text) => Some(crate::shard::Shard::parse(text)?),
        None => crate::shard::Shard::from_slurm()?,
    };
    let out = args.out.clone().unwrap_or_else(|| {
        let mut dir = default_out_dir(&args.scenario);
        dir.as_mut_os_string().push("-compare");
        if let Some(s) = shard {
            dir.push(format!("shard-{}-of-{}", s.index, s.count));
        }
        dir
    });
    run_stochastic(StochasticJob {
        scenario: &scenario,
        arms: scenario.arms.iter().collect(),
        reference,
        rollouts: args.rollouts,
        seed: args.seed,
        trajectories: args.trajectories,
        record_every: args.record_every,
        out,
        quiet,
        command: "compare",
        report: args.report.clone(),
        no_png: args.no_png,
        shard,
    })
}

/// Stochastic rollouts of some arms of a scenario, compared with a reference arm.
struct StochasticJob<'a> {
    scenario: &'a Scenario,
    arms: Vec<&'a crate::scenario::Arm>,
    reference: usize,
    rollouts: u64,
    seed: u64,
    trajectories: u64,
    record_every: f64,
    out: PathBuf,
    quiet: bool,
    command: &'static str,
    report: Option<PathBuf>,
    no_png: bool,
    /// Run only this shard's units (and write no summary).
    shard: Option<crate::shard::Shard>,
}

/// Runs a [`StochasticJob`]: the table on stdout; outcomes.csv, summary.csv, summary.json,
/// manifest.json (and trajectories of the first rollouts, if asked) in the output folder.
fn run_stochastic(job: StochasticJob) -> Result<()> {
    let scenario = job.scenario;
    // Every stochastic command's flags, checked once here before any work.
    crate::limits::rollouts("--rollouts", job.rollouts)?;
    crate::limits::kept_rows(
        job.trajectories.min(job.rollouts),
        job.arms.len(),
        job.record_every,
        scenario.horizon,
    )?;
    crate::limits::rollout_work(
        job.rollouts,
        job.arms.len(),
        scenario.horizon / scenario.stochastic_step,
    )?;
    check_outputs(&job.out, job.report.as_deref(), &[&scenario.source])?;
    let out = &job.out;
    let hash = report::sha256_hex(&scenario.resolved_yaml());
    if let Some(shard) = job.shard
        && crate::shard::already_done(out, shard, &hash, job.seed, job.rollouts)
    {
        println!(
            "shard {}/{} already done in {}; nothing to run",
            shard.index,
            shard.count,
            out.display()
        );
        return Ok(());
    }
    // The run is written into a staging folder and swapped in whole at the end.
    let staged = crate::outdir::Staged::begin(&job.out)?;
    let out = staged.path();
    crate::stop::install_handler();
    // The work: every arm's rollouts, or this shard's units of them.
    let units: Vec<crate::shard::Unit> = match job.shard {
        Some(shard) => crate::shard::units_of(shard, job.arms.len(), job.rollouts),
        None => (0..job.arms.len())
            .map(|arm| crate::shard::Unit {
                id: arm as u64,
                arm,
                first: 0,
                count: job.rollouts,
            })
            .collect(),
    };
    let started = std::time::Instant::now();
    let bar = progress_bar(units.iter().map(|u| u.count).sum(), job.quiet);
    let mut runs: Vec<(&str, ArmRollouts)> = job
        .arms
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                ArmRollouts {
                    rollouts: Vec::new(),
                    trajectories: Vec::new(),
                },
            )
        })
        .collect();
    for unit in &units {
        let arm = job.arms[unit.arm];
        tracing::info!(arm = %arm.name, first = unit.first, rollouts = unit.count, "simulating");
        bar.set_message(arm.name.clone());
        let tick = || bar.inc(1);
        let settings = RolloutSettings {
            seed: job.seed,
            first: unit.first,
            count: unit.count,
            keep_trajectories: job.trajectories.saturating_sub(unit.first).min(unit.count),
            record_every: job.record_every,
        };
        let done = match run_rollouts_with_progress(scenario, arm, settings, &tick) {
            Err(Error::Interrupted(what)) => {
                bar.finish_and_clear();
                return Err(Error::Interrupted(format!(
                    "{what}; no file written: {} keeps its previous contents",
                    job.out.display()
                )));
            }
            other => other?,
        };
        runs[unit.arm].1.rollouts.extend(done.rollouts);
        runs[unit.arm].1.trajectories.extend(done.trajectories);
    }
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    let run_refs: Vec<(&str, &ArmRollouts)> = runs.iter().map(|(n, r)| (*n, r)).collect();
    report::write_atomic(
        &out.join("outcomes.csv"),
        report::rollouts_csv(scenario, &run_refs).as_bytes(),
    )?;
    let mut written = vec!["outcomes.csv"];
    let labelled: Vec<report::LabelledRun> = runs
        .iter()
        .flat_map(|(name, r)| {
            r.trajectories
                .iter()
                .map(move |(i, run)| (*name, Some(*i), run))
        })
        .collect();
    if !labelled.is_empty() {
        report::write_atomic(
            &out.join("trajectory.csv"),
            report::trajectory_csv(scenario, &labelled).as_bytes(),
        )?;
        report::write_atomic(
            &out.join("visits.csv"),
            report::visits_csv(&labelled).as_bytes(),
        )?;
        report::write_atomic(
            &out.join("doses.csv"),
            report::doses_csv(scenario, &labelled).as_bytes(),
        )?;
        written.extend(["trajectory.csv", "visits.csv", "doses.csv"]);
    }
    report::write_atomic(
        &out.join("scenario.yaml"),
        scenario.resolved_yaml().as_bytes(),
    )?;
    written.push("scenario.yaml");
    let reference_name = &job.arms[job.reference].name;
    let mut manifest: serde_json::Value = serde_json::from_str(&report::manifest(
        scenario,
        job.command,
        job.seed,
        job.rollouts,
        reference_name,
        wall,
    ))
    .unwrap_or_default();
    if let Some(shard) = job.shard {
        // A shard: its outcomes and manifest only; `regimen merge` makes the summary.
        manifest["shard"] = serde_json::json!({
            "index": shard.index,
            "count": shard.count,
            "block": crate::shard::BLOCK,
            "units": units.iter().map(|u| u.id).collect::<Vec<_>>(),
            "complete": true,
        });
        write_manifest(out, &manifest)?;
        written.push("manifest.json");
        staged.commit_unless_stopped()?;
        println!(
            "shard {}/{}: {} units ({} rollouts) in {wall:.1} s; wrote {} to {}",
            shard.index,
            shard.count,
            units.len(),
            units.iter().map(|u| u.count).sum::<u64>(),
            written.join(", "),
            job.out.display()
        );
        return Ok(());
    }
    write_manifest(out, &manifest)?;
    written.push("manifest.json");
    summarise_comparison(
        scenario,
        &run_refs,
        job.reference,
        &staged,
        &mut written,
        job.report.as_deref(),
        job.no_png,
        (job.rollouts, job.seed, wall),
    )?;
    staged.commit_unless_stopped()
}

fn merge(args: MergeArgs) -> Result<()> {
    crate::stop::install_handler();
    let manifests: Vec<serde_json::Value> = args
        .dirs
        .iter()
        .map(|d| {
            let path = d.join("manifest.json");
            std::fs::read_to_string(&path)
                .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))
                .and_then(|t| {
                    serde_json::from_str(&t)
                        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
                })
        })
        .collect::<Result<_>>()?;
    if manifests.iter().any(|m| m["shard"].is_null()) {
        return Err(Error::Usage(
            "merge takes the folders of `--shard K/N` runs; one of them is not a shard".to_owned(),
        ));
    }
    // Merging into one of its own shards would destroy that shard.
    let shards: Vec<&Path> = args.dirs.iter().map(PathBuf::as_path).collect();
    check_outputs(&args.out, args.report.as_deref(), &shards)?;
    if manifests.iter().any(|m| m["command"] == "optimise") {
        if manifests.iter().any(|m| m["command"] != "optimise") {
            return Err(Error::Usage(
                "merge: shards of compare and of optimise cannot be mixed".to_owned(),
            ));
        }
        return merge_optimise(&args, &manifests);
    }
    let started = std::time::Instant::now();
    let merged = crate::shard::merge(&args.dirs)?;
    let scenario = &merged.scenario;
    let staged = crate::outdir::Staged::begin(&args.out)?;
    let out = staged.path();
    let run_refs: Vec<(&str, &ArmRollouts)> =
        merged.arms.iter().map(|(n, r)| (n.as_str(), r)).collect();
    report::write_atomic(
        &out.join("outcomes.csv"),
        report::rollouts_csv(scenario, &run_refs).as_bytes(),
    )?;
    let mut written = vec!["outcomes.csv"];
    let names: Vec<String> = merged.arms.iter().map(|(n, _)| n.clone()).collect();
    for name in ["trajectory.csv", "visits.csv", "doses.csv"] {
        if let Some(text) = crate::shard::merge_run_csv(&merged.dirs, name, &names)? {
            report::write_atomic(&out.join(name), text.as_bytes())?;
            written.push(name);
        }
    }
    report::write_atomic(
        &out.join("scenario.yaml"),
        scenario.resolved_yaml().as_bytes(),
    )?;
    written.push("scenario.yaml");
    let mut manifest = merged.manifest.clone();
    if let Some(m) = manifest.as_object_mut() {
        m.remove("shard");
        m.insert(
            "merged_from".to_owned(),
            serde_json::json!(
                merged
                    .dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
            ),
        );
    }
    write_manifest(out, &manifest)?;
    written.push("manifest.json");
    summarise_comparison(
        scenario,
        &run_refs,
        merged.reference,
        &staged,
        &mut written,
        args.report.as_deref(),
        args.no_png,
        (
            merged.rollouts,
            merged.seed,
            started.elapsed().as_secs_f64(),
        ),
    )?;
    staged.commit_unless_stopped()
}

/// manifest.json of a run's folder.
fn write_manifest(out: &std::path::Path, manifest: &serde_json::Value) -> Result<()> {
    report::write_atomic(
        &out.join("manifest.json"),
        serde_json::to_string_pretty(manifest)
            .unwrap_or_default()
            .as_bytes(),
    )
}

/// The summary of a comparison (from one machine or merged shards): summary.csv and .json,
/// the plots and report, and the table on stdout.
#[allow(clippy::too_many_arguments)]
fn summarise_comparison(
    scenario: &Scenario,
    run_refs: &[(&str, &ArmRollouts)],
    reference: usize,
    staged: &crate::outdir::Staged,
    written: &mut Vec<&str>,
    report_file: Option<&std::path::Path>,
    no_png: bool,
    (rollouts, seed, wall): (u64, u64, f64),
) -> Result<()> {
    let out = staged.path();
    let rows = crate::compare::compare(scenario, run_refs, reference);
    report::write_atomic(
        &out.join("summary.csv"),
        report::compare_csv(scenario, &rows).as_bytes(),
    )?;
    let json = serde_json::to_string_pretty(&rows)
        .map_err(|e| Error::Usage(format!("cannot encode summary.json: {e}")))?;
    report::write_atomic(&out.join("summary.json"), json.as_bytes())?;
    // What the numbers alone would hide (also shown in the report).
    let notes = crate::compare::notes(scenario, &rows, run_refs);
    let mut text = notes.join("\n");
    text.push('\n');
    report::write_atomic(&out.join("notes.txt"), text.as_bytes())?;
    written.extend(["summary.csv", "summary.json", "notes.txt"]);
    let report_file = report_file.map(|r| staged.redirect(r));
    let figures = draw(out, report_file.as_deref(), no_png)?;
    println!(
        "{}\n",
        wrap(
            &format!(
                "{} — {} rollouts per arm on the same virtual patients and random numbers, \
                 seed {}, horizon {} {}",
                scenario.spec.name,
                rollouts,
                seed,
                scenario.horizon,
                scenario.spec.time_units.as_str()
            ),
            100
        )
    );
    print!("{}", report::compare_table(scenario, &rows));
    let stops = if scenario.spec.progression.treat_beyond_progression == Some(true) {
        "treatment continues beyond progression"
    } else {
        "treatment stops at progression"
    };
    println!(
        "\nTTP: Kaplan–Meier with 95% CI, censored at the horizon (>{h:.0}: median not reached;\n\
         NR: CI end not reached). RMST: restricted mean TTP up to {h:.0} {u}; ΔRMST: paired\n\
         difference with 95% CI (the headline contrast). HR: Cox hazard ratio of progression with\n\
         95% CI. Cured: tumour extinct within the horizon. Drug columns: mean cumulative dose\n\
         relative to the reference; % on drug: share of the time on treatment\n\
         ({stops}). P(resistance): resistant cells alive at the horizon.\n\
         More columns in summary.csv.",
        h = scenario.horizon,
        u = scenario.spec.time_units.as_str()
    );
    for note in &notes {
        println!("{}", wrap(&format!("note: {note}"), 100));
    }
    println!(
        "wrote {} and {figures} to {} ({wall:.1} s)",
        written.join(", "),
        staged.dir().display()
    );
    Ok(())
}

/// "1 drug", "2 drugs".
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Wraps `text` at word boundaries to lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = "  ".to_owned();
        } else if !line.is_empty() && line != "  " {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}

/// The output folder and report of a run, checked before any work (see [`crate::outdir`]).
fn check_outputs(out: &Path, report: Option<&Path>, inputs: &[&Path]) -> Result<()> {
    crate::outdir::prepare(out, inputs)?;
    if let Some(r) = report {
        let mut all: Vec<PathBuf> = inputs.iter().map(|p| p.to_path_buf()).collect();
        all.extend(crate::outdir::RUN_FILES.iter().map(|f| out.join(f)));
        let refs: Vec<&Path> = all.iter().map(PathBuf::as_path).collect();
        crate::outdir::check_file("--report", r, &refs)?;
    }
    Ok(())
}

/// The horizon of a scenario file (for checking flags before the run).
fn scenario_horizon(path: &Path) -> Result<f64> {
    Ok(Scenario::load(path)?.horizon)
}

fn default_out_dir(scenario: &Path) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".to_owned());
    PathBuf::from("out").join(stem)
}

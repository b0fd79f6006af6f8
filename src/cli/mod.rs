//! The command line: flags in, the library's API called, tables and messages out.

mod args;
mod compare;
mod fit;
mod optimise;
mod print;
mod simulate;

use args::{Cli, Command, EventsArgs, MergeArgs};
use clap::Parser;
use regimen::api::merge::Merged;
use regimen::error::{Error, Result};
use regimen::report::{self, outdir};
use regimen::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    regimen::scenario::ALLOW_OUTSIDE_DATA
        .store(cli.allow_outside_data, std::sync::atomic::Ordering::Relaxed);
    // Ctrl-C and SIGTERM ask the running job to stop at its next safe point.
    let _ = ctrlc::set_handler(regimen::support::stop::request);
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
        Command::Check { scenario } => check(&scenario),
        Command::Schema => {
            print!("{}", regimen::scenario::spec::json_schema());
            Ok(())
        }
        Command::Simulate(args) => simulate::run(args),
        Command::Compare(args) => compare::run(args, quiet),
        Command::Events(args) => export_events(args),
        Command::Fit(args) => fit::run(args, quiet),
        Command::Optimise(args) => optimise::run(args),
        Command::Merge(args) => merge(args, quiet),
        Command::Plot(args) => {
            // Not while a run is writing the folder.
            let _lock = outdir::lock(&args.dir)?;
            let said = print::draw(&args.dir, args.report.as_deref(), args.no_png)?;
            println!("drew {said} of {}", args.dir.display());
            Ok(())
        }
    }
}

fn check(path: &Path) -> Result<()> {
    let s = Scenario::load(path)?;
    print!("{}", s.resolved_yaml());
    eprintln!(
        "{}: valid ({}, {}, {})",
        path.display(),
        print::plural(s.model.n_compartments(), "compartment"),
        print::plural(s.drugs.len(), "drug"),
        print::plural(s.arms.len(), "arm")
    );
    Ok(())
}

fn merge(args: MergeArgs, quiet: bool) -> Result<()> {
    // Merging into one of its own shards would destroy that shard.
    let shards: Vec<&Path> = args.dirs.iter().map(PathBuf::as_path).collect();
    check_outputs(&args.out, args.report.as_deref(), &shards)?;
    let bar = print::ProgressBar::new(quiet, "scorings");
    let merged = regimen::api::merge::merge(&args.dirs, &bar)?;
    let staged = outdir::Staged::begin(&args.out)?;
    let report_file = args.report.as_deref().map(|r| staged.redirect(r));
    match merged {
        Merged::Comparison {
            scenario,
            comparison,
            manifest,
        } => {
            let written = regimen::api::write::merged_comparison(
                &scenario,
                &comparison,
                &manifest,
                &args.dirs,
                staged.path(),
            )?;
            let figures = print::draw(staged.path(), report_file.as_deref(), args.no_png)?;
            print::comparison(&scenario, &comparison);
            print::wrote(
                &written,
                &figures,
                &args.out,
                comparison.rollouts.wall_seconds,
            );
        }
        Merged::Optimisation {
            scenario,
            optimisation,
        } => {
            let written =
                regimen::api::write::optimisation(&scenario, &optimisation, staged.path())?;
            let figures = print::draw(staged.path(), report_file.as_deref(), args.no_png)?;
            print::optimisation(&scenario, &optimisation, &written, &figures, &args.out);
        }
    }
    staged.commit_unless_stopped()
}

fn export_events(args: EventsArgs) -> Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    let arm = match &args.arm {
        Some(name) => scenario.find_arm("--arm", name)?,
        None if scenario.arms.len() == 1 => &scenario.arms[0],
        None => {
            return Err(Error::Usage(format!(
                "name the arm with --arm; the arms are: {}",
                scenario.arm_names()
            )));
        }
    };
    let runs = regimen::api::simulate::given_doses(&scenario, arm, args.rollouts, args.seed)?;
    let kinetics: Vec<_> = scenario.drugs.iter().map(|d| d.kinetics).collect();
    let refs: Vec<(u64, &[regimen::protocol::events::GivenDose])> = runs
        .iter()
        .map(|(id, r)| (*id, r.doses.as_slice()))
        .collect();
    let csv = regimen::protocol::events::to_csv(&refs, &kinetics);
    let out = args.out.clone().unwrap_or_else(|| {
        let mut file = default_out_dir(&args.scenario);
        file.as_mut_os_string()
            .push(format!("-{}-doses.csv", arm.name));
        file
    });
    outdir::check_file("--out", &out, &[&args.scenario])?;
    report::write_atomic(&out, csv.as_bytes())?;
    let doses: usize = runs.iter().map(|(_, r)| r.doses.len()).sum();
    println!(
        "wrote {doses} doses of arm `{}` ({}) to {}",
        arm.name,
        print::plural(runs.len(), "run"),
        out.display()
    );
    Ok(())
}

/// The output folder and report of a run, checked before any work (see [`outdir`]).
fn check_outputs(out: &Path, report: Option<&Path>, inputs: &[&Path]) -> Result<()> {
    outdir::prepare(out, inputs)?;
    if let Some(r) = report {
        let mut all: Vec<PathBuf> = inputs.iter().map(|p| p.to_path_buf()).collect();
        all.extend(outdir::RUN_FILES.iter().map(|f| out.join(f)));
        let refs: Vec<&Path> = all.iter().map(PathBuf::as_path).collect();
        outdir::check_file("--report", r, &refs)?;
    }
    Ok(())
}

/// `out/<scenario file stem>`.
fn default_out_dir(scenario: &Path) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".to_owned());
    PathBuf::from("out").join(stem)
}

/// The default folder of a command's run: `out/<stem><suffix>`, and for a shard
/// `shard-K-of-N` inside it.
fn run_dir(scenario: &Path, suffix: &str, shard: Option<regimen::api::shard::Shard>) -> PathBuf {
    let mut dir = default_out_dir(scenario);
    dir.as_mut_os_string().push(suffix);
    if let Some(s) = shard {
        dir.push(format!("shard-{}-of-{}", s.index, s.count));
    }
    dir
}

/// A stopped job's message, with what happened to its folder.
fn kept(e: Error, out: &Path) -> Error {
    match e {
        Error::Interrupted(what) => Error::Interrupted(format!(
            "{what}; no file written: {} keeps its previous contents",
            out.display()
        )),
        other => other,
    }
}

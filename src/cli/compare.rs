//! `regimen compare` (and `simulate --rollouts`): every arm on the same rollouts, the table
//! on stdout, the files in the output folder; or one shard of the work for `merge`.

use super::args::CompareArgs;
use super::{check_outputs, kept, print, run_dir};
use regimen::api::{self, CompareOptions, shard::Shard};
use regimen::error::Result;
use regimen::report::outdir::Staged;
use regimen::scenario::Scenario;
use std::path::PathBuf;

/// Where a stochastic run writes, and how.
pub struct Job {
    pub out: PathBuf,
    pub report: Option<PathBuf>,
    pub no_png: bool,
    pub quiet: bool,
    /// The command named in the manifest.
    pub command: &'static str,
}

pub fn run(args: CompareArgs, quiet: bool) -> Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    let shard = match args.shard {
        Some(s) => Some(s),
        None => Shard::from_slurm()?,
    };
    let options = CompareOptions {
        rollouts: args.rollouts,
        seed: args.seed,
        reference: args.reference.clone(),
        arms: None,
        trajectories: args.trajectories,
        record_every: args.record_every,
        shard,
    };
    let job = Job {
        out: args
            .out
            .clone()
            .unwrap_or_else(|| run_dir(&args.scenario, "-compare", shard)),
        report: args.report.clone(),
        no_png: args.no_png,
        quiet,
        command: "compare",
    };
    run_job(&scenario, &options, &job)
}

/// Runs the rollouts into `job.out`: a whole comparison, or one shard of it.
pub fn run_job(scenario: &Scenario, options: &CompareOptions, job: &Job) -> Result<()> {
    api::compare::check(scenario, options)?;
    check_outputs(&job.out, job.report.as_deref(), &[&scenario.source])?;
    if let Some(shard) = options.shard
        && api::shard::already_done(
            &job.out,
            shard,
            &scenario.sha256(),
            options.seed,
            options.rollouts,
        )
    {
        println!(
            "shard {}/{} already done in {}; nothing to run",
            shard.index,
            shard.count,
            job.out.display()
        );
        return Ok(());
    }
    // The run is written into a staging folder and swapped in whole at the end.
    let staged = Staged::begin(&job.out)?;
    let bar = print::ProgressBar::new(job.quiet, "rollouts");
    let rollouts = api::run_rollouts(scenario, options, &bar).map_err(|e| kept(e, &job.out))?;
    if let Some(shard) = rollouts.shard {
        // A shard: its outcomes and manifest only; `regimen merge` makes the summary.
        let written = api::write::rollouts_shard(scenario, &rollouts, job.command, staged.path())?;
        staged.commit_unless_stopped()?;
        println!(
            "shard {}/{}: {} units ({} rollouts) in {:.1} s; wrote {} to {}",
            shard.index,
            shard.count,
            rollouts.units.len(),
            rollouts.units.iter().map(|u| u.count).sum::<u64>(),
            rollouts.wall_seconds,
            written.join(", "),
            job.out.display()
        );
        return Ok(());
    }
    let comparison = api::Comparison::new(scenario, rollouts);
    let written = api::write::comparison(scenario, &comparison, job.command, staged.path())?;
    let report_file = job.report.as_deref().map(|r| staged.redirect(r));
    let figures = print::draw(staged.path(), report_file.as_deref(), job.no_png)?;
    print::comparison(scenario, &comparison);
    print::wrote(
        &written,
        &figures,
        &job.out,
        comparison.rollouts.wall_seconds,
    );
    staged.commit_unless_stopped()
}

//! `regimen simulate`: the deterministic run of every arm (or one), or with `--rollouts`
//! stochastic rollouts summarised as `compare` does.

use super::args::SimulateArgs;
use super::{check_outputs, compare, default_out_dir, kept, print};
use regimen::api::{self, CompareOptions, SimulateOptions};
use regimen::error::Result;
use regimen::report::outdir::Staged;
use regimen::scenario::Scenario;

pub fn run(args: SimulateArgs) -> Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&args.scenario));
    if let Some(n) = args.rollouts {
        let options = CompareOptions {
            rollouts: n,
            seed: args.seed,
            reference: None,
            arms: args.arm.clone().map(|a| vec![a]),
            trajectories: args.trajectories,
            record_every: args.record_every,
            shard: None,
        };
        let job = compare::Job {
            out,
            report: args.report.clone(),
            no_png: args.no_png,
            quiet: false,
            command: "simulate --rollouts",
        };
        return compare::run_job(&scenario, &options, &job);
    }
    let options = SimulateOptions {
        arm: args.arm.clone(),
        record_every: args.record_every,
        noise_seed: args.noise_seed,
    };
    // The arm name and recording interval are checked before the folder is touched.
    if let Some(name) = &options.arm {
        scenario.find_arm("--arm", name)?;
    }
    regimen::support::limits::record_every(options.record_every, scenario.horizon)?;
    check_outputs(&out, args.report.as_deref(), &[&args.scenario])?;
    let simulation = api::simulate(&scenario, &options).map_err(|e| kept(e, &out))?;
    // Written into a staging folder, swapped in whole at the end.
    let staged = Staged::begin(&out)?;
    let written = api::write::simulation(&scenario, &simulation, staged.path())?;
    let report_file = args.report.as_deref().map(|r| staged.redirect(r));
    let figures = print::draw(staged.path(), report_file.as_deref(), args.no_png)?;
    print::simulation(&scenario, &simulation);
    staged.commit_unless_stopped()?;
    println!(
        "\nwrote {} and {figures} to {}",
        written.join(", "),
        out.display()
    );
    Ok(())
}

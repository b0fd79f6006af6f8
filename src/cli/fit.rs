//! `regimen fit`: the scenario's model fitted to each subject of a dataset.

use super::args::FitArgs;
use super::{check_outputs, default_out_dir, kept, print};
use regimen::api::{self, FitOptions};
use regimen::error::Result;
use regimen::report::outdir::Staged;
use regimen::scenario::Scenario;

pub fn run(args: FitArgs, quiet: bool) -> Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    if args.targets {
        return calibrate(&args, &scenario, quiet);
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let mut dir = default_out_dir(&args.scenario);
        dir.as_mut_os_string().push("-fit");
        dir
    });
    let options = FitOptions {
        data: args.data.clone(),
        until: args.fit_until,
        cycles: args.cycles,
        starts: args.starts,
        error: args.error.map(Into::into),
        free: (!args.free.is_empty()).then(|| args.free.clone()),
        profiles: args.no_profiles.then_some(false),
    };
    let mut inputs = vec![args.scenario.as_path()];
    if let Some(d) = &args.data {
        inputs.push(d.as_path());
    }
    check_outputs(&out, args.report.as_deref(), &inputs)?;
    let bar = print::ProgressBar::new(quiet, "subjects");
    let fitted = api::fit(&scenario, &options, &bar).map_err(|e| kept(e, &out))?;
    let staged = Staged::begin(&out)?;
    let written = api::write::fitted(&fitted, staged.path())?;
    let report_file = args.report.as_deref().map(|r| staged.redirect(r));
    let figures = print::draw(staged.path(), report_file.as_deref(), args.no_png)?;
    print!("{}", api::text::fitted(&fitted));
    staged.commit_unless_stopped()?;
    let shown: Vec<&str> = written
        .iter()
        .filter(|w| !w.starts_with("subjects/"))
        .map(String::as_str)
        .collect();
    println!(
        "\nwrote {}, subjects/ ({} scenarios) and {figures} to {}",
        shown.join(", "),
        fitted.subjects.len(),
        out.display()
    );
    Ok(())
}

/// `regimen fit --targets`: the population calibrated to a trial's published statistics.
fn calibrate(args: &FitArgs, scenario: &Scenario, quiet: bool) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| {
        let mut dir = default_out_dir(&args.scenario);
        dir.as_mut_os_string().push("-calibration");
        dir
    });
    let options = api::CalibrateOptions {
        rollouts: args.rollouts,
        budget: args.budget,
        seed: args.seed,
    };
    check_outputs(&out, args.report.as_deref(), &[args.scenario.as_path()])?;
    let bar = print::ProgressBar::new(quiet, "evaluations");
    let done = api::calibrate(scenario, &options, &bar).map_err(|e| kept(e, &out))?;
    let staged = Staged::begin(&out)?;
    let written = api::write::calibrated(&done, staged.path())?;
    let report_file = args.report.as_deref().map(|r| staged.redirect(r));
    let figures = print::draw(staged.path(), report_file.as_deref(), args.no_png)?;
    print!("{}", api::text::calibrated(&done));
    staged.commit_unless_stopped()?;
    let shown: Vec<&str> = written.iter().map(String::as_str).collect();
    print::wrote(&shown, &figures, &out, done.wall_seconds);
    Ok(())
}

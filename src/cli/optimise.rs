//! `regimen optimise`: flags into options, the run journalled in its output folder so a
//! stopped run can be resumed, the leaderboard printed.

use super::args::OptimiseArgs;
use super::{check_outputs, print, run_dir};
use regimen::api::optimise::{self as api_optimise, OptimiseOptions};
use regimen::api::shard::Shard;
use regimen::error::{Error, Result};
use regimen::report::outdir::Staged;
use regimen::scenario::Scenario;
use regimen::search::checkpoint::Journal;
use regimen::search::config::{Overrides, Plan};
use std::path::{Path, PathBuf};

fn positive(flag: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{flag} must be a positive number, got {v}"
        )))
    }
}

/// The flags as options, each checked by the rule of the `optimise:` block's field.
fn options(args: &OptimiseArgs) -> Result<OptimiseOptions> {
    for (flag, v) in [("--rollouts", args.rollouts), ("--holdout", args.holdout)] {
        if let Some(n) = v {
            regimen::support::limits::rollouts(flag, n)?;
        }
    }
    if let Some(n) = args.budget_evals {
        regimen::support::limits::budget_evals(n)?;
    }
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
    if let Some(t) = args.time_limit {
        positive("--time-limit", t)?;
    }
    Ok(OptimiseOptions {
        seed: args.seed,
        overrides: Overrides {
            objective: args.objective,
            rollouts: args.rollouts,
            holdout: args.holdout,
            budget_evals: args.budget_evals,
            max_relative_dose: args.max_relative_dose,
            families: args
                .families
                .as_ref()
                .map(|f| f.iter().map(|&x| x.into()).collect()),
            solver: args.solver.map(Into::into),
            racing: args.no_racing.then_some(false),
            pareto: args.pareto.clone(),
            sensitivity: args.no_sensitivity.then_some(false),
        },
        time_limit: args
            .time_limit
            .map(|t| std::time::Duration::from_secs_f64(t.min(1.0e9))),
    })
}

/// The output folder: `--resume DIR`, `--out DIR` or the default.
fn out_dir(args: &OptimiseArgs, shard: Option<Shard>) -> Result<PathBuf> {
    match (&args.resume, &args.out) {
        (Some(r), Some(o)) if r != o => Err(Error::Usage(
            "--resume DIR continues in DIR; leave out --out or give the same folder".to_owned(),
        )),
        (Some(r), _) => Ok(r.clone()),
        (None, Some(o)) => Ok(o.clone()),
        (None, None) => Ok(run_dir(&args.scenario, "-optimise", shard)),
    }
}

pub fn run(args: OptimiseArgs) -> Result<()> {
    let options = options(&args)?;
    let scenario = Scenario::load(&args.scenario)?;
    let plan = api_optimise::plan(&scenario, &options)?;
    let shard = match args.shard {
        Some(s) => Some(s),
        None => Shard::from_slurm()?,
    };
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let out = out_dir(&args, shard)?;
    check_outputs(&out, args.report.as_deref(), &[&args.scenario])?;
    if let Some(s) = shard
        && args.resume.is_none()
        && regimen::api::shard::already_done(&out, s, &scenario.sha256(), plan.seed, plan.rollouts)
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
    let staged = Staged::begin(&out)?;
    let journal = open_journal(
        &args,
        &staged,
        &out,
        api_optimise::fingerprint(&scenario, &plan),
    )?;
    let run = Run {
        args: &args,
        scenario: &scenario,
        staged,
        journal: &journal,
        out: &out,
    };
    match shard {
        Some(shard) => run.shard(plan, &options, shard),
        None => run.whole(plan),
    }
}

/// The journal of the run: new, or the stopped run's when resuming.
fn open_journal(
    args: &OptimiseArgs,
    staged: &Staged,
    out: &Path,
    fingerprint: String,
) -> Result<Journal> {
    let path = staged.journal_path();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let (every, stop_after) = (args.checkpoint_every, args.stop_after_evaluations);
    if args.resume.is_none() {
        return Ok(Journal::new(&path, fingerprint, every, stop_after));
    }
    // A killed run's live journal is newer than the folder's copy.
    let source = if path.is_file() {
        path.clone()
    } else {
        out.join("checkpoint.json")
    };
    let journal = Journal::resume(&source, &path, fingerprint, every, stop_after)?;
    eprintln!(
        "resuming: {} evaluations from {}",
        journal.len(),
        source.display()
    );
    Ok(journal)
}

/// An optimisation run into its (staged) output folder.
struct Run<'a> {
    args: &'a OptimiseArgs,
    scenario: &'a Scenario,
    staged: Staged,
    journal: &'a Journal,
    /// The folder as the user named it.
    out: &'a Path,
}

impl Run<'_> {
    /// The journal's copy goes into the folder with whatever the run commits.
    fn keep_journal(&self) -> Result<()> {
        let live = self.staged.journal_path();
        if live.is_file() {
            let copy = self.staged.path().join("checkpoint.json");
            std::fs::copy(&live, &copy).map_err(|source| Error::Write { path: copy, source })?;
        }
        Ok(())
    }

    /// "continue with regimen optimise SCENARIO --resume DIR (and the same flags)".
    fn resume_hint(&self) -> String {
        format!(
            "continue with regimen optimise {} --resume {} (and the same flags)",
            self.args.scenario.display(),
            self.out.display()
        )
    }

    fn shard(self, plan: Plan, options: &OptimiseOptions, shard: Shard) -> Result<()> {
        let bar = print::ProgressBar::new(self.args.quiet, "evaluations");
        let search =
            api_optimise::search_shard(self.scenario, &plan, shard, &bar, Some(self.journal));
        // Done or stopped, the folder takes the shard's files (or its journal) whole.
        let search = match search {
            Ok(s) if !s.searched.interrupted => s,
            other => {
                self.journal.save()?;
                let said = format!(
                    "wrote {}; {}",
                    self.out.join("checkpoint.json").display(),
                    self.resume_hint()
                );
                if other.is_ok() || regimen::support::stop::requested() {
                    self.keep_journal()?;
                    self.staged.commit()?;
                }
                other?;
                return Err(Error::Interrupted(said));
            }
        };
        self.journal.save()?;
        let manifest = api_optimise::shard_manifest(self.scenario, &plan, options, shard, &search);
        let written = regimen::api::write::optimisation_shard(
            self.scenario,
            &search,
            &manifest,
            self.staged.path(),
        )?;
        self.keep_journal()?;
        self.staged.commit()?;
        println!(
            "optimise shard {}/{}: {} of {} search units, {} evaluations; wrote {} to {}",
            shard.index,
            shard.count,
            search.units.len(),
            regimen::search::leaderboard::unit_count(&plan),
            search.searched.trace.len(),
            written.join(", "),
            self.out.display()
        );
        Ok(())
    }

    fn whole(self, plan: Plan) -> Result<()> {
        let bar = print::ProgressBar::new(self.args.quiet, "evaluations");
        let run = match api_optimise::optimise_plan(self.scenario, plan, &bar, Some(self.journal)) {
            Err(Error::Interrupted(what)) => {
                // The searches are journalled: a resume replays them and scores again.
                self.journal.save()?;
                return Err(Error::Interrupted(format!(
                    "{what}; {} keeps its previous contents and the {} evaluations of the \
                     searches are in {}: {}",
                    self.out.display(),
                    self.journal.len(),
                    self.staged.journal_path().display(),
                    self.resume_hint()
                )));
            }
            other => other?,
        };
        self.journal.save()?;
        self.keep_journal()?;
        if run.board.interrupted {
            return self.stopped_searching(&run);
        }
        let written = regimen::api::write::optimisation(self.scenario, &run, self.staged.path())?;
        let mut written = written;
        if self.staged.path().join("checkpoint.json").is_file() {
            written.push("checkpoint.json");
        }
        let report_file = self.args.report.as_deref().map(|r| self.staged.redirect(r));
        let figures = print::draw(self.staged.path(), report_file.as_deref(), self.args.no_png)?;
        print::optimisation(self.scenario, &run, &written, &figures, self.out);
        self.staged.commit()
    }

    /// A stop during the searches: the trace so far and the journal go into the folder.
    fn stopped_searching(self, run: &regimen::api::Optimisation) -> Result<()> {
        regimen::report::write_atomic(
            &self.staged.path().join("trace.csv"),
            regimen::search::output::trace_csv(&run.board).as_bytes(),
        )?;
        let hint = self.resume_hint();
        self.staged.commit()?;
        // Complete evaluations ran the most rollouts (at every point of a robust score).
        let full = run.board.trace.iter().map(|r| r.evaluation.rollouts).max();
        let best = run
            .board
            .trace
            .iter()
            .filter(|r| Some(r.evaluation.rollouts) == full)
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
        Err(Error::Interrupted(format!(
            "after {} evaluations; {best_text}. Wrote {} and trace.csv to {}; {}",
            self.journal.len(),
            self.out.join("checkpoint.json").display(),
            self.out.display(),
            hint
        )))
    }
}

//! What the command line prints: progress bars, tables with their legends, notes.

use regimen::api::text;
use regimen::api::{Comparison, Optimisation, Progress};
use regimen::error::Result;
use regimen::scenario::Scenario;
use std::path::Path;

/// A progress bar on stderr, drawn only when stderr is a terminal and not `--quiet`.
pub struct ProgressBar {
    bar: indicatif::ProgressBar,
    unit: &'static str,
}

impl ProgressBar {
    /// A bar counting `unit` ("rollouts", "evaluations").
    pub fn new(quiet: bool, unit: &'static str) -> ProgressBar {
        let bar = if quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr())
        };
        ProgressBar { bar, unit }
    }
}

impl Progress for ProgressBar {
    fn begin(&self, total: u64) {
        self.bar.set_length(total);
        let template = format!(
            "{{msg:>14}} [{{bar:30}}] {{pos}}/{{len}} {}, {{elapsed}} elapsed, ~{{eta}} left",
            self.unit
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
    }
    fn label(&self, what: &str) {
        self.bar.set_message(what.to_owned());
    }
    fn step(&self) {
        self.bar.inc(1);
    }
    fn end(&self) {
        self.bar.finish_and_clear();
    }
}

/// Draws the folder's plots (and the report, if asked); says what was drawn.
pub fn draw(out: &Path, report: Option<&Path>, no_png: bool) -> Result<String> {
    let names = regimen::plot::render_folder(out, report, !no_png)?;
    let mut said = format!("{} in plots/", plural(names.len(), "plot"));
    if let Some(r) = report {
        said.push_str(&format!(" (report: {})", r.display()));
    }
    Ok(said)
}

/// "1 drug", "2 drugs".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// "wrote a, b and N plots in plots/ to DIR (S s)".
pub fn wrote(written: &[&str], figures: &str, dir: &Path, wall: f64) {
    println!(
        "wrote {} and {figures} to {} ({wall:.1} s)",
        written.join(", "),
        dir.display()
    );
}

/// The deterministic runs' table and its legend.
pub fn simulation(scenario: &Scenario, run: &regimen::api::Simulation) {
    print!("{}", text::simulation(scenario, run));
}

/// A comparison's heading, tables, legend and notes.
pub fn comparison(scenario: &Scenario, comparison: &Comparison) {
    print!("{}", text::comparison(scenario, comparison));
}

/// An optimisation's heading, leaderboard, notes and what was written.
pub fn optimisation(
    scenario: &Scenario,
    run: &Optimisation,
    written: &[&str],
    figures: &str,
    dir: &Path,
) {
    print!("{}", text::optimisation(scenario, run));
    let board = &run.board;
    let holdout_run: u64 = board.entries.iter().map(|e| e.holdout_rollouts).sum();
    println!(
        "\n{} evaluations in {:.1} s.\nrollouts: {} tuning ({} without racing), {} hold-out ({} \
         without racing).\nwrote {} and {figures} to {}",
        board.trace.len(),
        run.wall_seconds,
        board.rollouts_run,
        board.rollouts_without_racing,
        holdout_run,
        board.entries.len() as u64 * run.plan.holdout,
        written.join(", "),
        dir.display()
    );
}

//! What the command line prints: progress bars, tables with their legends, notes.

use regimen::api::{Comparison, Optimisation, Progress};
use regimen::error::Result;
use regimen::report;
use regimen::scenario::Scenario;
use regimen::search::output;
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

/// Wraps `text` at word boundaries to lines of at most `width` characters.
pub fn wrap(text: &str, width: usize) -> String {
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

/// "wrote a, b and N plots in plots/ to DIR (S s)".
pub fn wrote(written: &[&str], figures: &str, dir: &Path, wall: f64) {
    println!(
        "wrote {} and {figures} to {} ({wall:.1} s)",
        written.join(", "),
        dir.display()
    );
}

fn stops(scenario: &Scenario) -> &'static str {
    if scenario.treats_beyond_progression() {
        "treatment continues beyond progression"
    } else {
        "treatment stops at progression"
    }
}

/// The deterministic runs' table and its legend.
pub fn simulation(scenario: &Scenario, run: &regimen::api::Simulation) {
    let refs: Vec<(&str, &regimen::sim::RunResult)> =
        run.runs.iter().map(|(n, r)| (n.as_str(), r)).collect();
    println!(
        "{} — deterministic evaluation, horizon {} {}\n",
        scenario.spec.name,
        scenario.horizon,
        scenario.spec.time_units.as_str()
    );
    print!("{}", report::summary_table(scenario, &refs));
    println!(
        "\nTimes in {}. TTP: time to progression (>: none by the horizon, censored).\n\
         Resistant >50%: when resistant cells became the majority. Treated: time on treatment\n\
         ({}); doses and % on drug count that time.",
        scenario.spec.time_units.as_str(),
        stops(scenario)
    );
}

/// A comparison's heading, tables, legend and notes.
pub fn comparison(scenario: &Scenario, comparison: &Comparison) {
    let run = &comparison.rollouts;
    let heading = format!(
        "{} — {} rollouts per arm on the same virtual patients and random numbers, seed {}, \
         horizon {} {}",
        scenario.spec.name,
        run.rollouts,
        run.seed,
        scenario.horizon,
        scenario.spec.time_units.as_str()
    );
    println!("{}\n", wrap(&heading, 100));
    print!("{}", report::compare_table(scenario, &comparison.rows));
    println!(
        "\nTTP: Kaplan–Meier with 95% CI, censored at the horizon (>{h:.0}: median not reached;\n\
         NR: CI end not reached). RMST: restricted mean TTP up to {h:.0} {u}; ΔRMST: paired\n\
         difference with 95% CI (the headline contrast). HR: Cox hazard ratio of progression with\n\
         95% CI. Cured: tumour extinct within the horizon. Drug columns: mean cumulative dose\n\
         relative to the reference; % on drug: share of the time on treatment\n\
         ({stops}). P(resistance): resistant cells alive at the horizon.\n\
         More columns in summary.csv.",
        h = scenario.horizon,
        u = scenario.spec.time_units.as_str(),
        stops = stops(scenario)
    );
    for note in &comparison.notes {
        println!("{}", wrap(&format!("note: {note}"), 100));
    }
}

/// An optimisation's heading, leaderboard, notes and what was written.
pub fn optimisation(
    scenario: &Scenario,
    run: &Optimisation,
    written: &[&str],
    figures: &str,
    dir: &Path,
) {
    let (board, plan) = (&run.board, &run.plan);
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
        "\n{} evaluations ({} tuning rollouts; {} without racing) in {:.1} s.\nwrote {} and {figures} to {}",
        board.trace.len(),
        board.rollouts_run,
        board.rollouts_without_racing,
        run.wall_seconds,
        written.join(", "),
        dir.display()
    );
}

//! The text a front-end shows for a result: headings, tables within 100 columns, legends
//! and notes. The command line prints it; the Python package returns it from `str()`.

use super::{Comparison, Optimisation, Simulation};
use crate::report;
use crate::scenario::Scenario;
use crate::search::output;
use std::fmt::Write;

/// Wraps `text` at word boundaries to lines of at most `width` characters; continuation
/// lines are indented by two spaces.
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

fn stops(scenario: &Scenario) -> &'static str {
    if scenario.treats_beyond_progression() {
        "treatment continues beyond progression"
    } else {
        "treatment stops at progression"
    }
}

/// The deterministic runs' heading, table and legend.
pub fn simulation(scenario: &Scenario, run: &Simulation) -> String {
    let refs: Vec<(&str, &crate::sim::RunResult)> =
        run.runs.iter().map(|(n, r)| (n.as_str(), r)).collect();
    let mut out = format!(
        "{} — deterministic evaluation, horizon {} {}\n\n",
        scenario.name,
        scenario.horizon,
        scenario.time_units.as_str()
    );
    out.push_str(&report::summary_table(scenario, &refs));
    let _ = writeln!(
        out,
        "\nTimes in {}. TTP: time to progression (>: none by the horizon, censored).\n\
         Resistant >50%: when resistant cells became the majority. Treated: time on treatment\n\
         ({}); doses and % on drug count that time.",
        scenario.time_units.as_str(),
        stops(scenario)
    );
    out
}

/// A comparison's heading, tables, legend and notes.
pub fn comparison(scenario: &Scenario, comparison: &Comparison) -> String {
    let run = &comparison.rollouts;
    let heading = format!(
        "{} — {} rollouts per arm on the same virtual patients and random numbers, seed {}, \
         horizon {} {}",
        scenario.name,
        run.rollouts,
        run.seed,
        scenario.horizon,
        scenario.time_units.as_str()
    );
    let mut out = format!("{}\n\n", wrap(&heading, 100));
    out.push_str(&report::compare_table(scenario, &comparison.rows));
    let _ = writeln!(
        out,
        "\nTTP: Kaplan–Meier with 95% CI, censored at the horizon (>{h:.0}: median not reached;\n\
         NR: CI end not reached). RMST: restricted mean TTP up to {h:.0} {u}; ΔRMST: paired\n\
         difference with 95% CI (the headline contrast). HR: Cox hazard ratio of progression with\n\
         95% CI. Cured: tumour extinct within the horizon. Drug columns: mean cumulative dose\n\
         relative to the reference; % on drug: share of the time on treatment\n\
         ({stops}). P(resistance): resistant cells alive at the horizon.\n\
         More columns in summary.csv.",
        h = scenario.horizon,
        u = scenario.time_units.as_str(),
        stops = stops(scenario)
    );
    for note in &comparison.notes {
        let _ = writeln!(out, "{}", wrap(&format!("note: {note}"), 100));
    }
    out
}

/// An optimisation's heading, leaderboard and notes.
pub fn optimisation(scenario: &Scenario, run: &Optimisation) -> String {
    let (board, plan) = (&run.board, &run.plan);
    let units = scenario.time_units.as_str();
    let heading = format!(
        "{} — search: {} distinct schedules per family on {} rollouts (seed {}, {}{}); \
         hold-out: {} rollouts (seed {}); times in {units}",
        scenario.name,
        plan.budget_per_family,
        plan.rollouts,
        plan.seed,
        plan.solver.as_str(),
        if plan.racing { ", racing" } else { "" },
        plan.holdout,
        board.holdout_seed
    );
    let mut out = format!("{}\n\n", wrap(&heading, 100));
    out.push_str(&output::table(board, plan));
    if let Some(note) = output::saturation_note(board, plan.objective, scenario.horizon) {
        let _ = writeln!(out, "\n{}", wrap(&format!("note: {note}"), 100));
    }
    if board.timed_out {
        out.push_str("\nstopped by --time-limit: the leaderboard holds the best found so far.\n");
    }
    out
}

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
    if let Some(note) = output::robust_note(board, plan) {
        let _ = writeln!(out, "\n{}", wrap(&note, 100));
    }
    if let Some(note) = output::sensitivity_note(board, plan) {
        let _ = writeln!(out, "\n{}", wrap(&note, 100));
    }
    if let Some(note) = output::saturation_note(board, plan.objective, scenario.horizon) {
        let _ = writeln!(out, "\n{}", wrap(&format!("note: {note}"), 100));
    }
    if board.timed_out {
        out.push_str("\nstopped by --time-limit: the leaderboard holds the best found so far.\n");
    }
    out
}

/// A number in at most four significant digits, for tables.
fn short(x: f64) -> String {
    if !x.is_finite() {
        return "—".to_owned();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{x:.2e}")
    } else {
        let digits = if a >= 100.0 {
            0
        } else if a >= 1.0 {
            2
        } else {
            4
        };
        format!("{x:.digits$}")
    }
}

/// A fit's heading, per-subject table (estimate and 95 % profile interval of each free
/// parameter), population summary and forecast summary.
pub fn fitted(run: &super::fit::Fitted) -> String {
    let settings = &run.settings;
    let mut out = format!(
        "{} — fit of {} subjects from {} ({} error{}{})\n\n",
        run.scenario.name,
        run.subjects.len(),
        run.data_file.display(),
        settings.error.name(),
        if settings.free.iter().any(|f| f.prior.is_some()) {
            ", MAP with priors"
        } else {
            ""
        },
        match (settings.until, settings.cycles) {
            (Some(u), _) => format!(", fitted up to {u} {}", run.scenario.time_units.as_str()),
            (None, Some(k)) => format!(", fitted on the first {k} cycles"),
            _ => String::new(),
        }
    );
    for note in &run.notes {
        let _ = writeln!(out, "{}", wrap(&format!("note: {note}"), 100));
    }
    if !run.notes.is_empty() {
        out.push('\n');
    }
    for (j, free) in settings.free.iter().enumerate() {
        let _ = writeln!(out, "p{}: {}", j + 1, free.path);
    }
    out.push('\n');
    out.push_str(&subjects_table(run));
    out.push_str(&parameter_summary(run));
    let flag = if settings.profiles {
        "*: not identifiable from these data (the profile stays within χ²₁(95%) of its\n\
         minimum up to a bound of the search); †: on a bound of the search. Estimates, SEs and\n\
         profile intervals per subject are in estimates.csv."
    } else {
        "*: not identifiable from these data as far as the standard error says (none, or\n\
         larger than the estimate; without profiles: --no-profiles); †: on a bound of the\n\
         search. Estimates and SEs per subject are in estimates.csv."
    };
    let _ = writeln!(
        out,
        "\n{flag}\n-2LL: −2 ln likelihood at the estimate; R² on the marker over quantified \
         measurements."
    );
    out.push_str(&population_and_forecast(run));
    let _ = writeln!(
        out,
        "\n{} model runs in {:.1} s.",
        run.evaluations(),
        run.wall_seconds
    );
    out
}

/// One row per subject: its measurements, −2 ln L, R² and each free parameter's estimate
/// (marked when not identifiable or on a bound).
fn subjects_table(run: &super::fit::Fitted) -> String {
    let settings = &run.settings;
    let mut out = String::new();
    // Estimates only, so the table keeps within 100 columns for up to five parameters; the
    // intervals are in estimates.csv and summarised per parameter below.
    let n_free = settings.free.len();
    let mut header = format!(
        "{:<12} {:>4} {:>4} {:>10} {:>6}",
        "subject", "obs", "BLQ", "-2LL", "R²"
    );
    for j in 0..n_free {
        let _ = write!(header, " {:>11}", format!("p{}", j + 1));
    }
    let _ = writeln!(out, "{header}");
    for s in &run.subjects {
        let id: String = s.id.chars().take(12).collect();
        let _ = write!(
            out,
            "{:<12} {:>4} {:>4} {:>10.2} {:>6}",
            id,
            s.n_fitted,
            s.n_censored,
            s.neg2ll,
            short(s.r2)
        );
        for p in s.parameters.iter().take(n_free) {
            let flags = format!(
                "{}{}",
                if p.identifiable { "" } else { "*" },
                if p.at_bound { "†" } else { "" }
            );
            let _ = write!(out, " {:>11}", format!("{}{flags}", short(p.value)));
        }
        out.push('\n');
    }
    out
}

/// Per free parameter: how often it is identifiable and how wide its intervals are.
fn parameter_summary(run: &super::fit::Fitted) -> String {
    let settings = &run.settings;
    let n_free = settings.free.len();
    let mut out = String::new();
    out.push('\n');
    for j in 0..n_free {
        let ps: Vec<&crate::fit::ParameterEstimate> =
            run.subjects.iter().map(|s| &s.parameters[j]).collect();
        let identifiable = ps.iter().filter(|p| p.identifiable).count();
        let widths = ps
            .iter()
            .filter(|p| p.identifiable && p.value != 0.0)
            .filter_map(|p| {
                if settings.profiles {
                    Some((p.ci.1? - p.ci.0?) / (2.0 * p.value.abs()))
                } else {
                    Some(1.96 * p.se / p.value.abs()).filter(|w| w.is_finite())
                }
            });
        let width = crate::stats::middle(widths)
            .map_or_else(|| "—".to_owned(), |w| format!("±{:.1} %", 100.0 * w));
        let _ = writeln!(
            out,
            "p{}: identifiable in {identifiable} of {}; median 95 % {} {width} of the estimate",
            j + 1,
            ps.len(),
            if settings.profiles {
                "profile interval"
            } else {
                "interval (1.96 SE)"
            }
        );
    }
    out
}

/// The two-stage population and, with data held back, how the forecasts went.
fn population_and_forecast(run: &super::fit::Fitted) -> String {
    let mut out = String::new();
    out.push_str("\nPopulation (two-stage: log-normal over identifiable estimates)\n");
    for p in &run.population.parameters {
        let _ = writeln!(
            out,
            "  {:<52} median {:>10}  CV {:>6}  ({})",
            p.path,
            short(p.median),
            if p.subjects >= 2 {
                format!("{:.0}%", 100.0 * p.cv)
            } else {
                "—".to_owned()
            },
            if p.subjects == 1 {
                "1 subject".to_owned()
            } else {
                format!("{} subjects", p.subjects)
            }
        );
    }
    let forecasts: Vec<_> = run.subjects.iter().filter_map(|s| s.forecast).collect();
    if !forecasts.is_empty() {
        let judged: Vec<_> = forecasts
            .iter()
            .filter(|f| !f.progressed_while_fitted)
            .collect();
        let agree = judged.iter().filter(|f| f.progression_agrees()).count();
        let rmse = crate::stats::middle(forecasts.iter().map(|f| f.rmse_log));
        let _ = writeln!(
            out,
            "\nForecast of the data held back: median RMSE of ln(observed/predicted) {}; \
             progression predicted right (both or neither, within three visits) for {agree} \
             of {} subjects ({} progressed while fitted and are not counted).",
            rmse.map_or_else(|| "—".to_owned(), short),
            judged.len(),
            forecasts.len() - judged.len()
        );
    }
    out
}

/// A calibration's heading, its targets (published against the calibrated model) and its
/// parameters (estimate, approximate 95 % interval, pinned down or not).
pub fn calibrated(run: &super::calibrate::Calibrated) -> String {
    let c = &run.calibration;
    let s = &c.settings;
    let units = run.scenario.time_units.as_str();
    let heading = format!(
        "{} — calibrated to {} (arm {}, {} virtual patients per evaluation, seed {})",
        run.scenario.name,
        s.trial.as_deref().unwrap_or("trial targets"),
        s.arm,
        s.rollouts,
        s.seed
    );
    let mut out = format!("{}\n\n", wrap(&heading, 100));
    let _ = writeln!(
        out,
        "{:<30} {:>18} {:>16} {:>7}",
        "statistic", "published (se)", "model (MC se)", "z"
    );
    let _ = writeln!(out, "{}", "─".repeat(74));
    for t in &c.targets {
        let st = &t.statistic;
        let label = match st.kind {
            crate::fit::trial::Kind::MedianPfs | crate::fit::trial::Kind::DurationOfResponse => {
                format!("{}, {units}", st.kind.label())
            }
            _ => st.kind.label(),
        };
        let _ = writeln!(
            out,
            "{:<30} {:>18} {:>16} {:>+7.2}{}",
            label,
            format!("{} ({})", short(st.value), short(st.se)),
            format!("{} ({})", short(t.model), short(t.mc_se)),
            t.z,
            if st.held_out { "  held out" } else { "" }
        );
    }
    // Parameter paths run to 70 characters: each gets its own line, its numbers the next.
    let _ = writeln!(
        out,
        "\n{:<30} {:>10} {:>23}",
        "parameter", "estimate", "approx. 95 % interval"
    );
    let _ = writeln!(out, "{}", "─".repeat(74));
    for p in &c.parameters {
        let _ = writeln!(out, "{}", p.free.path);
        let _ = writeln!(
            out,
            "{:<30} {:>10} {:>23}{}",
            "",
            short(p.estimate),
            format!("{} – {}", short(p.lower), short(p.upper)),
            if p.identified {
                ""
            } else {
                "  not pinned down"
            }
        );
    }
    let _ = writeln!(
        out,
        "\n{}",
        wrap(
            &format!(
                "Weighted distance Σ((model − published)/se)² over the fitted statistics: {} at \
                 the start, {} calibrated; {} points evaluated ({} stopped after a quarter of \
                 the patients).",
                short(c.start_distance),
                short(c.distance),
                c.evaluations,
                c.stopped
            ),
            100
        )
    );
    let _ = writeln!(
        out,
        "{}",
        wrap(
            "z: (model − published)/√(se² + MC se²). Intervals from the curvature of the distance \
             (Gauss–Newton), inflated for the simulation's own error; docs/fitting.md §12.",
            100
        )
    );
    for note in &c.notes {
        let _ = writeln!(out, "{}", wrap(&format!("note: {note}"), 100));
    }
    out
}

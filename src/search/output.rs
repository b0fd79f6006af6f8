//! What `regimen optimise` prints and writes: the leaderboard table, leaderboard.csv,
//! trace.csv, pareto.csv, best.yaml and the manifest.

use super::config::{Plan, objective_name};
use super::export::arm_yaml;
use super::leaderboard::{Entry, Leaderboard, RobustSummary};
use super::objective::Objective;
use super::robust::Measure;
use crate::report::{Cell, Frame, render_table};
use crate::scenario::Scenario;

fn parameters(e: &Entry) -> String {
    e.parameters
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn holdout_cell(e: &Entry, plan: &Plan) -> String {
    let stopped = if stopped_early(e, plan) { " †" } else { "" };
    match e.holdout_ci {
        Some((lo, hi)) if e.holdout.abs() >= 10.0 => {
            format!("{:.1} ({lo:.1}–{hi:.1}){stopped}", e.holdout)
        }
        Some((lo, hi)) => format!("{:.3} ({lo:.3}–{hi:.3}){stopped}", e.holdout),
        None => format!("{:.3}{stopped}", e.holdout),
    }
}

/// Racing stopped this finalist's hold-out scoring early.
fn stopped_early(e: &Entry, plan: &Plan) -> bool {
    e.holdout_rollouts > 0 && e.holdout_rollouts < plan.holdout
}

/// A parameter value as the terminal shows it: three significant digits (leaderboard.csv and
/// best.yaml keep every digit).
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// The leaderboard as a table for the terminal, within 100 columns: each searched schedule's
/// parameters on a line of their own under its row; every column is in leaderboard.csv.
pub fn table(board: &Leaderboard, plan: &Plan) -> String {
    let infeasible = board.entries.iter().any(|e| !e.feasible);
    let robust = board.robust.as_ref();
    let mut header = vec![
        "rank. schedule".to_owned(),
        "tuning".to_owned(),
        match robust {
            None => format!("hold-out {} (95% CI)", objective_name(plan.objective)),
            Some(r) => format!(
                "hold-out {} {} (95% CI)",
                objective_name(plan.objective),
                match r.measure {
                    Measure::Worst => "worst case".to_owned(),
                    Measure::Mean => "mean over points".to_owned(),
                    Measure::Regret => "regret".to_owned(),
                    Measure::Quantile(q) => format!("{q} quantile"),
                }
            ),
        },
        "dose vs continuous".to_owned(),
    ];
    if robust.is_some() {
        header.push("nominal".to_owned());
        header.push("at".to_owned());
    }
    if infeasible {
        header.push("feasible".to_owned());
    }
    let mut rows = vec![header];
    for (i, e) in board.entries.iter().enumerate() {
        let mut row = vec![
            format!("{:>2}. {}", i + 1, e.label),
            e.tuning
                .map_or_else(|| "—".to_owned(), |t| format!("{t:.1}")),
            holdout_cell(e, plan),
            format!("{:.0}%", 100.0 * e.relative_dose),
        ];
        if let Some(r) = robust {
            row.push(
                e.points
                    .first()
                    .map_or_else(|| "—".to_owned(), |v| format!("{v:.1}")),
            );
            let reference = r.reference.clone().unwrap_or_default();
            row.push(
                super::robust::critical(r.measure, &e.points, &reference)
                    .map_or_else(|| "—".to_owned(), |i| format!("#{i}")),
            );
        }
        if infeasible {
            row.push(if e.feasible { "yes" } else { "no" }.to_owned());
        }
        rows.push(row);
    }
    let rendered = render_table(&rows);
    let mut out = String::new();
    for (k, line) in rendered.lines().enumerate() {
        out.push_str(line);
        out.push('\n');
        // Lines 0 and 1 are the header and its rule.
        if let Some(e) = k.checked_sub(2).and_then(|i| board.entries.get(i))
            && !e.parameters.is_empty()
        {
            let params: Vec<String> = e
                .parameters
                .iter()
                .map(|(n, v)| format!("{n}={}", short(*v)))
                .collect();
            out.push_str(&format!("      {}\n", params.join(" ")));
        }
    }
    if board.entries.iter().any(|e| stopped_early(e, plan)) {
        out.push_str(
            "† clearly below the leader on the same hold-out rollouts, so racing stopped its\n  \
             scoring early (holdout_rollouts in leaderboard.csv); its value is the leader's\n  \
             plus their mean paired difference.\n",
        );
    }
    let lp: Vec<&Entry> = board.entries.iter().filter(|e| e.lp.is_some()).collect();
    if !lp.is_empty() {
        let mut rows = vec![vec![
            "LP".to_owned(),
            "target".to_owned(),
            "cap".to_owned(),
            "relaxed".to_owned(),
            "ODE".to_owned(),
            "rollouts".to_owned(),
            "gap".to_owned(),
            "ODE TTP".to_owned(),
            "steps".to_owned(),
            "runs".to_owned(),
        ]];
        for e in lp {
            if let Some(r) = &e.lp {
                rows.push(vec![
                    e.label.clone(),
                    r.target.as_str().to_owned(),
                    if r.cap_excess <= 1e-9 {
                        format!("{}× (kept)", short(r.cap))
                    } else {
                        format!("{}× (passed ×{:.2})", short(r.cap), r.cap_excess.exp())
                    },
                    format!("{:.3}", r.relaxed_log10),
                    format!("{:.3}", r.rounded_log10),
                    format!("{:.3}", r.stochastic_log10),
                    format!("{:+.3}", r.rounded_log10 - r.relaxed_log10),
                    format!("{:.0}", r.deterministic_ttp),
                    r.steps.to_string(),
                    r.ode_runs.to_string(),
                ]);
            }
        }
        out.push('\n');
        out.push_str(&render_table(&rows));
        out.push_str(
            "log10 of the target load at the horizon: the LP's relaxed optimum, its rounded\n\
             schedule on the ODE and over the hold-out rollouts; gap = ODE − relaxed; runs: ODE\n\
             runs of the sequential LP.\n",
        );
    }
    out
}

/// The point that decides an entry's robust score (worst case and regret), by label.
fn deciding_point(e: &Entry, r: &RobustSummary) -> Option<String> {
    let reference = r.reference.clone().unwrap_or_default();
    let at = super::robust::critical(r.measure, &e.points, &reference)?;
    r.labels.get(at).cloned()
}

/// What a robust leaderboard's score is, for under the table (`None` without one).
pub fn robust_note(board: &Leaderboard, plan: &Plan) -> Option<String> {
    let r = board.robust.as_ref()?;
    let what = match r.measure {
        Measure::Regret => "the smallest difference to continuous dosing at the standard dose",
        Measure::Worst => "the smallest value",
        Measure::Mean => "the mean",
        Measure::Quantile(_) => "the quantile",
    };
    let quantile = match r.measure {
        Measure::Quantile(q) => format!(" ({q})"),
        _ => String::new(),
    };
    let reference = match &r.reference {
        Some(v) => format!(
            " Continuous dosing scores {} there.",
            v.iter()
                .map(|x| format!("{x:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => String::new(),
    };
    Some(format!(
        "robust: {what}{quantile} of {} over {} points on the same rollouts ({}); `at`: \
         the point that sets the score; each point's value is in robust.csv.{reference}",
        objective_name(plan.objective),
        r.labels.len(),
        r.labels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("#{i} {l}"))
            .collect::<Vec<_>>()
            .join("; "),
    ))
}

/// robust.csv: every entry's hold-out value at each point of uncertainty (with a robust
/// score; `None` otherwise).
pub fn robust_frame(board: &Leaderboard) -> Option<Frame> {
    let r = board.robust.as_ref()?;
    let mut frame = Frame::with_flags(
        ["schedule", "point", "value", "continuous", "decides"]
            .iter()
            .map(|n| (*n).to_owned())
            .collect(),
        &["schedule", "point"],
        &["decides"],
    );
    for e in &board.entries {
        let deciding = deciding_point(e, r);
        for (i, (label, v)) in r.labels.iter().zip(&e.points).enumerate() {
            frame.push(vec![
                Cell::from(e.label.as_str()),
                Cell::from(label.as_str()),
                Cell::from(*v),
                Cell::from(r.reference.as_ref().and_then(|c| c.get(i).copied())),
                Cell::from(deciding.as_deref() == Some(label.as_str())),
            ]);
        }
    }
    Some(frame)
}

/// When several entries reach the objective's best possible value (they hold the tumour to
/// the horizon), the ranking among them says nothing about benefit: it fell to dose.
pub fn saturation_note(board: &Leaderboard, objective: Objective, horizon: f64) -> Option<String> {
    let best = match objective {
        Objective::PfsAt(_) => 1.0,
        _ => horizon,
    };
    let at_best = board
        .entries
        .iter()
        .filter(|e| e.holdout >= best * (1.0 - 1e-9))
        .count();
    (at_best >= 2).then(|| {
        format!(
            "the objective is saturated: {} of {} schedules score {} = {}, its best possible \
             value, so the ranking among them fell to dose (and each search kept the lowest \
             dose among its equal scores). A longer horizon{} would let them differ.",
            at_best,
            board.entries.len(),
            objective_name(objective),
            best,
            if matches!(objective, Objective::PfsAt(_)) {
                " (and a later pfs time)"
            } else {
                ""
            }
        )
    })
}

/// leaderboard.csv: every finalist and arm, best first.
pub fn leaderboard_frame(board: &Leaderboard) -> Frame {
    let names = [
        "rank",
        "schedule",
        "parameters",
        "dose_limit",
        "tuning",
        "holdout",
        "holdout_lower",
        "holdout_upper",
        "relative_dose",
        "over_cap",
        "feasible",
        "on_front",
        "evaluations",
        "lp_relaxed_log10",
        "lp_rounded_ode_log10",
        "lp_rounded_rollouts_log10",
        "holdout_rollouts",
    ];
    let mut frame = Frame::with_flags(
        names.iter().map(|n| (*n).to_owned()).collect(),
        &["schedule", "parameters"],
        &["feasible", "on_front"],
    );
    for (i, e) in board.entries.iter().enumerate() {
        frame.push(vec![
            Cell::from(i as u64 + 1),
            Cell::from(e.label.as_str()),
            Cell::Text(parameters(e)),
            Cell::from(e.dose_limit),
            Cell::from(e.tuning),
            Cell::from(e.holdout),
            Cell::from(e.holdout_ci.map(|c| c.0)),
            Cell::from(e.holdout_ci.map(|c| c.1)),
            Cell::from(e.relative_dose),
            Cell::from(e.over_cap),
            Cell::from(e.feasible),
            Cell::from(e.on_front),
            Cell::from(e.evaluations),
            Cell::from(e.lp.as_ref().map(|r| r.relaxed_log10)),
            Cell::from(e.lp.as_ref().map(|r| r.rounded_log10)),
            Cell::from(e.lp.as_ref().map(|r| r.stochastic_log10)),
            Cell::from(e.holdout_rollouts),
        ]);
    }
    frame
}

/// [`leaderboard_frame`] as CSV.
pub fn leaderboard_csv(board: &Leaderboard) -> String {
    leaderboard_frame(board).to_csv()
}

/// trace.csv: every evaluation of the searches, in order.
pub fn trace_frame(board: &Leaderboard) -> Frame {
    let names = [
        "search",
        "evaluation",
        "parameters",
        "score",
        "penalised",
        "relative_dose",
        "over_cap",
        "rollouts",
    ];
    let mut frame = Frame::new(
        names.iter().map(|n| (*n).to_owned()).collect(),
        &["search", "parameters"],
    );
    for (i, row) in board.trace.iter().enumerate() {
        let e = &row.evaluation;
        let params = e
            .values
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        frame.push(vec![
            Cell::from(row.search.as_str()),
            Cell::from(i as u64 + 1),
            Cell::Text(params),
            Cell::from(e.score),
            Cell::from(e.penalised),
            Cell::from(row.relative_dose),
            Cell::from(e.over_cap),
            Cell::from(e.rollouts),
        ]);
    }
    frame
}

/// [`trace_frame`] as CSV.
pub fn trace_csv(board: &Leaderboard) -> String {
    trace_frame(board).to_csv()
}

/// pareto.csv: every entry by relative dose, with its hold-out score and whether it is on
/// the front.
pub fn pareto_frame(board: &Leaderboard) -> Frame {
    let mut entries: Vec<&Entry> = board.entries.iter().collect();
    entries.sort_by(|a, b| {
        a.relative_dose
            .total_cmp(&b.relative_dose)
            .then(b.holdout.total_cmp(&a.holdout))
    });
    let names = [
        "schedule",
        "dose_limit",
        "relative_dose",
        "holdout",
        "feasible",
        "on_front",
    ];
    let mut frame = Frame::with_flags(
        names.iter().map(|n| (*n).to_owned()).collect(),
        &["schedule"],
        &["feasible", "on_front"],
    );
    for e in entries {
        frame.push(vec![
            Cell::from(e.label.as_str()),
            Cell::from(e.dose_limit),
            Cell::from(e.relative_dose),
            Cell::from(e.holdout),
            Cell::from(e.feasible),
            Cell::from(e.on_front),
        ]);
    }
    frame
}

/// [`pareto_frame`] as CSV.
pub fn pareto_csv(board: &Leaderboard) -> String {
    pareto_frame(board).to_csv()
}

/// The best feasible searched schedule, if any (else the best searched one).
pub fn best(board: &Leaderboard) -> Option<&Entry> {
    let searched = |e: &&Entry| e.label.starts_with("search:");
    board
        .entries
        .iter()
        .filter(searched)
        .find(|e| e.feasible)
        .or_else(|| board.entries.iter().find(searched))
}

/// best.yaml: the best searched schedule as an arm, with how to reproduce its score.
pub fn best_yaml(board: &Leaderboard, plan: &Plan, scenario: &Scenario) -> Option<String> {
    let best = best(board)?;
    let drugs: Vec<String> = scenario.drugs.iter().map(|d| d.name.clone()).collect();
    let name = format!(
        "best-{}",
        best.label
            .trim_start_matches("search:")
            .replace(['@', '.'], "-")
    );
    Some(format!(
        "# Best searched schedule (regimen optimise, objective {}, tuning seed {}, {} rollouts).\n\
         # Hold-out: {} over {} rollouts with seed {}; reproduce with\n\
         #   regimen compare <scenario with this arm> --seed {} --rollouts {}\n\
         # Paste under `arms:` in {}.\n{}",
        objective_name(plan.objective),
        plan.seed,
        plan.rollouts,
        best.holdout,
        plan.holdout,
        board.holdout_seed,
        board.holdout_seed,
        plan.holdout,
        scenario.source.display(),
        arm_yaml(&name, &best.schedule, &drugs)
    ))
}

//! What `regimen optimise` prints and writes: the leaderboard table, leaderboard.csv,
//! trace.csv, pareto.csv, best.yaml and the manifest.

use super::config::{Plan, objective_name};
use super::export::arm_yaml;
use super::leaderboard::{Entry, Leaderboard, RobustSummary};
use super::objective::Objective;
use super::sensitivity::Cliff;
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

/// The leaderboard as a table for the terminal, within about 100 columns: each searched schedule's
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
                r.measure.name()
            ),
        },
        "rel. dose".to_owned(),
    ];
    if robust.is_some() {
        header.push("nominal".to_owned());
        header.push("at".to_owned());
    }
    let sensitivity = board.sensitivity.as_ref();
    if sensitivity.is_some() {
        header.push("cliff".to_owned());
    }
    if infeasible {
        header.push("feasible".to_owned());
    }
    let mut rows = vec![header];
    for (i, e) in board.entries.iter().enumerate() {
        let uninformative = e.lp.as_ref().is_some_and(|r| r.uninformative.is_some());
        let mut row = vec![
            format!(
                "{:>2}. {}{}",
                i + 1,
                e.label,
                if uninformative { " ‡" } else { "" }
            ),
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
        if let Some(s) = sensitivity {
            row.push(
                s.cliff(&e.label)
                    .map_or_else(|| "—".to_owned(), Cliff::describe),
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
    for e in &board.entries {
        if let Some(why) = e.lp.as_ref().and_then(|r| r.uninformative.as_ref()) {
            out.push_str(&format!(
                "‡ the LP relaxation is uninformative here, so it is listed after the other \
                 feasible entries, not ranked: {why}.\n"
            ));
        }
    }
    let lp: Vec<&Entry> = board.entries.iter().filter(|e| e.lp.is_some()).collect();
    if !lp.is_empty() {
        let mut rows = vec![vec![
            "LP".to_owned(),
            "target".to_owned(),
            "cap".to_owned(),
            "held".to_owned(),
            "relaxed".to_owned(),
            "ODE".to_owned(),
            "rollouts".to_owned(),
            "gap".to_owned(),
            "ODE TTP".to_owned(),
            "steps".to_owned(),
            "runs".to_owned(),
            "failed".to_owned(),
        ]];
        for e in lp {
            if let Some(r) = &e.lp {
                rows.push(vec![
                    e.label.clone(),
                    r.target.as_str().to_owned(),
                    if r.noise_margin < 1.0 {
                        format!("{}×{}", short(r.cap), short(r.noise_margin))
                    } else {
                        format!("{}×", short(r.cap))
                    },
                    format!("{}/{}", r.held_periods, r.periods),
                    format!("{:.3}", r.relaxed_log10),
                    format!("{:.3}", r.rounded_log10),
                    format!("{:.3}", r.stochastic_log10),
                    format!("{:+.3}", r.rounded_log10 - r.relaxed_log10),
                    format!("{:.0}", r.deterministic_ttp),
                    r.steps.to_string(),
                    r.ode_runs.to_string(),
                    r.solver_failures.to_string(),
                ]);
            }
        }
        out.push('\n');
        out.push_str(&render_table(&rows));
        out.push_str(
            "cap: the marker cap relative to time 0, times the margin the LP keeps under it for\n\
             measurement noise; held: leading periods under it on the ODE (when not all, the LP\n\
             maximised them: time to progression). log10 of the target load at the horizon: the\n\
             LP's relaxed optimum, its rounded schedule on the ODE and over the hold-out\n\
             rollouts; gap = ODE − relaxed; runs: ODE runs of the sequential LP; failed: LP\n\
             solves that failed (numerically singular; each counted as a rejected step).\n",
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
    let what = r.measure.describe();
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
    let noise = board
        .entries
        .first()
        .and_then(|e| Some((e, e.noise_share?)))
        .map_or_else(String::new, |(e, share)| {
            format!(
                " Rollout noise alone would give {:.1} % of the spread between the points of \
                 {}{}.",
                100.0 * share,
                e.label,
                if share > 0.25 {
                    " — too much to tell the points apart: give more rollouts (--holdout)"
                } else {
                    ""
                }
            )
        });
    Some(format!(
        "robust: {what} of {} over {} points on the same rollouts ({}); `at`: \
         the point that sets the score; each point's value is in robust.csv.{reference}{noise}",
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
             dose among its equal scores, then the latest resistant majority). A longer \
             horizon{} would let them differ.",
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
        "cliff_parameter",
        "cliff_change",
    ];
    let mut frame = Frame::with_flags(
        names.iter().map(|n| (*n).to_owned()).collect(),
        &["schedule", "parameters", "cliff_parameter"],
        &["feasible", "on_front"],
    );
    for (i, e) in board.entries.iter().enumerate() {
        let cliff = board.sensitivity.as_ref().and_then(|s| s.cliff(&e.label));
        let (cliff_parameter, cliff_change) = match cliff {
            Some(Cliff::At { parameter, change }) => (parameter.clone(), Some(*change)),
            Some(Cliff::BelowAtNominal) => ("(below at nominal)".to_owned(), Some(0.0)),
            Some(Cliff::Beyond { .. }) => ("(none)".to_owned(), None),
            Some(Cliff::Reference) => ("(reference)".to_owned(), None),
            None => (String::new(), None),
        };
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
            Cell::Text(cliff_parameter),
            Cell::from(cliff_change),
        ]);
    }
    frame
}

/// sensitivity.csv: every score of the sensitivity report (`None` without one): `oneway`
/// rows are the tornado, `cliff` rows the cliff search's steps, `map` rows the
/// two-parameter map of the best entry.
pub fn sensitivity_frame(board: &Leaderboard) -> Option<Frame> {
    let s = board.sensitivity.as_ref()?;
    let mut frame = Frame::with_flags(
        [
            "schedule",
            "kind",
            "parameter",
            "change",
            "parameter2",
            "change2",
            "value",
            "continuous",
            "margin",
        ]
        .iter()
        .map(|n| (*n).to_owned())
        .collect(),
        &["schedule", "kind", "parameter", "parameter2"],
        &[],
    );
    for r in &s.rows {
        frame.push(vec![
            Cell::from(r.schedule.as_str()),
            Cell::from(r.kind),
            Cell::from(r.parameter.as_str()),
            Cell::from(r.change),
            Cell::Text(r.parameter2.clone().unwrap_or_default()),
            Cell::from(r.change2),
            Cell::from(r.value),
            Cell::from(r.continuous),
            Cell::from(r.value - r.continuous),
        ]);
    }
    Some(frame)
}

/// What the sensitivity column means, for under the table (`None` without a report).
pub fn sensitivity_note(board: &Leaderboard, plan: &Plan) -> Option<String> {
    let s = board.sensitivity.as_ref()?;
    let parameters: Vec<String> = s
        .parameters
        .iter()
        .map(|(p, w)| {
            format!(
                "{} ±{:.0}%",
                crate::support::format::short_parameter(p),
                100.0 * w
            )
        })
        .collect();
    Some(
        format!(
            "cliff: the smallest change of one parameter that puts the schedule's {} below \
         continuous dosing at the standard dose (searched to ±{:.0}%), each score on {} \
         rollouts (seed {}) shared by every change; parameters: {}. The tornado, the cliff \
         search and a map of the best schedule over its two most influential parameters are \
         in sensitivity.csv and plots/.",
            objective_name(plan.objective),
            100.0 * super::sensitivity::CLIFF_STEPS[super::sensitivity::CLIFF_STEPS.len() - 1],
            s.rollouts,
            s.seed,
            parameters.join(", ")
        ) + &match s.skipped.first() {
            None => String::new(),
            Some(first) => format!(
                " {} change(s) made no valid model and were left out (a direction's search ends \
             there), e.g. {first}",
                s.skipped.len()
            ),
        },
    )
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

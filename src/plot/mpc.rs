//! Why a model-predictive rule dosed: the particle filter's picture of each compartment
//! (median and 5–95 % band) against the truth the run recorded, and under it what the plan
//! expected of every action at each decision, the action given marked.

use super::data::{DecisionRow, FilterRow, RunFolder, RunKey};
use super::figures::{Figure, TOP, WIDTH, plot_area, slug, title};
use super::svg::{Axis, Mark, Svg, colour, legend};

/// The explanation of the first recorded run of `arm` that has a filter, if any.
pub fn explain(f: &RunFolder, arm: &str) -> Option<Figure> {
    let (key, (names, rows)) = RunFolder::runs_of(&f.filter, arm).next()?;
    let decisions = f.decisions.get(key).map_or(&[][..], Vec::as_slice);
    Some(draw(f, arm, key, names, rows, decisions))
}

fn draw(
    f: &RunFolder,
    arm: &str,
    key: &RunKey,
    names: &[String],
    rows: &[FilterRow],
    decisions: &[DecisionRow],
) -> Figure {
    let truth = f.trajectories.get(key);
    // Up to a little past the last decision (after progression the filter goes on
    // watching, but nothing is decided).
    let last_visit = rows.last().map_or(1.0, |r| r.time);
    let end = match decisions.last() {
        Some(d) => (d.time + 0.15 * d.time.max(1.0)).min(last_visit.max(d.time)),
        None => last_visit,
    }
    .max(1.0);
    let rows: Vec<&FilterRow> = rows.iter().filter(|r| r.time <= end).collect();
    let positive = rows
        .iter()
        .filter(|r| r.time <= end)
        .flat_map(|r| r.quantiles.iter().flatten())
        .chain(
            truth
                .iter()
                .flat_map(|t| t.compartments.iter().flat_map(|c| c.1.iter())),
        )
        .copied()
        .filter(|x| *x > 0.0 && x.is_finite());
    let (lo, hi) = positive.fold((f64::INFINITY, 0.0_f64), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = if hi > 0.0 {
        (lo.max(hi * 1e-6).max(f.one_cell()), hi * 1.5)
    } else {
        (1e-6, 1.0)
    };
    let mut svg = Svg::new(WIDTH, TOP + 330.0 + 70.0 + 170.0);
    let which = key
        .rollout
        .map_or("deterministic run".to_owned(), |r| format!("rollout {r}"));
    title(
        &mut svg,
        &format!("{arm}: what the model-predictive rule believed and expected ({which})"),
        &f.scenario_name,
    );
    let top = plot_area(TOP, 330.0, Axis::linear(0.0, end), Axis::log(lo, hi));
    top.draw(&mut svg, "", &f.count_label());
    svg.open_clipped("data", &format!("clip-mpc-{}", slug(arm)), &top);
    let mut entries = Vec::new();
    for (k, name) in names.iter().enumerate() {
        // Visits whose three quantiles are all drawable, so the band's edges pair up.
        let drawable: Vec<(f64, [f64; 3])> = rows
            .iter()
            .filter_map(|r| Some((r.time, *r.quantiles.get(k)?)))
            .filter(|(_, q)| q.iter().all(|y| y.is_finite() && *y >= 0.0))
            .collect();
        let at = |q: usize| -> Vec<(f64, f64)> {
            drawable
                .iter()
                .map(|(t, y)| (top.px(*t), top.py(y[q].max(lo))))
                .collect()
        };
        let mut band = at(2);
        let mut lower = at(0);
        lower.reverse();
        band.extend(lower);
        svg.polygon(&band, colour(k), 0.18, "band");
        svg.dashed_path(&at(1), colour(k), 2.0, "estimate");
        entries.push((
            format!("{name}: filter median, 5–95 %"),
            colour(k),
            Mark::Dashed,
        ));
        if let Some((_, counts)) = truth.and_then(|t| t.compartments.iter().find(|c| &c.0 == name))
            && let Some(t) = truth
        {
            let pts: Vec<(f64, f64)> = t
                .times
                .iter()
                .zip(counts)
                .filter(|(x, y)| **x <= end && **y > 0.0 && y.is_finite())
                .map(|(x, y)| (top.px(*x), top.py(y.max(lo))))
                .collect();
            svg.path(&pts, colour(k), 1.5, "truth");
            entries.push((format!("{name}: truth"), colour(k), Mark::Line));
        }
    }
    svg.close_group();
    legend(&mut svg, top.right() + 20.0, top.top + 14.0, &entries);

    // What each action was expected to bring, per decision; the given action as a dot.
    let actions: Vec<String> = {
        let mut seen: Vec<String> = Vec::new();
        for d in decisions {
            if !seen.contains(&d.action) {
                seen.push(d.action.clone());
            }
        }
        seen
    };
    let scores = decisions.iter().map(|d| d.score).filter(|s| s.is_finite());
    let (smin, smax) = scores.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
        (a.min(s), b.max(s))
    });
    let (smin, smax) = if smin.is_finite() && smax > smin {
        (smin, smax + 0.05 * (smax - smin))
    } else if smin.is_finite() {
        (smin - 1.0, smin + 1.0)
    } else {
        (0.0, 1.0)
    };
    let bottom = plot_area(
        TOP + 330.0 + 70.0,
        130.0,
        Axis::linear(0.0, end),
        Axis::linear(smin, smax),
    );
    bottom.draw(
        &mut svg,
        &format!("time ({})", f.time_units),
        "plan's expected score",
    );
    svg.open_clipped("data", &format!("clip-mpc-plan-{}", slug(arm)), &bottom);
    let mut plan_entries = Vec::new();
    for (k, action) in actions.iter().enumerate() {
        let mine: Vec<&DecisionRow> = decisions.iter().filter(|d| &d.action == action).collect();
        let pts: Vec<(f64, f64)> = mine
            .iter()
            .filter(|d| d.score.is_finite())
            .map(|d| (bottom.px(d.time), bottom.py(d.score)))
            .collect();
        let c = colour(names.len() + k);
        svg.path(&pts, c, 1.2, "action");
        for d in mine.iter().filter(|d| d.chosen && d.score.is_finite()) {
            svg.circle(bottom.px(d.time), bottom.py(d.score), 2.5, c, "chosen");
        }
        plan_entries.push((format!("{action} (dot: given)"), c, Mark::Line));
    }
    svg.close_group();
    legend(
        &mut svg,
        bottom.right() + 20.0,
        bottom.top + 14.0,
        &plan_entries,
    );
    Figure {
        name: format!("mpc-{}", slug(arm)),
        caption: format!(
            "{arm} ({which}): the particle filter's estimate of each compartment against the \
             truth, and what the plan expected of each action at each decision (the given \
             action dotted)."
        ),
        svg: svg.finish(&format!("mpc {arm}")),
    }
}

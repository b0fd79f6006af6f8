//! The figures of an optimisation's sensitivity report (sensitivity.csv): a tornado of the
//! best schedule's score with one parameter changed at a time, against continuous dosing's
//! at the same change, and a map of its margin over continuous dosing across the two
//! parameters that move it most.

use super::data::Table;
use super::figures::{Figure, title};
use super::svg::{Axis, Frame, Mark, Svg, legend};
use crate::error::Result;
use crate::support::format::{brief_parameter, short_parameter};
use std::path::Path;

const WIDTH: f64 = 900.0;
/// Colours of a decrease and an increase of a parameter (Okabe–Ito).
const LOWER: &str = "#E69F00";
const HIGHER: &str = "#0072B2";
const CONTINUOUS: &str = "#CC79A7";
/// Worse than continuous dosing, in the map.
const WORSE: &str = "#D55E00";

/// One row of sensitivity.csv.
#[derive(Debug, Clone)]
struct Row {
    schedule: String,
    kind: String,
    parameter: String,
    change: f64,
    parameter2: String,
    change2: f64,
    value: f64,
    continuous: f64,
}

fn rows(dir: &Path) -> Result<Vec<Row>> {
    let Some(text) = super::data::read(dir, "sensitivity.csv")? else {
        return Ok(Vec::new());
    };
    let t = Table::parse(&text);
    t.check_finite(
        &dir.join("sensitivity.csv"),
        &["schedule", "kind", "parameter", "parameter2"],
    )?;
    let c = |n: &str| t.column(n);
    Ok(t.rows
        .iter()
        .map(|r| Row {
            schedule: Table::text(r, c("schedule")),
            kind: Table::text(r, c("kind")),
            parameter: Table::text(r, c("parameter")),
            change: Table::number(r, c("change")),
            parameter2: Table::text(r, c("parameter2")),
            change2: Table::number(r, c("change2")),
            value: Table::number(r, c("value")),
            continuous: Table::number(r, c("continuous")),
        })
        .collect())
}

/// The tornado and the map of the folder's sensitivity report, if it has one.
pub fn figures(dir: &Path, scenario: &str, objective: &str) -> Result<Vec<Figure>> {
    let rows = rows(dir)?;
    // The map is of the leaderboard's best entry, as is the tornado.
    let Some(best) = rows
        .iter()
        .find(|r| r.kind == "map")
        .or_else(|| rows.first())
        .map(|r| r.schedule.clone())
    else {
        return Ok(Vec::new());
    };
    let mine: Vec<&Row> = rows.iter().filter(|r| r.schedule == best).collect();
    let mut out = vec![tornado(&mine, &best, scenario, objective)];
    if mine.iter().any(|r| r.kind == "map") {
        out.push(map(&mine, &best, scenario, objective));
    }
    Ok(out)
}

/// Per parameter, its one-way rows sorted by change; parameters by span, widest first.
fn by_parameter<'a>(rows: &[&'a Row]) -> Vec<(String, Vec<&'a Row>)> {
    let mut out: Vec<(String, Vec<&Row>)> = Vec::new();
    for r in rows.iter().filter(|r| r.kind == "oneway") {
        match out.iter_mut().find(|(p, _)| *p == r.parameter) {
            Some((_, v)) => v.push(r),
            None => out.push((r.parameter.clone(), vec![r])),
        }
    }
    let span = |v: &[&Row]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), r| {
                (a.min(r.value), b.max(r.value))
            });
        hi - lo
    };
    for (_, v) in &mut out {
        v.sort_by(|a, b| a.change.total_cmp(&b.change));
    }
    out.sort_by(|a, b| span(&b.1).total_cmp(&span(&a.1)));
    out
}

fn tornado(rows: &[&Row], best: &str, scenario: &str, objective: &str) -> Figure {
    let nominal = rows.iter().find(|r| r.kind == "nominal");
    let (value0, continuous0) = nominal.map_or((f64::NAN, f64::NAN), |r| (r.value, r.continuous));
    let params = by_parameter(rows);
    let all = params
        .iter()
        .flat_map(|(_, v)| v.iter().flat_map(|r| [r.value, r.continuous]))
        .chain([value0, continuous0])
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let pad = 0.05 * (hi - lo);
    let row_height = 40.0;
    let height = (params.len().max(1) as f64) * row_height;
    let mut svg = Svg::new(WIDTH, 64.0 + height + 70.0);
    title(&mut svg, &format!("Sensitivity of {best}"), scenario);
    let frame = Frame {
        left: 250.0,
        top: 64.0,
        width: WIDTH - 250.0 - 210.0,
        height,
        x: Axis::linear(lo - pad, hi + pad),
        y: Axis::linear(0.0, 1.0),
    };
    frame.draw_x(&mut svg, objective);
    svg.open_group("bars");
    for (i, (parameter, v)) in params.iter().enumerate() {
        let y = frame.top + i as f64 * row_height;
        svg.text(
            frame.left - 8.0,
            y + row_height / 2.0 + 4.0,
            &brief_parameter(parameter),
            12.0,
            "end",
            false,
        );
        let from = if value0.is_finite() {
            value0
        } else {
            v[0].value
        };
        // The widest change in each direction as a bar, the inner one as a tick.
        for r in v {
            let colour = if r.change < 0.0 { LOWER } else { HIGHER };
            let outer = v
                .iter()
                .filter(|o| o.change.signum() == r.change.signum())
                .all(|o| o.change.abs() <= r.change.abs());
            let (x0, x1) = (frame.px(from), frame.px(r.value));
            if outer {
                svg.rect(
                    x0.min(x1),
                    y + 8.0,
                    (x1 - x0).abs().max(1.0),
                    row_height - 16.0,
                    colour,
                    0.8,
                    "bar",
                );
            } else {
                svg.line(
                    (x1, y + 6.0),
                    (x1, y + row_height - 6.0),
                    colour,
                    2.0,
                    false,
                );
            }
            // Continuous dosing at the same change.
            let xc = frame.px(r.continuous);
            svg.line(
                (xc, y + row_height / 2.0 - 3.0),
                (xc, y + row_height / 2.0 + 3.0),
                CONTINUOUS,
                2.0,
                false,
            );
        }
    }
    svg.close_group();
    if value0.is_finite() {
        let x = frame.px(value0);
        svg.line((x, frame.top), (x, frame.bottom()), "#222", 1.2, false);
    }
    if continuous0.is_finite() {
        let x = frame.px(continuous0);
        svg.line((x, frame.top), (x, frame.bottom()), CONTINUOUS, 1.2, true);
    }
    let w = params
        .first()
        .and_then(|(_, v)| v.last())
        .map_or(0.0, |r| r.change.abs());
    legend(
        &mut svg,
        frame.right() + 20.0,
        frame.top + 14.0,
        &[
            (
                format!(
                    "parameter lowered (bar −{:.0}%, tick −{:.0}%)",
                    100.0 * w,
                    100.0 * w / 3.0
                ),
                LOWER,
                Mark::Dot,
            ),
            (
                format!(
                    "parameter raised (bar +{:.0}%, tick +{:.0}%)",
                    100.0 * w,
                    100.0 * w / 3.0
                ),
                HIGHER,
                Mark::Dot,
            ),
            ("as the scenario stands".to_owned(), "#222", Mark::Line),
            (
                "continuous dosing (dashed: as it stands; ticks: at each change)".to_owned(),
                CONTINUOUS,
                Mark::Dashed,
            ),
        ],
    );
    Figure {
        name: "tornado".to_owned(),
        caption: format!(
            "The best schedule ({best}) with one parameter changed at a time, widest effect first: where a bar reaches past continuous dosing's tick on its row, the recommendation falls below the standard of care. The cliff column of the leaderboard gives the smallest such change."
        ),
        svg: svg.finish("sensitivity tornado"),
    }
}

fn map(rows: &[&Row], best: &str, scenario: &str, objective: &str) -> Figure {
    let cells: Vec<&&Row> = rows.iter().filter(|r| r.kind == "map").collect();
    let mut xs: Vec<f64> = cells.iter().map(|r| r.change).collect();
    let mut ys: Vec<f64> = cells.iter().map(|r| r.change2).collect();
    for v in [&mut xs, &mut ys] {
        v.sort_by(f64::total_cmp);
        v.dedup();
    }
    let (px, py) = cells
        .first()
        .map(|r| (r.parameter.clone(), r.parameter2.clone()))
        .unwrap_or_default();
    let scale = cells
        .iter()
        .map(|r| (r.value - r.continuous).abs())
        .fold(0.0, f64::max)
        .max(1e-12);
    let size = 70.0;
    let (left, top) = (190.0, 80.0);
    let mut svg = Svg::new(WIDTH, top + size * ys.len() as f64 + 80.0);
    title(
        &mut svg,
        &format!("Margin of {best} over continuous dosing"),
        scenario,
    );
    svg.open_group("cells");
    for r in &cells {
        let (Some(i), Some(j)) = (
            xs.iter().position(|x| *x == r.change),
            ys.iter().position(|y| *y == r.change2),
        ) else {
            continue;
        };
        let margin = r.value - r.continuous;
        let (x, y) = (
            left + i as f64 * size,
            top + (ys.len() - 1 - j) as f64 * size,
        );
        let colour = if margin < 0.0 { WORSE } else { HIGHER };
        svg.rect(
            x,
            y,
            size - 2.0,
            size - 2.0,
            colour,
            0.15 + 0.75 * margin.abs() / scale,
            "cell",
        );
        svg.text(
            x + size / 2.0,
            y + size / 2.0 + 4.0,
            &format!("{margin:+.1}"),
            12.0,
            "middle",
            false,
        );
    }
    svg.close_group();
    svg.open_group("axes");
    for (i, x) in xs.iter().enumerate() {
        svg.text(
            left + (i as f64 + 0.5) * size,
            top + size * ys.len() as f64 + 16.0,
            &format!("{:+.0}%", 100.0 * x),
            12.0,
            "middle",
            false,
        );
    }
    for (j, y) in ys.iter().enumerate() {
        svg.text(
            left - 8.0,
            top + (ys.len() - 1 - j) as f64 * size + size / 2.0 + 4.0,
            &format!("{:+.0}%", 100.0 * y),
            12.0,
            "end",
            false,
        );
    }
    svg.close_group();
    svg.open_group("axis-label");
    svg.text(
        left + size * xs.len() as f64 / 2.0,
        top + size * ys.len() as f64 + 40.0,
        &format!("change of {}", short_parameter(&px)),
        13.0,
        "middle",
        false,
    );
    svg.text(
        left - 60.0,
        top + size * ys.len() as f64 / 2.0,
        &format!("change of {}", short_parameter(&py)),
        13.0,
        "middle",
        true,
    );
    svg.close_group();
    legend(
        &mut svg,
        left + size * xs.len() as f64 + 40.0,
        top + 14.0,
        &[
            (
                "better than continuous dosing".to_owned(),
                HIGHER,
                Mark::Dot,
            ),
            ("worse than continuous dosing".to_owned(), WORSE, Mark::Dot),
        ],
    );
    Figure {
        name: "sensitivity-map".to_owned(),
        caption: format!(
            "The best schedule's {objective} less continuous dosing's, with its two most influential parameters changed together (0 %: as the scenario stands); orange cells are where the recommendation loses to the standard of care."
        ),
        svg: svg.finish("sensitivity map"),
    }
}

//! The figures of a fit's folder: each subject's measurements against the fitted curve
//! over its dosing, the residuals, and the visual predictive check of the population.

use super::data::Table;
use super::figures::{Figure, title};
use super::svg::{Axis, Frame, Mark, Svg, colour, dosing_colour, legend};
use crate::error::Result;
use std::collections::BTreeMap;
use std::path::Path;

const WIDTH: f64 = 900.0;
/// Subjects drawn in the panel figure.
pub const PANELS: usize = 40;

/// One subject's data as the folder holds it.
#[derive(Debug, Clone, Default)]
struct SubjectData {
    /// (time, observed, BLQ, fitted, predicted).
    points: Vec<(f64, f64, bool, bool, f64)>,
    curve: Vec<(f64, f64)>,
    dosing: Vec<(f64, f64)>,
}

fn load(dir: &Path, name: &str) -> Result<Option<Table>> {
    load_with_text(dir, name, &["id", "blq", "fitted"])
}

/// A table of the folder whose columns are all numbers but `text`.
fn load_with_text(dir: &Path, name: &str, text: &[&str]) -> Result<Option<Table>> {
    let Some(contents) = super::data::read(dir, name)? else {
        return Ok(None);
    };
    let table = Table::parse(&contents);
    table.check_finite(&dir.join(name), text)?;
    Ok(Some(table))
}

/// Every subject's data, in the order of predictions.csv.
fn subjects(dir: &Path) -> Result<Vec<(String, SubjectData)>> {
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<String, SubjectData> = BTreeMap::new();
    if let Some(t) = load(dir, "predictions.csv")? {
        let c = |n: &str| t.column(n);
        for row in &t.rows {
            let id = Table::text(row, c("id"));
            if !by.contains_key(&id) {
                order.push(id.clone());
            }
            by.entry(id).or_default().points.push((
                Table::number(row, c("time")),
                Table::number(row, c("observed")),
                Table::text(row, c("blq")) == "true",
                Table::text(row, c("fitted")) != "false",
                Table::number(row, c("predicted")),
            ));
        }
    }
    if let Some(t) = load(dir, "curves.csv")? {
        for row in &t.rows {
            if let Some(s) = by.get_mut(&Table::text(row, t.column("id"))) {
                s.curve.push((
                    Table::number(row, t.column("time")),
                    Table::number(row, t.column("predicted")),
                ));
            }
        }
    }
    if let Some(t) = load(dir, "dosing.csv")? {
        for row in &t.rows {
            if let Some(s) = by.get_mut(&Table::text(row, t.column("id"))) {
                s.dosing.push((
                    Table::number(row, t.column("start")),
                    Table::number(row, t.column("end")),
                ));
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|id| by.remove(&id).map(|s| (id, s)))
        .collect())
}

/// The positive range of `values` for a log axis.
fn log_range(values: impl Iterator<Item = f64>) -> Axis {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0_f64), |(a, b), v| (a.min(v), b.max(v)));
    Axis::log(lo, hi)
}

/// A power of ten as a short label (0.01, 0.1, 1, 10, 100, 1e3).
fn decade(v: f64) -> String {
    let e = v.log10().round() as i32;
    match e {
        -2..=-1 => format!("{}", 10f64.powi(e)),
        0..=2 => format!("{}", 10i64.pow(e as u32)),
        _ => format!("1e{e}"),
    }
}

/// Every figure of a fit's folder.
pub fn figures(dir: &Path, scenario: &str, time_units: &str) -> Result<Vec<Figure>> {
    let subjects = subjects(dir)?;
    let mut out = Vec::new();
    if !subjects.is_empty() {
        out.push(panels(&subjects, scenario, time_units));
        out.push(residuals(&subjects, scenario, time_units));
    }
    if let Some(t) = load(dir, "vpc.csv")?
        && !t.rows.is_empty()
    {
        out.push(vpc(&t, scenario, time_units));
    }
    if let (Some(curve), Some(targets)) = (
        load(dir, "pfs.csv")?,
        load_with_text(dir, "targets.csv", &["statistic", "source"])?,
    ) {
        out.push(calibration(&curve, &targets, scenario, time_units));
    }
    Ok(out)
}

/// One row of a calibration's targets.csv.
struct Published {
    kind: String,
    time: f64,
    value: f64,
    se: f64,
    ci: (f64, f64),
    held: bool,
}

/// A calibration: the calibrated arm's PFS curve against the published points (PFS at
/// landmarks and read off a KM curve, ±1.96 se; held-out ones open), and the published
/// median PFS with its interval as a bar at 0.5.
fn calibration(curve: &Table, targets: &Table, scenario: &str, time_units: &str) -> Figure {
    let num = |t: &Table, row: &[String], n: &str| Table::number(row, t.column(n));
    let line: Vec<(f64, f64)> = curve
        .rows
        .iter()
        .map(|r| (num(curve, r, "time"), num(curve, r, "pfs")))
        .collect();
    let points: Vec<Published> = targets
        .rows
        .iter()
        .map(|r| Published {
            kind: Table::text(r, targets.column("statistic")),
            time: num(targets, r, "time"),
            value: num(targets, r, "published"),
            se: num(targets, r, "se"),
            ci: (num(targets, r, "ci_lower"), num(targets, r, "ci_upper")),
            held: Table::number(r, targets.column("held_out")) == 1.0,
        })
        .collect();
    let t_max = line
        .iter()
        .map(|p| p.0)
        .chain(points.iter().map(|p| p.time))
        .chain(points.iter().map(|p| p.ci.1))
        .filter(|t| t.is_finite())
        .fold(1.0_f64, f64::max);
    let mut svg = Svg::new(WIDTH, 500.0);
    title(
        &mut svg,
        "Calibrated PFS against the published trial statistics",
        scenario,
    );
    let frame = Frame {
        left: 90.0,
        top: 70.0,
        width: WIDTH - 90.0 - 210.0,
        height: 370.0,
        x: Axis::linear(0.0, t_max),
        y: Axis::linear(0.0, 1.0),
    };
    frame.draw(
        &mut svg,
        &format!("time ({time_units})"),
        "progression-free",
    );
    svg.open_group("data");
    let px: Vec<(f64, f64)> = line
        .iter()
        .map(|(t, s)| (frame.px(*t), frame.py(*s)))
        .collect();
    svg.path(&px, colour(0), 2.0, "model-pfs");
    for p in &points {
        let (time, value, se, ci) = (&p.time, &p.value, &p.se, &p.ci);
        let fill = if p.held { "#ffffff" } else { "#000000" };
        match p.kind.as_str() {
            "pfs_at" => {
                let (lo, hi) = (value - 1.96 * se, value + 1.96 * se);
                svg.line(
                    (frame.px(*time), frame.py(lo.max(0.0))),
                    (frame.px(*time), frame.py(hi.min(1.0))),
                    "#000000",
                    1.0,
                    false,
                );
                svg.circle(frame.px(*time), frame.py(*value), 3.0, fill, "published");
            }
            "median_pfs" => {
                let (lo, hi) = if ci.0.is_finite() && ci.1.is_finite() {
                    *ci
                } else {
                    (value - 1.96 * se, value + 1.96 * se)
                };
                svg.line(
                    (frame.px(lo.max(0.0)), frame.py(0.5)),
                    (frame.px(hi.min(t_max)), frame.py(0.5)),
                    "#000000",
                    1.6,
                    false,
                );
                svg.circle(
                    frame.px(*value),
                    frame.py(0.5),
                    4.0,
                    fill,
                    "published-median",
                );
            }
            _ => {}
        }
    }
    svg.close_group();
    legend(
        &mut svg,
        frame.right() + 16.0,
        frame.top + 10.0,
        &[
            ("calibrated model".to_owned(), colour(0), Mark::Line),
            ("published (±1.96 se)".to_owned(), "#000000", Mark::Dot),
        ],
    );
    Figure {
        name: "calibration-pfs".to_owned(),
        caption: format!(
            "The calibrated arm's progression-free survival (Kaplan–Meier of the simulated \
             patients, steps joined by lines; time in {time_units}) and the published points \
             it was calibrated to: PFS at landmarks or read off the trial's curve with ±1.96 \
             standard errors, and the median PFS at 0.5 with its 95 % interval. Open points \
             are held out (not fitted)."
        ),
        svg: svg.finish("calibration"),
    }
}

/// Small multiples: per subject, the measurements (open triangles: below the limit of
/// quantification, at the limit; grey: held back for the forecast), the fitted marker, and
/// the dosing as a strip under the panel.
fn panels(subjects: &[(String, SubjectData)], scenario: &str, time_units: &str) -> Figure {
    let shown = &subjects[..subjects.len().min(PANELS)];
    let columns = 5;
    let rows = shown.len().div_ceil(columns);
    let (pw, ph, gap) = (160.0, 110.0, 34.0);
    let top = 80.0;
    let height = top + rows as f64 * (ph + gap) + 40.0;
    let mut svg = Svg::new(WIDTH, height);
    title(
        &mut svg,
        "Measurements and fitted marker per subject (log scale, range under each; strip: on drug)",
        scenario,
    );
    let t_max = shown
        .iter()
        .flat_map(|(_, s)| s.points.iter().map(|p| p.0))
        .fold(1.0_f64, f64::max);
    for (k, (id, s)) in shown.iter().enumerate() {
        let (col, row) = (k % columns, k / columns);
        let frame = Frame {
            left: 50.0 + col as f64 * (pw + 10.0),
            top: top + row as f64 * (ph + gap),
            width: pw,
            height: ph,
            x: Axis::linear(0.0, t_max),
            y: log_range(
                s.points
                    .iter()
                    .map(|p| p.1)
                    .chain(s.curve.iter().map(|c| c.1)),
            ),
        };
        svg.rect(frame.left, frame.top, pw, ph, "#ffffff", 1.0, "panel");
        svg.line(
            (frame.left, frame.bottom()),
            (frame.right(), frame.bottom()),
            "#888888",
            0.8,
            false,
        );
        svg.line(
            (frame.left, frame.top),
            (frame.left, frame.bottom()),
            "#888888",
            0.8,
            false,
        );
        svg.open_group("label");
        svg.text(frame.left + 4.0, frame.top + 12.0, id, 10.0, "start", false);
        // The panel's log range, decade to decade (each panel has its own).
        let range = format!("{}–{}", decade(frame.y.low), decade(frame.y.high));
        svg.text(
            frame.right(),
            frame.bottom() + 20.0,
            &range,
            9.0,
            "end",
            false,
        );
        svg.close_group();
        for (a, b) in &s.dosing {
            let (x0, x1) = (frame.px(*a), frame.px(b.min(t_max)));
            svg.rect(
                x0,
                frame.bottom() + 3.0,
                (x1 - x0).max(0.5),
                5.0,
                dosing_colour(0),
                0.8,
                "dose",
            );
        }
        let curve: Vec<(f64, f64)> = s
            .curve
            .iter()
            .filter(|c| c.1 > 0.0)
            .map(|(t, v)| (frame.px(*t), frame.py(*v)))
            .collect();
        svg.path(&curve, colour(0), 1.2, "fitted");
        for &(t, v, blq, fitted, _) in &s.points {
            let (x, y) = (frame.px(t), frame.py(v));
            let fill = if fitted { "#000000" } else { "#999999" };
            if blq {
                svg.polygon(
                    &[(x, y + 3.0), (x - 3.0, y - 2.0), (x + 3.0, y - 2.0)],
                    fill,
                    0.6,
                    "blq",
                );
            } else {
                svg.circle(x, y, 1.6, fill, "observed");
            }
        }
    }
    let caption = format!(
        "Per subject: measured marker (dots; triangles: below the limit of quantification, \
         drawn at the limit; grey: held back and forecast), the fitted model's marker (line) \
         and the doses given (strip), time in {time_units}.{}",
        if subjects.len() > shown.len() {
            format!(" The first {} of {} subjects.", shown.len(), subjects.len())
        } else {
            String::new()
        }
    );
    Figure {
        name: "fit-subjects".to_owned(),
        caption,
        svg: svg.finish("fit per subject"),
    }
}

/// ln(observed / predicted) of the quantified measurements against time and against the
/// prediction: structure in either says the model or the error model misses something.
fn residuals(subjects: &[(String, SubjectData)], scenario: &str, time_units: &str) -> Figure {
    let points: Vec<(f64, f64, f64, bool)> = subjects
        .iter()
        .flat_map(|(_, s)| s.points.iter())
        .filter(|p| !p.2 && p.1 > 0.0 && p.4 > 0.0)
        .map(|p| (p.0, p.4, (p.1 / p.4).ln(), p.3))
        .collect();
    let r_max = points
        .iter()
        .map(|p| p.2.abs())
        .fold(0.1_f64, f64::max)
        .min(5.0);
    let mut svg = Svg::new(WIDTH, 420.0);
    title(&mut svg, "Residuals: ln(observed / predicted)", scenario);
    let t_max = points.iter().map(|p| p.0).fold(1.0_f64, f64::max);
    let left = Frame {
        left: 70.0,
        top: 70.0,
        width: 350.0,
        height: 290.0,
        x: Axis::linear(0.0, t_max),
        y: Axis::linear(-r_max, r_max),
    };
    let right = Frame {
        left: 500.0,
        x: log_range(points.iter().map(|p| p.1)),
        ..left
    };
    left.draw(
        &mut svg,
        &format!("time ({time_units})"),
        "ln(observed / predicted)",
    );
    right.draw(&mut svg, "predicted marker", "ln(observed / predicted)");
    for frame in [&left, &right] {
        svg.line(
            (frame.left, frame.py(0.0)),
            (frame.right(), frame.py(0.0)),
            "#555555",
            1.0,
            true,
        );
    }
    svg.open_group("data");
    for &(t, p, r, fitted) in &points {
        let fill = if fitted { colour(0) } else { "#999999" };
        svg.circle(
            left.px(t),
            left.py(r.clamp(-r_max, r_max)),
            1.5,
            fill,
            "residual",
        );
        svg.circle(
            right.px(p),
            right.py(r.clamp(-r_max, r_max)),
            1.5,
            fill,
            "residual",
        );
    }
    svg.close_group();
    Figure {
        name: "fit-residuals".to_owned(),
        caption: "Residuals of the quantified measurements on the log scale, against time \
                  and against the prediction (grey: held back). A fit whose model and error \
                  model hold scatters evenly about zero in both."
            .to_owned(),
        svg: svg.finish("residuals"),
    }
}

/// The visual predictive check: simulated 5–50–95 % percentiles (band and line) over the
/// observed ones (points).
fn vpc(t: &Table, scenario: &str, time_units: &str) -> Figure {
    let col = |row: &[String], n: &str| Table::number(row, t.column(n));
    let rows: Vec<[f64; 7]> = t
        .rows
        .iter()
        .map(|r| {
            [
                col(r, "time"),
                col(r, "observed_p5"),
                col(r, "observed_p50"),
                col(r, "observed_p95"),
                col(r, "simulated_p5"),
                col(r, "simulated_p50"),
                col(r, "simulated_p95"),
            ]
        })
        .collect();
    let mut svg = Svg::new(WIDTH, 500.0);
    title(
        &mut svg,
        "Visual predictive check of the population scenario",
        scenario,
    );
    let frame = Frame {
        left: 90.0,
        top: 70.0,
        width: WIDTH - 90.0 - 190.0,
        height: 370.0,
        x: Axis::linear(0.0, rows.iter().map(|r| r[0]).fold(1.0, f64::max)),
        y: log_range(rows.iter().flat_map(|r| r[1..].iter().copied())),
    };
    frame.draw(&mut svg, &format!("time ({time_units})"), "marker");
    svg.open_group("data");
    let mut band: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (frame.px(r[0]), frame.py(r[6])))
        .collect();
    band.extend(rows.iter().rev().map(|r| (frame.px(r[0]), frame.py(r[4]))));
    svg.polygon(&band, colour(0), 0.18, "simulated-90");
    let line = |k: usize| -> Vec<(f64, f64)> {
        rows.iter()
            .map(|r| (frame.px(r[0]), frame.py(r[k])))
            .collect()
    };
    svg.path(&line(5), colour(0), 1.8, "simulated-median");
    svg.dashed_path(&line(2), "#000000", 1.2, "observed-median");
    for r in &rows {
        for k in [1, 3] {
            svg.circle(
                frame.px(r[0]),
                frame.py(r[k]),
                2.0,
                "#000000",
                "observed-tail",
            );
        }
    }
    svg.close_group();
    legend(
        &mut svg,
        frame.right() + 16.0,
        frame.top + 10.0,
        &[
            ("simulated 5–95 %".to_owned(), colour(0), Mark::Block),
            ("simulated median".to_owned(), colour(0), Mark::Line),
            ("observed median".to_owned(), "#000000", Mark::Dashed),
            ("observed 5 %, 95 %".to_owned(), "#000000", Mark::Dot),
        ],
    );
    Figure {
        name: "fit-vpc".to_owned(),
        caption: format!(
            "Virtual subjects drawn from population.yaml's distributions, each simulated \
             under a real subject's doses and visit times with the fitted measurement error: \
             percentiles per visit interval (time in {time_units}), BLQ values at the limit. \
             Observed percentiles outside the band point to a population that is too narrow \
             or centred wrong."
        ),
        svg: svg.finish("visual predictive check"),
    }
}

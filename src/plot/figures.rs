//! The figures: trajectories with dosing, Kaplan–Meier curves with numbers at risk, swimmer
//! plots, the benefit–dose front of an optimisation, and clone composition.

use super::data::{GivenDose, RunFolder, Trajectory, Visit};
use super::svg::{Axis, Frame, Mark, PROGRESSION, Svg, colour, dosing_colour, legend};
use crate::stats::quantile;
use crate::stats::survival::KaplanMeier;

/// A drawn figure: file stem, caption, SVG text.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File name without extension (`km`, `trajectory-ARM`).
    pub name: String,
    /// One sentence under the figure in the report.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
}

pub(super) const WIDTH: f64 = 900.0;
/// Patients shown in a swimmer plot.
pub const SWIMMERS: usize = 30;

/// Top of the plotting area below the two-line title.
pub(super) const TOP: f64 = 64.0;

/// The figure's heading and, below it in grey, the scenario it belongs to.
pub fn title(svg: &mut Svg, heading: &str, scenario: &str) {
    svg.open_group("title");
    svg.text(20.0, 24.0, heading, 15.0, "start", false);
    svg.close_group();
    svg.open_group("subtitle");
    svg.text(20.0, 42.0, scenario, 12.0, "start", false);
    svg.close_group();
}

/// A label beside a vertical marker line, on whichever side has room.
fn marker_label(svg: &mut Svg, frame: &Frame, x: f64, text: &str) {
    svg.open_group("progression");
    if x > frame.left + 0.6 * frame.width {
        svg.text(x - 4.0, frame.top + 14.0, text, 12.0, "end", false);
    } else {
        svg.text(x + 4.0, frame.top + 14.0, text, 12.0, "start", false);
    }
    svg.close_group();
}

/// The usual plotting area: 90 px for the y axis on the left, 190 px for the legend on the
/// right.
pub(super) fn plot_area(top: f64, height: f64, x: Axis, y: Axis) -> Frame {
    Frame {
        left: 90.0,
        top,
        width: WIDTH - 90.0 - 190.0,
        height,
        x,
        y,
    }
}

pub use crate::support::format::slug;

/// Every figure the folder has data for.
pub fn all(f: &RunFolder) -> Vec<Figure> {
    let mut out = Vec::new();
    if f.stochastic && f.outcomes.values().any(|o| o.len() > 1) {
        out.push(km(f));
    }
    for arm in &f.arms {
        if RunFolder::runs_of(&f.trajectories, arm).next().is_some() {
            out.push(trajectory(f, arm));
            out.push(composition(f, arm));
        }
        if f.stochastic && RunFolder::runs_of(&f.doses, arm).next().is_some() {
            out.push(swimmer(f, arm));
        }
        out.extend(super::mpc::explain(f, arm));
    }
    if !f.finalists.is_empty() {
        out.push(pareto(f));
    }
    out
}

fn horizon(f: &RunFolder, fallback: f64) -> f64 {
    if f.horizon.is_finite() && f.horizon > 0.0 {
        f.horizon
    } else {
        fallback.max(1.0)
    }
}

/// Merged on-drug intervals of one drug from the doses given.
fn on_intervals(doses: &[GivenDose], drug: &str) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = doses
        .iter()
        .filter(|d| d.drug == drug && d.duration.is_finite())
        .map(|d| (d.time, d.time + d.duration.max(0.0)))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 + 1e-9 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Median, 10 % and 90 % quantiles over runs at each recorded time.
type Band = (Vec<f64>, Vec<f64>, Vec<f64>);

/// Median and 10–90 % band over runs, index by index (runs share their recording times).
fn bands(series: &[&[f64]]) -> Band {
    let len = series.iter().map(|s| s.len()).min().unwrap_or(0);
    let (mut mid, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..len {
        let mut xs: Vec<f64> = series.iter().map(|s| s[i]).collect();
        mid.push(quantile(&mut xs, 0.5));
        lo.push(quantile(&mut xs, 0.1));
        hi.push(quantile(&mut xs, 0.9));
    }
    (mid, lo, hi)
}

fn positive_range<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    values
        .filter(|v| **v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        })
}

/// Dosing strips above a frame: one row per drug, shaded where the drug was given (the
/// share of runs on drug when there are several).
fn dosing_strips(
    svg: &mut Svg,
    frame: &Frame,
    drugs: &[(usize, String)],
    runs: &[&Vec<GivenDose>],
) {
    if runs.is_empty() {
        return;
    }
    let h = 12.0;
    svg.open_group("dosing");
    for (row, (k, drug)) in drugs.iter().enumerate() {
        let k = *k;
        let y = frame.top - 8.0 - (drugs.len() - row) as f64 * (h + 4.0);
        svg.rect(
            frame.left,
            y,
            frame.width,
            h,
            "#f2f2f2",
            1.0,
            "dosing-track",
        );
        // The name to the right of the strip, where the legend column has room for it.
        let name = crate::plot::svg::split_label(drug, 30);
        let name = if name.len() > 1 {
            format!("{}…", name[0])
        } else {
            drug.clone()
        };
        svg.text(
            frame.right() + 8.0,
            y + h - 2.0,
            &name,
            11.0,
            "start",
            false,
        );
        if runs.len() == 1 {
            for (a, b) in on_intervals(runs[0], drug) {
                let (x0, x1) = (frame.px(a), frame.px(b.min(frame.x.high)));
                svg.rect(
                    x0,
                    y,
                    (x1 - x0).max(0.5),
                    h,
                    dosing_colour(k),
                    0.9,
                    "dosing-on",
                );
            }
        } else {
            // Share of runs on drug in each of 300 bins.
            let bins = 300usize;
            let span = frame.x.high - frame.x.low;
            let mut share = vec![0.0; bins];
            for run in runs {
                let mut covered = vec![false; bins];
                for (a, b) in on_intervals(run, drug) {
                    let first = ((a - frame.x.low) / span * bins as f64).floor().max(0.0) as usize;
                    let last = ((b - frame.x.low) / span * bins as f64).ceil().max(0.0) as usize;
                    for c in covered.iter_mut().take(last.min(bins)).skip(first) {
                        *c = true;
                    }
                }
                for (s, c) in share.iter_mut().zip(covered) {
                    *s += f64::from(u8::from(c)) / runs.len() as f64;
                }
            }
            // Runs of bins with the same share become one rectangle (no seams).
            let w = frame.width / bins as f64;
            let mut i = 0;
            while i < bins {
                let mut j = i + 1;
                while j < bins && (share[j] - share[i]).abs() < 0.02 {
                    j += 1;
                }
                if share[i] > 0.0 {
                    svg.rect(
                        frame.left + i as f64 * w,
                        y,
                        (j - i) as f64 * w,
                        h,
                        dosing_colour(k),
                        0.9 * share[i],
                        "dosing-on",
                    );
                }
                i = j;
            }
        }
    }
    svg.close_group();
}

/// Progression threshold in force at each visit of a deterministic run, up to progression
/// (recorded by the run in visits.csv).
fn threshold(visits: &[Visit]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for v in visits {
        if let Some(th) = v.threshold.filter(|x| x.is_finite() && *x > 0.0) {
            out.push((v.time, th));
        }
        if v.progression {
            break;
        }
    }
    out
}

/// Tumour burden over time: each compartment and the marker (one run, or the median and
/// 10–90 % band over the kept rollouts), dosing above, threshold and progression marked.
pub fn trajectory(f: &RunFolder, arm: &str) -> Figure {
    let runs: Vec<&Trajectory> = RunFolder::runs_of(&f.trajectories, arm)
        .map(|(_, t)| t)
        .collect();
    let doses: Vec<&Vec<GivenDose>> = RunFolder::runs_of(&f.doses, arm).map(|(_, d)| d).collect();
    let several = runs.len() > 1;
    let first = runs[0];
    let h = horizon(f, first.times.last().copied().unwrap_or(1.0));
    // Strips only for the drugs this arm gave.
    let given: Vec<(usize, String)> = f
        .drugs
        .iter()
        .enumerate()
        .filter(|(_, d)| doses.iter().any(|run| run.iter().any(|g| &g.drug == *d)))
        .map(|(k, d)| (k, d.clone()))
        .collect();
    let n_drugs = given.len() as f64;
    let top = TOP + 6.0 + n_drugs * 16.0;
    let mut svg = Svg::new(WIDTH, top + 400.0 + 64.0);
    // (compartment, median, 10 %, 90 %) over the runs.
    let mut series: Vec<(String, Band)> = Vec::new();
    for (k, (name, _)) in first.compartments.iter().enumerate() {
        let s: Vec<&[f64]> = runs
            .iter()
            .filter_map(|r| r.compartments.get(k))
            .map(|c| c.1.as_slice())
            .collect();
        series.push((name.clone(), bands(&s)));
    }
    let marker: Vec<&[f64]> = runs.iter().map(|r| r.marker.as_slice()).collect();
    let (mm, mlo, mhi) = bands(&marker);
    let (lo, hi) = positive_range(
        series
            .iter()
            .flat_map(|s| {
                s.1.0
                    .iter()
                    .chain(if several { s.1.1.iter() } else { [].iter() })
            })
            .chain(mm.iter())
            .chain(mhi.iter()),
    );
    let frame = Frame {
        left: 90.0,
        top,
        width: WIDTH - 90.0 - 190.0,
        height: 400.0,
        x: Axis::linear(0.0, h),
        // Six decades below the peak, and never below one cell.
        y: Axis::log(lo.max(hi * 1e-6).max(f.one_cell()), hi),
    };
    let what = if several {
        format!("median and 10–90 % of {} rollouts", runs.len())
    } else if first.times.is_empty() {
        "no data".to_owned()
    } else {
        "deterministic run".to_owned()
    };
    title(
        &mut svg,
        &format!("{arm}: burden over time ({what})"),
        &f.scenario_name,
    );
    frame.draw(
        &mut svg,
        &format!("time ({})", f.time_units),
        &f.count_label(),
    );
    svg.open_clipped("data", &format!("clip-trajectory-{}", slug(arm)), &frame);
    let times = &first.times;
    let pts = |ys: &[f64]| -> Vec<(f64, f64)> {
        times
            .iter()
            .zip(ys)
            .filter(|(_, y)| **y > 0.0 && y.is_finite())
            .map(|(t, y)| (frame.px(*t), frame.py(*y)))
            .collect()
    };
    let mut entries = Vec::new();
    for (k, (name, (m, lo, hi))) in series.iter().enumerate() {
        if several {
            let mut band = pts(hi);
            let mut lower = pts(lo);
            lower.reverse();
            band.extend(lower);
            svg.polygon(&band, colour(k), 0.15, "band");
        }
        svg.path(&pts(m), colour(k), 2.0, "compartment");
        entries.push((name.clone(), colour(k), Mark::Line));
    }
    if several {
        let mut band = pts(&mhi);
        let mut lower = pts(&mlo);
        lower.reverse();
        band.extend(lower);
        svg.polygon(&band, "#000000", 0.08, "band");
    }
    svg.path(&pts(&mm), "#000000", 1.5, "marker");
    entries.push(("marker".to_owned(), "#000000", Mark::Line));
    if !several {
        entries.push(("marker observed".to_owned(), "#000000", Mark::Dot));
    }
    if f.detection_limit > 0.0 && f.detection_limit > frame.y.low {
        let y = frame.py(f.detection_limit);
        svg.dashed_path(
            &[(frame.left, y), (frame.right(), y)],
            "#777777",
            1.0,
            "detection-limit",
        );
        entries.push(("detection limit".to_owned(), "#777777", Mark::Dashed));
    }
    if !several {
        visit_marks(&mut svg, &frame, f, arm, &mut entries);
    } else if let Some(m) = f
        .outcomes
        .get(arm)
        .and_then(|o| KaplanMeier::new(o).median())
    {
        let x = frame.px(m);
        svg.line((x, frame.top), (x, frame.bottom()), PROGRESSION, 1.5, true);
        marker_label(
            &mut svg,
            &frame,
            x,
            &format!("median TTP, {m:.0} {}", f.time_units),
        );
    }
    svg.close_group();
    dosing_strips(&mut svg, &frame, &given, &doses);
    legend(&mut svg, frame.right() + 20.0, frame.top + 14.0, &entries);
    Figure {
        name: format!("trajectory-{}", slug(arm)),
        caption: format!("Burden over time, {arm} ({what}); dosing shaded above the axes."),
        svg: svg.finish(&format!("trajectory {arm}")),
    }
}

/// One run's visits on a trajectory: the observed marker, the progression threshold as a
/// step, and the progression time.
fn visit_marks(
    svg: &mut Svg,
    frame: &Frame,
    f: &RunFolder,
    arm: &str,
    entries: &mut Vec<(String, &'static str, Mark)>,
) {
    if let Some((_, visits)) = RunFolder::runs_of(&f.visits, arm).next() {
        svg.open_group("visits");
        for v in visits.iter().filter(|v| v.detected && v.marker > 0.0) {
            svg.circle(
                frame.px(v.time),
                frame.py(v.marker),
                2.5,
                "#000000",
                "visit",
            );
        }
        svg.close_group();
        let th = threshold(visits);
        if !th.is_empty() {
            let mut step = Vec::new();
            for (i, (t, v)) in th.iter().enumerate() {
                let next = th.get(i + 1).map_or(*t, |n| n.0);
                step.push((frame.px(*t), frame.py(*v)));
                step.push((frame.px(next), frame.py(*v)));
            }
            svg.dashed_path(&step, PROGRESSION, 1.2, "threshold");
            let rule = f.arm_progression(arm);
            entries.push((
                if rule.is_empty() {
                    "progression threshold".to_owned()
                } else {
                    format!("threshold: {rule}")
                },
                PROGRESSION,
                Mark::Dashed,
            ));
        }
        if let Some(p) = visits.iter().find(|v| v.progression) {
            let x = frame.px(p.time);
            svg.line((x, frame.top), (x, frame.bottom()), PROGRESSION, 1.5, true);
            marker_label(
                svg,
                frame,
                x,
                &format!("progression, {:.0} {}", p.time, f.time_units),
            );
        }
    }
}

/// Stacked fractions of each compartment over time: persisters turning into resistance.
pub fn composition(f: &RunFolder, arm: &str) -> Figure {
    let runs: Vec<&Trajectory> = RunFolder::runs_of(&f.trajectories, arm)
        .map(|(_, t)| t)
        .collect();
    let first = runs[0];
    let h = horizon(f, first.times.last().copied().unwrap_or(1.0));
    let mut svg = Svg::new(WIDTH, 496.0);
    let frame = plot_area(TOP, 370.0, Axis::linear(0.0, h), Axis::linear(0.0, 1.0));
    let what = if runs.len() > 1 {
        format!("mean over {} rollouts", runs.len())
    } else {
        "deterministic run".to_owned()
    };
    title(
        &mut svg,
        &format!("{arm}: clone composition ({what})"),
        &f.scenario_name,
    );
    frame.draw(
        &mut svg,
        &format!("time ({})", f.time_units),
        "fraction of cells",
    );
    let n = first.compartments.len();
    let len = runs.iter().map(|r| r.times.len()).min().unwrap_or(0);
    // Mean fraction of each compartment at each recorded time.
    let mut fractions = vec![vec![0.0; len]; n];
    for r in &runs {
        let totals: Vec<f64> = (0..len)
            .map(|i| {
                r.compartments
                    .iter()
                    .map(|c| c.1.get(i).copied().unwrap_or(0.0).max(0.0))
                    .sum()
            })
            .collect();
        for (share, c) in fractions.iter_mut().zip(&r.compartments) {
            for ((s, x), total) in share.iter_mut().zip(&c.1).zip(&totals) {
                if *total > 0.0 {
                    *s += x.max(0.0) / total / runs.len() as f64;
                }
            }
        }
    }
    let mut below = vec![0.0; len];
    let mut entries = Vec::new();
    for (k, (name, _)) in first.compartments.iter().enumerate() {
        let above: Vec<f64> = below
            .iter()
            .zip(&fractions[k])
            .map(|(b, x)| b + x)
            .collect();
        let mut pts: Vec<(f64, f64)> = (0..len)
            .map(|i| (frame.px(first.times[i]), frame.py(above[i])))
            .collect();
        pts.extend(
            (0..len)
                .rev()
                .map(|i| (frame.px(first.times[i]), frame.py(below[i]))),
        );
        svg.polygon(&pts, colour(k), 0.85, "clone");
        entries.push((name.clone(), colour(k), Mark::Block));
        below = above;
    }
    legend(&mut svg, frame.right() + 20.0, frame.top + 14.0, &entries);
    Figure {
        name: format!("composition-{}", slug(arm)),
        caption: format!("Share of each compartment over time, {arm} ({what})."),
        svg: svg.finish(&format!("composition {arm}")),
    }
}

/// An arm's name, its Kaplan–Meier curve and the (time, progressed) data behind it.
type ArmCurve<'a> = (&'a String, KaplanMeier, &'a Vec<(f64, bool)>);

/// Kaplan–Meier curves of time to progression by arm, with 95 % bands, censoring ticks and
/// the numbers at risk under the axis.
pub fn km(f: &RunFolder) -> Figure {
    let arms: Vec<ArmCurve> = f
        .arms
        .iter()
        .filter_map(|a| f.outcomes.get(a).map(|o| (a, KaplanMeier::new(o), o)))
        .collect();
    let longest = arms
        .iter()
        .flat_map(|a| a.2.iter().map(|x| x.0))
        .fold(0.0, f64::max);
    let h = horizon(f, longest);
    let table_height = 22.0 + 16.0 * arms.len() as f64;
    let mut svg = Svg::new(WIDTH, TOP + 360.0 + 56.0 + table_height + 10.0);
    let frame = Frame {
        left: 150.0,
        top: TOP,
        width: WIDTH - 150.0 - 190.0,
        height: 360.0,
        x: Axis::linear(0.0, h),
        y: Axis::linear(0.0, 1.0),
    };
    title(
        &mut svg,
        "Time to progression by arm (Kaplan–Meier, 95 % bands)",
        &f.scenario_name,
    );
    frame.draw(
        &mut svg,
        &format!("time ({})", f.time_units),
        "progression-free",
    );
    let mut entries = Vec::new();
    for (k, (name, curve, _)) in arms.iter().enumerate() {
        let c = colour(k);
        // Step functions: the curve, and the band as a closed polygon of its two steps.
        let (mut line, mut upper, mut lower) =
            (vec![(0.0, 1.0)], vec![(0.0, 1.0)], vec![(0.0, 1.0)]);
        for s in &curve.steps {
            if s.events > 0 {
                let prev = line.last().map_or(1.0, |p| p.1);
                line.push((s.time, prev));
                line.push((s.time, s.survival));
                let (pu, pl) = (
                    upper.last().map_or(1.0, |p| p.1),
                    lower.last().map_or(1.0, |p| p.1),
                );
                upper.push((s.time, pu));
                upper.push((s.time, s.upper));
                lower.push((s.time, pl));
                lower.push((s.time, s.lower));
            }
        }
        let end = curve.steps.last().map_or(0.0, |s| s.time).max(0.0);
        for v in [&mut line, &mut upper, &mut lower] {
            let last = v.last().map_or(1.0, |p| p.1);
            v.push((end, last));
        }
        let mut band: Vec<(f64, f64)> = upper
            .iter()
            .map(|(t, s)| (frame.px(*t), frame.py(*s)))
            .collect();
        band.extend(
            lower
                .iter()
                .rev()
                .map(|(t, s)| (frame.px(*t), frame.py(*s))),
        );
        svg.polygon(&band, c, 0.12, "km-band");
        let pts: Vec<(f64, f64)> = line
            .iter()
            .map(|(t, s)| (frame.px(*t), frame.py(*s)))
            .collect();
        svg.path(&pts, c, 2.2, "km-curve");
        svg.open_group("censor-marks");
        for s in curve.steps.iter().filter(|s| s.censored > 0) {
            let (x, y) = (frame.px(s.time), frame.py(s.survival));
            svg.path(&[(x, y - 5.0), (x, y + 5.0)], c, 1.5, "censor");
        }
        svg.close_group();
        // A curve drawn exactly under an earlier one would vanish: say so in the legend.
        let label = match arms[..k].iter().find(|other| other.1 == *curve) {
            Some(other) => format!("{name} (= {})", other.0),
            None => (*name).clone(),
        };
        entries.push((label, c, Mark::Line));
    }
    legend(&mut svg, frame.right() + 20.0, frame.top + 14.0, &entries);
    // Numbers at risk at each time tick.
    let table_top = frame.bottom() + 62.0;
    svg.open_group("at-risk");
    svg.text(20.0, table_top, "at risk", 12.0, "start", false);
    for (k, (name, _, data)) in arms.iter().enumerate() {
        let y = table_top + 16.0 * (k + 1) as f64;
        svg.text(frame.left - 24.0, y, name, 11.0, "end", false);
        for (t, _) in frame.x.ticks() {
            let n = data.iter().filter(|(x, _)| *x >= t).count();
            svg.text(frame.px(t), y, &n.to_string(), 11.0, "middle", false);
        }
    }
    svg.close_group();
    Figure {
        name: "km".to_owned(),
        caption: "Kaplan–Meier estimate of time to progression by arm with pointwise 95 % bands (log–log, Greenwood); ticks mark censoring; numbers at risk below.".to_owned(),
        svg: svg.finish("Kaplan–Meier"),
    }
}

/// One bar per simulated patient (the first 30 kept rollouts): on-drug periods shaded,
/// progression marked.
pub fn swimmer(f: &RunFolder, arm: &str) -> Figure {
    let runs: Vec<(u64, &Vec<GivenDose>)> = RunFolder::runs_of(&f.doses, arm)
        .filter_map(|(k, d)| k.rollout.map(|r| (r, d)))
        .take(SWIMMERS)
        .collect();
    let outcomes = f.outcomes.get(arm);
    let h = horizon(f, 1.0);
    let row = 14.0;
    let given: Vec<(usize, String)> = f
        .drugs
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            runs.iter()
                .any(|(_, run)| run.iter().any(|g| &g.drug == *d))
        })
        .map(|(k, d)| (k, d.clone()))
        .collect();
    let mut svg = Svg::new(WIDTH, TOP + row * runs.len() as f64 + 70.0);
    let frame = Frame {
        left: 90.0,
        top: TOP,
        width: WIDTH - 90.0 - 190.0,
        height: row * runs.len().max(1) as f64,
        x: Axis::linear(0.0, h),
        y: Axis::linear(0.0, runs.len().max(1) as f64),
    };
    title(
        &mut svg,
        &format!("{arm}: first {} simulated patients", runs.len()),
        &f.scenario_name,
    );
    svg.open_group("axes");
    for (v, label) in frame.x.ticks() {
        let x = frame.px(v);
        svg.line((x, frame.top), (x, frame.bottom()), "#f0f0f0", 1.0, false);
        svg.text(x, frame.bottom() + 18.0, &label, 12.0, "middle", false);
    }
    svg.close_group();
    svg.open_group("axis-label x-label");
    svg.text(
        frame.left + frame.width / 2.0,
        frame.bottom() + 38.0,
        &format!("time ({})", f.time_units),
        13.0,
        "middle",
        false,
    );
    svg.close_group();
    for (i, (rollout, doses)) in runs.iter().enumerate() {
        let y = frame.top + i as f64 * row + 2.0;
        let (ttp, progressed) = outcomes
            .and_then(|o| o.get(*rollout as usize))
            .copied()
            .unwrap_or((h, false));
        let end = ttp.min(h);
        svg.text(
            frame.left - 6.0,
            y + row - 4.0,
            &format!("#{}", rollout + 1),
            10.0,
            "end",
            false,
        );
        svg.rect(
            frame.left,
            y,
            frame.px(end) - frame.left,
            row - 4.0,
            "#d9d9d9",
            1.0,
            "patient",
        );
        // One sub-row per drug the arm gave, so combinations show both.
        let lane = (row - 4.0) / given.len().max(1) as f64;
        for (lane_k, (k, drug)) in given.iter().enumerate() {
            for (a, b) in on_intervals(doses, drug) {
                let (x0, x1) = (frame.px(a.min(end)), frame.px(b.min(end)));
                if x1 > x0 {
                    svg.rect(
                        x0,
                        y + lane * lane_k as f64,
                        x1 - x0,
                        lane,
                        dosing_colour(*k),
                        0.9,
                        "on-drug",
                    );
                }
            }
        }
        if progressed {
            svg.circle(
                frame.px(end),
                y + (row - 4.0) / 2.0,
                4.0,
                PROGRESSION,
                "progression",
            );
        } else {
            // Censored: no progression by the horizon.
            svg.text(
                frame.px(end) + 2.0,
                y + row - 4.0,
                "→",
                11.0,
                "start",
                false,
            );
        }
    }
    let mut entries: Vec<(String, &str, Mark)> = given
        .iter()
        .map(|(k, d)| (format!("on {d}"), dosing_colour(*k), Mark::Block))
        .collect();
    entries.push(("progression".to_owned(), PROGRESSION, Mark::Dot));
    legend(&mut svg, frame.right() + 20.0, frame.top + 14.0, &entries);
    Figure {
        name: format!("swimmer-{}", slug(arm)),
        caption: format!(
            "Swimmer plot, {arm}: one bar per simulated patient up to progression; on-drug periods shaded; dots mark progression, arrows patients still progression-free at the horizon (censored)."
        ),
        svg: svg.finish(&format!("swimmer {arm}")),
    }
}

/// Benefit against dose for an optimisation: every evaluation faint, the finalists, the
/// front bold, the scenario's arms labelled.
pub fn pareto(f: &RunFolder) -> Figure {
    let xs = f
        .cloud
        .iter()
        .map(|p| p.0)
        .chain(f.finalists.iter().map(|e| e.relative_dose));
    let ys = f
        .cloud
        .iter()
        .map(|p| p.1)
        .chain(f.finalists.iter().map(|e| e.holdout));
    let x_hi = xs.filter(|v| v.is_finite()).fold(1.0f64, f64::max) * 1.05;
    let (y_lo, y_hi) = ys
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let pad = ((y_hi - y_lo) * 0.05).max(1e-6);
    let mut svg = Svg::new(WIDTH, 536.0);
    let frame = plot_area(
        TOP,
        400.0,
        Axis::linear(0.0, x_hi),
        Axis::linear(y_lo - pad, y_hi + pad),
    );
    let objective = match f.objective.as_str() {
        "rmst" => format!("restricted mean TTP ({})", f.time_units),
        "median" => format!("median TTP ({})", f.time_units),
        other => other.to_owned(),
    };
    title(&mut svg, "Benefit against dose", &f.scenario_name);
    frame.draw(
        &mut svg,
        "mean cumulative dose relative to continuous dosing",
        &objective,
    );
    svg.open_group("candidates");
    for (d, s) in &f.cloud {
        svg.circle(frame.px(*d), frame.py(*s), 2.5, "#9a9a9a", "candidate");
    }
    svg.close_group();
    let mut front: Vec<(f64, f64)> = f
        .finalists
        .iter()
        .filter(|e| e.on_front)
        .map(|e| (e.relative_dose, e.holdout))
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pts: Vec<(f64, f64)> = front
        .iter()
        .map(|(d, s)| (frame.px(*d), frame.py(*s)))
        .collect();
    // One schedule alone is a front of one point: ring it, since a line needs two.
    match pts.as_slice() {
        [] => {}
        [(x, y)] => svg.circle(*x, *y, 8.0, "#0072B2", "front"),
        _ => svg.path(&pts, "#0072B2", 2.5, "front"),
    }
    let front_entry = match pts.len() {
        0 => None,
        1 => Some(("front (one schedule)".to_owned(), "#0072B2", Mark::Dot)),
        _ => Some(("front".to_owned(), "#0072B2", Mark::Line)),
    };
    // Labels of arms that sit close together are stacked so they do not overlap.
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    for e in &f.finalists {
        let (x, y) = (frame.px(e.relative_dose), frame.py(e.holdout));
        if e.label.starts_with("arm:") {
            svg.circle(x, y, 5.0, "#D55E00", "arm");
            let name = e.label.trim_start_matches("arm:");
            let width = 6.6 * name.chars().count() as f64;
            let mut ly = y - 6.0;
            let overlaps = |ly: f64, placed: &[(f64, f64, f64)]| {
                placed.iter().any(|(a, b, py)| {
                    (ly - py).abs() < 13.0 && x + 7.0 < *b && x + 7.0 + width > *a
                })
            };
            let mut step = 0;
            while overlaps(ly, &placed) && step < 12 {
                step += 1;
                ly = y - 6.0 + 14.0 * step as f64;
            }
            placed.push((x + 7.0, x + 7.0 + width, ly));
            if (ly - (y - 6.0)).abs() > 1.0 {
                svg.line((x, y), (x + 6.0, ly - 4.0), "#D55E00", 0.8, false);
            }
            svg.open_group("arm-label");
            svg.text(x + 7.0, ly, name, 11.0, "start", false);
            svg.close_group();
        } else {
            svg.circle(
                x,
                y,
                4.5,
                if e.on_front { "#0072B2" } else { "#56B4E9" },
                "finalist",
            );
        }
    }
    legend(
        &mut svg,
        frame.right() + 20.0,
        frame.top + 14.0,
        &[
            Some(("evaluated (tuning)".to_owned(), "#9a9a9a", Mark::Dot)),
            Some(("finalist (hold-out)".to_owned(), "#56B4E9", Mark::Dot)),
            front_entry,
            Some(("scenario arm".to_owned(), "#D55E00", Mark::Dot)),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>(),
    );
    Figure {
        name: "pareto".to_owned(),
        caption: "Benefit against dose: every evaluated schedule on the tuning seeds (grey), finalists and arms on the hold-out seeds, the front of feasible schedules no other beats on benefit without more dose (bold).".to_owned(),
        svg: svg.finish("benefit against dose"),
    }
}

//! Draws the in-vitro kill curve of the persister model (docs/figures/pc9-invitro.svg, shown
//! in docs/scenarios.md): the surviving fraction of PC9 cells under continuous EGFR TKI and
//! after withdrawal on day 9, from scenarios/persister-pc9-invitro.yaml (the switching
//! kinetics of scenarios/persister-nsclc.yaml), beside the published points it was set to.
//!
//!     cargo run --release --example invitro_curve [-- OUT.svg|OUT.png]
//!
//! Deterministic: the same file every time.

use regimen::Scenario;
use regimen::plot::svg::{Axis, Frame, Mark, Svg, colour, legend};
use regimen::sim::{RunOptions, run_deterministic};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/figures/pc9-invitro.svg".to_owned());
    let scenario = Scenario::load(Path::new("scenarios/persister-pc9-invitro.yaml"))?;
    let options = RunOptions {
        record_every: 0.25,
        noise: None,
    };
    let n = scenario.model.n_compartments();
    // Per arm: (time, surviving fraction, share in the persister states).
    let mut curves = Vec::new();
    for arm in &scenario.arms {
        let run = run_deterministic(&scenario, arm, options)?;
        let t = &run.trajectory;
        let total = |row: usize| t.counts[row * n..(row + 1) * n].iter().sum::<f64>();
        let n0 = total(0);
        let persisters: Vec<usize> = scenario
            .model
            .compartments
            .iter()
            .enumerate()
            .filter(|(_, c)| c.role == regimen::model::Role::Persister)
            .map(|(i, _)| i)
            .collect();
        let points: Vec<(f64, f64, f64)> = (0..t.times.len())
            .map(|row| {
                let all = total(row);
                let p: f64 = persisters.iter().map(|&i| t.counts[row * n + i]).sum();
                (t.times[row], all / n0, p / all.max(f64::MIN_POSITIVE))
            })
            .collect();
        curves.push((arm.name.clone(), points));
    }
    let mut svg = Svg::new(900.0, 520.0);
    svg.text(
        30.0,
        30.0,
        "PC9 under EGFR TKI: surviving fraction (persister model, in vitro)",
        17.0,
        "start",
        false,
    );
    svg.text(
        30.0,
        50.0,
        "scenarios/persister-pc9-invitro.yaml, deterministic; switching rates shared with persister-nsclc",
        12.0,
        "start",
        false,
    );
    let frame = Frame {
        left: 90.0,
        top: 80.0,
        width: 560.0,
        height: 370.0,
        x: Axis::linear(0.0, scenario.horizon),
        y: Axis::log(1e-4, 1e3),
    };
    frame.draw(&mut svg, "days", "cells / cells at day 0 (log scale)");
    svg.open_group("data");
    for (k, (_, points)) in curves.iter().enumerate() {
        let line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.1 >= 1e-4 && p.1 <= 1e3)
            .map(|p| (frame.px(p.0), frame.py(p.1)))
            .collect();
        svg.path(&line, colour(k), 2.0, "model");
    }
    // Published: about 0.3 % of PC9 cells survive 9 days of 2 µM erlotinib (Sharma 2010).
    svg.circle(frame.px(9.0), frame.py(3e-3), 5.0, "#000000", "published");
    svg.text(
        frame.px(9.0) + 8.0,
        frame.py(3e-3) - 8.0,
        "0.3 % at day 9 (Sharma 2010)",
        11.0,
        "start",
        false,
    );
    // DTEPs expand in drug after about 30 days (Sharma 2010).
    svg.line(
        (frame.px(30.0), frame.top),
        (frame.px(30.0), frame.bottom()),
        "#777777",
        1.0,
        true,
    );
    svg.text(
        frame.px(30.0) + 4.0,
        frame.top + 14.0,
        "DTEPs ~30 days",
        11.0,
        "start",
        false,
    );
    // The persister state vanishes within about two weeks off drug (seed 000).
    svg.line(
        (frame.px(9.0), frame.bottom() - 20.0),
        (frame.px(23.0), frame.bottom() - 20.0),
        "#777777",
        2.0,
        false,
    );
    svg.text(
        frame.px(9.0),
        frame.bottom() - 26.0,
        "2 weeks off drug",
        11.0,
        "start",
        false,
    );
    svg.close_group();
    let mut entries: Vec<(String, &str, Mark)> = curves
        .iter()
        .enumerate()
        .map(|(k, (name, _))| (name.clone(), colour(k), Mark::Line))
        .collect();
    entries.push(("published".to_owned(), "#000000", Mark::Dot));
    legend(&mut svg, frame.right() + 16.0, frame.top + 10.0, &entries);
    // The numbers the docs quote.
    for (name, points) in &curves {
        let at = |day: f64| {
            points
                .iter()
                .min_by(|a, b| (a.0 - day).abs().total_cmp(&(b.0 - day).abs()))
                .copied()
                .unwrap_or((day, f64::NAN, f64::NAN))
        };
        let row: Vec<String> = [3.0, 9.0, 14.0, 23.0, 30.0, 40.0]
            .iter()
            .map(|&d| {
                let (_, f, p) = at(d);
                format!("day {d}: {f:.2e} ({:.0} % persisters)", 100.0 * p)
            })
            .collect();
        println!("{name}: {}", row.join(", "));
    }
    if let Some(dir) = Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = svg.finish("in-vitro kill curve");
    if out.ends_with(".png") {
        std::fs::write(&out, regimen::plot::png::render(&text, 1.5)?)?;
    } else {
        std::fs::write(&out, text)?;
    }
    println!("wrote {out}");
    Ok(())
}

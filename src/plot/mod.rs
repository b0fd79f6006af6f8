//! Pictures of a run: SVG (always) and PNG figures, and a self-contained HTML report, drawn
//! from the files in a run's output folder.

pub mod data;
pub mod figures;
pub mod fit;
pub mod html;
pub mod mpc;
pub mod png;
pub mod sensitivity;
pub mod svg;

use crate::error::Result;
use crate::report::write_atomic;
use std::path::Path;

/// Draws every figure the folder `dir` has data for into `dir/plots/` (SVG, and PNG when
/// `png`), and the HTML report to `report` if given. Returns the figure names.
pub fn render_folder(dir: &Path, report: Option<&Path>, png: bool) -> Result<Vec<String>> {
    let folder = data::RunFolder::load(dir)?;
    let mut figures = figures::all(&folder);
    // An optimisation's sensitivity report (nothing when the folder has none).
    {
        let objective = match folder.objective.as_str() {
            "rmst" => format!("restricted mean TTP ({})", folder.time_units),
            "median" => format!("median TTP ({})", folder.time_units),
            other => other.to_owned(),
        };
        figures.extend(sensitivity::figures(
            dir,
            &folder.scenario_name,
            &objective,
        )?);
    }
    if folder.command == "fit" {
        figures.extend(fit::figures(
            dir,
            &folder.scenario_name,
            &folder.time_units,
        )?);
    }
    let plots = dir.join("plots");
    for f in &figures {
        write_atomic(&plots.join(format!("{}.svg", f.name)), f.svg.as_bytes())?;
        if png {
            write_atomic(
                &plots.join(format!("{}.png", f.name)),
                &self::png::render(&f.svg, 1.5)?,
            )?;
        }
    }
    if let Some(path) = report {
        write_atomic(path, html::report(&folder, &figures).as_bytes())?;
    }
    Ok(figures.into_iter().map(|f| f.name).collect())
}

//! Putting the shards of a job back together: a comparison's rollouts, or an
//! optimisation's searches (whose finalists are then ranked on this machine).

use super::compare::{Comparison, Rollouts};
use super::manifest::Manifest;
use super::optimise::{Optimisation, OptimiseOptions};
use super::progress::Progress;
use super::shard::{self, ShardFolder};
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::search::config::Plan;
use crate::search::leaderboard::{self, Searched};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A merged job.
pub enum Merged {
    /// The shards of a comparison, summarised as one machine would.
    Comparison {
        /// The scenario, as the shards resolved it.
        scenario: Box<Scenario>,
        /// The whole comparison.
        comparison: Comparison,
        /// The merged folder's manifest.
        manifest: Box<Manifest>,
    },
    /// The shards of an optimisation, ranked on the hold-out seeds.
    Optimisation {
        /// The scenario, as the shards resolved it.
        scenario: Box<Scenario>,
        /// The whole optimisation.
        optimisation: Box<Optimisation>,
    },
}

/// Merges the shard folders `dirs` (all N of them, of one job).
pub fn merge(dirs: &[PathBuf], progress: &dyn Progress) -> Result<Merged> {
    let Some(first) = dirs.first() else {
        return Err(Error::Usage(
            "merge needs at least one shard folder".to_owned(),
        ));
    };
    let shards: Vec<ShardFolder> = dirs
        .iter()
        .map(|d| shard::read_shard(d))
        .collect::<Result<_>>()?;
    let optimise = shards.iter().filter(|s| s.manifest.command == "optimise");
    match optimise.count() {
        0 => merge_comparison(dirs),
        n if n == shards.len() => merge_optimisation(first, &shards, progress),
        _ => Err(Error::Usage(
            "merge: shards of compare and of optimise cannot be mixed".to_owned(),
        )),
    }
}

fn merge_comparison(dirs: &[PathBuf]) -> Result<Merged> {
    let started = std::time::Instant::now();
    let merged = shard::merge(dirs)?;
    let rollouts = Rollouts {
        arms: merged.arms,
        reference: merged.reference,
        seed: merged.seed,
        rollouts: merged.rollouts,
        shard: None,
        units: Vec::new(),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    let comparison = Comparison::new(&merged.scenario, rollouts);
    let mut manifest = merged.manifest;
    manifest.shard = None;
    manifest.wall_seconds = comparison.rollouts.wall_seconds;
    manifest.merged_from = Some(dirs.iter().map(|d| d.display().to_string()).collect());
    Ok(Merged::Comparison {
        scenario: Box::new(merged.scenario),
        comparison,
        manifest: Box::new(manifest),
    })
}

/// Checks that the optimisation shards belong to one run and hold every unit once.
fn check_optimisation_shards(shards: &[ShardFolder], plan: &Plan) -> Result<()> {
    let first = &shards[0];
    let identity = |m: &Manifest| {
        [
            (
                "optimise_fingerprint",
                m.optimise_fingerprint.clone().unwrap_or_default(),
            ),
            ("scenario_sha256", m.scenario_sha256.clone()),
            ("regimen_version", m.regimen_version.clone()),
            ("seed", m.seed.to_string()),
        ]
    };
    for s in &shards[1..] {
        for ((key, a), (_, b)) in identity(&first.manifest)
            .into_iter()
            .zip(identity(&s.manifest))
        {
            if a != b {
                return Err(Error::Usage(format!(
                    "{} and {} are not shards of the same optimisation: `{key}` differs",
                    first.dir.display(),
                    s.dir.display()
                )));
            }
        }
    }
    let count = first.shard.count;
    let mut indices = BTreeSet::new();
    let mut units = BTreeSet::new();
    for s in shards {
        if s.shard.count != count || !indices.insert(s.shard.index) {
            return Err(Error::Usage(format!(
                "{}: shard {} of {count} is given twice or belongs to another split",
                s.dir.display(),
                s.shard.index
            )));
        }
        for u in &s.units {
            if !units.insert(*u) {
                return Err(Error::Usage(format!("unit {u} is in two shards")));
            }
        }
    }
    if indices.len() as u64 != count {
        return Err(Error::Usage(format!(
            "shards missing: {} of {count} given",
            indices.len()
        )));
    }
    let expected: BTreeSet<u64> = (0..leaderboard::unit_count(plan)).collect();
    if units != expected {
        return Err(Error::Usage(format!(
            "the shards hold units {units:?}; the optimisation has {}",
            expected.len()
        )));
    }
    Ok(())
}

fn read_search(dir: &Path) -> Result<Searched> {
    super::manifest::read_json(
        &dir.join("search.json"),
        "not an optimisation shard's search",
    )
}

fn merge_optimisation(
    first: &Path,
    shards: &[ShardFolder],
    progress: &dyn Progress,
) -> Result<Merged> {
    let started = std::time::Instant::now();
    let scenario_path = first.join("scenario.yaml");
    let text = crate::scenario::parse::read_text(&scenario_path)?;
    let mut scenario = Scenario::from_text(&scenario_path, &text)?;
    let manifest = &shards[0].manifest;
    if scenario.sha256() != manifest.scenario_sha256 {
        return Err(Error::Usage(format!(
            "{}: scenario.yaml does not match the manifest's scenario hash",
            first.display()
        )));
    }
    // best.yaml names the scenario file the shards were started from.
    scenario.source = PathBuf::from(&manifest.scenario_file);
    let options = OptimiseOptions {
        seed: manifest.seed,
        overrides: manifest.optimise_overrides.clone().unwrap_or_default(),
        time_limit: None,
    };
    let plan = super::optimise::plan(&scenario, &options)?;
    check_optimisation_shards(shards, &plan)?;
    let parts = shards
        .iter()
        .map(|s| read_search(&s.dir))
        .collect::<Result<Vec<_>>>()?;
    let mut searched = Searched::combine(parts);
    for (unit, entry) in &mut searched.finalists {
        entry.schedule = leaderboard::rebuild_schedule(&plan, *unit, &entry.values)
            .ok_or_else(|| Error::Usage(format!("unit {unit} names no search of this plan")))?;
    }
    progress.begin(searched.finalists.len() as u64 + scenario.arms.len() as u64);
    let tick = || progress.step();
    let board = leaderboard::finish(&scenario, &plan, searched, Some(&tick));
    progress.end();
    let optimisation = Optimisation {
        board: board?,
        plan,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Merged::Optimisation {
        scenario: Box::new(scenario),
        optimisation: Box::new(optimisation),
    })
}

//! Splitting a comparison across machines and putting it back together.
//!
//! A comparison's work is enumerated in one canonical order from the resolved scenario: for
//! each arm (scenario order), blocks of [`BLOCK`] rollouts. Unit `u` belongs to shard
//! `u mod N`. Every rollout draws only from streams keyed by (seed, rollout, …), so a unit
//! gives the same outcomes on any machine; `merge` checks that the shards belong together
//! and that every unit is present exactly once, reads the outcomes back (floats print and
//! parse exactly) and computes the same summary a single machine would.

use super::manifest::Manifest;
use crate::error::{Error, Result};
use crate::plot::data::Table;
use crate::scenario::Scenario;
use crate::sim::outcome::RunOutcome;
use crate::sim::rollouts::{ArmRollouts, Rollout};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rollouts per unit of work.
pub const BLOCK: u64 = 100;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K: this shard's index, from 0.
    pub index: u64,
    /// N: how many shards the job is split into.
    pub count: u64,
}

impl Shard {
    /// `K/N` as on the command line (K from 0 to N − 1).
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || {
            Error::Usage(format!(
                "--shard must be K/N with 0 ≤ K < N ≤ 100000 (e.g. 3/32), got `{text}`"
            ))
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count || count > 100_000 {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// From Slurm's job-array variables, when both are set.
    pub fn from_slurm() -> Result<Option<Shard>> {
        let (Ok(id), Ok(count)) = (
            std::env::var("SLURM_ARRAY_TASK_ID"),
            std::env::var("SLURM_ARRAY_TASK_COUNT"),
        ) else {
            return Ok(None);
        };
        Shard::parse(&format!("{id}/{count}"))
            .map(Some)
            .map_err(|_| {
                Error::Usage(format!(
                    "SLURM_ARRAY_TASK_ID={id} and SLURM_ARRAY_TASK_COUNT={count} do not name a \
                 shard (the array must be numbered 0 … N−1, e.g. --array=0-31)"
                ))
            })
    }
}

/// One unit of work: rollouts `first .. first + count` of arm `arm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unit {
    /// Position in the canonical order of the job's units.
    pub id: u64,
    /// Index of the arm.
    pub arm: usize,
    /// The first rollout of the unit.
    pub first: u64,
    /// Rollouts in the unit.
    pub count: u64,
}

/// Every unit of a comparison of `arms` arms with `rollouts` rollouts each, in canonical
/// order.
pub fn units(arms: usize, rollouts: u64) -> Vec<Unit> {
    let blocks = rollouts.div_ceil(BLOCK);
    let mut out = Vec::new();
    for arm in 0..arms {
        for b in 0..blocks {
            let first = b * BLOCK;
            out.push(Unit {
                id: out.len() as u64,
                arm,
                first,
                count: BLOCK.min(rollouts - first),
            });
        }
    }
    out
}

/// The units shard `shard` runs.
pub fn units_of(shard: Shard, arms: usize, rollouts: u64) -> Vec<Unit> {
    units(arms, rollouts)
        .into_iter()
        .filter(|u| u.id % shard.count == shard.index)
        .collect()
}

/// A shard folder as read back.
pub struct ShardFolder {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Which shard it holds.
    pub shard: Shard,
    /// The units of work it ran.
    pub units: Vec<u64>,
}

/// Reads the manifest of a shard's folder and checks the shard finished.
pub fn read_shard(dir: &Path) -> Result<ShardFolder> {
    let manifest = Manifest::read(dir)?;
    let Some(record) = manifest.shard.clone() else {
        return Err(Error::Usage(format!(
            "{}: not a shard (merge takes the folders of `--shard K/N` runs)",
            dir.display()
        )));
    };
    let shard = Shard {
        index: record.index,
        count: record.count,
    };
    if shard.count == 0 || shard.index >= shard.count {
        return Err(Error::Format {
            path: dir.join("manifest.json"),
            reason: "malformed shard entry".to_owned(),
        });
    }
    if !record.complete {
        return Err(Error::Usage(format!(
            "{}: shard {}/{} did not finish; run it again",
            dir.display(),
            shard.index,
            shard.count
        )));
    }
    Ok(ShardFolder {
        dir: dir.to_path_buf(),
        manifest,
        shard,
        units: record.units,
    })
}

/// True when `dir` already holds this shard, finished, of this same job (a resubmitted
/// array task can skip it).
pub fn already_done(dir: &Path, shard: Shard, hash: &str, seed: u64, rollouts: u64) -> bool {
    let Ok(folder) = read_shard(dir) else {
        return false;
    };
    let m = &folder.manifest;
    folder.shard == shard
        && m.scenario_sha256 == hash
        && m.seed == seed
        && m.rollouts_per_arm == rollouts
        && m.regimen_version == env!("CARGO_PKG_VERSION")
}

/// What `merge` puts back together.
pub struct Merged {
    /// The scenario, as the shards resolved it.
    pub scenario: Scenario,
    /// Every arm's rollouts, in scenario order.
    pub arms: Vec<(String, ArmRollouts)>,
    /// Index of the reference arm.
    pub reference: usize,
    /// Seed of the rollouts.
    pub seed: u64,
    /// Rollouts per arm.
    pub rollouts: u64,
    /// The first shard's manifest (for the merged one).
    pub manifest: Manifest,
    /// The shard folders, as given.
    pub dirs: Vec<PathBuf>,
}

/// One row of a shard's outcomes.csv, or what is wrong with it.
fn outcome_from_row(
    t: &Table,
    row: &[String],
    drugs: &[String],
) -> std::result::Result<(u64, Rollout), String> {
    let num = |name: &str| -> std::result::Result<f64, String> {
        let v = Table::number(row, t.column(name));
        if v.is_nan() && Table::text(row, t.column(name)) != "NaN" {
            return Err(format!(
                "column `{name}` missing or not a number in row {row:?}"
            ));
        }
        Ok(v)
    };
    let text = |name: &str| Table::text(row, t.column(name));
    let index: u64 = text("rollout")
        .parse()
        .map_err(|_| format!("bad rollout in row {row:?}"))?;
    let majority = text("resistance_majority_time");
    let extinct = text("extinct_at");
    let outcome = RunOutcome {
        ttp: num("time")?,
        progressed: text("event") == "1",
        resistance_majority: if majority.is_empty() {
            None
        } else {
            Some(num("resistance_majority_time")?)
        },
        cumulative_dose: drugs
            .iter()
            .map(|d| num(&format!("cumulative_dose_{d}")))
            .collect::<std::result::Result<Vec<_>, String>>()?,
        fraction_on_drug: num("fraction_time_on_drug")?,
        end_of_treatment: num("end_of_treatment")?,
        extinct_at: if extinct.is_empty() {
            None
        } else {
            Some(num("extinct_at")?)
        },
        final_total: num("final_total")?,
        final_resistant: num("final_resistant")?,
        cycles: num("cycles")? as u32,
        clipped_doses: num("clipped_doses")? as u32,
        peak_marker: num("peak_marker")?,
        // Shards written before responses were recorded have neither column.
        best_response: match text("best_response").as_str() {
            "" => 1.0,
            _ => num("best_response")?,
        },
        response_at: match text("response_time").as_str() {
            "" => None,
            _ => Some(num("response_time")?),
        },
    };
    Ok((
        index,
        Rollout {
            index,
            outcome,
            resistance_emerged: text("resistance_emerged") == "1",
        },
    ))
}

/// Checks that the shards are of one job (same scenario, version, seed, rollouts and
/// reference) and that each of its N shards is given once.
fn check_one_job(shards: &[ShardFolder]) -> Result<()> {
    let first = &shards[0];
    let key = |m: &Manifest| -> [(&'static str, String); 5] {
        [
            ("scenario_sha256", m.scenario_sha256.clone()),
            ("regimen_version", m.regimen_version.clone()),
            ("seed", m.seed.to_string()),
            ("rollouts_per_arm", m.rollouts_per_arm.to_string()),
            ("reference_arm", m.reference_arm.clone()),
        ]
    };
    for s in &shards[1..] {
        for ((name, a), (_, b)) in key(&first.manifest).into_iter().zip(key(&s.manifest)) {
            if a != b {
                return Err(Error::Usage(format!(
                    "{} and {} are not shards of the same job: `{name}` is {a} in one and {b} in the other",
                    first.dir.display(),
                    s.dir.display(),
                )));
            }
        }
    }
    let count = first.shard.count;
    let mut seen_shards = BTreeSet::new();
    for s in shards {
        if s.shard.count != count {
            return Err(Error::Usage(format!(
                "{} is shard {}/{} but {} is of {count}",
                s.dir.display(),
                s.shard.index,
                s.shard.count,
                first.dir.display()
            )));
        }
        if !seen_shards.insert(s.shard.index) {
            return Err(Error::Usage(format!(
                "shard {}/{count} is given twice ({})",
                s.shard.index,
                s.dir.display()
            )));
        }
    }
    let missing: Vec<u64> = (0..count).filter(|k| !seen_shards.contains(k)).collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "shards missing: {} of {count} (indices {:?})",
            missing.len(),
            missing
        )));
    }
    Ok(())
}

/// Checks that the shards hold every unit of the job exactly once.
fn check_units(shards: &[ShardFolder], all: &[Unit]) -> Result<()> {
    let mut owner: BTreeMap<u64, &Path> = BTreeMap::new();
    for s in shards {
        for u in &s.units {
            if let Some(other) = owner.insert(*u, &s.dir) {
                return Err(Error::Usage(format!(
                    "unit {u} is in both {} and {}",
                    other.display(),
                    s.dir.display()
                )));
            }
        }
    }
    let absent: Vec<u64> = all
        .iter()
        .map(|u| u.id)
        .filter(|u| !owner.contains_key(u))
        .collect();
    if !absent.is_empty() || owner.len() != all.len() {
        return Err(Error::Usage(format!(
            "the shards hold {} units; the job has {} (missing: {absent:?})",
            owner.len(),
            all.len()
        )));
    }
    Ok(())
}

/// The rollouts of every arm in the shards' outcomes.csv, by arm and rollout index; each
/// arm must hold rollouts 0 … `rollouts` − 1 once.
fn read_outcomes(
    shards: &[ShardFolder],
    scenario: &Scenario,
    rollouts: u64,
) -> Result<Vec<(String, ArmRollouts)>> {
    let drugs: Vec<String> = scenario.drugs.iter().map(|d| d.name.clone()).collect();
    let names: Vec<String> = scenario.arms.iter().map(|a| a.name.clone()).collect();
    let mut by_arm: Vec<BTreeMap<u64, Rollout>> = vec![BTreeMap::new(); names.len()];
    for s in shards {
        let path = s.dir.join("outcomes.csv");
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let t = Table::parse(&text);
        t.check_finite(&path, crate::plot::data::TEXT_COLUMNS)?;
        let bad = |reason: String| Error::Format {
            path: path.clone(),
            reason,
        };
        for row in &t.rows {
            let arm = Table::text(row, t.column("arm"));
            let a = names
                .iter()
                .position(|n| *n == arm)
                .ok_or_else(|| bad(format!("unknown arm `{arm}`")))?;
            let (index, rollout) = outcome_from_row(&t, row, &drugs).map_err(bad)?;
            if by_arm[a].insert(index, rollout).is_some() {
                return Err(Error::Usage(format!(
                    "{}: rollout {index} of arm `{arm}` appears twice",
                    path.display()
                )));
            }
        }
    }
    for (a, runs) in by_arm.iter().enumerate() {
        if runs.len() as u64 != rollouts
            || runs.keys().next_back().is_some_and(|k| *k + 1 != rollouts)
        {
            return Err(Error::Usage(format!(
                "arm `{}` has {} rollouts in the shards; the job has {rollouts}",
                names[a],
                runs.len()
            )));
        }
    }
    Ok(names
        .into_iter()
        .zip(by_arm)
        .map(|(n, runs)| {
            let rollouts = runs.into_values().collect();
            (
                n,
                ArmRollouts {
                    rollouts,
                    trajectories: Vec::new(),
                },
            )
        })
        .collect())
}

/// Reads shard folders, checks they form one complete job, and collects their outcomes.
pub fn merge(dirs: &[PathBuf]) -> Result<Merged> {
    if dirs.is_empty() {
        return Err(Error::Usage(
            "merge needs at least one shard folder".to_owned(),
        ));
    }
    let shards: Vec<ShardFolder> = dirs.iter().map(|d| read_shard(d)).collect::<Result<_>>()?;
    check_one_job(&shards)?;
    let first = &shards[0];
    // The scenario, as the shards resolved it, checked against the manifest's hash.
    let scenario_path = first.dir.join("scenario.yaml");
    let text = crate::scenario::parse::read_text(&scenario_path)?;
    let scenario = Scenario::from_text(&scenario_path, &text)?;
    if first.manifest.scenario_sha256 != scenario.sha256() {
        return Err(Error::Usage(format!(
            "{}: scenario.yaml does not match the manifest's scenario hash",
            first.dir.display()
        )));
    }
    let rollouts = first.manifest.rollouts_per_arm;
    check_units(&shards, &units(scenario.arms.len(), rollouts))?;
    let arms = read_outcomes(&shards, &scenario, rollouts)?;
    let reference = arms
        .iter()
        .position(|(n, _)| *n == first.manifest.reference_arm)
        .unwrap_or(0);
    Ok(Merged {
        scenario,
        arms,
        reference,
        seed: first.manifest.seed,
        rollouts,
        manifest: first.manifest.clone(),
        dirs: dirs.to_vec(),
    })
}

/// The rows of a per-run CSV (`trajectory.csv`, `visits.csv`, `doses.csv`) from every shard,
/// in canonical order: by arm (scenario order), then rollout; rows of one run keep their
/// order. `None` when no shard has the file.
pub fn merge_run_csv(dirs: &[PathBuf], name: &str, arms: &[String]) -> Result<Option<String>> {
    let mut header: Option<String> = None;
    let mut rows: Vec<(usize, u64, usize, String)> = Vec::new();
    for dir in dirs {
        let path = dir.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut lines = text.lines();
        let Some(h) = lines.next() else { continue };
        if header.as_deref().is_some_and(|x| x != h) {
            return Err(Error::Usage(format!(
                "{}: its header differs from another shard's",
                path.display()
            )));
        }
        header = Some(h.to_owned());
        for line in lines {
            let mut cells = line.splitn(3, ',');
            let arm = cells.next().unwrap_or_default();
            let rollout: u64 = cells.next().and_then(|r| r.parse().ok()).unwrap_or(0);
            let a = arms.iter().position(|n| n == arm).unwrap_or(usize::MAX);
            rows.push((a, rollout, rows.len(), line.to_owned()));
        }
    }
    let Some(header) = header else {
        return Ok(None);
    };
    rows.sort_by_key(|r| (r.0, r.1, r.2));
    let mut out = header;
    out.push('\n');
    for r in rows {
        out.push_str(&r.3);
        out.push('\n');
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_units() {
        let all = units(3, 250);
        assert_eq!(all.len(), 9);
        assert_eq!(all[2].count, 50);
        let mut seen: Vec<u64> = (0..4)
            .flat_map(|k| units_of(Shard { index: k, count: 4 }, 3, 250))
            .map(|u| u.id)
            .collect();
        seen.sort();
        assert_eq!(seen, (0..9).collect::<Vec<_>>());
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert_eq!(
            Shard::parse("3/32").unwrap(),
            Shard {
                index: 3,
                count: 32
            }
        );
    }
}

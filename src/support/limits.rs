//! Work limits: what one run may ask of the machine. Scenario values and command-line flags
//! are checked against them before any work starts, and a refusal says the estimate and the
//! limit. docs/testing.md lists them; raising one means editing this file.

use crate::error::{Error, Result};

/// Particle-days a model-predictive rule may simulate for one patient (its decisions ×
/// actions × continuations × plan particles × look-ahead, plus its filter): about an hour
/// of one core at the ODE's ~1 µs a particle-day.
pub const MAX_MPC_PARTICLE_DAYS: f64 = 5.0e9;

/// Visits in one run (`horizon / observation.every`).
pub const MAX_VISITS: f64 = 1.0e5;
/// Doses in one run: dosing occasions of a schedule, or expanded `events` records.
pub const MAX_DOSES: f64 = 1.0e5;
/// Steps of the stochastic engine in one run (`horizon / stochastic.step`).
pub const MAX_STEPS: f64 = 2.0e6;
/// Recorded trajectory rows in one run (`horizon / --record-every`).
pub const MAX_RECORDED_ROWS: f64 = 2.0e6;
/// Trajectory rows kept over all arms and kept rollouts of a stochastic run.
pub const MAX_KEPT_ROWS: f64 = 2.0e7;
/// Rollouts per arm (compare, simulate) or per candidate and hold-out set (optimise).
pub const MAX_ROLLOUTS: u64 = 10_000_000;
/// Distinct schedules scored per family by `optimise`.
pub const MAX_BUDGET_EVALS: u64 = 100_000;
/// Stochastic work of one command: rollouts × arms × steps. At ~0.5–3 µs a step this is
/// days of computing on one machine; shard such a run instead (docs/cluster.md).
pub const MAX_ROLLOUT_STEPS: f64 = 1.0e11;
/// Per-capita rate (birth, death with drug kill, switching) per time unit that a run may
/// reach: beyond it a cell's fate is decided in less than a ten-thousandth of a time unit,
/// which no engine here follows (the ODE would need millions of steps, the stochastic
/// engine would silently round it to certainty).
pub const MAX_RATE: f64 = 1.0e4;
/// Characters in a scenario's name (it heads every table, plot and report).
pub const MAX_NAME_CHARS: usize = 200;
/// Characters in a description (scenario, arm or schedule).
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// `--rollouts`-like flags: at least 1, at most [`MAX_ROLLOUTS`].
pub fn rollouts(flag: &str, n: u64) -> Result<()> {
    if n == 0 {
        return Err(Error::Usage(format!("{flag} must be at least 1")));
    }
    if n > MAX_ROLLOUTS {
        return Err(Error::Limit(format!(
            "{flag} {n} is more than the limit of {MAX_ROLLOUTS}: split the run into shards \
             (--shard K/N, docs/cluster.md)"
        )));
    }
    Ok(())
}

/// `--record-every` over `horizon`: positive, and at most [`MAX_RECORDED_ROWS`] rows a run.
pub fn record_every(every: f64, horizon: f64) -> Result<()> {
    if !(every.is_finite() && every > 0.0) {
        return Err(Error::Usage(format!(
            "--record-every must be a positive number, got {every}"
        )));
    }
    let rows = horizon / every;
    if rows > MAX_RECORDED_ROWS {
        return Err(Error::Limit(format!(
            "--record-every {every} over a horizon of {horizon} would record {rows:.2e} rows a \
             run, more than the limit of {MAX_RECORDED_ROWS:e}; record less often"
        )));
    }
    Ok(())
}

/// Kept trajectories of a stochastic run: `kept` runs of every arm recorded every `every`.
pub fn kept_rows(kept: u64, arms: usize, every: f64, horizon: f64) -> Result<()> {
    let rows = kept as f64 * arms as f64 * (horizon / every + 1.0);
    if kept > 0 && rows > MAX_KEPT_ROWS {
        return Err(Error::Limit(format!(
            "--trajectories {kept} × {arms} arms recorded every {every} over a horizon of \
             {horizon} would keep {rows:.2e} rows, more than the limit of {MAX_KEPT_ROWS:e}; \
             keep fewer trajectories or record less often"
        )));
    }
    Ok(())
}

/// The stochastic work of `rollouts` rollouts of `arms` arms with `steps` steps each.
pub fn rollout_work(rollouts: u64, arms: usize, steps: f64) -> Result<()> {
    let work = rollouts as f64 * arms as f64 * steps;
    if work > MAX_ROLLOUT_STEPS {
        return Err(Error::Limit(format!(
            "{rollouts} rollouts × {arms} arms × {steps:.0} steps = {work:.2e} engine steps, \
             more than the limit of {MAX_ROLLOUT_STEPS:e} for one command: use fewer rollouts \
             or split the run into shards (--shard K/N, docs/cluster.md)"
        )));
    }
    Ok(())
}

/// `--budget-evals`: between 1 and [`MAX_BUDGET_EVALS`].
pub fn budget_evals(n: u64) -> Result<()> {
    if (1..=MAX_BUDGET_EVALS).contains(&n) {
        Ok(())
    } else {
        Err(Error::Limit(format!(
            "--budget-evals must be between 1 and {MAX_BUDGET_EVALS}, got {n}"
        )))
    }
}

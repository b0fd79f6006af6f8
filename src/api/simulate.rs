//! The deterministic (mean-field ODE) run of a scenario's arms.

use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::sim::{self, NoiseKey, RunOptions, RunResult};

/// What [`simulate`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateOptions {
    /// Run only this arm (every arm if `None`).
    pub arm: Option<String>,
    /// Trajectory recording interval, in the scenario's time units.
    pub record_every: f64,
    /// Apply the scenario's measurement noise, drawn from this seed (exact marker if `None`).
    pub noise_seed: Option<u64>,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        SimulateOptions {
            arm: None,
            record_every: 1.0,
            noise_seed: None,
        }
    }
}

/// The deterministic runs of some arms, in scenario order.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// (arm name, its run).
    pub runs: Vec<(String, RunResult)>,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
}

impl Simulation {
    /// The runs as the CSV writers take them.
    pub fn labelled(&self) -> Vec<crate::report::LabelledRun<'_>> {
        self.runs
            .iter()
            .map(|(n, r)| (n.as_str(), None, r))
            .collect()
    }

    /// The run of the arm called `name`.
    pub fn run(&self, name: &str) -> Option<&RunResult> {
        self.runs.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }
}

/// Runs the deterministic evaluator on every arm of `scenario` (or `options.arm`). Stops
/// between arms when a stop is requested ([`crate::support::stop`]).
pub fn simulate(scenario: &Scenario, options: &SimulateOptions) -> Result<Simulation> {
    crate::support::limits::record_every(options.record_every, scenario.horizon)?;
    let arms: Vec<_> = match &options.arm {
        Some(name) => vec![scenario.find_arm("--arm", name)?],
        None => scenario.arms.iter().collect(),
    };
    let run_options = RunOptions {
        record_every: options.record_every,
        noise: options.noise_seed.map(|seed| NoiseKey { seed, rollout: 0 }),
    };
    let started = std::time::Instant::now();
    let mut runs = Vec::with_capacity(arms.len());
    for arm in arms {
        if crate::support::stop::requested() {
            return Err(Error::Interrupted(format!(
                "stopped after {} of the arms",
                runs.len()
            )));
        }
        tracing::info!(arm = %arm.name, "simulating");
        runs.push((
            arm.name.clone(),
            sim::run_deterministic(scenario, arm, run_options)?,
        ));
    }
    Ok(Simulation {
        runs,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The doses `arm` gave, run by run (with 1-based patient IDs, as NONMEM numbers them): the
/// deterministic run, or the first `rollouts` stochastic rollouts from `seed`.
pub fn given_doses(
    scenario: &Scenario,
    arm: &crate::scenario::Arm,
    rollouts: Option<u64>,
    seed: u64,
) -> Result<Vec<(u64, RunResult)>> {
    // Recording must be on for doses to be kept; one row per horizon is enough.
    let record = scenario.horizon;
    let Some(n) = rollouts else {
        let options = RunOptions {
            record_every: record,
            noise: None,
        };
        return Ok(vec![(1, sim::run_deterministic(scenario, arm, options)?)]);
    };
    crate::support::limits::rollouts("--rollouts", n)?;
    crate::support::limits::rollout_work(n, 1, scenario.horizon / scenario.stochastic_step)?;
    let settings = crate::sim::rollouts::RolloutSettings {
        seed,
        first: 0,
        count: n,
        keep_trajectories: n,
        record_every: record,
    };
    Ok(crate::sim::rollouts::run_rollouts(scenario, arm, settings)?
        .trajectories
        .into_iter()
        .map(|(i, r)| (i + 1, r))
        .collect())
}

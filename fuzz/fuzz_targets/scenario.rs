//! Any bytes as a scenario file: parse, validate, and, if valid, simulate one step of every
//! arm on both engines. Nothing may panic, hang or exhaust memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use regimen::Scenario;
use regimen::sim::rollouts::{RolloutSettings, run_rollouts};
use regimen::sim::{RunOptions, run_deterministic};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut scenario) = Scenario::from_text(Path::new("fuzz.yaml"), text) else {
        return;
    };
    // One step: the first stochastic grid step (or one time unit).
    let step = scenario.stochastic_step.clamp(1e-6, 1.0);
    scenario.horizon = scenario.horizon.min(step);
    for arm in scenario.arms.clone() {
        let _ = run_deterministic(
            &scenario,
            &arm,
            RunOptions {
                record_every: 0.0,
                noise: None,
            },
        );
        let _ = run_rollouts(
            &scenario,
            &arm,
            RolloutSettings {
                seed: 1,
                first: 0,
                count: 1,
                keep_trajectories: 0,
                record_every: 0.0,
            },
        );
    }
});

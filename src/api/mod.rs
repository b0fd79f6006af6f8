//! The library's entry points: each runs one job on a compiled [`Scenario`] and returns a
//! value; [`mod@write`] puts a value into a run folder. The command line is one front-end over
//! these functions, the Python package another.
//!
//! ```
//! use regimen::{CompareOptions, Scenario, Silent};
//! let text = std::fs::read_to_string("scenarios/persister-nsclc.yaml").unwrap();
//! let scenario = Scenario::from_yaml_str(&text).unwrap();
//! let options = CompareOptions { rollouts: 20, ..CompareOptions::default() };
//! let comparison = regimen::compare(&scenario, &options, &Silent).unwrap();
//! assert_eq!(comparison.rows.len(), scenario.arms.len());
//! ```
//!
//! [`Scenario`]: crate::Scenario

pub mod calibrate;
pub mod compare;
pub mod fit;
pub mod manifest;
pub mod merge;
pub mod optimise;
pub mod progress;
pub mod shard;
pub mod simulate;
pub mod text;
pub mod write;

pub use calibrate::{CalibrateOptions, Calibrated, calibrate};
pub use compare::{CompareOptions, Comparison, Rollouts, compare, run_rollouts};
pub use fit::{FitOptions, Fitted, fit};
pub use manifest::Manifest;
pub use optimise::{Optimisation, OptimiseOptions, optimise};
pub use progress::{Progress, Silent};
pub use simulate::{SimulateOptions, Simulation, simulate};

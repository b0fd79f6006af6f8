//! regimen evaluates cancer drug dosing schedules against the population dynamics of
//! drug-tolerant persister cells.
//!
//! Data flows one way, down this list: [`api`] runs jobs; [`search`] proposes schedules;
//! [`stats`] turns runs into time to progression, survival curves and contrasts; [`sim`]
//! runs an arm through time (deterministic ODE or stochastic engine); [`scenario`] reads and
//! validates a YAML file into a compiled [`model::Model`], drugs and arms; [`protocol`] holds
//! what a trial prescribes (dosing rules, visits, progression); [`model`] the cell
//! populations, pharmacokinetics and virtual patients; [`support`] what all of them lean on.
//! [`report`] and [`plot`] write what a run found. docs/architecture.md has the picture.
//!
//! The entry points are in [`api`] (re-exported here): [`simulate()`], [`compare()`] and
//! [`optimise()`] take a compiled [`Scenario`] and return values; [`api::write`] puts them into
//! a run folder. The `regimen` command line (feature `cli`) and the Python package are
//! front-ends over them.

#![warn(missing_docs)]

pub mod api;
pub mod error;
pub mod fit;
pub mod model;
pub mod plot;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod search;
pub mod sim;
pub mod stats;
pub mod support;

pub use api::{
    CompareOptions, Comparison, Optimisation, OptimiseOptions, Progress, Silent, SimulateOptions,
    Simulation, compare, optimise, simulate,
};
pub use error::{Diagnostic, Error, Result};
pub use scenario::Scenario;

//! regimen evaluates cancer drug dosing schedules against the population dynamics of
//! drug-tolerant persister cells.
//!
//! Data flows one way: a scenario file is read and validated ([`scenario`]) into a compiled
//! [`model::Model`], drugs ([`pk`]) and arms ([`schedule`]); the engines in [`sim`] run an
//! arm through time, [`observe`] turns cells into what a clinic measures, [`outcome`] into
//! time to progression and dose used, and [`report`] into tables and CSV.
//!
//! The entry points are in [`api`] (re-exported here): [`simulate`], [`compare`] and
//! [`optimise`] take a compiled [`Scenario`] and return values; [`api::write`] puts them into
//! a run folder. The `regimen` command line (feature `cli`) and the Python package are
//! front-ends over them.

pub mod api;
pub mod contrast;
pub mod error;
pub mod events;
pub mod format;
pub mod limits;
pub mod model;
pub mod observe;
pub mod outcome;
pub mod outdir;
pub mod patients;
pub mod pk;
pub mod plot;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod schedule;
pub mod search;
pub mod sim;
pub mod stop;
pub mod survival;
pub mod toxicity;

pub use api::{
    CompareOptions, Comparison, Optimisation, OptimiseOptions, Progress, Silent, SimulateOptions,
    Simulation, compare, optimise, simulate,
};
pub use error::{Diagnostic, Error, Result};
pub use scenario::Scenario;

//! The search layer: scoring candidate schedules and searching schedule families for better
//! ones.
//!
//! A candidate's score is a statistic over a fixed set of rollouts (the same seeds and
//! virtual patients for every candidate: common random numbers), so the search sees a
//! deterministic, low-noise objective. `family` tunes a schedule family's parameters with
//! argmin's Nelder–Mead; argmin never touches regimen's random streams.

pub mod checkpoint;
pub mod config;
pub mod export;
pub mod family;
pub mod leaderboard;
pub mod lp;
pub mod objective;
pub mod output;
pub mod robust;
pub mod sensitivity;

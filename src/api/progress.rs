//! How a long job reports how far it is: the command line draws a bar, a notebook can show
//! its own, a library call can ignore it.

/// Receives a job's progress. Called from worker threads, hence `Sync`; every method has a
/// default that does nothing.
pub trait Progress: Sync {
    /// A job of `total` steps (rollouts or evaluations) begins.
    fn begin(&self, _total: u64) {}
    /// What is being worked on now (an arm's name, "searching").
    fn label(&self, _what: &str) {}
    /// One step is done.
    fn step(&self) {}
    /// The job is over (finished, failed or stopped).
    fn end(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}

//! Stopping a job: a flag every long phase checks at its next safe point, so a stopped job
//! can say what it finished and leave its output folder whole. The command line sets it on
//! Ctrl-C and SIGTERM; the Python package on KeyboardInterrupt.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks the running command to stop at its next safe point.
pub fn request() {
    STOP.store(true, Ordering::SeqCst);
}

/// A stop was asked for (signal, or a test hook).
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Forgets an earlier request, so the next job runs (a notebook after a KeyboardInterrupt).
pub fn clear() {
    STOP.store(false, Ordering::SeqCst);
}

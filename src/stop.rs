//! Ctrl-C and SIGTERM: a flag every long phase checks at its next safe point, so a stopped
//! command can say what it finished and leave its output folder whole.

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

/// Routes Ctrl-C and SIGTERM to [`request`] (once per process; later calls do nothing).
pub fn install_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(request);
    });
}

//! Ctrl-C: the first SIGINT asks long work to stop and write what finished (exit 130); a
//! second one ends the process at once, as people expect when the first seems ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once SIGINT arrives.
#[derive(Clone, Debug)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Install the handler. If it cannot be installed, Ctrl-C keeps its default action
    /// (the process ends), which loses the partial results but nothing else.
    pub fn install() -> Self {
        let flag = Arc::new(AtomicBool::new(false));
        #[cfg(unix)]
        {
            use signal_hook::consts::SIGINT;
            use signal_hook::flag;
            // Registered first: on a second SIGINT, with the flag already set, exit 130.
            let _ = flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&flag));
            let _ = flag::register(SIGINT, Arc::clone(&flag));
        }
        Interrupt(flag)
    }

    /// Whether Ctrl-C was pressed.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag, for libraries that poll it between units of work.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

//! A progress line on stderr, only when stderr is a terminal and the run has taken more
//! than a second. Wall time is read here, in the shell, never inside the simulated world.

use dsys_lab::dsys_sim::Progress;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const SHOW_AFTER: Duration = Duration::from_secs(1);
const WIDTH: usize = 30;

/// A progress callback for a run.
pub fn bar(label: &'static str) -> impl FnMut(&Progress) {
    // The shell's own clock, to decide when a bar is worth drawing; the world never sees it.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    move |p: &Progress| {
        if !terminal || started.elapsed() < SHOW_AFTER {
            return;
        }
        let fraction = if p.ops_total == 0 {
            1.0
        } else {
            p.ops_completed as f64 / p.ops_total as f64
        };
        let filled = ((fraction * WIDTH as f64) as usize).min(WIDTH);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{label} [{}{}] {}/{} ops, {:.1}s virtual, {} events",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            p.ops_completed,
            p.ops_total,
            p.now.as_nanos() as f64 / 1e9,
            p.events
        );
        let _ = err.flush();
    }
}

/// Erase the progress line, if one may have been drawn.
pub fn clear() {
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

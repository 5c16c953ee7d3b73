//! Progress on stderr, only when stderr is a terminal, `--quiet` is not given and the work
//! has taken more than a second. Wall time is read here, in the shell, never inside the
//! simulated world.

use dsys_sim::Progress;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SHOW_AFTER: Duration = Duration::from_secs(1);
const WIDTH: usize = 30;

/// Whether progress may be drawn at all.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

// The shell's own clock, to decide when a bar is worth drawing; the world never sees it.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn draw(label: &str, done: u64, total: u64, tail: &str) {
    let fraction = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let filled = ((fraction * WIDTH as f64) as usize).min(WIDTH);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r\x1b[2K{label} [{}{}] {done}/{total}{tail}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
    );
    let _ = err.flush();
}

/// A progress callback for one simulated run.
pub fn run_bar(label: &'static str, enabled: bool) -> impl FnMut(&Progress) {
    let started = now();
    move |p: &Progress| {
        if enabled && started.elapsed() >= SHOW_AFTER {
            let tail = format!(
                " ops, {:.1}s virtual, {} events",
                p.now.as_nanos() as f64 / 1e9,
                p.events
            );
            draw(label, p.ops_completed, p.ops_total, &tail);
        }
    }
}

/// A progress callback for a sweep: `(done, total)` runs, from any thread.
pub fn count_bar(label: &'static str, enabled: bool) -> impl Fn(usize, usize) + Sync {
    let started = now();
    move |done: usize, total: usize| {
        if enabled && started.elapsed() >= SHOW_AFTER {
            let tail = format!(" runs, {:.0}s", started.elapsed().as_secs_f64());
            draw(label, done as u64, total as u64, &tail);
        }
    }
}

/// Work with no steps to count (a check): after a second, the elapsed time, redrawn
/// until the spinner is dropped.
#[derive(Debug)]
pub struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    /// Start showing `label` (if `enabled`).
    pub fn start(label: &'static str, enabled: bool) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = enabled.then(|| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let started = now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    let elapsed = started.elapsed();
                    if elapsed >= SHOW_AFTER && !stop.load(Ordering::Relaxed) {
                        let mut err = std::io::stderr().lock();
                        let _ = write!(err, "\r\x1b[2K{label}... {:.1}s", elapsed.as_secs_f64());
                        let _ = err.flush();
                    }
                }
            })
        });
        Spinner { stop, thread }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            clear();
        }
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

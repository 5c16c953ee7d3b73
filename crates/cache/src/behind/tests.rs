//! Write-behind's journal on its own: coalescing, versions, lag, a sink that fails, and
//! a write that lands while its key is being flushed.

use super::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex as StdMutex};

#[derive(Debug, thiserror::Error)]
#[error("the sink is down")]
struct Down;

/// A sink that keeps what it was handed, can fail its first `failures` calls, and can
/// hold its first call until told.
#[derive(Default)]
struct Kept {
    handed: StdMutex<Vec<Pending>>,
    failures: AtomicU32,
    hold: StdMutex<Option<(Sender<()>, Receiver<()>)>>,
}

impl Sink for Arc<Kept> {
    type Error = Down;
    fn apply(&self, batch: &[Pending]) -> Result<(), Down> {
        if let Some((entered, go)) = self.hold.lock().ok().and_then(|mut h| h.take()) {
            let _ = entered.send(());
            let _ = go.recv();
        }
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Down);
        }
        if let Ok(mut h) = self.handed.lock() {
            h.extend_from_slice(batch);
        }
        Ok(())
    }
}

/// A test's directory, removed when the test ends.
struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn journal(name: &str) -> (Dir, std::path::PathBuf, Arc<Kept>) {
    let dir = std::env::temp_dir().join(format!("dsys-behind-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).ok();
    let path = dir.join("journal.db");
    (Dir(dir), path, Arc::new(Kept::default()))
}

fn handed(sink: &Kept) -> Vec<(String, u64, Vec<u8>)> {
    sink.handed
        .lock()
        .map(|h| {
            h.iter()
                .map(|p| (p.key.clone(), p.version, p.value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn writes_coalesce_per_key_and_keep_their_versions_across_reopening() {
    let (_dir, path, sink) = journal("coalesce");
    let wb = WriteBehind::open(&path, Arc::clone(&sink)).expect("open");
    assert_eq!(wb.write("a", b"1").ok(), Some(1));
    assert_eq!(wb.write("a", b"2").ok(), Some(2));
    assert_eq!(wb.write("b", b"x").ok(), Some(1));
    assert_eq!(wb.write("a", b"3").ok(), Some(3));
    let lag = wb.lag().expect("lag");
    assert_eq!(
        (lag.keys, lag.writes),
        (2, 4),
        "two keys behind, four writes since the oldest"
    );
    assert_eq!(wb.drain().ok(), Some(2));
    assert_eq!(
        handed(&sink),
        [
            ("a".to_string(), 3, b"3".to_vec()),
            ("b".to_string(), 1, b"x".to_vec())
        ]
    );
    assert_eq!(wb.lag().ok(), Some(Lag { keys: 0, writes: 0 }));
    drop(wb);
    // Versions survive a restart.
    let wb = WriteBehind::open(&path, Arc::clone(&sink)).expect("reopen");
    assert_eq!(wb.write("a", b"4").ok(), Some(4));
    assert!(matches!(wb.write("", b"?"), Err(BehindError::EmptyKey)));
}

#[test]
fn a_failing_sink_is_retried_and_then_the_writes_stay_in_the_journal() {
    let (_dir, path, sink) = journal("failing");
    let wb = WriteBehind::open(&path, Arc::clone(&sink)).expect("open");
    wb.write("a", b"1").expect("write");
    sink.failures.store(2, Ordering::SeqCst);
    assert_eq!(wb.flush().ok(), Some(1), "two failures, then taken");
    wb.write("a", b"2").expect("write");
    sink.failures.store(100, Ordering::SeqCst);
    let err = wb.flush().expect_err("every attempt fails");
    assert!(err.to_string().contains("5 times"), "{err}");
    assert_eq!(
        wb.lag().map(|l| l.keys).ok(),
        Some(1),
        "kept for the next flush"
    );
    sink.failures.store(0, Ordering::SeqCst);
    assert_eq!(wb.drain().ok(), Some(1));
    assert_eq!(handed(&sink).last().map(|h| h.1), Some(2));
}

#[test]
fn a_write_that_lands_during_its_key_s_flush_is_not_forgotten() {
    let (_dir, path, sink) = journal("during");
    let (entered_tx, entered_rx) = channel();
    let (go_tx, go_rx) = channel();
    if let Ok(mut hold) = sink.hold.lock() {
        *hold = Some((entered_tx, go_rx));
    }
    let wb = Arc::new(WriteBehind::open(&path, Arc::clone(&sink)).expect("open"));
    wb.write("a", b"1").expect("write");
    let flusher = {
        let wb = Arc::clone(&wb);
        std::thread::spawn(move || wb.flush().ok())
    };
    entered_rx.recv().ok();
    // Version 2 lands while version 1 is with the sink.
    assert_eq!(wb.write("a", b"2").ok(), Some(2));
    go_tx.send(()).ok();
    assert_eq!(flusher.join().ok().flatten(), Some(1));
    assert_eq!(
        wb.lag().map(|l| l.keys).ok(),
        Some(1),
        "version 2 still pending"
    );
    assert_eq!(wb.drain().ok(), Some(1));
    let versions: Vec<u64> = handed(&sink).iter().map(|h| h.1).collect();
    assert_eq!(versions, [1, 2]);
}

#[test]
fn a_journal_that_cannot_be_opened_is_an_error() {
    let missing = std::path::Path::new("/nonexistent/dir/journal.db");
    assert!(matches!(
        WriteBehind::open(missing, Arc::new(Kept::default())),
        Err(BehindError::Journal(_))
    ));
}

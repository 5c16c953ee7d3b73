//! Model checks: every interleaving of two threads on the lock-free limiters, explored by
//! loom. Run with `scripts/model-check.sh` (a `--cfg loom` build; the normal test run
//! skips this module).
#![cfg(loom)]

use super::{Gcra, KeyedGcra, Limiter, Quota};
use crate::ManualClock;
use crate::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use std::time::Duration;

fn quota(burst: u32) -> Quota {
    Quota::new(Duration::from_millis(10), burst).unwrap_or_else(|_| unreachable!())
}

/// Run `check` on two threads at once; how many were admitted.
fn race(check: impl Fn() -> bool + Send + Sync + 'static) -> usize {
    let check = Arc::new(check);
    let admitted = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (check, admitted) = (Arc::clone(&check), Arc::clone(&admitted));
            thread::spawn(move || {
                if check() {
                    admitted.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap_or_else(|_| unreachable!());
    }
    admitted.load(Ordering::SeqCst)
}

#[test]
fn gcra_admits_the_last_cell_once() {
    loom::model(|| {
        let g = Gcra::new(quota(1), ManualClock::new());
        assert_eq!(race(move || g.check().is_ok()), 1);
    });
}

#[test]
fn gcra_reconfigured_mid_check_loses_no_cell() {
    loom::model(|| {
        let g = Gcra::new(quota(1), ManualClock::new());
        let (checker, reconfigurer) = (g.clone(), g.clone());
        let a = thread::spawn(move || (0..2).filter(|_| checker.check().is_ok()).count());
        let b = thread::spawn(move || reconfigurer.set_quota(quota(2)));
        let admitted = a.join().unwrap_or_else(|_| unreachable!());
        b.join().unwrap_or_else(|_| unreachable!());
        // One or two, as the new quota came before or after; and every admitted cell is
        // counted: at the new burst of two, exactly what is left remains.
        assert!((1..=2).contains(&admitted));
        let left = (0..2).filter(|_| g.check().is_ok()).count();
        assert_eq!(admitted + left, 2);
    });
}

#[test]
fn a_new_key_raced_by_two_threads_gets_one_limit() {
    loom::model(|| {
        let keyed =
            KeyedGcra::new(quota(1), 16, ManualClock::new()).unwrap_or_else(|_| unreachable!());
        assert_eq!(race(move || keyed.check(&7u32).is_ok()), 1);
    });
}

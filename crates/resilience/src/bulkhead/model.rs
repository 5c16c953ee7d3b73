//! Model checks of the bulkhead's slot word and queue: every interleaving of two threads,
//! explored by loom (`scripts/model-check.sh`). A lost wake-up would leave a waiter
//! parked for ever, which loom reports as a deadlock.
#![cfg(loom)]

use super::Bulkhead;
use loom::future::block_on;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

fn bulkhead(max_concurrent: u32, max_queued: u32) -> Bulkhead {
    Bulkhead::new(max_concurrent, max_queued).unwrap_or_else(|_| unreachable!())
}

#[test]
fn a_slot_returned_while_a_caller_queues_reaches_it() {
    loom::model(|| {
        let b = bulkhead(1, 1);
        let held = b.try_acquire().unwrap_or_else(|_| unreachable!());
        let releaser = thread::spawn(move || drop(held));
        let permit = block_on(b.acquire()).unwrap_or_else(|_| unreachable!());
        releaser.join().unwrap_or_else(|_| unreachable!());
        drop(permit);
        assert_eq!(b.load(), (0, 0));
    });
}

#[test]
fn two_callers_never_hold_one_slot_at_once() {
    loom::model(|| {
        let b = bulkhead(1, 2);
        let running = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (b, running) = (b.clone(), Arc::clone(&running));
                thread::spawn(move || {
                    let permit = block_on(b.acquire()).unwrap_or_else(|_| unreachable!());
                    assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0);
                    running.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap_or_else(|_| unreachable!());
        }
        assert_eq!(b.load(), (0, 0));
    });
}

#[test]
fn a_waiter_leaving_as_its_slot_arrives_passes_it_on() {
    loom::model(|| {
        let b = bulkhead(1, 1);
        let held = b.try_acquire().unwrap_or_else(|_| unreachable!());
        let mut waiting = b.acquire();
        let queued = Pin::new(&mut waiting)
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending();
        assert!(queued, "no slot was free");
        let releaser = thread::spawn(move || drop(held));
        drop(waiting);
        releaser.join().unwrap_or_else(|_| unreachable!());
        // However the release and the departure interleaved, the slot is free again.
        assert_eq!(b.load(), (0, 0));
        assert!(b.try_acquire().is_ok());
    });
}

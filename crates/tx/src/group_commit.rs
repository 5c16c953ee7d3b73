//! Group commit: writers queue their work; one of them — whoever finds no one committing —
//! commits everything queued in one go and hands each writer its result, while new work
//! queues for the next group. One fsync serves many writers.
//!
//! If the committing writer panics, the others must not wait for ever: a guard that runs
//! as the panic unwinds hands every writer of the group [`Outcome::Unknown`] (the commit may
//! or may not have happened), clears the committing flag and wakes everyone, so the next
//! writer commits the next group.

#[cfg(all(dsys_loom, test))]
use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(all(dsys_loom, test)))]
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What a writer learns about its work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome<R> {
    /// The commit ran and gave this.
    Done(R),
    /// The writer committing the group panicked: the work may or may not be committed.
    Unknown,
}

/// The queue and the committing flag, behind one lock.
#[derive(Debug)]
struct Pending<T, R> {
    queue: Vec<Arc<Slot<T, R>>>,
    committing: bool,
}

/// One writer's work and where its outcome goes.
#[derive(Debug)]
struct Slot<T, R> {
    work: T,
    outcome: Mutex<Option<Outcome<R>>>,
}

/// A group-commit queue for work `T` whose commit gives each piece an `R`.
#[derive(Debug)]
pub(crate) struct GroupCommit<T, R> {
    pending: Mutex<Pending<T, R>>,
    committed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The queue and the outcome slots are whole between statements: a panic under a lock
    // leaves nothing half-done.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<T, R> GroupCommit<T, R> {
    pub(crate) fn new() -> Self {
        GroupCommit {
            pending: Mutex::new(Pending {
                queue: Vec::new(),
                committing: false,
            }),
            committed: Condvar::new(),
        }
    }

    /// Queue `work` and wait for its outcome. The writer that finds no one committing
    /// calls `commit` on every piece queued (its own included), which must return one
    /// result per piece, in order.
    pub(crate) fn submit(&self, work: T, commit: impl Fn(&[&T]) -> Vec<R>) -> Outcome<R> {
        let mine = Arc::new(Slot {
            work,
            outcome: Mutex::new(None),
        });
        let mut pending = lock(&self.pending);
        pending.queue.push(Arc::clone(&mine));
        loop {
            if let Some(done) = lock(&mine.outcome).take() {
                return done;
            }
            if pending.committing {
                pending = self
                    .committed
                    .wait(pending)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            pending.committing = true;
            let group = std::mem::take(&mut pending.queue);
            drop(pending);
            let leader = Leader { owner: self, group };
            let work: Vec<&T> = leader.group.iter().map(|s| &s.work).collect();
            let results = commit(&work);
            for (slot, result) in leader.group.iter().zip(results) {
                *lock(&slot.outcome) = Some(Outcome::Done(result));
            }
            drop(leader);
            pending = lock(&self.pending);
        }
    }
}

/// The committing writer's duty, done on drop — normally, or as a panic unwinds.
struct Leader<'a, T, R> {
    owner: &'a GroupCommit<T, R>,
    group: Vec<Arc<Slot<T, R>>>,
}

impl<T, R> Drop for Leader<'_, T, R> {
    fn drop(&mut self) {
        for slot in &self.group {
            let mut outcome = lock(&slot.outcome);
            if outcome.is_none() {
                // Unfinished (a panic), or a commit that returned too few results.
                *outcome = Some(Outcome::Unknown);
            }
        }
        lock(&self.owner.pending).committing = false;
        self.owner.committed.notify_all();
    }
}

#[cfg(all(test, not(dsys_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_writer_gets_its_own_result_and_groups_form() {
        let g = Arc::new(GroupCommit::<u32, u32>::new());
        let commits = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8u32)
            .map(|i| {
                let (g, commits) = (Arc::clone(&g), Arc::clone(&commits));
                std::thread::spawn(move || {
                    g.submit(i, |work| {
                        commits.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        work.iter().map(|w| **w * 10).collect()
                    })
                })
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            assert_eq!(t.join().unwrap(), Outcome::Done(i as u32 * 10));
        }
        assert!(commits.load(Ordering::SeqCst) <= 8);
    }

    /// Commits a group of one; panics on a group of two.
    fn fragile(work: &[&u32]) -> Vec<u32> {
        if work.len() == 2 {
            panic!("the disk driver fell over");
        }
        work.iter().map(|w| **w).collect()
    }

    fn until(condition: impl Fn() -> bool) {
        while !condition() {
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_panicking_committer_leaves_no_one_waiting() {
        let g = Arc::new(GroupCommit::<u32, u32>::new());
        // Writer 0 commits alone, and finishes only once 1 and 2 have queued behind it;
        // then one of them commits the group {1, 2}, and panics.
        let first = {
            let g = Arc::clone(&g);
            std::thread::spawn(move || {
                let queued = Arc::clone(&g);
                g.submit(0, move |work| {
                    until(|| lock(&queued.pending).queue.len() == 2);
                    fragile(work)
                })
            })
        };
        until(|| lock(&g.pending).committing);
        let later: Vec<_> = (1..=2u32)
            .map(|i| {
                let g = Arc::clone(&g);
                std::thread::spawn(move || g.submit(i, fragile))
            })
            .collect();
        assert_eq!(first.join().unwrap(), Outcome::Done(0));
        let outcomes: Vec<_> = later.into_iter().map(|t| t.join()).collect();
        let panicked = outcomes.iter().filter(|o| o.is_err()).count();
        let unknown = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(Outcome::Unknown)))
            .count();
        assert_eq!((panicked, unknown), (1, 1), "{outcomes:?}");
        // And the queue still works.
        assert_eq!(g.submit(3, fragile), Outcome::Done(3));
        assert!(!lock(&g.pending).committing);
    }
}

#[cfg(all(test, dsys_loom))]
mod model {
    use super::*;
    use loom::thread;

    /// Two writers, one of whose commits panics: every interleaving ends with both
    /// answered and the queue free.
    #[test]
    fn no_writer_waits_for_ever_behind_a_panicked_commit() {
        loom::model(|| {
            let g = Arc::new(GroupCommit::<u32, u32>::new());
            let other = {
                let g = Arc::clone(&g);
                thread::spawn(move || g.submit(1, |w| w.iter().map(|x| **x).collect()))
            };
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                g.submit(0, |w| {
                    if w.iter().any(|x| **x == 0) {
                        panic!("commit failed");
                    }
                    w.iter().map(|x| **x).collect()
                })
            }));
            let theirs = other.join().unwrap();
            assert!(matches!(theirs, Outcome::Unknown | Outcome::Done(1)));
            assert!(panicked.is_err());
            assert!(!lock(&g.pending).committing);
        });
    }
}

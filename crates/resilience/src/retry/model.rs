//! Model checks of the retry budget: every interleaving of two threads, explored by loom.
//! Run with `scripts/model-check.sh`.
#![cfg(loom)]

use super::RetryBudget;
use loom::thread;

#[test]
fn one_token_is_withdrawn_once() {
    loom::model(|| {
        // Half a retry per request: two requests earn exactly one retry.
        let budget = RetryBudget::new(0.5, 10, 10).unwrap_or_else(|_| unreachable!());
        budget.deposit();
        budget.deposit();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let b = budget.clone();
                thread::spawn(move || b.try_withdraw().is_some())
            })
            .collect();
        let won = threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| unreachable!()))
            .filter(|&w| w)
            .count();
        assert_eq!(won, 1);
    });
}

#[test]
fn concurrent_retries_never_exceed_the_cap() {
    loom::model(|| {
        let budget = RetryBudget::new(10.0, 1, 10).unwrap_or_else(|_| unreachable!());
        budget.deposit();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let b = budget.clone();
                thread::spawn(move || b.try_withdraw())
            })
            .collect();
        let held: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| unreachable!()))
            .collect();
        // At most one retry in flight at a time, whichever thread got it.
        assert_eq!(held.iter().filter(|p| p.is_some()).count(), 1);
    });
}

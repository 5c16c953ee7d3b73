//! A bulkhead split between classes of caller: each class is guaranteed a share of the
//! slots, and may borrow what others leave unused — but never the part of another's
//! guarantee that it is not using, so a class that goes quiet and comes back finds its
//! share waiting, however hard the others push.
//!
//! A call of class `c` is admitted when `c` holds fewer than its guarantee, or when the
//! free slots exceed the unused guarantees of the other classes (and `c` is under its
//! cap). Hence at every moment: no more than the total run, no class runs more than its
//! cap, and each class can always start its guaranteed number.

use super::BulkheadError;
use crate::ConfigError;
use crate::sync::{Mutex, lock};
use std::sync::Arc;

/// A class of caller and its part of a [`PartitionedBulkhead`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    /// The class's name, for errors and metrics.
    pub class: String,
    /// Slots always available to it.
    pub guaranteed: u32,
    /// The most it may hold, borrowing included (at least `guaranteed`).
    pub cap: u32,
}

impl Share {
    /// `class` is guaranteed `guaranteed` slots and may hold up to `cap`.
    pub fn new(class: impl Into<String>, guaranteed: u32, cap: u32) -> Share {
        Share {
            class: class.into(),
            guaranteed,
            cap,
        }
    }
}

#[derive(Debug)]
struct Inner {
    total: u32,
    shares: Vec<Share>,
    in_use: Mutex<Vec<u32>>,
}

/// A bulkhead with guaranteed shares per class. Clones share the slots.
#[derive(Clone, Debug)]
pub struct PartitionedBulkhead {
    inner: Arc<Inner>,
}

/// A slot held by one class; dropping it frees the slot.
#[derive(Debug)]
#[must_use = "the slot is held until the permit is dropped"]
pub struct PartitionPermit {
    inner: Arc<Inner>,
    class: usize,
}

impl Drop for PartitionPermit {
    fn drop(&mut self) {
        lock(&self.inner.in_use)[self.class] -= 1;
    }
}

impl PartitionedBulkhead {
    /// `total` slots (at least 1) split into `shares`, whose guarantees may not add up
    /// to more than `total`.
    pub fn new(total: u32, shares: Vec<Share>) -> Result<Self, ConfigError> {
        if total == 0 {
            return Err(ConfigError::Zero {
                name: "total slots",
            });
        }
        if shares.is_empty() {
            return Err(ConfigError::Inconsistent(
                "a partitioned bulkhead needs a class",
            ));
        }
        let mut guaranteed = 0u64;
        for (i, s) in shares.iter().enumerate() {
            if s.cap == 0 {
                return Err(ConfigError::Zero { name: "class cap" });
            }
            if s.cap < s.guaranteed || s.cap > total {
                return Err(ConfigError::Inconsistent(
                    "each class's cap must be at least its guarantee and at most the total",
                ));
            }
            if shares[..i].iter().any(|t| t.class == s.class) {
                return Err(ConfigError::Inconsistent("class names must differ"));
            }
            guaranteed += u64::from(s.guaranteed);
        }
        if guaranteed > u64::from(total) {
            return Err(ConfigError::Inconsistent(
                "the guarantees add up to more than the total",
            ));
        }
        let n = shares.len();
        Ok(PartitionedBulkhead {
            inner: Arc::new(Inner {
                total,
                shares,
                in_use: Mutex::new(vec![0; n]),
            }),
        })
    }

    /// The index of `class`, for [`PartitionedBulkhead::try_acquire`].
    pub fn class(&self, class: &str) -> Option<usize> {
        self.inner.shares.iter().position(|s| s.class == class)
    }

    /// Slots each class holds now, in the order the shares were given.
    pub fn load(&self) -> Vec<u32> {
        lock(&self.inner.in_use).clone()
    }

    /// A slot for class number `class` now, or why not.
    pub fn try_acquire(&self, class: usize) -> Result<PartitionPermit, BulkheadError> {
        let shares = &self.inner.shares;
        let share = shares.get(class).ok_or(BulkheadError::NoSuchClass(class))?;
        let mut in_use = lock(&self.inner.in_use);
        let used: u32 = in_use.iter().sum();
        let mine = in_use[class];
        let others_unused: u32 = shares
            .iter()
            .zip(in_use.iter())
            .enumerate()
            .filter(|&(i, _)| i != class)
            .map(|(_, (s, &u))| s.guaranteed.saturating_sub(u))
            .sum();
        let free = self.inner.total - used;
        let admitted = mine < share.cap && (mine < share.guaranteed || free > others_unused);
        if !admitted {
            return Err(BulkheadError::Full {
                in_flight: used,
                queued: 0,
            });
        }
        in_use[class] += 1;
        Ok(PartitionPermit {
            inner: Arc::clone(&self.inner),
            class,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bulkhead() -> PartitionedBulkhead {
        PartitionedBulkhead::new(
            10,
            vec![
                Share::new("checkout", 6, 10),
                Share::new("search", 2, 8),
                Share::new("batch", 0, 3),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_busy_class_borrows_but_never_another_classs_guarantee() {
        let b = bulkhead();
        let search = b.class("search").unwrap();
        // Search takes its 2, then borrows: 10 free less checkout's unused 6 leaves 2.
        let held: Vec<_> = (0..4).map(|_| b.try_acquire(search).unwrap()).collect();
        assert!(b.try_acquire(search).is_err());
        // Batch, guaranteed nothing, finds nothing left to borrow either.
        assert!(b.try_acquire(2).is_err());
        // Checkout still gets all six it was promised.
        let checkout: Vec<_> = (0..6).map(|_| b.try_acquire(0).unwrap()).collect();
        assert_eq!(b.load(), [6, 4, 0]);
        assert!(b.try_acquire(0).is_err(), "the total is 10");
        drop(held);
        drop(checkout);
        assert_eq!(b.load(), [0, 0, 0]);
    }

    #[test]
    fn caps_hold_even_when_slots_are_free() {
        let b = PartitionedBulkhead::new(
            10,
            vec![Share::new("online", 2, 10), Share::new("batch", 0, 3)],
        )
        .unwrap();
        let held: Vec<_> = (0..3).map(|_| b.try_acquire(1).unwrap()).collect();
        assert!(
            b.try_acquire(1).is_err(),
            "five slots free, but batch is capped at 3"
        );
        assert_eq!(held.len(), 3);
        // With the guarantees taken, batch may borrow only what is left unreserved.
        let b = bulkhead();
        let held: Vec<_> = (0..2).map(|_| b.try_acquire(2).unwrap()).collect();
        assert!(b.try_acquire(2).is_err());
        assert_eq!(held.len(), 2);
        assert_eq!(b.try_acquire(7).err(), Some(BulkheadError::NoSuchClass(7)));
    }

    #[test]
    fn bad_configuration_is_an_error() {
        let one = |g, c| vec![Share::new("a", g, c)];
        assert!(PartitionedBulkhead::new(0, one(0, 1)).is_err());
        assert!(PartitionedBulkhead::new(5, Vec::new()).is_err());
        assert!(PartitionedBulkhead::new(5, one(0, 0)).is_err());
        assert!(PartitionedBulkhead::new(5, one(3, 2)).is_err());
        assert!(PartitionedBulkhead::new(5, one(1, 6)).is_err());
        assert!(
            PartitionedBulkhead::new(5, vec![Share::new("a", 3, 5), Share::new("b", 3, 5)])
                .is_err()
        );
        assert!(
            PartitionedBulkhead::new(5, vec![Share::new("a", 1, 5), Share::new("a", 1, 5)])
                .is_err()
        );
    }

    proptest! {
        /// Any sequence of acquires and releases by any class: the total and every cap
        /// hold, and a class under its guarantee is never refused.
        #[test]
        fn totals_caps_and_guarantees_hold(ops in proptest::collection::vec((0usize..3, proptest::bool::ANY), 1..300)) {
            let b = bulkhead();
            let mut held: Vec<Vec<PartitionPermit>> = vec![Vec::new(), Vec::new(), Vec::new()];
            for (class, acquire) in ops {
                if acquire {
                    let under_guarantee = (held[class].len() as u32) < b.inner.shares[class].guaranteed;
                    match b.try_acquire(class) {
                        Ok(p) => held[class].push(p),
                        Err(_) => prop_assert!(!under_guarantee, "class {class} refused under its guarantee"),
                    }
                } else {
                    held[class].pop();
                }
                let load = b.load();
                prop_assert!(load.iter().sum::<u32>() <= 10);
                for (i, s) in b.inner.shares.iter().enumerate() {
                    prop_assert!(load[i] <= s.cap);
                }
            }
        }
    }
}

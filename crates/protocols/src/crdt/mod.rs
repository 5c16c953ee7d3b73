//! State-based CRDTs: replicas apply updates locally and merge each other's states;
//! merge is commutative, associative and idempotent, so every replica that has seen the
//! same updates holds the same state, whatever the order and duplication of messages.

mod counter;
mod orset;
mod register;

pub use counter::{GCounter, PnCounter};
pub use orset::{Dot, OrSet};
pub use register::{LwwRegister, MvRegister, Siblings, Version, VersionMode};

/// A state-based CRDT.
pub trait Crdt: Clone + PartialEq {
    /// Fold another replica's state into this one.
    fn merge(&mut self, other: &Self);
}

#[cfg(test)]
pub(crate) mod laws {
    //! The three merge laws, checked on states reached by real updates.
    use super::Crdt;
    use proptest::prelude::*;

    pub fn hold<C: Crdt + std::fmt::Debug>(a: &C, b: &C, c: &C) -> Result<(), TestCaseError> {
        let merged = |x: &C, y: &C| {
            let mut m = x.clone();
            m.merge(y);
            m
        };
        prop_assert_eq!(merged(a, b), merged(b, a), "commutative");
        prop_assert_eq!(
            merged(&merged(a, b), c),
            merged(a, &merged(b, c)),
            "associative"
        );
        prop_assert_eq!(merged(a, a), a.clone(), "idempotent");
        Ok(())
    }
}

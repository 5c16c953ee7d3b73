//! Lamport clocks: a counter that orders events consistently with causality.

use serde::{Deserialize, Serialize};

/// A Lamport clock. If event `a` happened before `b`, `time(a) < time(b)` (the converse
/// does not hold: use [`super::VersionVector`] to detect concurrency).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct LamportClock {
    time: u64,
}

impl LamportClock {
    /// The current time.
    pub fn time(self) -> u64 {
        self.time
    }

    /// A local event (or a send): advance and return the new time.
    pub fn tick(&mut self) -> u64 {
        self.time += 1;
        self.time
    }

    /// A message stamped `remote` arrived: jump past it.
    pub fn observe(&mut self, remote: u64) -> u64 {
        self.time = self.time.max(remote) + 1;
        self.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Send then receive: the receive is later than the send, and time never goes back.
        #[test]
        fn receive_is_after_send(a_events in 0u8..20, b_events in 0u8..20) {
            let (mut a, mut b) = (LamportClock::default(), LamportClock::default());
            for _ in 0..a_events { a.tick(); }
            for _ in 0..b_events { b.tick(); }
            let before = b.time();
            let sent = a.tick();
            let received = b.observe(sent);
            prop_assert!(received > sent);
            prop_assert!(received > before);
        }
    }
}

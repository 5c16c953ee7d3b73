//! Hybrid logical clocks (Kulkarni, Demirbas et al., 2014): timestamps close to physical
//! time that still respect causality when physical clocks are skewed or go backwards.

use dsys_node::Instant;
use serde::{Deserialize, Serialize};

/// A hybrid timestamp: the largest physical time seen, and a counter for events that
/// share it. Ordered lexicographically; ties between nodes are broken by the caller
/// (for example by node id).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct HlcTimestamp {
    /// Physical component, nanoseconds.
    pub wall: u64,
    /// Logical component.
    pub logical: u32,
}

/// A hybrid logical clock.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Hlc {
    last: HlcTimestamp,
}

impl Hlc {
    /// The last timestamp issued or observed.
    pub fn last(&self) -> HlcTimestamp {
        self.last
    }

    /// A local event (or a send) at node-local physical time `physical`.
    pub fn now(&mut self, physical: Instant) -> HlcTimestamp {
        let pt = physical.as_nanos();
        self.last = if pt > self.last.wall {
            HlcTimestamp {
                wall: pt,
                logical: 0,
            }
        } else {
            HlcTimestamp {
                wall: self.last.wall,
                logical: self.last.logical.saturating_add(1),
            }
        };
        self.last
    }

    /// A message stamped `remote` arrived at physical time `physical`.
    pub fn observe(&mut self, remote: HlcTimestamp, physical: Instant) -> HlcTimestamp {
        let pt = physical.as_nanos();
        let wall = pt.max(self.last.wall).max(remote.wall);
        let logical = if wall == self.last.wall && wall == remote.wall {
            self.last.logical.max(remote.logical).saturating_add(1)
        } else if wall == self.last.wall {
            self.last.logical.saturating_add(1)
        } else if wall == remote.wall {
            remote.logical.saturating_add(1)
        } else {
            0
        };
        self.last = HlcTimestamp { wall, logical };
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the physical clock does (including going backwards), local timestamps
        /// strictly increase, never fall behind physical time, and a receive is later
        /// than both the message and everything before it.
        #[test]
        fn hlc_respects_causality_under_skew(steps in proptest::collection::vec((0u64..1_000, any::<bool>(), 0u64..1_000, 0u32..3), 1..60)) {
            let mut clock = Hlc::default();
            let mut previous = clock.last();
            for (physical, receive, remote_wall, remote_logical) in steps {
                let pt = Instant::from_nanos(physical);
                let ts = if receive {
                    let remote = HlcTimestamp { wall: remote_wall, logical: remote_logical };
                    let ts = clock.observe(remote, pt);
                    prop_assert!(ts > remote);
                    ts
                } else {
                    clock.now(pt)
                };
                prop_assert!(ts > previous);
                prop_assert!(ts.wall >= physical);
                previous = ts;
            }
        }
    }

    #[test]
    fn stays_at_physical_time_when_clocks_agree() {
        let mut c = Hlc::default();
        assert_eq!(
            c.now(Instant::from_nanos(10)),
            HlcTimestamp {
                wall: 10,
                logical: 0
            }
        );
        assert_eq!(
            c.now(Instant::from_nanos(10)),
            HlcTimestamp {
                wall: 10,
                logical: 1
            }
        );
        assert_eq!(
            c.now(Instant::from_nanos(5)),
            HlcTimestamp {
                wall: 10,
                logical: 2
            }
        );
        assert_eq!(
            c.observe(
                HlcTimestamp {
                    wall: 30,
                    logical: 4
                },
                Instant::from_nanos(20)
            ),
            HlcTimestamp {
                wall: 30,
                logical: 5
            }
        );
        assert_eq!(
            c.now(Instant::from_nanos(40)),
            HlcTimestamp {
                wall: 40,
                logical: 0
            }
        );
    }
}

//! The clock a cache reads on every hit, by default: dsys-resilience's `CoarseClock` at
//! 1 ms, one per process (one refresh thread, started by the first cache that needs it),
//! read from memory. Reading the time-stamp counter instead costs a hit about 9 ns, a
//! large part of what a hit costs over moka's own `get` (`benches/cache.rs`); TTLs are
//! milliseconds at the least, so a millisecond's resolution loses nothing. Where the
//! refresh thread cannot be started, the system clock stands in.

use dsys_resilience::{Clock, CoarseClock, SystemClock};
use std::sync::OnceLock;
use std::time::Duration;

/// The default clock of a cache.
#[derive(Clone, Debug)]
pub enum CacheClock {
    /// The process's shared coarse clock.
    Coarse(CoarseClock),
    /// The system clock, where no coarse clock could be started.
    System(SystemClock),
}

impl CacheClock {
    /// The process's shared coarse clock (started on first use), or the system clock.
    pub fn shared() -> CacheClock {
        static SHARED: OnceLock<Option<CoarseClock>> = OnceLock::new();
        match SHARED.get_or_init(|| CoarseClock::new(Duration::from_millis(1)).ok()) {
            Some(coarse) => CacheClock::Coarse(coarse.clone()),
            None => CacheClock::System(SystemClock::new()),
        }
    }
}

impl Clock for CacheClock {
    fn now(&self) -> Duration {
        match self {
            CacheClock::Coarse(c) => c.now(),
            CacheClock::System(s) => s.now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_clock_moves_and_never_goes_back() {
        let clock = CacheClock::shared();
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(20));
        let later = clock.now();
        assert!(later > start, "{start:?} then {later:?}");
        assert!(
            matches!(CacheClock::shared(), CacheClock::Coarse(_)),
            "one per process"
        );
    }
}

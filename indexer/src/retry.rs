//! How long to wait before trying again: exponential backoff with jitter.
//!
//! Contract: the n-th wait (from 0) is drawn from `[c/2, c)` where
//! `c = min(100 ms × 2^n, max)`. Which failures are retried at all is
//! [`crate::error::transient`] (a status) and
//! [`crate::error::IndexerError::is_transient`] (a whole request); the
//! bulk workers retry whole-request failures of any kind, since a batch is
//! never dropped for the engine's state (see [`crate::pipeline`]).
//!
//! The jitter keeps workers and indexers from retrying in step after a
//! shared failure, so each [`Backoff`] is seeded from what differs between
//! them: the thread, the process, the time and std's per-instance random
//! hash keys.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The first wait's ceiling.
const INITIAL: Duration = Duration::from_millis(100);

/// Exponential backoff with jitter: one per retrying loop.
#[derive(Debug, Clone)]
pub struct Backoff {
    attempt: u32,
    max: Duration,
    /// xorshift64 state, never zero.
    state: u64,
}

/// A seed that differs per thread, per process and per call.
fn seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    std::thread::current().id().hash(&mut hasher);
    std::process::id().hash(&mut hasher);
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()).hash(&mut hasher);
    hasher.finish()
}

impl Backoff {
    /// Waits growing to `max`, with a fresh seed.
    pub fn new(max: Duration) -> Backoff {
        Backoff::with_seed(max, seed())
    }

    /// Waits growing to `max`, with jitter from `seed` (tests).
    pub fn with_seed(max: Duration, seed: u64) -> Backoff {
        Backoff { attempt: 0, max, state: seed | 1 }
    }

    /// The next wait.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = INITIAL.saturating_mul(1 << self.attempt.min(16)).min(self.max);
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let fraction = (self.state % 1000) as f64 / 1000.0;
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(0.5 + fraction / 2.0)
    }

    /// Sleeps the next wait.
    pub fn sleep(&mut self) {
        std::thread::sleep(self.next_delay());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_maximum_with_jitter_below_the_ceiling() {
        let max = Duration::from_secs(1);
        let mut backoff = Backoff::with_seed(max, 7);
        for ceiling_ms in [100, 200, 400, 800, 1000, 1000, 1000] {
            let ceiling = Duration::from_millis(ceiling_ms);
            let delay = backoff.next_delay();
            assert!(delay >= ceiling / 2 && delay < ceiling, "{delay:?} outside [{:?}, {ceiling:?})", ceiling / 2);
        }
        let mut long = Backoff::with_seed(Duration::from_secs(3600), 1);
        for _ in 0..100 {
            assert!(long.next_delay() < Duration::from_secs(3600), "no overflow after many attempts");
        }
    }

    #[test]
    fn two_workers_do_not_retry_in_step() {
        let sequence = || {
            let mut backoff = Backoff::new(Duration::from_secs(10));
            (0..8).map(|_| backoff.next_delay()).collect::<Vec<_>>()
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(sequence);
            let b = s.spawn(sequence);
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_ne!(a, b, "two threads started together draw different waits");
        assert_ne!(sequence(), sequence(), "two backoffs of one thread too");
    }

    #[test]
    fn the_same_seed_gives_the_same_waits() {
        let draw = |seed| {
            let mut backoff = Backoff::with_seed(Duration::from_secs(10), seed);
            (0..5).map(|_| backoff.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(100));
    }
}

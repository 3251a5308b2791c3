//! Per-client rate limit: a token bucket per client address (`rate`
//! requests per second, bursts up to `burst`), so one client cannot starve
//! the others. Behind the load balancer the client is the first address of
//! `X-Forwarded-For`, trusted only when the peer is a configured proxy.
//!
//! Buckets of clients idle long enough to be full again are dropped when
//! the table grows, so memory stays bounded by the clients of the last
//! few seconds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// The limiter; a `rate` of 0 disables it.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Tables larger than this are swept of full buckets.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    /// `rate` requests per second per client, bursts of `burst`.
    pub fn new(rate: f64, burst: u32) -> RateLimiter {
        RateLimiter { rate, burst: f64::from(burst.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `client`: `Ok` if allowed, else the seconds until
    /// one is available.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= SWEEP_AT {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(a, t0).is_ok());
        }
        assert_eq!(limiter.check_at(a, t0), Err(1));
        assert!(limiter.check_at(b, t0).is_ok(), "clients have their own buckets");
        assert!(limiter.check_at(a, t0 + Duration::from_millis(500)).is_ok(), "one token after 1/rate");
        assert!(limiter.check_at(a, t0 + Duration::from_millis(500)).is_err());
        assert!(RateLimiter::new(0.0, 1).check(a).is_ok(), "disabled");
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let limiter = RateLimiter::new(100.0, 1);
        let t0 = Instant::now();
        for i in 0..SWEEP_AT as u32 {
            limiter.check_at(IpAddr::from(i.to_be_bytes()), t0).unwrap();
        }
        limiter.check_at("10.9.9.9".parse().unwrap(), t0 + Duration::from_secs(1)).unwrap();
        assert!(limiter.buckets.lock().unwrap().len() < 10, "full buckets swept");
    }
}

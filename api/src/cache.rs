//! A small response cache: successful GET answers kept for a few seconds,
//! keyed by route and normalised query, so a burst of identical searches
//! (a popular query, a page reloaded) costs the cluster one call.
//!
//! Bounded in entries; when full, expired entries go first, then the
//! oldest. Entries are never served past their time to live, so results
//! are at most `ttl` staler than the cluster (which itself refreshes every
//! second). Per node: the load balancer spreads a burst over the nodes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

/// The cache; `capacity` 0 disables it.
#[derive(Debug)]
pub struct ResponseCache {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, (Instant, Bytes)>,
    order: VecDeque<(Instant, String)>,
}

impl ResponseCache {
    /// A cache of at most `capacity` answers, each kept for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> ResponseCache {
        ResponseCache { ttl, capacity, inner: Mutex::new(Inner::default()) }
    }

    /// The answer for `key`, if fresh.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        if self.capacity == 0 {
            return None;
        }
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (stored, body) = inner.entries.get(key)?;
        (stored.elapsed() < self.ttl).then(|| body.clone())
    }

    /// Keeps `body` as the answer for `key`.
    pub fn put(&self, key: String, body: Bytes) {
        if self.capacity == 0 {
            return;
        }
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while inner.entries.len() >= self.capacity
            || inner.order.front().is_some_and(|(t, _)| now.duration_since(*t) >= self.ttl)
        {
            let Some((stored, old)) = inner.order.pop_front() else { break };
            // A key put again later has a newer time in `entries`; only the
            // entry this queue slot stands for is removed.
            if inner.entries.get(&old).is_some_and(|(t, _)| *t == stored) {
                inner.entries.remove(&old);
            }
        }
        inner.order.push_back((now, key.clone()));
        inner.entries.insert(key, (now, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_expire_and_the_oldest_make_room() {
        let cache = ResponseCache::new(2, Duration::from_millis(200));
        cache.put("a".into(), Bytes::from_static(b"1"));
        cache.put("b".into(), Bytes::from_static(b"2"));
        assert_eq!(cache.get("a").unwrap(), "1");
        cache.put("c".into(), Bytes::from_static(b"3"));
        assert!(cache.get("a").is_none(), "oldest evicted at capacity");
        assert_eq!(cache.get("c").unwrap(), "3");
        std::thread::sleep(Duration::from_millis(250));
        assert!(cache.get("c").is_none(), "expired");
        let off = ResponseCache::new(0, Duration::from_secs(5));
        off.put("a".into(), Bytes::from_static(b"1"));
        assert!(off.get("a").is_none());
    }

    #[test]
    fn a_key_put_twice_stays_bounded() {
        let cache = ResponseCache::new(3, Duration::from_secs(5));
        for i in 0..100 {
            cache.put(format!("k{}", i % 5), Bytes::from(i.to_string()));
        }
        let inner = cache.inner.lock().unwrap();
        assert!(inner.entries.len() <= 3 && inner.order.len() <= 4, "{} {}", inner.entries.len(), inner.order.len());
    }
}

//! The API's Prometheus metrics (`imdb_api_*`) and their exposition.
//!
//! Routes are labelled by their pattern (`/api/v1/titles/{tconst}`), never
//! by the raw path, so a client cannot grow the label set; unmatched paths
//! share the label `unmatched`.

use std::time::Duration;

use imdb_telemetry::{Counter, Family, Histogram, SECONDS};

/// Every metric of an API node.
#[derive(Debug)]
pub struct Metrics {
    /// Requests by route and status.
    pub requests: Family<Counter>,
    /// Request latency by route.
    pub request_seconds: Family<Histogram>,
    /// Cluster call latency by call and outcome (status, `timeout`, `unreachable`).
    pub upstream_seconds: Family<Histogram>,
    /// Calls refused because too many were waiting for the cluster.
    pub upstream_rejected: Counter,
    /// Cluster calls asked again after a transient failure.
    pub upstream_retries: Counter,
    /// Response cache hits.
    pub cache_hits: Counter,
    /// Response cache misses.
    pub cache_misses: Counter,
    /// Requests refused by the per-client rate limit.
    pub rate_limited: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: Family::new(&["route", "status"], Counter::default),
            request_seconds: Family::new(&["route"], || Histogram::new(&SECONDS)),
            upstream_seconds: Family::new(&["call", "outcome"], || Histogram::new(&SECONDS)),
            upstream_rejected: Counter::default(),
            upstream_retries: Counter::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            rate_limited: Counter::default(),
        }
    }
}

impl Metrics {
    /// Records a finished request.
    pub fn observe_request(&self, route: &str, status: u16, took: Duration) {
        self.requests.get(&[route, &status.to_string()]).inc();
        self.request_seconds.get(&[route]).observe(took.as_secs_f64());
    }

    /// Records a cluster call.
    pub fn observe_upstream(&self, call: &str, outcome: &str, took: Duration) {
        self.upstream_seconds.get(&[call, outcome]).observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        use imdb_telemetry::{counter, counter_family, histogram_family};
        let mut out = String::new();
        counter_family(&mut out, "imdb_api_requests_total", "HTTP requests by route and status.", &self.requests);
        histogram_family(
            &mut out,
            "imdb_api_request_duration_seconds",
            "HTTP request latency by route.",
            &self.request_seconds,
        );
        histogram_family(
            &mut out,
            "imdb_api_upstream_duration_seconds",
            "Search cluster call latency by call and outcome.",
            &self.upstream_seconds,
        );
        counter(
            &mut out,
            "imdb_api_upstream_rejected_total",
            "Calls refused (503) because the cluster concurrency limit stayed full.",
            self.upstream_rejected.get(),
        );
        counter(
            &mut out,
            "imdb_api_upstream_retries_total",
            "Search cluster calls asked again after a 5xx or a partial answer.",
            self.upstream_retries.get(),
        );
        counter(&mut out, "imdb_api_cache_hits_total", "Responses served from the cache.", self.cache_hits.get());
        counter(
            &mut out,
            "imdb_api_cache_misses_total",
            "Cacheable requests not in the cache.",
            self.cache_misses.get(),
        );
        counter(
            &mut out,
            "imdb_api_rate_limited_total",
            "Requests refused (429) by the per-client rate limit.",
            self.rate_limited.get(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_upstream_calls_are_exposed() {
        let m = Metrics::default();
        m.observe_request("/api/v1/search", 200, Duration::from_millis(12));
        m.observe_request("/api/v1/search", 400, Duration::from_millis(1));
        m.observe_upstream("search", "200", Duration::from_millis(9));
        m.cache_hits.inc();
        let text = m.render();
        assert!(text.contains("imdb_api_requests_total{route=\"/api/v1/search\",status=\"200\"} 1\n"), "{text}");
        assert!(text.contains("imdb_api_requests_total{route=\"/api/v1/search\",status=\"400\"} 1\n"));
        assert!(text.contains("imdb_api_request_duration_seconds_count{route=\"/api/v1/search\"} 2\n"));
        assert!(
            text.contains("imdb_api_upstream_duration_seconds_bucket{call=\"search\",outcome=\"200\",le=\"0.01\"} 1\n")
        );
        assert!(text.contains("imdb_api_cache_hits_total 1\n"));
    }
}

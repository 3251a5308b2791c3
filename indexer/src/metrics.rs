//! The indexer's Prometheus metrics, named the Prometheus way
//! (`imdb_indexer_docs_indexed_total`), and their text exposition.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use imdb_telemetry::{Counter, Histogram, counter, escape, gauge, header, histogram};

use crate::offsets::PartitionId;

const SECONDS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const DOCS: [f64; 9] = [1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0];

/// Every metric of the indexer.
#[derive(Debug)]
pub struct Metrics {
    /// Messages received from Kafka.
    pub consumed: Counter,
    /// Documents the search engine acknowledged.
    pub indexed: Counter,
    /// Document sends retried (429, 5xx, engine unreachable).
    pub retried: Counter,
    /// Documents and messages sent to the dead-letter topic.
    pub dead_lettered: Counter,
    /// Offset commits made.
    pub commits: Counter,
    /// Bulk requests being sent now.
    pub in_flight: AtomicU64,
    /// Bulk request latency.
    pub bulk_seconds: Histogram,
    /// Documents per bulk request.
    pub batch_docs: Histogram,
    /// Consumer lag by topic and partition.
    pub lag: Mutex<BTreeMap<PartitionId, i64>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            consumed: Counter::default(),
            indexed: Counter::default(),
            retried: Counter::default(),
            dead_lettered: Counter::default(),
            commits: Counter::default(),
            in_flight: AtomicU64::new(0),
            bulk_seconds: Histogram::new(&SECONDS),
            batch_docs: Histogram::new(&DOCS),
            lag: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    /// Records a bulk request's duration and size.
    pub fn bulk(&self, took: Duration, docs: usize) {
        self.bulk_seconds.observe(took.as_secs_f64());
        self.batch_docs.observe(docs as f64);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let o = &mut out;
        counter(
            o,
            "imdb_indexer_messages_consumed_total",
            "Messages received from the enrichment topics.",
            self.consumed.get(),
        );
        counter(
            o,
            "imdb_indexer_docs_indexed_total",
            "Documents acknowledged by the search engine.",
            self.indexed.get(),
        );
        counter(
            o,
            "imdb_indexer_docs_retried_total",
            "Document sends retried after a 429, a 5xx or an unreachable engine.",
            self.retried.get(),
        );
        counter(
            o,
            "imdb_indexer_docs_dead_lettered_total",
            "Messages and documents sent to the dead-letter topic.",
            self.dead_lettered.get(),
        );
        counter(o, "imdb_indexer_offset_commits_total", "Offset commits.", self.commits.get());
        gauge(
            o,
            "imdb_indexer_in_flight_requests",
            "Bulk requests being sent.",
            self.in_flight.load(Ordering::Relaxed),
        );
        histogram(
            o,
            "imdb_indexer_bulk_duration_seconds",
            "Bulk request latency, retries included.",
            &self.bulk_seconds,
        );
        histogram(o, "imdb_indexer_batch_size_docs", "Documents per bulk request.", &self.batch_docs);
        header(
            o,
            "imdb_indexer_consumer_lag",
            "gauge",
            "Messages after the committed offset (not yet indexed and committed), by assigned partition.",
        );
        for (PartitionId { topic, partition }, lag) in self.lag.lock().expect("not poisoned").iter() {
            let _ =
                writeln!(o, "imdb_indexer_consumer_lag{{topic=\"{}\",partition=\"{partition}\"}} {lag}", escape(topic));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counters_histograms_and_lag() {
        let m = Metrics::default();
        m.indexed.add(3);
        m.bulk(Duration::from_millis(30), 500);
        m.lag.lock().unwrap().insert(PartitionId::new("imdb.enriched.titles", 2), 41);
        let text = m.render();
        assert!(text.contains("imdb_indexer_docs_indexed_total 3\n"));
        assert!(text.contains("imdb_indexer_bulk_duration_seconds_bucket{le=\"0.05\"} 1\n"));
        assert!(text.contains("imdb_indexer_bulk_duration_seconds_bucket{le=\"0.025\"} 0\n"));
        assert!(text.contains("imdb_indexer_batch_size_docs_count 1\n"));
        assert!(text.contains("imdb_indexer_consumer_lag{topic=\"imdb.enriched.titles\",partition=\"2\"} 41\n"));
    }
}

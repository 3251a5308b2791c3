//! Prometheus metrics primitives for the services' `metrics.rs` files:
//! lock-free counters and fixed-bucket histograms, families of them keyed
//! by label values, and the text exposition format (version 0.0.4).
//!
//! No registry: each service owns a struct of its metrics and renders them
//! in a fixed order, so the exposition is deterministic and the names are
//! greppable in one file per crate.

pub mod logging;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Request latency buckets, in seconds: 1 ms to 30 s.
pub const SECONDS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram with fixed upper bounds. The sum is kept in millionths
/// (whole microseconds for durations in seconds), so values are best in
/// units where a millionth is negligible: seconds, document counts.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending; `+Inf` is implied).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one value.
    pub fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add((value * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes the `_bucket`, `_sum` and `_count` series, with `labels`
    /// (already formatted, `a="b",c="d"`, or empty) on each.
    pub fn write_series(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        // Read while others observe: the count may lag the buckets read
        // before it, and buckets must never decrease.
        let total = self.count().max(cumulative);
        let braces = |l: &str| if l.is_empty() { String::new() } else { format!("{{{l}}}") };
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{} {total}", braces(labels));
    }
}

/// Metrics of one name keyed by label values (`route`, `status`, ...).
#[derive(Debug)]
pub struct Family<T> {
    labels: &'static [&'static str],
    members: Mutex<BTreeMap<Vec<String>, Arc<T>>>,
    make: fn() -> T,
}

impl<T> Family<T> {
    /// A family with these label names, whose members `make` creates.
    pub fn new(labels: &'static [&'static str], make: fn() -> T) -> Family<T> {
        Family { labels, members: Mutex::new(BTreeMap::new()), make }
    }

    /// The member for these label values (as many as label names).
    pub fn get(&self, values: &[&str]) -> Arc<T> {
        debug_assert_eq!(values.len(), self.labels.len());
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        let mut members = self.members.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        members.entry(key).or_insert_with(|| Arc::new((self.make)())).clone()
    }

    /// Each member with its formatted labels, in label order.
    pub fn each(&self, mut f: impl FnMut(&str, &T)) {
        let members = self.members.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (values, member) in members.iter() {
            let labels: Vec<String> =
                self.labels.iter().zip(values).map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            f(&labels.join(","), member);
        }
    }
}

/// Escapes a label value: backslash, double quote and newline.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes the `# HELP` and `# TYPE` lines of a metric.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes an unlabelled counter.
pub fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

/// Writes an unlabelled gauge.
pub fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// Writes a family of counters.
pub fn counter_family(out: &mut String, name: &str, help: &str, family: &Family<Counter>) {
    header(out, name, "counter", help);
    family.each(|labels, c| {
        let _ = writeln!(out, "{name}{{{labels}}} {}", c.get());
    });
}

/// Writes a family of histograms.
pub fn histogram_family(out: &mut String, name: &str, help: &str, family: &Family<Histogram>) {
    header(out, name, "histogram", help);
    family.each(|labels, h| h.write_series(out, name, labels));
}

/// Writes an unlabelled histogram.
pub fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    header(out, name, "histogram", help);
    h.write_series(out, name, "");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labelled() {
        static B: [f64; 3] = [0.01, 0.1, 1.0];
        let family = Family::new(&["route"], || Histogram::new(&B));
        family.get(&["/search"]).observe(0.05);
        family.get(&["/search"]).observe(5.0);
        let mut out = String::new();
        histogram_family(&mut out, "x_seconds", "Latency.", &family);
        assert!(out.contains("x_seconds_bucket{route=\"/search\",le=\"0.01\"} 0\n"), "{out}");
        assert!(out.contains("x_seconds_bucket{route=\"/search\",le=\"0.1\"} 1\n"));
        assert!(out.contains("x_seconds_bucket{route=\"/search\",le=\"+Inf\"} 2\n"));
        assert!(out.contains("x_seconds_count{route=\"/search\"} 2\n"));
        assert!(out.contains("x_seconds_sum{route=\"/search\"} 5.05\n"));
    }

    #[test]
    fn counters_escape_label_values() {
        let family = Family::new(&["route", "status"], Counter::default);
        family.get(&["/a\"b", "200"]).add(3);
        let mut out = String::new();
        counter_family(&mut out, "r_total", "Requests.", &family);
        assert!(out.contains("r_total{route=\"/a\\\"b\",status=\"200\"} 3\n"), "{out}");
        let mut plain = String::new();
        histogram(&mut plain, "h", "H.", &Histogram::new(&SECONDS));
        assert!(plain.contains("h_count 0\n") && plain.contains("h_bucket{le=\"+Inf\"} 0\n"), "{plain}");
    }
}

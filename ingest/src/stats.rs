//! Run counters, shared by the master, the workers, the producer's delivery
//! callback and the progress reporter, and the final summary made from them.
//!
//! A record counts as *published* only when the broker acknowledged the
//! message carrying it (delivery report), never when it was handed to the
//! producer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use imdb_model::RawSource;
use serde::Serialize;

/// What a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A batch of raw rows.
    Raw = 0,
    /// One enriched title document.
    Title = 1,
    /// One enriched person document.
    Person = 2,
    /// One dead letter.
    DeadLetter = 3,
}

impl MessageKind {
    const ALL: [MessageKind; 4] = [MessageKind::Raw, MessageKind::Title, MessageKind::Person, MessageKind::DeadLetter];
}

fn source_index(source: RawSource) -> usize {
    RawSource::ALL.iter().position(|s| *s == source).expect("every source is in ALL")
}

#[derive(Debug, Default)]
struct Delivery {
    messages: AtomicU64,
    records: AtomicU64,
}

/// Counters of one run.
#[derive(Debug, Default)]
pub struct Stats {
    read: [AtomicU64; 8],
    rejected: [AtomicU64; 8],
    sent: [Delivery; 4],
    acked: [Delivery; 4],
    failed: [Delivery; 4],
    /// Rows of secondary title files whose title is not in title.basics.
    pub orphans: AtomicU64,
    /// Person ids that did not resolve to a name.
    pub unresolved_names: AtomicU64,
    /// Bytes consumed from disk (compressed size for `.gz`).
    pub disk_bytes: Arc<AtomicU64>,
    /// Bytes of records after decompression.
    pub record_bytes: AtomicU64,
    /// Disk bytes the whole run will read (files read twice count twice).
    pub planned_disk_bytes: AtomicU64,
    /// Reader threads that failed (a bug, never bad input).
    pub internal_errors: Arc<AtomicU64>,
}

impl Stats {
    /// Counts `n` records read from `source`, `bytes` long.
    pub fn read(&self, source: RawSource, n: u64, bytes: u64) {
        self.read[source_index(source)].fetch_add(n, Relaxed);
        self.record_bytes.fetch_add(bytes, Relaxed);
    }

    /// Counts a record of `source` rejected.
    pub fn rejected(&self, source: RawSource) {
        self.rejected[source_index(source)].fetch_add(1, Relaxed);
    }

    /// Counts a message handed to the producer.
    pub fn sent(&self, kind: MessageKind, records: u64) {
        self.sent[kind as usize].messages.fetch_add(1, Relaxed);
        self.sent[kind as usize].records.fetch_add(records, Relaxed);
    }

    /// Counts a message the broker acknowledged.
    pub fn acked(&self, kind: MessageKind, records: u64) {
        self.acked[kind as usize].messages.fetch_add(1, Relaxed);
        self.acked[kind as usize].records.fetch_add(records, Relaxed);
    }

    /// Counts a message that was not delivered.
    pub fn failed(&self, kind: MessageKind, records: u64) {
        self.failed[kind as usize].messages.fetch_add(1, Relaxed);
        self.failed[kind as usize].records.fetch_add(records, Relaxed);
    }

    /// Records read so far, all sources.
    pub fn records_read(&self) -> u64 {
        self.read.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Messages sent and not yet acknowledged or failed.
    pub fn unconfirmed_messages(&self) -> u64 {
        MessageKind::ALL
            .iter()
            .map(|k| {
                let i = *k as usize;
                let sent = self.sent[i].messages.load(Relaxed);
                sent.saturating_sub(self.acked[i].messages.load(Relaxed) + self.failed[i].messages.load(Relaxed))
            })
            .sum()
    }

    /// Messages that failed, all kinds.
    pub fn failed_messages(&self) -> u64 {
        self.failed.iter().map(|d| d.messages.load(Relaxed)).sum()
    }

    /// Messages sent, all kinds.
    pub fn sent_messages(&self) -> u64 {
        self.sent.iter().map(|d| d.messages.load(Relaxed)).sum()
    }

    /// The summary of the run so far.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let load = |d: &Delivery| d.records.load(Relaxed);
        let per_source = RawSource::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.read[*i].load(Relaxed) + self.rejected[*i].load(Relaxed) > 0)
            .map(|(i, s)| SourceSummary {
                source: s.file_stem(),
                read: self.read[i].load(Relaxed),
                rejected: self.rejected[i].load(Relaxed),
            })
            .collect();
        let seconds = elapsed.as_secs_f64();
        let read = self.records_read();
        Summary {
            records_read: read,
            records_published: load(&self.acked[MessageKind::Raw as usize]),
            records_rejected: self.rejected.iter().map(|c| c.load(Relaxed)).sum(),
            titles_published: load(&self.acked[MessageKind::Title as usize]),
            people_published: load(&self.acked[MessageKind::Person as usize]),
            dead_letters_published: load(&self.acked[MessageKind::DeadLetter as usize]),
            messages_sent: self.sent_messages(),
            messages_failed: self.failed_messages(),
            messages_unconfirmed: self.unconfirmed_messages(),
            orphan_rows: self.orphans.load(Relaxed),
            unresolved_names: self.unresolved_names.load(Relaxed),
            disk_bytes: self.disk_bytes.load(Relaxed),
            record_bytes: self.record_bytes.load(Relaxed),
            seconds,
            records_per_second: if seconds > 0.0 { read as f64 / seconds } else { 0.0 },
            per_source,
        }
    }
}

/// Counts of one source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSummary {
    /// The source file stem.
    pub source: &'static str,
    /// Records read.
    pub read: u64,
    /// Records rejected.
    pub rejected: u64,
}

/// What a run did, printed at the end (and as JSON with `--summary-json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Data records read (rows, JSON values), all sources.
    pub records_read: u64,
    /// Raw records acknowledged by the broker.
    pub records_published: u64,
    /// Records rejected and dead-lettered.
    pub records_rejected: u64,
    /// Enriched title documents acknowledged.
    pub titles_published: u64,
    /// Enriched person documents acknowledged.
    pub people_published: u64,
    /// Dead letters acknowledged.
    pub dead_letters_published: u64,
    /// Kafka messages sent.
    pub messages_sent: u64,
    /// Kafka messages that failed.
    pub messages_failed: u64,
    /// Kafka messages never confirmed either way.
    pub messages_unconfirmed: u64,
    /// Secondary rows whose title was not in title.basics.
    pub orphan_rows: u64,
    /// Person ids that did not resolve to a name.
    pub unresolved_names: u64,
    /// Bytes read from disk.
    pub disk_bytes: u64,
    /// Bytes of records (decompressed).
    pub record_bytes: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Records read per second.
    pub records_per_second: f64,
    /// Per source.
    pub per_source: Vec<SourceSummary>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "ingest summary")?;
        writeln!(f, "  records read       {:>12}", self.records_read)?;
        writeln!(f, "  records published  {:>12}  (raw rows acknowledged by the broker)", self.records_published)?;
        writeln!(f, "  records rejected   {:>12}  (sent to the dead-letter topic)", self.records_rejected)?;
        writeln!(f, "  titles published   {:>12}", self.titles_published)?;
        writeln!(f, "  people published   {:>12}", self.people_published)?;
        for s in &self.per_source {
            writeln!(f, "    {:<18} read {:>12}  rejected {:>8}", s.source, s.read, s.rejected)?;
        }
        if self.orphan_rows > 0 || self.unresolved_names > 0 {
            writeln!(
                f,
                "  not joined         {:>12} rows without a title.basics row, {} person ids without a name",
                self.orphan_rows, self.unresolved_names
            )?;
        }
        writeln!(
            f,
            "  messages           {:>12} sent, {} failed, {} unconfirmed",
            self.messages_sent, self.messages_failed, self.messages_unconfirmed
        )?;
        writeln!(f, "  bytes              {:>12} from disk, {} of records", self.disk_bytes, self.record_bytes)?;
        write!(f, "  time               {:>12.2} s, {:.0} records/s", self.seconds, self.records_per_second)
    }
}

//! What every worker shares: the sink, the counters, the lookup tables, and
//! the two ways a record leaves a worker (published, or dead-lettered).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use imdb_model::topics::INGEST_DEAD_LETTER;
use imdb_model::{DeadLetter, RawSource, Topic};
use serde::Serialize;

use crate::chunk::{Chunk, MAX_RECORD_BYTES};
use crate::error::IngestError;
use crate::raw::RawBatcher;
use crate::sink::{MAX_MESSAGE_BYTES, Message, Sink};
use crate::stats::{MessageKind, Stats};
use crate::tables::{NameTable, TitleTable};

/// Longest record text kept in a dead letter.
const DEAD_LETTER_RECORD_BYTES: usize = 16 * 1024;
/// How many rejects are logged one by one before only counting.
const LOGGED_REJECTS: u64 = 50;

/// Whether and how raw rows are published (`imdb-ingest load`'s flags).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct RawSettings {
    /// Do not publish raw rows, only enriched documents and dead letters.
    #[arg(long, env = "IMDB_INGEST_NO_RAW")]
    pub no_raw: bool,
    /// Rows per raw Kafka message at most.
    #[arg(long = "raw-batch-rows", value_name = "ROWS", env = "IMDB_INGEST_RAW_BATCH_ROWS", default_value_t = 500)]
    pub max_rows: u64,
    /// Bytes per raw Kafka message, about, at most.
    #[arg(long = "raw-batch-bytes", value_name = "SIZE", env = "IMDB_INGEST_RAW_BATCH_BYTES", default_value = "512KiB",
          value_parser = crate::units::parse_size)]
    pub max_bytes: usize,
}

impl RawSettings {
    /// Raw rows are published.
    pub fn publish(&self) -> bool {
        !self.no_raw
    }
}

/// The context of every worker.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Where messages go.
    pub sink: &'a dyn Sink,
    /// Counters.
    pub stats: &'a Stats,
    /// Person id to name (empty before pass A, or without name.basics).
    pub names: &'a NameTable,
    /// Title id to title (empty before pass B).
    pub titles: &'a TitleTable,
    /// Display path of each source file, for messages.
    pub paths: &'a HashMap<RawSource, String>,
    /// Raw batching.
    pub raw: RawSettings,
    /// Rejects logged so far.
    pub logged: &'a AtomicU64,
}

impl<'a> Ctx<'a> {
    /// A raw batcher for `source`'s topic.
    pub fn raw_batcher(&self, source: RawSource) -> RawBatcher<'a> {
        RawBatcher::new(self.sink, self.stats, source.topic(), self.raw.max_rows, self.raw.max_bytes)
    }

    /// The display path of `source`.
    pub fn path(&self, source: RawSource) -> &str {
        self.paths.get(&source).map_or("?", String::as_str)
    }

    /// Dead-letters a record: logs it (the first few), counts it, publishes
    /// it to the dead-letter topic with its position and reason.
    pub fn reject(
        &self,
        source: RawSource,
        position: (Option<u64>, Option<u64>),
        reason: &str,
        record: &[u8],
    ) -> Result<(), IngestError> {
        let path = self.path(source);
        let (line, byte_offset) = position;
        if self.logged.fetch_add(1, Relaxed) < LOGGED_REJECTS {
            tracing::warn!(file = path, line, byte_offset, reason, "record rejected");
        } else if self.logged.load(Relaxed) == LOGGED_REJECTS + 1 {
            tracing::warn!("further rejected records are counted, not logged");
        }
        self.stats.rejected(source);
        let record = &record[..record.len().min(DEAD_LETTER_RECORD_BYTES)];
        let letter = DeadLetter {
            stage: "ingest".into(),
            source: path.to_owned(),
            line,
            byte_offset,
            kafka_offset: None,
            reason: reason.to_owned(),
            record: String::from_utf8_lossy(record).trim_end_matches(['\n', '\r']).to_owned(),
        };
        let payload = serde_json::to_vec(&letter).expect("a dead letter serialises");
        let message = Message {
            topic: INGEST_DEAD_LETTER.name,
            partition: None,
            key: path.as_bytes(),
            payload: &payload,
            kind: MessageKind::DeadLetter,
            records: 1,
        };
        self.sink.send(message, self.stats)
    }

    /// Publishes one document keyed by its id. The inner result rejects a
    /// document too large for a Kafka message.
    pub fn publish_doc<T: Serialize>(
        &self,
        topic: Topic,
        kind: MessageKind,
        key: &str,
        doc: &T,
        buf: &mut Vec<u8>,
    ) -> Result<Result<(), String>, IngestError> {
        buf.clear();
        serde_json::to_writer(&mut *buf, doc).expect("documents serialise");
        if let Err(reason) = check_size(buf.len(), MAX_MESSAGE_BYTES, "document") {
            return Ok(Err(reason));
        }
        let message =
            Message { topic: topic.name, partition: None, key: key.as_bytes(), payload: buf, kind, records: 1 };
        self.sink.send(message, self.stats).map(Ok)
    }
}

/// The reason given for a record over [`MAX_RECORD_BYTES`].
pub fn too_long() -> String {
    format!("record longer than {MAX_RECORD_BYTES} bytes")
}

/// Rejects something of `len` bytes over `limit`.
pub fn check_size(len: usize, limit: usize, what: &str) -> Result<(), String> {
    if len > limit { Err(format!("{what} too large: {len} bytes, at most {limit}")) } else { Ok(()) }
}

/// One record of a chunk with where it starts.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset in the decompressed input.
    pub byte: u64,
    /// The record, without its newline.
    pub data: &'a [u8],
}

impl Line<'_> {
    /// Line and offset, as a dead letter records them.
    pub fn position(&self) -> (Option<u64>, Option<u64>) {
        (Some(self.line), Some(self.byte))
    }
}

/// The records of a chunk, blank lines skipped.
pub fn lines(chunk: &Chunk) -> impl Iterator<Item = Line<'_>> {
    let mut line = chunk.first_line;
    let mut byte = chunk.first_byte;
    let mut positions = chunk.positions.iter();
    chunk.data.split_inclusive(|b| *b == b'\n').filter_map(move |raw| {
        let (this_line, this_byte) = match positions.next() {
            Some(&(l, b)) => (l, b),
            None => (line, byte),
        };
        line += 1;
        byte += raw.len() as u64;
        let data = raw.strip_suffix(b"\n").unwrap_or(raw);
        let data = data.strip_suffix(b"\r").unwrap_or(data);
        (!data.is_empty()).then_some(Line { line: this_line, byte: this_byte, data })
    })
}

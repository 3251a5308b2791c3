//! Batching raw rows into Kafka messages.
//!
//! One Kafka message per raw row would mean ~200M messages for the full
//! dataset: hours on the local broker. A raw message instead carries up to
//! `max_rows` rows as JSON lines (Logstash's `json_lines` codec), all of
//! whose keys hash to the message's partition, so every row still lands in
//! the partition its id selects. A worker owns one batcher per chunk and
//! flushes it at the chunk's end, so memory is bounded by the chunk.

use imdb_model::{Topic, partition_for_key};

use crate::error::IngestError;
use crate::sink::{Message, Sink};
use crate::stats::{MessageKind, Stats};

#[derive(Debug, Default)]
struct Batch {
    data: Vec<u8>,
    rows: u64,
    first_key: Vec<u8>,
}

/// Per-partition batches of raw rows for one topic.
#[derive(Debug)]
pub struct RawBatcher<'a> {
    sink: &'a dyn Sink,
    stats: &'a Stats,
    topic: Topic,
    batches: Vec<Batch>,
    max_rows: u64,
    max_bytes: usize,
}

impl std::fmt::Debug for dyn Sink + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl<'a> RawBatcher<'a> {
    /// A batcher sending to `topic` through `sink`.
    pub fn new(sink: &'a dyn Sink, stats: &'a Stats, topic: Topic, max_rows: u64, max_bytes: usize) -> Self {
        let batches = (0..topic.partitions).map(|_| Batch::default()).collect();
        RawBatcher { sink, stats, topic, batches, max_rows: max_rows.max(1), max_bytes }
    }

    /// Adds one row (a JSON line) keyed by `key`. A batch is sent before it
    /// would grow past the byte limit, so a message is never larger than the
    /// limit or one row.
    pub fn add(&mut self, key: &str, row: &[u8]) -> Result<(), IngestError> {
        let partition = partition_for_key(key.as_bytes(), self.topic.partitions);
        if self.batches[partition as usize].data.len() + row.len() > self.max_bytes {
            self.send(partition)?;
        }
        let batch = &mut self.batches[partition as usize];
        if batch.rows == 0 {
            batch.first_key.clear();
            batch.first_key.extend_from_slice(key.as_bytes());
        }
        batch.data.extend_from_slice(row);
        batch.rows += 1;
        if batch.rows >= self.max_rows {
            self.send(partition)?;
        }
        Ok(())
    }

    fn send(&mut self, partition: i32) -> Result<(), IngestError> {
        let batch = &mut self.batches[partition as usize];
        if batch.rows == 0 {
            return Ok(());
        }
        let message = Message {
            topic: self.topic.name,
            partition: Some(partition),
            key: &batch.first_key,
            payload: &batch.data,
            kind: MessageKind::Raw,
            records: batch.rows,
        };
        self.sink.send(message, self.stats)?;
        batch.data.clear();
        batch.rows = 0;
        Ok(())
    }

    /// Sends every partial batch.
    pub fn flush(&mut self) -> Result<(), IngestError> {
        for partition in 0..self.topic.partitions {
            self.send(partition)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemorySink;
    use imdb_model::RawSource;

    #[test]
    fn rows_land_in_their_key_partition_in_batches() {
        let sink = MemorySink::default();
        let stats = Stats::default();
        let topic = RawSource::TitleBasics.topic();
        let mut batcher = RawBatcher::new(&sink, &stats, topic, 10, 1 << 20);
        for i in 0..1000 {
            let key = format!("tt{i:07}");
            batcher.add(&key, format!("{{\"tconst\":\"{key}\"}}\n").as_bytes()).unwrap();
        }
        batcher.flush().unwrap();
        let messages = sink.messages();
        assert_eq!(messages.iter().map(|m| m.records).sum::<u64>(), 1000);
        for m in &messages {
            assert!(m.records <= 10);
            for line in std::str::from_utf8(&m.payload).unwrap().lines() {
                let key = &line[11..20];
                assert_eq!(Some(partition_for_key(key.as_bytes(), topic.partitions)), m.partition, "{line}");
            }
        }
    }

    #[test]
    fn a_batch_never_grows_past_the_byte_limit_but_for_a_single_row() {
        let sink = MemorySink::default();
        let stats = Stats::default();
        let topic = RawSource::TitleBasics.topic();
        let mut batcher = RawBatcher::new(&sink, &stats, topic, 1000, 1000);
        for i in 0..500 {
            let row = format!("{{\"tconst\":\"tt{i:07}\",\"pad\":\"{}\"}}\n", "x".repeat(i % 300));
            batcher.add(&format!("tt{i:07}"), row.as_bytes()).unwrap();
        }
        batcher.add("tt0000001", "y".repeat(5000).as_bytes()).unwrap();
        batcher.flush().unwrap();
        let messages = sink.messages();
        assert_eq!(messages.iter().map(|m| m.records).sum::<u64>(), 501);
        for m in &messages {
            assert!(m.payload.len() <= 1000 || m.records == 1, "{} bytes in {} rows", m.payload.len(), m.records);
        }
    }
}

//! A bulk worker: gathers its partitions' documents into batches
//! ([`Batcher`]) and sends each until every document is indexed,
//! dead-lettered or abandoned.
//!
//! Contract: only the newest message of an id within a batch is sent (the
//! others are superseded, acknowledged once the batch is done); documents
//! of partitions no longer owned are dropped unsent and unacknowledged.
//! Per document: indexed and dead-lettered ones are acknowledged; those
//! the engine could not take now ([`Outcome::Retry`]), and every document
//! of a request that failed as a whole, are sent again after a [`Backoff`]
//! wait, without limit, except when their partition is given up meanwhile
//! or `drain_timeout` after a stop: then they are abandoned, uncommitted.
//! A title that changed genre loses its copy in the old genre index before
//! the new one is written.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use imdb_model::index::IndexNames;

use super::batch::Batcher;
use super::state::State;
use crate::dlq::DeadLetters;
use crate::engine::{Engine, Outcome};
use crate::error::IndexerError;
use crate::retry::Backoff;
use crate::route::{Rejected, Routed};
use crate::settings::BulkSettings;
use imdb_telemetry::logging::ErrorChain;

/// One bulk thread.
pub(crate) struct Worker {
    pub(crate) rx: Receiver<Routed>,
    pub(crate) names: IndexNames,
    pub(crate) engine: Engine,
    pub(crate) dead_letters: Arc<DeadLetters>,
    pub(crate) state: Arc<State>,
    pub(crate) settings: BulkSettings,
    pub(crate) stop: Arc<AtomicBool>,
}

/// A batch split by what to do with each document.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Sorted {
    /// Acknowledged by the engine.
    pub(crate) indexed: Vec<Routed>,
    /// To send again.
    pub(crate) retry: Vec<Routed>,
    /// Refused for their content, with the engine's reason.
    pub(crate) rejected: Vec<(Routed, String)>,
}

/// Sorts the documents sent by their outcomes (one each, in order).
pub(crate) fn sort(sent: Vec<Routed>, outcomes: Vec<Outcome>) -> Sorted {
    let mut sorted = Sorted::default();
    for (doc, outcome) in sent.into_iter().zip(outcomes) {
        match outcome {
            Outcome::Indexed => sorted.indexed.push(doc),
            Outcome::Retry(_) => sorted.retry.push(doc),
            Outcome::Rejected(reason) => sorted.rejected.push((doc, reason)),
        }
    }
    sorted
}

/// Splits a batch into the documents to send (the newest message of each
/// id, by topic and id: a title whose genre changed within the batch is
/// one document, not one per index) and the superseded ones.
pub(crate) fn newest_only(batch: Vec<Routed>) -> (Vec<Routed>, Vec<Routed>) {
    let mut newest: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, doc) in batch.iter().enumerate() {
        newest.insert((doc.partition.topic.as_str(), doc.id.as_str()), i);
    }
    let keep: Vec<bool> = batch
        .iter()
        .enumerate()
        .map(|(i, doc)| newest[&(doc.partition.topic.as_str(), doc.id.as_str())] == i)
        .collect();
    let (mut pending, mut superseded) = (Vec::new(), Vec::new());
    for (doc, keep) in batch.into_iter().zip(keep) {
        if keep { pending.push(doc) } else { superseded.push(doc) }
    }
    (pending, superseded)
}

impl Worker {
    /// Gathers and sends batches until the channel closes, then sends
    /// what is left.
    pub(crate) fn run(self) {
        let s = &self.settings;
        let mut batcher = Batcher::new(s.batch_docs, s.batch_bytes, s.linger);
        loop {
            match self.rx.recv_timeout(batcher.wait(Instant::now())) {
                Ok(doc) => {
                    if let Some(batch) = batcher.push(doc, Instant::now()) {
                        self.send(batch);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(batch) = batcher.take_due(Instant::now()) {
                        self.send(batch);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    if let Some(batch) = batcher.take() {
                        self.send(batch);
                    }
                    return;
                }
            }
        }
    }

    /// Sends one batch until every document is indexed, dead-lettered, or
    /// (on shutdown or rebalance) abandoned.
    fn send(&self, batch: Vec<Routed>) {
        let state = &self.state;
        let (mut pending, superseded) = state.claim(batch, newest_only);
        let mut backoff = Backoff::new(self.settings.backoff_max);
        let mut deadline: Option<Instant> = None;
        while !pending.is_empty() {
            if self.stop.load(Ordering::Relaxed) {
                let limit = *deadline.get_or_insert_with(|| Instant::now() + self.settings.drain_timeout);
                if Instant::now() >= limit {
                    tracing::warn!(
                        documents = pending.len(),
                        "abandoning unsent documents at shutdown; they stay uncommitted"
                    );
                    state.finish(&pending, false);
                    break;
                }
            }
            // Documents of a partition given up while they waited for a
            // retry are abandoned: the next owner indexes them again, and
            // ours must not land after its writes.
            let (kept, given_up) = state.owned(pending);
            if !given_up.is_empty() {
                state.finish(&given_up, false);
            }
            pending = kept;
            if pending.is_empty() {
                break;
            }
            match self.attempt(pending) {
                Ok(retry) => pending = retry,
                Err(retry) => {
                    pending = retry;
                    backoff.sleep();
                    continue;
                }
            }
            if !pending.is_empty() {
                state.metrics.retried.add(pending.len() as u64);
                backoff.sleep();
            }
        }
        for doc in &superseded {
            state.acknowledge(&doc.partition, doc.offset);
        }
    }

    /// One try at `pending`: the documents to send again, `Err` when the
    /// request failed as a whole (all of them, already counted as retried).
    fn attempt(&self, pending: Vec<Routed>) -> Result<Vec<Routed>, Vec<Routed>> {
        let metrics = &self.state.metrics;
        if let Err(e) = self.remove_moved(&pending) {
            tracing::warn!(error = %ErrorChain(&e), "could not look for titles that changed genre; retrying");
            return Err(pending);
        }
        let refs: Vec<&Routed> = pending.iter().collect();
        metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.engine.bulk(&refs);
        metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        metrics.bulk(started.elapsed(), refs.len());
        let outcomes = match result {
            Ok(outcomes) => outcomes,
            Err(e) => {
                tracing::warn!(error = %ErrorChain(&e), documents = pending.len(), "bulk failed; retrying");
                metrics.retried.add(pending.len() as u64);
                return Err(pending);
            }
        };
        let Sorted { indexed, mut retry, rejected } = sort(pending, outcomes);
        metrics.indexed.add(indexed.len() as u64);
        self.state.finish(&indexed, true);
        if !rejected.is_empty() {
            self.dead_letter(rejected, &mut retry);
        }
        Ok(retry)
    }

    /// A title whose first genre changed moves index: its copy in the old
    /// genre index is deleted before the new one is written, so the title
    /// alias never holds it twice.
    fn remove_moved(&self, pending: &[Routed]) -> Result<(), IndexerError> {
        let names = &self.names;
        let stem = names.titles_pattern();
        let stem = stem.trim_end_matches('*');
        let titles: HashMap<&str, &str> =
            pending.iter().filter(|d| d.index.starts_with(stem)).map(|d| (d.id.as_str(), d.index.as_str())).collect();
        if titles.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = titles.keys().copied().collect();
        let stale: Vec<(String, String)> = self
            .engine
            .locate(&names.titles_alias(), &ids)?
            .into_iter()
            .filter(|(index, id)| titles.get(id.as_str()).is_some_and(|target| *target != index))
            .collect();
        if !stale.is_empty() {
            tracing::info!(titles = stale.len(), "titles moved to another genre index");
            self.engine.delete(&stale)?;
        }
        Ok(())
    }

    /// Dead-letters documents the engine refused; those Kafka did not
    /// acknowledge go back to `retry`.
    fn dead_letter(&self, rejected: Vec<(Routed, String)>, retry: &mut Vec<Routed>) {
        let letters: Vec<Rejected> = rejected
            .iter()
            .map(|(doc, reason)| Rejected {
                reason: format!("search engine rejected the document for index {}: {reason}", doc.index),
                record: doc.source.clone(),
                partition: doc.partition.clone(),
                offset: doc.offset,
                key: Some(doc.id.clone()),
            })
            .collect();
        match self.dead_letters.send(&letters) {
            Ok(()) => {
                for (doc, reason) in &rejected {
                    tracing::warn!(index = %doc.index, id = %doc.id, offset = doc.offset, reason = %reason, "document dead-lettered");
                }
                self.state.metrics.dead_lettered.add(rejected.len() as u64);
                let docs: Vec<Routed> = rejected.into_iter().map(|(d, _)| d).collect();
                self.state.finish(&docs, true);
            }
            Err(e) => {
                // Not acknowledged by Kafka: try the documents again.
                tracing::warn!(error = %ErrorChain(&e), "dead-letter topic unavailable; retrying the documents");
                retry.extend(rejected.into_iter().map(|(d, _)| d));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::PartitionId;

    fn doc(topic: &str, id: &str, offset: i64) -> Routed {
        Routed {
            index: format!("{topic}-index"),
            id: id.into(),
            source: "{}".into(),
            partition: PartitionId::new(topic, 0),
            offset,
        }
    }

    #[test]
    fn only_the_newest_message_of_an_id_is_sent() {
        let batch =
            vec![doc("titles", "tt1", 1), doc("titles", "tt2", 2), doc("titles", "tt1", 3), doc("people", "tt1", 4)];
        let (pending, superseded) = newest_only(batch);
        let offsets = |docs: &[Routed]| docs.iter().map(|d| d.offset).collect::<Vec<_>>();
        assert_eq!(offsets(&pending), [2, 3, 4], "in order; the same id of another topic is another document");
        assert_eq!(offsets(&superseded), [1]);
    }

    #[test]
    fn retries_are_what_the_engine_could_not_take_now() {
        let sent = vec![doc("t", "a", 1), doc("t", "b", 2), doc("t", "c", 3)];
        let outcomes = vec![Outcome::Retry("429".into()), Outcome::Indexed, Outcome::Rejected("400 mapping".into())];
        let sorted = sort(sent, outcomes);
        assert_eq!(sorted.indexed.iter().map(|d| d.offset).collect::<Vec<_>>(), [2]);
        assert_eq!(sorted.retry.iter().map(|d| d.offset).collect::<Vec<_>>(), [1]);
        assert_eq!(
            sorted.rejected.iter().map(|(d, r)| (d.offset, r.as_str())).collect::<Vec<_>>(),
            [(3, "400 mapping")]
        );
    }
}

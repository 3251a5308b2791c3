//! The consumer loop: each message routed to its partition's worker; while
//! a worker's queue is full, consumption pauses and the loop keeps serving
//! the group (rebalances, heartbeats), and offsets are committed every
//! `commit_interval`.
//!
//! Contract: a partition's messages always go to the same worker
//! ([`worker_of`]), so they are sent in order. Documents wait here
//! (stashed) only while their worker's queue is full; consumption is paused
//! exactly while some wait, and that state is applied again after every
//! rebalance. Queued documents of revoked partitions are dropped: their
//! offsets were forgotten, and their next owner consumes them again. A
//! message that is not a document is dead-lettered at once.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};
use imdb_model::index::IndexNames;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Message};

use super::commit;
use super::context::Context;
use super::state::State;
use crate::dlq::DeadLetters;
use crate::offsets::PartitionId;
use crate::route::{Rejected, Routed, route};

/// How often the loop logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What the loop needs, borrowed from the run.
pub(crate) struct Consume<'a> {
    pub(crate) consumer: &'a BaseConsumer<Context>,
    pub(crate) names: &'a IndexNames,
    pub(crate) senders: &'a [Sender<Routed>],
    pub(crate) dead_letters: &'a DeadLetters,
    pub(crate) state: &'a State,
    pub(crate) commit_interval: Duration,
}

/// The loop's own state.
#[derive(Debug)]
struct Loop {
    /// Documents waiting for a full worker queue, in order.
    stash: VecDeque<Routed>,
    paused: bool,
    last_commit: Instant,
    last_progress: Instant,
}

impl Consume<'_> {
    /// Runs until `stop` is set.
    pub(crate) fn run(&self, stop: &AtomicBool) {
        let now = Instant::now();
        let mut l = Loop { stash: VecDeque::new(), paused: false, last_commit: now, last_progress: now };
        while !stop.load(Ordering::Relaxed) {
            self.hand_over(&mut l.stash);
            self.apply_pause(&mut l);
            let polled = self.consumer.poll(Duration::from_millis(100));
            // Rebalance callbacks run inside `poll`.
            drop_revoked(&mut l.stash, &self.state.take_revoked());
            match polled {
                None => {}
                Some(Err(e)) => tracing::warn!(error = %e, "kafka consumer error"),
                Some(Ok(message)) => self.take(&message, &mut l.stash),
            }
            if l.last_commit.elapsed() >= self.commit_interval {
                commit(self.consumer, &self.state.to_commit(), CommitMode::Async, &self.state.metrics);
                l.last_commit = Instant::now();
            }
            if l.last_progress.elapsed() >= PROGRESS_EVERY {
                l.last_progress = Instant::now();
                let m = &self.state.metrics;
                tracing::info!(
                    consumed = m.consumed.get(),
                    indexed = m.indexed.get(),
                    dead_lettered = m.dead_lettered.get(),
                    queued = l.stash.len(),
                    paused = l.paused,
                    "progress"
                );
            }
        }
        // Stopping: what is queued here is not sent, and not committed.
        tracing::info!(queued = l.stash.len(), "consumption stopped");
    }

    /// Queued documents first: consumption resumes only when they fit. A
    /// full queue usually frees up within moments; only a worker stuck on
    /// an unavailable engine makes consumption pause.
    fn hand_over(&self, stash: &mut VecDeque<Routed>) {
        while let Some(doc) = stash.pop_front() {
            let sender = &self.senders[worker_of(&doc.partition, self.senders.len())];
            let doc = match sender.try_send(doc) {
                Ok(()) => continue,
                Err(TrySendError::Full(doc) | TrySendError::Disconnected(doc)) => doc,
            };
            if let Err(SendTimeoutError::Timeout(doc) | SendTimeoutError::Disconnected(doc)) =
                sender.send_timeout(doc, Duration::from_millis(500))
            {
                stash.push_front(doc);
                return;
            }
        }
    }

    /// Paused exactly while documents wait here. After a rebalance the
    /// state is applied again: a partition paused before it was revoked
    /// comes back paused, and would stay so for good.
    fn apply_pause(&self, l: &mut Loop) {
        let rebalanced = self.state.take_rebalanced();
        let want_paused = !l.stash.is_empty();
        if (rebalanced || want_paused != l.paused)
            && let Some(now) = set_paused(self.consumer, want_paused)
        {
            l.paused = now;
        } else if rebalanced {
            // Not applied: again next turn.
            self.state.set_rebalanced();
        }
    }

    /// Routes a message: its documents to the stash, what cannot be a
    /// document to the dead-letter topic.
    fn take(&self, message: &BorrowedMessage<'_>, stash: &mut VecDeque<Routed>) {
        self.state.metrics.consumed.add(1);
        let partition = PartitionId::new(message.topic(), message.partition());
        let routed = route(self.names, &partition, message.offset(), message.key(), message.payload());
        let parts = u32::try_from(routed.len()).unwrap_or(u32::MAX);
        self.state.dispatched(&partition, message.offset(), parts);
        for result in routed {
            match result {
                Ok(doc) => stash.push_back(doc),
                Err(rejected) => self.dead_letter(rejected),
            }
        }
    }

    fn dead_letter(&self, rejected: Rejected) {
        let partition = rejected.partition.clone();
        let offset = rejected.offset;
        tracing::warn!(%partition, offset, reason = %rejected.reason, "message dead-lettered");
        if self.dead_letters.send(&[rejected]).is_ok() {
            self.state.metrics.dead_lettered.add(1);
            self.state.acknowledge(&partition, offset);
        }
    }
}

/// Pauses or resumes the whole assignment; the state reached, or `None`
/// when the assignment could not be read (tried again next turn).
fn set_paused(consumer: &BaseConsumer<Context>, pause: bool) -> Option<bool> {
    let assignment = consumer.assignment().ok()?;
    let result = if pause { consumer.pause(&assignment) } else { consumer.resume(&assignment) };
    match result {
        Ok(()) => Some(pause),
        Err(e) => {
            tracing::warn!(error = %e, pause, "could not change the consumer's pause state; trying again");
            None
        }
    }
}

/// Drops queued documents of partitions given up in a rebalance: their
/// offsets were forgotten, and their next owner (maybe this process again)
/// consumes them again from the committed position.
fn drop_revoked(stash: &mut VecDeque<Routed>, revoked: &[PartitionId]) {
    if revoked.is_empty() {
        return;
    }
    let revoked: HashSet<&PartitionId> = revoked.iter().collect();
    let before = stash.len();
    stash.retain(|doc| !revoked.contains(&doc.partition));
    tracing::info!(dropped = before - stash.len(), "queued documents of revoked partitions dropped");
}

/// The worker of a partition: always the same, so its messages stay in order.
pub(crate) fn worker_of(partition: &PartitionId, workers: usize) -> usize {
    let hash = partition
        .topic
        .bytes()
        .fold(u64::from(partition.partition.unsigned_abs()), |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    usize::try_from(hash % workers.max(1) as u64).expect("below the worker count")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(partition: i32, offset: i64) -> Routed {
        Routed {
            index: "i".into(),
            id: format!("{offset}"),
            source: "{}".into(),
            partition: PartitionId::new("t", partition),
            offset,
        }
    }

    #[test]
    fn a_partition_always_goes_to_the_same_worker() {
        let mut seen = HashSet::new();
        for n in 0..64 {
            let p = PartitionId::new("imdb.enriched.titles", n);
            let worker = worker_of(&p, 3);
            assert!(worker < 3);
            assert_eq!(worker, worker_of(&p.clone(), 3));
            seen.insert(worker);
        }
        assert_eq!(seen.len(), 3, "partitions spread over every worker");
        assert_eq!(worker_of(&PartitionId::new("t", 5), 1), 0);
    }

    #[test]
    fn queued_documents_of_revoked_partitions_are_dropped_in_order() {
        let mut stash: VecDeque<Routed> = [doc(0, 1), doc(1, 1), doc(0, 2), doc(2, 1)].into_iter().collect();
        drop_revoked(&mut stash, &[PartitionId::new("t", 0)]);
        let left: Vec<_> = stash.iter().map(|d| (d.partition.partition, d.offset)).collect();
        assert_eq!(left, [(1, 1), (2, 1)]);
        drop_revoked(&mut stash, &[]);
        assert_eq!(stash.len(), 2);
    }
}

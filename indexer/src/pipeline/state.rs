//! What the consumer thread, the bulk workers and the rebalance callback
//! share, by name: the offsets ledger, which partitions are owned (and
//! which were just given up), and which documents are being sent.
//!
//! Contract: an offset becomes committable only through [`State::finish`]
//! with `acknowledged` (indexed, superseded, or dead-lettered and the
//! letter acknowledged); documents abandoned (shutdown, rebalance) leave
//! their offsets uncommitted. [`State::revoke`] gives partitions up: no
//! more sends start for them, it waits (bounded) for those in flight, and
//! returns the positions to commit before they are forgotten.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;
use crate::offsets::{Offsets, PartitionId};
use crate::route::Routed;

/// Partitions this process owns, and those given up since the consumer
/// loop last looked.
#[derive(Debug, Default)]
struct Ownership {
    owned: HashSet<PartitionId>,
    /// Their queued documents are dropped (their next owner starts over).
    revoked: Vec<PartitionId>,
}

/// Documents being sent, per partition; a revoke waits for zero.
#[derive(Debug, Default)]
struct InFlight {
    sending: Mutex<HashMap<PartitionId, usize>>,
    sent: Condvar,
}

/// The shared state of one run.
#[derive(Debug)]
pub(crate) struct State {
    offsets: Mutex<Offsets>,
    ownership: Mutex<Ownership>,
    in_flight: InFlight,
    /// Set by every rebalance: librdkafka keeps a partition paused across
    /// a revoke and a new assignment, so the loop applies its pause state
    /// again to whatever it is assigned now.
    rebalanced: AtomicBool,
    pub(crate) metrics: Arc<Metrics>,
    drain_timeout: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().expect("not poisoned: no code panics holding a pipeline lock")
}

impl State {
    /// Nothing owned, nothing in flight.
    pub(crate) fn new(metrics: Arc<Metrics>, drain_timeout: Duration) -> State {
        State {
            offsets: Mutex::new(Offsets::default()),
            ownership: Mutex::new(Ownership::default()),
            in_flight: InFlight::default(),
            rebalanced: AtomicBool::new(false),
            metrics,
            drain_timeout,
        }
    }

    /// A consumed message became `parts` documents (or dead letters).
    pub(crate) fn dispatched(&self, partition: &PartitionId, offset: i64, parts: u32) {
        lock(&self.offsets).dispatched_parts(partition, offset, parts);
    }

    /// One document of `offset` is done for good (indexed, superseded,
    /// dead-lettered): the offset may be committed once all are.
    pub(crate) fn acknowledge(&self, partition: &PartitionId, offset: i64) {
        lock(&self.offsets).acknowledged(partition, offset);
    }

    /// Positions that moved since the last call, to commit.
    pub(crate) fn to_commit(&self) -> Vec<(PartitionId, i64)> {
        lock(&self.offsets).to_commit()
    }

    /// Partitions assigned in a rebalance.
    pub(crate) fn assign(&self, partitions: &[PartitionId]) {
        lock(&self.ownership).owned.extend(partitions.iter().cloned());
    }

    /// Splits documents into those of owned partitions and the others.
    pub(crate) fn owned(&self, docs: Vec<Routed>) -> (Vec<Routed>, Vec<Routed>) {
        let ownership = lock(&self.ownership);
        docs.into_iter().partition(|doc| ownership.owned.contains(&doc.partition))
    }

    /// Whether `partition` is owned now.
    #[cfg(test)]
    pub(crate) fn owns(&self, partition: &PartitionId) -> bool {
        lock(&self.ownership).owned.contains(partition)
    }

    /// Takes a batch to send: documents of partitions not owned are dropped
    /// (their next owner consumes them again), `split` divides the rest into
    /// those to send and the superseded ones, and those to send are marked
    /// in flight (a revoke of their partition waits for them), all under
    /// the ownership lock: a revoke either sees them in flight or they see
    /// it.
    pub(crate) fn claim(
        &self,
        batch: Vec<Routed>,
        split: impl FnOnce(Vec<Routed>) -> (Vec<Routed>, Vec<Routed>),
    ) -> (Vec<Routed>, Vec<Routed>) {
        let ownership = lock(&self.ownership);
        let owned = batch.into_iter().filter(|doc| ownership.owned.contains(&doc.partition)).collect();
        let (send, superseded) = split(owned);
        let mut sending = lock(&self.in_flight.sending);
        for doc in &send {
            *sending.entry(doc.partition.clone()).or_default() += 1;
        }
        (send, superseded)
    }

    /// Documents no longer being sent; `acknowledged` ones may be committed,
    /// the others (abandoned) stay uncommitted.
    pub(crate) fn finish(&self, docs: &[Routed], acknowledged: bool) {
        if acknowledged {
            let mut offsets = lock(&self.offsets);
            for doc in docs {
                offsets.acknowledged(&doc.partition, doc.offset);
            }
        }
        let mut sending = lock(&self.in_flight.sending);
        for doc in docs {
            if let Some(n) = sending.get_mut(&doc.partition) {
                *n = n.saturating_sub(1);
            }
        }
        self.in_flight.sent.notify_all();
    }

    /// Gives partitions up: no new sends for them, the running ones finish
    /// (within the drain timeout, so that the next owner's writes never
    /// land before ours), and the positions to commit for them are
    /// returned; they are then forgotten, and listed for the consumer loop
    /// to drop their queued documents ([`State::take_revoked`]).
    pub(crate) fn revoke(&self, revoked: &[PartitionId]) -> Vec<(PartitionId, i64)> {
        {
            let mut ownership = lock(&self.ownership);
            for p in revoked {
                ownership.owned.remove(p);
            }
        }
        if !self.wait_sent(revoked, self.drain_timeout) {
            tracing::warn!("partitions revoked while their documents are still being sent");
        }
        let positions = lock(&self.offsets).revoke(revoked);
        lock(&self.ownership).revoked.extend(revoked.iter().cloned());
        positions
    }

    /// Waits up to `timeout` until no document of `partitions` is being
    /// sent; false if some still are.
    fn wait_sent(&self, partitions: &[PartitionId], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut sending = lock(&self.in_flight.sending);
        while partitions.iter().any(|p| sending.get(p).copied().unwrap_or(0) > 0) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            sending = self.in_flight.sent.wait_timeout(sending, left).expect("not poisoned").0;
        }
        true
    }

    /// Partitions given up since the last call.
    pub(crate) fn take_revoked(&self) -> Vec<PartitionId> {
        std::mem::take(&mut lock(&self.ownership).revoked)
    }

    /// Notes a rebalance, for the consumer loop.
    pub(crate) fn set_rebalanced(&self) {
        self.rebalanced.store(true, Ordering::Release);
    }

    /// Whether a rebalance happened since the last call.
    pub(crate) fn take_rebalanced(&self) -> bool {
        self.rebalanced.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(partition: i32, offset: i64) -> Routed {
        Routed {
            index: "imdb-people".into(),
            id: format!("nm{offset}"),
            source: "{}".into(),
            partition: PartitionId::new("t", partition),
            offset,
        }
    }

    fn state() -> State {
        State::new(Arc::new(Metrics::default()), Duration::from_secs(5))
    }

    fn dispatch(state: &State, docs: &[Routed]) {
        for d in docs {
            state.dispatched(&d.partition, d.offset, 1);
        }
    }

    /// Claims a whole batch for sending.
    fn begin(state: &State, docs: &[Routed]) {
        let (send, _) = state.claim(docs.to_vec(), |d| (d, Vec::new()));
        assert_eq!(send.len(), docs.len(), "all owned");
    }

    #[test]
    fn offsets_are_committed_only_once_their_batch_is_acknowledged() {
        let state = state();
        let batch = [doc(0, 0), doc(0, 1)];
        state.assign(&[PartitionId::new("t", 0)]);
        dispatch(&state, &batch);
        begin(&state, &batch);
        assert!(state.to_commit().is_empty(), "nothing while the batch is being sent");
        state.finish(&batch, true);
        assert_eq!(state.to_commit(), [(PartitionId::new("t", 0), 2)]);
    }

    #[test]
    fn abandoned_documents_stay_uncommitted() {
        let state = state();
        let batch = [doc(0, 0), doc(0, 1)];
        state.assign(&[PartitionId::new("t", 0)]);
        dispatch(&state, &batch);
        begin(&state, &batch);
        state.finish(&batch[1..], false);
        state.finish(&batch[..1], true);
        assert_eq!(state.to_commit(), [(PartitionId::new("t", 0), 1)], "up to the abandoned one only");
    }

    #[test]
    fn a_revoke_waits_for_sends_then_commits_and_forgets() {
        let state = Arc::new(state());
        let (p0, p1) = (PartitionId::new("t", 0), PartitionId::new("t", 1));
        state.assign(&[p0.clone(), p1.clone()]);
        let batch = vec![doc(0, 0), doc(1, 0)];
        dispatch(&state, &batch);
        begin(&state, &batch);
        let sender = {
            let state = state.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                state.finish(&batch, true);
            })
        };
        let started = Instant::now();
        let positions = state.revoke(std::slice::from_ref(&p0));
        assert!(started.elapsed() >= Duration::from_millis(90), "waited for the send");
        sender.join().unwrap();
        assert_eq!(positions, [(p0.clone(), 1)], "the revoked partition's acknowledged position");
        assert!(!state.owns(&p0) && state.owns(&p1));
        assert_eq!(state.take_revoked(), std::slice::from_ref(&p0));
        assert!(state.take_revoked().is_empty());
        assert_eq!(state.to_commit(), [(p1, 1)], "the revoked partition is forgotten");
    }

    #[test]
    fn a_revoke_gives_up_waiting_after_the_drain_timeout() {
        let state = State::new(Arc::new(Metrics::default()), Duration::from_millis(50));
        let batch = [doc(0, 0)];
        state.assign(&[PartitionId::new("t", 0)]);
        dispatch(&state, &batch);
        begin(&state, &batch);
        assert!(state.revoke(&[PartitionId::new("t", 0)]).is_empty(), "nothing acknowledged to commit");
    }

    #[test]
    fn documents_of_partitions_not_owned_are_set_apart() {
        let state = state();
        state.assign(&[PartitionId::new("t", 1)]);
        let (kept, others) = state.owned(vec![doc(0, 0), doc(1, 0)]);
        assert_eq!((kept.len(), others.len()), (1, 1));
        assert_eq!(kept[0].partition, PartitionId::new("t", 1));
        let (send, _) = state.claim(vec![doc(0, 1), doc(1, 1)], |d| (d, Vec::new()));
        assert_eq!(send.len(), 1, "a claim drops documents of partitions not owned");
    }

    #[test]
    fn a_claim_after_a_revoke_sends_nothing() {
        let state = state();
        let p = PartitionId::new("t", 0);
        state.assign(std::slice::from_ref(&p));
        state.revoke(std::slice::from_ref(&p));
        let (send, superseded) = state.claim(vec![doc(0, 0)], |d| (d, Vec::new()));
        assert!(send.is_empty() && superseded.is_empty());
    }
}

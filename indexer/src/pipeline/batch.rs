//! A worker's batch: documents gathered until it holds `max_docs`
//! documents or `max_bytes` of sources, or its first document has waited
//! `linger`, whichever comes first.

use std::time::{Duration, Instant};

use crate::route::Routed;

/// How long an empty batch waits for a document before looking again
/// (so that a worker notices its channel closing).
pub(crate) const IDLE_POLL: Duration = Duration::from_millis(200);

/// Documents gathered for one bulk request.
#[derive(Debug)]
pub(crate) struct Batcher {
    max_docs: usize,
    max_bytes: usize,
    linger: Duration,
    docs: Vec<Routed>,
    bytes: usize,
    /// When the first document came.
    started: Instant,
}

impl Batcher {
    /// An empty batch with these limits (at least one document).
    pub(crate) fn new(max_docs: usize, max_bytes: usize, linger: Duration) -> Batcher {
        Batcher { max_docs: max_docs.max(1), max_bytes, linger, docs: Vec::new(), bytes: 0, started: Instant::now() }
    }

    /// Adds a document that came at `now`; the batch, if that filled it.
    pub(crate) fn push(&mut self, doc: Routed, now: Instant) -> Option<Vec<Routed>> {
        if self.docs.is_empty() {
            self.started = now;
        }
        self.bytes += doc.source.len();
        self.docs.push(doc);
        if self.docs.len() >= self.max_docs || self.bytes >= self.max_bytes { self.take() } else { None }
    }

    /// How long to wait for the next document at `now`: what is left of
    /// the linger, or [`IDLE_POLL`] when empty.
    pub(crate) fn wait(&self, now: Instant) -> Duration {
        if self.docs.is_empty() { IDLE_POLL } else { self.linger.saturating_sub(now.duration_since(self.started)) }
    }

    /// The batch, if its linger is over at `now`.
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<Vec<Routed>> {
        if !self.docs.is_empty() && now.duration_since(self.started) >= self.linger { self.take() } else { None }
    }

    /// Whatever is gathered, if anything.
    pub(crate) fn take(&mut self) -> Option<Vec<Routed>> {
        self.bytes = 0;
        if self.docs.is_empty() { None } else { Some(std::mem::take(&mut self.docs)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::PartitionId;

    fn doc(bytes: usize) -> Routed {
        Routed {
            index: "i".into(),
            id: "id".into(),
            source: "x".repeat(bytes),
            partition: PartitionId::new("t", 0),
            offset: 0,
        }
    }

    #[test]
    fn a_batch_is_cut_at_its_document_count() {
        let now = Instant::now();
        let mut b = Batcher::new(3, usize::MAX, Duration::from_secs(60));
        assert!(b.push(doc(1), now).is_none());
        assert!(b.push(doc(1), now).is_none());
        assert_eq!(b.push(doc(1), now).map(|d| d.len()), Some(3));
        assert!(b.take().is_none(), "empty after the cut");
    }

    #[test]
    fn a_batch_is_cut_at_its_size() {
        let now = Instant::now();
        let mut b = Batcher::new(1000, 100, Duration::from_secs(60));
        assert!(b.push(doc(60), now).is_none());
        assert_eq!(b.push(doc(60), now).map(|d| d.len()), Some(2), "120 bytes reach 100");
        assert!(b.push(doc(60), now).is_none(), "the size starts over");
    }

    #[test]
    fn a_batch_is_cut_when_its_first_document_waited_the_linger() {
        let start = Instant::now();
        let linger = Duration::from_millis(500);
        let mut b = Batcher::new(1000, usize::MAX, linger);
        assert_eq!(b.wait(start), IDLE_POLL, "empty: idle");
        assert!(b.take_due(start + Duration::from_secs(9)).is_none(), "nothing to send");
        assert!(b.push(doc(1), start).is_none());
        assert!(b.push(doc(1), start + Duration::from_millis(400)).is_none());
        assert_eq!(b.wait(start + Duration::from_millis(400)), Duration::from_millis(100), "from the first document");
        assert!(b.take_due(start + Duration::from_millis(499)).is_none());
        assert_eq!(b.take_due(start + linger).map(|d| d.len()), Some(2));
        assert_eq!(b.wait(start + linger), IDLE_POLL);
    }
}

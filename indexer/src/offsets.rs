//! Which Kafka offsets may be committed: per partition, everything below the
//! lowest offset not yet acknowledged by the search engine.
//!
//! Contract: an offset is committed only once it and every offset before it
//! in its partition were acknowledged (indexed, superseded, or dead-lettered
//! and the dead letter acknowledged by Kafka). Batches may complete in any
//! order; the committable position only moves over a contiguous acknowledged
//! prefix. A partition given up in a rebalance is forgotten, and late
//! acknowledgements for it are ignored: its next owner starts from the
//! committed position and re-indexes the rest, which is idempotent.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A topic's partition: where a message came from, whose offsets are
/// committed together.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId {
    /// The topic.
    pub topic: String,
    /// The partition number.
    pub partition: i32,
}

impl PartitionId {
    /// Partition `partition` of `topic`.
    pub fn new(topic: impl Into<String>, partition: i32) -> PartitionId {
        PartitionId { topic: topic.into(), partition }
    }
}

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

#[derive(Debug, Default)]
struct PartitionState {
    /// Dispatched offsets and how many of their documents (a raw message
    /// carries many) are not acknowledged yet.
    outstanding: BTreeMap<i64, u32>,
    /// The next offset to consume after everything acknowledged so far.
    committable: Option<i64>,
    /// What was last committed.
    committed: Option<i64>,
}

/// Offsets of every assigned partition.
#[derive(Debug, Default)]
pub struct Offsets {
    partitions: HashMap<PartitionId, PartitionState>,
}

impl Offsets {
    /// Records an offset handed to the pipeline as one document.
    pub fn dispatched(&mut self, partition: &PartitionId, offset: i64) {
        self.dispatched_parts(partition, offset, 1);
    }

    /// Records an offset handed to the pipeline as `parts` documents, each
    /// acknowledged on its own (zero: nothing to wait for).
    pub fn dispatched_parts(&mut self, partition: &PartitionId, offset: i64, parts: u32) {
        self.partitions.entry(partition.clone()).or_default().outstanding.insert(offset, parts);
        self.advance(partition);
    }

    /// Records one document of an offset as acknowledged; unknown
    /// partitions and offsets are ignored.
    pub fn acknowledged(&mut self, partition: &PartitionId, offset: i64) {
        let Some(state) = self.partitions.get_mut(partition) else { return };
        if let Some(left) = state.outstanding.get_mut(&offset) {
            *left = left.saturating_sub(1);
        }
        self.advance(partition);
    }

    fn advance(&mut self, partition: &PartitionId) {
        let Some(state) = self.partitions.get_mut(partition) else { return };
        while let Some((&first, &left)) = state.outstanding.first_key_value() {
            if left > 0 {
                break;
            }
            state.outstanding.remove(&first);
            state.committable = Some(first + 1);
        }
    }

    /// Positions to commit: per partition, the next offset to consume, where
    /// it moved since the last call.
    pub fn to_commit(&mut self) -> Vec<(PartitionId, i64)> {
        let mut out = Vec::new();
        for (partition, state) in &mut self.partitions {
            if let Some(position) = state.committable
                && state.committed != Some(position)
            {
                state.committed = Some(position);
                out.push((partition.clone(), position));
            }
        }
        out.sort();
        out
    }

    /// The positions to commit for partitions being given up, which are
    /// then forgotten.
    pub fn revoke(&mut self, revoked: &[PartitionId]) -> Vec<(PartitionId, i64)> {
        let mut out = Vec::new();
        for partition in revoked {
            if let Some(state) = self.partitions.remove(partition)
                && let Some(position) = state.committable
                && state.committed != Some(position)
            {
                out.push((partition.clone(), position));
            }
        }
        out
    }

    /// Offsets dispatched and not yet acknowledged, over all partitions.
    pub fn in_flight(&self) -> usize {
        self.partitions.values().map(|s| s.outstanding.values().filter(|left| **left > 0).count()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(n: i32) -> PartitionId {
        PartitionId::new("t", n)
    }

    #[test]
    fn only_a_contiguous_acknowledged_prefix_is_committable() {
        let mut o = Offsets::default();
        for offset in 10..15 {
            o.dispatched(&p(0), offset);
        }
        o.acknowledged(&p(0), 11);
        o.acknowledged(&p(0), 12);
        assert!(o.to_commit().is_empty(), "10 is still in flight");
        o.acknowledged(&p(0), 10);
        assert_eq!(o.to_commit(), [(p(0), 13)]);
        assert!(o.to_commit().is_empty(), "nothing new");
        assert_eq!(o.in_flight(), 2);
    }

    #[test]
    fn a_message_of_many_documents_waits_for_them_all() {
        let mut o = Offsets::default();
        o.dispatched_parts(&p(0), 5, 3);
        o.acknowledged(&p(0), 5);
        o.acknowledged(&p(0), 5);
        assert!(o.to_commit().is_empty());
        o.acknowledged(&p(0), 5);
        assert_eq!(o.to_commit(), [(p(0), 6)]);
        o.dispatched_parts(&p(0), 6, 0);
        assert_eq!(o.to_commit(), [(p(0), 7)], "an empty message is done at once");
    }

    #[test]
    fn revoked_partitions_are_committed_then_forgotten() {
        let mut o = Offsets::default();
        o.dispatched(&p(1), 0);
        o.dispatched(&p(1), 1);
        o.acknowledged(&p(1), 0);
        assert_eq!(o.revoke(&[p(1)]), [(p(1), 1)]);
        o.acknowledged(&p(1), 1);
        assert!(o.to_commit().is_empty(), "a late acknowledgement is ignored");
    }

    proptest! {
        /// Whatever order batches complete in, the committed position never
        /// passes an unacknowledged offset and ends past the last one.
        #[test]
        fn any_completion_order(order in Just((0..40i64).collect::<Vec<_>>()).prop_shuffle()) {
            let mut o = Offsets::default();
            for offset in 0..40 {
                o.dispatched(&p(0), offset);
            }
            let mut acked = std::collections::BTreeSet::new();
            let mut last = 0;
            for offset in order {
                o.acknowledged(&p(0), offset);
                acked.insert(offset);
                for (_, position) in o.to_commit() {
                    prop_assert!(position >= last);
                    prop_assert!((0..position).all(|x| acked.contains(&x)));
                    last = position;
                }
            }
            prop_assert_eq!(last, 40);
        }
    }
}

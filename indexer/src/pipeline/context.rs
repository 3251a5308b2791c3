//! The consumer's rdkafka context: librdkafka's statistics (the lag gauge)
//! and rebalance events, each turned into a [`RebalanceEvent`] and handled
//! by a small function over the shared [`State`].
//!
//! Contract: before partitions are given up their sends finish (within
//! the drain timeout) and their acknowledged offsets are committed,
//! synchronously; assigned partitions are owned from then on. Every
//! rebalance is noted for the consumer loop (pause state, queued documents
//! of revoked partitions).

use std::collections::BTreeMap;
use std::sync::Arc;

use rdkafka::consumer::{BaseConsumer, CommitMode, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, Statistics, TopicPartitionList};

use super::commit;
use super::state::State;
use crate::offsets::PartitionId;

/// A rebalance, as the pipeline sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RebalanceEvent {
    /// These partitions are being taken away.
    Revoke(Vec<PartitionId>),
    /// These partitions are ours now.
    Assign(Vec<PartitionId>),
    /// librdkafka reports a failed rebalance; it tries again itself.
    Error(String),
}

impl RebalanceEvent {
    fn from_rdkafka(rebalance: &Rebalance<'_>) -> RebalanceEvent {
        match rebalance {
            Rebalance::Revoke(list) => RebalanceEvent::Revoke(partitions_of(list)),
            Rebalance::Assign(list) => RebalanceEvent::Assign(partitions_of(list)),
            Rebalance::Error(e) => RebalanceEvent::Error(e.to_string()),
        }
    }
}

fn partitions_of(list: &TopicPartitionList) -> Vec<PartitionId> {
    list.elements().iter().map(|e| PartitionId::new(e.topic(), e.partition())).collect()
}

/// The consumer's context.
pub(crate) struct Context {
    pub(crate) state: Arc<State>,
}

impl ClientContext for Context {
    /// Replaces the lag gauge with the partitions this consumer is assigned
    /// (`desired`): librdkafka keeps a revoked partition's last figures, which
    /// would otherwise stay exported, frozen, by every indexer that once had it.
    /// The lag is librdkafka's `consumer_lag`: high watermark minus the
    /// committed offset, i.e. messages not yet indexed and committed.
    fn stats(&self, statistics: Statistics) {
        *self.state.metrics.lag.lock().expect("not poisoned") = lag_of(&statistics);
    }
}

/// The lag of every partition this consumer is assigned and knows it of.
fn lag_of(statistics: &Statistics) -> BTreeMap<PartitionId, i64> {
    let mut lag = BTreeMap::new();
    for (topic, t) in &statistics.topics {
        // Partition -1 is librdkafka's internal unassigned queue; a lag
        // of -1 means not known yet (nothing committed).
        for (partition, p) in t.partitions.iter().filter(|(n, p)| **n >= 0 && p.desired && p.consumer_lag >= 0) {
            lag.insert(PartitionId::new(topic.clone(), *partition), p.consumer_lag);
        }
    }
    lag
}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let RebalanceEvent::Revoke(partitions) = RebalanceEvent::from_rdkafka(rebalance) {
            on_revoke(&self.state, consumer, &partitions);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match RebalanceEvent::from_rdkafka(rebalance) {
            RebalanceEvent::Assign(partitions) => on_assign(&self.state, &partitions),
            RebalanceEvent::Error(error) => tracing::warn!(%error, "rebalance failed"),
            RebalanceEvent::Revoke(_) => {}
        }
        self.state.set_rebalanced();
    }
}

/// Partitions taken away: their sends finish, their offsets are committed.
fn on_revoke(state: &State, consumer: &BaseConsumer<Context>, partitions: &[PartitionId]) {
    let positions = state.revoke(partitions);
    commit(consumer, &positions, CommitMode::Sync, &state.metrics);
    tracing::info!(partitions = ?partitions, committed = positions.len(), "partitions revoked");
}

/// Partitions given: owned from now on.
fn on_assign(state: &State, partitions: &[PartitionId]) {
    tracing::info!(partitions = ?partitions, "partitions assigned");
    state.assign(partitions);
}

#[cfg(test)]
mod tests {
    use rdkafka::Offset;

    use super::*;

    #[test]
    fn rebalances_become_events_with_partition_ids() {
        let mut list = TopicPartitionList::new();
        list.add_partition("imdb.enriched.titles", 3);
        list.add_partition_offset("imdb.enriched.people", 0, Offset::Beginning).unwrap();
        let expected = vec![PartitionId::new("imdb.enriched.titles", 3), PartitionId::new("imdb.enriched.people", 0)];
        assert_eq!(RebalanceEvent::from_rdkafka(&Rebalance::Assign(&list)), RebalanceEvent::Assign(expected.clone()));
        assert_eq!(RebalanceEvent::from_rdkafka(&Rebalance::Revoke(&list)), RebalanceEvent::Revoke(expected));
    }

    #[test]
    fn assigned_partitions_are_owned() {
        let state = State::new(Arc::default(), std::time::Duration::from_secs(1));
        let p = PartitionId::new("t", 1);
        on_assign(&state, std::slice::from_ref(&p));
        assert!(state.owns(&p));
    }
}

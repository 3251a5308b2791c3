//! The indexing pipeline: one consumer thread and `workers` bulk threads
//! joined by bounded channels.
//!
//! Modules, by concern: `consume` (the consumer loop: routing, pause,
//! commits), `context` (rdkafka's statistics and rebalance events),
//! `state` (what the threads share: offsets, ownership, documents in
//! flight), `batch` (batches cut on size or time), `send` (a bulk
//! worker: sending, retries, genre moves, dead letters); the backoff is
//! [`crate::retry`].
//!
//! Contract:
//! - **Order.** A partition's messages always go to the same worker, which
//!   sends its batches one after the other, so a document is never
//!   overwritten by an older version of itself; several workers keep several
//!   bulks in flight. Within a batch only the newest message of an id is
//!   sent (the others are superseded).
//! - **At least once.** An offset is committed (every `commit_interval`, on
//!   a rebalance, at the end) only when it and all before it in its
//!   partition are acknowledged: indexed, superseded, or dead-lettered with
//!   the dead letter acknowledged by Kafka. Document ids are IMDb ids, so a
//!   replay after a crash overwrites instead of duplicating.
//! - **Retries.** 408, 429, 5xx, an unreachable engine and any whole-request failure are retried with
//!   exponential backoff and jitter, without limit: while the engine is down
//!   the workers wait, the channels fill, and consumption pauses (memory
//!   stays bounded). A document rejected for its content goes to the
//!   dead-letter topic with the engine's reason and its topic, partition and
//!   offset; nothing is retried forever for its content.
//! - **Rebalances.** Before partitions are given up, their workers' sends
//!   finish (within `drain_timeout`), queued messages of those partitions are
//!   dropped, and the acknowledged offsets are committed. Documents of a
//!   given-up partition waiting for a retry are abandoned. Consumption is
//!   paused exactly while documents wait for a full worker queue, applied
//!   again to each new assignment (librdkafka keeps a revoked partition's
//!   pause for its next assignment).
//! - **Shutdown.** When `stop` is set: consumption stops, batches are sent
//!   (sends still failing after `drain_timeout` are abandoned, uncommitted),
//!   offsets are committed, and the run returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crossbeam_channel::bounded;
use imdb_model::index::IndexNames;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::dlq::DeadLetters;
use crate::engine::Engine;
use crate::error::{IndexerError, kafka};
use crate::metrics::Metrics;
use crate::offsets::PartitionId;
use crate::retry::Backoff;
use crate::route::Routed;
use crate::settings::Settings;
use imdb_telemetry::logging::ErrorChain;

mod batch;
mod consume;
mod context;
mod send;
mod state;

use context::Context;
use state::State;

/// What a finished run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Messages consumed.
    pub consumed: u64,
    /// Documents indexed.
    pub indexed: u64,
    /// Messages and documents dead-lettered.
    pub dead_lettered: u64,
}

/// Commits `positions` (next offsets to consume); a failure is logged and
/// the positions are committed again later.
fn commit(consumer: &BaseConsumer<Context>, positions: &[(PartitionId, i64)], mode: CommitMode, metrics: &Metrics) {
    if positions.is_empty() {
        return;
    }
    let mut list = TopicPartitionList::new();
    for (p, position) in positions {
        if list.add_partition_offset(&p.topic, p.partition, Offset::Offset(*position)).is_err() {
            tracing::warn!(partition = %p, position, "offset not committable");
        }
    }
    match consumer.commit(&list, mode) {
        Ok(()) => metrics.commits.add(1),
        Err(e) => tracing::warn!(error = %e, "offset commit failed; the offsets are committed again later"),
    }
}

/// The group's consumer: manual commits, earliest offsets when none is
/// committed, static membership when set.
fn consumer(settings: &Settings, state: &Arc<State>) -> Result<BaseConsumer<Context>, IndexerError> {
    let mut config = ClientConfig::new();
    if let Some(instance) = &settings.kafka.instance_id {
        config.set("group.instance.id", instance);
    }
    let consumer: BaseConsumer<Context> = config
        .set("bootstrap.servers", &settings.kafka.brokers)
        .set("group.id", &settings.kafka.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", "10000")
        // Consumer lag comes with librdkafka's statistics, computed from
        // the watermarks its fetches already carry: asking the brokers for
        // them would block the consumer loop for a round trip per partition.
        .set("statistics.interval.ms", "5000")
        .create_with_context(Context { state: state.clone() })
        .map_err(kafka("creating the consumer"))?;
    let subscriptions = settings.kafka.subscriptions();
    let topics: Vec<&str> = subscriptions.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(kafka(format!("subscribing to {topics:?}")))?;
    Ok(consumer)
}

/// Runs the indexer until `stop` is set.
pub fn run(settings: &Settings, metrics: Arc<Metrics>, stop: Arc<AtomicBool>) -> Result<Summary, IndexerError> {
    let names = IndexNames::new(&settings.engine.index_prefix).ok_or_else(|| {
        IndexerError::BadSetting(format!("index prefix [{}] is not a legal index name", settings.engine.index_prefix))
    })?;
    let engine = Engine::new(&settings.engine.es_url, settings.engine.request_timeout)?;
    install_templates(&engine, &names, settings, &stop)?;
    let dead_letters = Arc::new(DeadLetters::new(
        &settings.kafka.brokers,
        &settings.kafka.dead_letter_topic,
        settings.kafka.replication_factor,
    )?);
    let state = Arc::new(State::new(metrics.clone(), settings.bulk.drain_timeout));
    let consumer = consumer(settings, &state)?;

    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for n in 0..settings.bulk.workers.max(1) {
        let (tx, rx) = bounded::<Routed>(settings.bulk.batch_docs.max(1) * 2);
        senders.push(tx);
        let worker = send::Worker {
            rx,
            names: names.clone(),
            engine: engine.clone(),
            dead_letters: dead_letters.clone(),
            state: state.clone(),
            settings: settings.bulk.clone(),
            stop: stop.clone(),
        };
        handles
            .push(thread::Builder::new().name(format!("bulk-{n}")).spawn(move || worker.run()).expect("thread starts"));
    }
    consume::Consume {
        consumer: &consumer,
        names: &names,
        senders: &senders,
        dead_letters: &dead_letters,
        state: &state,
        commit_interval: settings.kafka.commit_interval,
    }
    .run(&stop);
    drop(senders);
    for handle in handles {
        if handle.join().is_err() {
            tracing::error!("a bulk worker panicked; its documents stay uncommitted");
        }
    }
    commit(&consumer, &state.to_commit(), CommitMode::Sync, &metrics);
    consumer.unsubscribe();
    Ok(Summary {
        consumed: metrics.consumed.get(),
        indexed: metrics.indexed.get(),
        dead_lettered: metrics.dead_lettered.get(),
    })
}

/// Replicas per shard: the setting, else one copy more wherever a second
/// data node can hold it (a node's loss then loses no shard), else none.
fn replicas(engine: &Engine, settings: &Settings) -> Result<u32, IndexerError> {
    match settings.engine.replicas {
        Some(replicas) => Ok(replicas),
        None => Ok(u32::from(engine.data_nodes()? > 1)),
    }
}

/// Installs the index templates and brings existing indexes up to their
/// mappings, waiting for the engine to answer.
fn install_templates(
    engine: &Engine,
    names: &IndexNames,
    settings: &Settings,
    stop: &AtomicBool,
) -> Result<(), IndexerError> {
    let prefix = &settings.engine.index_prefix;
    let mut backoff = Backoff::new(settings.bulk.backoff_max);
    loop {
        let result = replicas(engine, settings).map(|replicas| {
            tracing::info!(shards = settings.engine.shards, replicas, "installing the index templates");
            let (pattern, alias) = (names.titles_pattern(), names.titles_alias());
            let titles = crate::engine::titles_template(&pattern, &alias, settings.engine.shards, replicas);
            let people = crate::engine::people_template(&names.people_index(), settings.engine.shards, replicas);
            (titles, people)
        });
        let result = result.and_then(|(titles, people)| {
            engine
                .put_template(&format!("{prefix}-titles"), &titles)
                .and_then(|()| engine.put_template(&format!("{prefix}-people"), &people))
                .and_then(|()| engine.update_mappings(&names.titles_pattern(), &titles))
                .and_then(|()| engine.update_mappings(&names.people_index(), &people))
        });
        match result {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() && !stop.load(Ordering::Relaxed) => {
                tracing::warn!(error = %ErrorChain(&e), "search engine not ready for the templates; retrying");
                backoff.sleep();
            }
            Err(e) => return Err(e),
        }
    }
}

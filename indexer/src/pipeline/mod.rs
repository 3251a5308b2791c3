//! The indexing pipeline: one consumer thread and `workers` bulk threads
//! joined by bounded channels.
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
//! - **Retries.** 429, 5xx and an unreachable engine are retried with
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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, TrySendError, bounded};
use imdb_model::index::IndexNames;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};

use crate::dlq::DeadLetters;
use crate::engine::{Engine, Outcome};
use crate::error::{Chain, IndexerError, kafka};
use crate::metrics::Metrics;
use crate::offsets::{Offsets, Partition};
use crate::route::{Rejected, Routed, route};
use crate::settings::Settings;

/// State shared by the consumer, the workers and the rebalance callback.
struct Shared {
    offsets: Mutex<Offsets>,
    /// Partitions this process owns; workers drop messages of others.
    owned: Mutex<HashSet<Partition>>,
    /// Documents being sent, per partition; the callback waits for zero.
    sending: Mutex<HashMap<Partition, usize>>,
    /// Partitions given up since the consumer loop last looked: their
    /// queued documents are dropped (their next owner starts over).
    revoked: Mutex<Vec<Partition>>,
    /// Set by every rebalance: librdkafka keeps a partition paused across
    /// a revoke and a new assignment, so the loop applies its pause state
    /// again to whatever it is assigned now.
    rebalanced: AtomicBool,
    sent: Condvar,
    metrics: Arc<Metrics>,
    drain_timeout: Duration,
}

impl Shared {
    fn acknowledge(&self, partition: &Partition, offset: i64) {
        self.offsets.lock().expect("not poisoned").acknowledged(partition, offset);
    }
}

struct Context {
    shared: Arc<Shared>,
}

impl ClientContext for Context {
    /// Replaces the lag gauge with the partitions this consumer is assigned
    /// (`desired`): librdkafka keeps a revoked partition's last figures, which
    /// would otherwise stay exported, frozen, by every indexer that once had it.
    /// The lag is librdkafka's `consumer_lag`: high watermark minus the
    /// committed offset, i.e. messages not yet indexed and committed.
    fn stats(&self, statistics: Statistics) {
        let mut lag = std::collections::BTreeMap::new();
        for (topic, t) in &statistics.topics {
            // Partition -1 is librdkafka's internal unassigned queue; a lag
            // of -1 means not known yet (nothing committed).
            for (partition, p) in t.partitions.iter().filter(|(n, p)| **n >= 0 && p.desired && p.consumer_lag >= 0) {
                lag.insert((topic.clone(), *partition), p.consumer_lag);
            }
        }
        *self.shared.metrics.lag.lock().expect("not poisoned") = lag;
    }
}

fn partitions_of(list: &TopicPartitionList) -> Vec<Partition> {
    list.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect()
}

fn commit(consumer: &BaseConsumer<Context>, positions: &[(Partition, i64)], mode: CommitMode, metrics: &Metrics) {
    if positions.is_empty() {
        return;
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), position) in positions {
        if list.add_partition_offset(topic, *partition, Offset::Offset(*position)).is_err() {
            tracing::warn!(topic, partition, position, "offset not committable");
        }
    }
    match consumer.commit(&list, mode) {
        Ok(()) => metrics.commits.add(1),
        Err(e) => tracing::warn!(error = %e, "offset commit failed; the offsets are committed again later"),
    }
}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else { return };
        let revoked = partitions_of(list);
        let shared = &self.shared;
        {
            let mut owned = shared.owned.lock().expect("not poisoned");
            for p in &revoked {
                owned.remove(p);
            }
        }
        // Let the sends of those partitions finish, so that the next owner's
        // writes never land before ours.
        let deadline = Instant::now() + shared.drain_timeout;
        let mut sending = shared.sending.lock().expect("not poisoned");
        while revoked.iter().any(|p| sending.get(p).copied().unwrap_or(0) > 0) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!("partitions revoked while their documents are still being sent");
                break;
            }
            sending = shared.sent.wait_timeout(sending, left).expect("not poisoned").0;
        }
        drop(sending);
        let positions = shared.offsets.lock().expect("not poisoned").revoke(&revoked);
        commit(consumer, &positions, CommitMode::Sync, &shared.metrics);
        tracing::info!(partitions = ?revoked, committed = positions.len(), "partitions revoked");
        shared.revoked.lock().expect("not poisoned").extend(revoked);
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let assigned = partitions_of(list);
            tracing::info!(partitions = ?assigned, "partitions assigned");
            self.shared.owned.lock().expect("not poisoned").extend(assigned);
        }
        self.shared.rebalanced.store(true, Ordering::Release);
    }
}

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

/// Runs the indexer until `stop` is set.
pub fn run(settings: &Settings, metrics: Arc<Metrics>, stop: Arc<AtomicBool>) -> Result<Summary, IndexerError> {
    let names = IndexNames::new(&settings.index_prefix).ok_or_else(|| {
        IndexerError::BadSetting(format!("index prefix [{}] is not a legal index name", settings.index_prefix))
    })?;
    let engine = Engine::new(&settings.es_url, settings.request_timeout)?;
    install_templates(&engine, &names, settings, &stop)?;
    let dead_letters =
        Arc::new(DeadLetters::new(&settings.brokers, &settings.dead_letter_topic, settings.replication_factor)?);
    let shared = Arc::new(Shared {
        offsets: Mutex::new(Offsets::default()),
        owned: Mutex::new(HashSet::new()),
        sending: Mutex::new(HashMap::new()),
        revoked: Mutex::new(Vec::new()),
        rebalanced: AtomicBool::new(false),
        sent: Condvar::new(),
        metrics: metrics.clone(),
        drain_timeout: settings.drain_timeout,
    });
    let mut config = ClientConfig::new();
    if let Some(instance) = &settings.instance_id {
        config.set("group.instance.id", instance);
    }
    let consumer: BaseConsumer<Context> = config
        .set("bootstrap.servers", &settings.brokers)
        .set("group.id", &settings.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", "10000")
        // Consumer lag comes with librdkafka's statistics, computed from
        // the watermarks its fetches already carry: asking the brokers for
        // them would block the consumer loop for a round trip per partition.
        .set("statistics.interval.ms", "5000")
        .create_with_context(Context { shared: shared.clone() })
        .map_err(kafka("creating the consumer"))?;
    let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(kafka(format!("subscribing to {topics:?}")))?;

    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for n in 0..settings.workers.max(1) {
        let (tx, rx) = bounded::<Routed>(settings.batch_docs * 2);
        senders.push(tx);
        let worker = Worker {
            rx,
            names: names.clone(),
            engine: engine.clone(),
            dead_letters: dead_letters.clone(),
            shared: shared.clone(),
            settings: settings.clone(),
            stop: stop.clone(),
        };
        handles
            .push(thread::Builder::new().name(format!("bulk-{n}")).spawn(move || worker.run()).expect("thread starts"));
    }
    consume(&consumer, &names, &senders, &dead_letters, &shared, settings, &stop);
    drop(senders);
    for handle in handles {
        let _ = handle.join();
    }
    let positions = shared.offsets.lock().expect("not poisoned").to_commit();
    commit(&consumer, &positions, CommitMode::Sync, &metrics);
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
    match settings.replicas {
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
    let prefix = &settings.index_prefix;
    let mut backoff = Backoff::new(settings.backoff_max);
    loop {
        let result = replicas(engine, settings).map(|replicas| {
            tracing::info!(shards = settings.shards, replicas, "installing the index templates");
            let (pattern, alias) = (names.titles_pattern(), names.titles_alias());
            let titles = crate::engine::titles_template(&pattern, &alias, settings.shards, replicas);
            let people = crate::engine::people_template(&names.people_index(), settings.shards, replicas);
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
                tracing::warn!(error = %Chain(&e), "search engine not ready for the templates; retrying");
                backoff.sleep();
            }
            Err(e) => return Err(e),
        }
    }
}

/// The consumer loop: route each message to its partition's worker; while
/// a worker's queue is full, pause consumption and keep serving the group.
fn consume(
    consumer: &BaseConsumer<Context>,
    names: &IndexNames,
    senders: &[Sender<Routed>],
    dead_letters: &DeadLetters,
    shared: &Shared,
    settings: &Settings,
    stop: &AtomicBool,
) {
    let mut stash: VecDeque<Routed> = VecDeque::new();
    let mut paused = false;
    let mut last_commit = Instant::now();
    let mut last_lag = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // Queued documents first: consumption resumes only when they fit. A
        // full queue usually frees up within moments; only a worker stuck
        // on an unavailable engine makes consumption pause.
        while let Some(doc) = stash.pop_front() {
            let worker = worker_of(&doc.partition, senders.len());
            let doc = match senders[worker].try_send(doc) {
                Ok(()) => continue,
                Err(TrySendError::Full(doc) | TrySendError::Disconnected(doc)) => doc,
            };
            match senders[worker].send_timeout(doc, Duration::from_millis(500)) {
                Ok(()) => {}
                Err(SendTimeoutError::Timeout(doc) | SendTimeoutError::Disconnected(doc)) => {
                    stash.push_front(doc);
                    break;
                }
            }
        }
        // Paused exactly while documents wait here. After a rebalance the
        // state is applied again: a partition paused before it was revoked
        // comes back paused, and would stay so for good.
        let rebalanced = shared.rebalanced.swap(false, Ordering::AcqRel);
        let want_paused = !stash.is_empty();
        if (rebalanced || want_paused != paused)
            && let Some(now) = set_paused(consumer, want_paused)
        {
            paused = now;
        } else if rebalanced {
            shared.rebalanced.store(true, Ordering::Release);
        }
        let polled = consumer.poll(Duration::from_millis(100));
        // Rebalance callbacks run inside `poll`.
        drop_revoked(&mut stash, shared);
        if let Some(result) = polled {
            match result {
                Err(e) => tracing::warn!(error = %e, "kafka consumer error"),
                Ok(message) => {
                    shared.metrics.consumed.add(1);
                    let partition: Partition = (message.topic().to_owned(), message.partition());
                    let routed = route(names, &partition, message.offset(), message.key(), message.payload());
                    let parts = u32::try_from(routed.len()).unwrap_or(u32::MAX);
                    shared.offsets.lock().expect("not poisoned").dispatched_parts(&partition, message.offset(), parts);
                    for result in routed {
                        match result {
                            Ok(doc) => stash.push_back(doc),
                            Err(rejected) => dead_letter_message(dead_letters, shared, rejected),
                        }
                    }
                }
            }
        }
        if last_commit.elapsed() >= settings.commit_interval {
            let positions = shared.offsets.lock().expect("not poisoned").to_commit();
            commit(consumer, &positions, CommitMode::Async, &shared.metrics);
            last_commit = Instant::now();
        }
        if last_lag.elapsed() >= Duration::from_secs(5) {
            last_lag = Instant::now();
            let m = &shared.metrics;
            tracing::info!(
                consumed = m.consumed.get(),
                indexed = m.indexed.get(),
                dead_lettered = m.dead_lettered.get(),
                queued = stash.len(),
                paused,
                "progress"
            );
        }
    }
    // Stopping: what is queued here is not sent, and not committed.
    tracing::info!(queued = stash.len(), "consumption stopped");
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
fn drop_revoked(stash: &mut VecDeque<Routed>, shared: &Shared) {
    let revoked = std::mem::take(&mut *shared.revoked.lock().expect("not poisoned"));
    if revoked.is_empty() {
        return;
    }
    let revoked: HashSet<Partition> = revoked.into_iter().collect();
    let before = stash.len();
    stash.retain(|doc| !revoked.contains(&doc.partition));
    tracing::info!(dropped = before - stash.len(), "queued documents of revoked partitions dropped");
}

fn dead_letter_message(dead_letters: &DeadLetters, shared: &Shared, rejected: Rejected) {
    let partition = rejected.partition.clone();
    let offset = rejected.offset;
    tracing::warn!(topic = %partition.0, partition = partition.1, offset, reason = %rejected.reason, "message dead-lettered");
    if dead_letters.send(&[rejected]).is_ok() {
        shared.metrics.dead_lettered.add(1);
        shared.acknowledge(&partition, offset);
    }
}

/// The worker of a partition: always the same, so its messages stay in order.
fn worker_of(partition: &Partition, workers: usize) -> usize {
    let hash = partition.0.bytes().fold(partition.1 as u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    (hash % workers as u64) as usize
}

/// Exponential backoff with full jitter.
struct Backoff {
    attempt: u32,
    max: Duration,
    seed: u64,
}

impl Backoff {
    fn new(max: Duration) -> Backoff {
        let seed = Instant::now().elapsed().as_nanos() as u64 ^ u64::from(std::process::id());
        Backoff { attempt: 0, max, seed: seed | 1 }
    }

    fn sleep(&mut self) {
        let ceiling = Duration::from_millis(100).saturating_mul(1 << self.attempt.min(16)).min(self.max);
        // xorshift: jitter, so that workers and indexers do not retry in step.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let fraction = (self.seed % 1000) as f64 / 1000.0;
        thread::sleep(ceiling.mul_f64(0.5 + fraction / 2.0));
        self.attempt += 1;
    }
}

struct Worker {
    rx: Receiver<Routed>,
    names: IndexNames,
    engine: Engine,
    dead_letters: Arc<DeadLetters>,
    shared: Arc<Shared>,
    settings: Settings,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(self) {
        let mut batch: Vec<Routed> = Vec::new();
        let mut bytes = 0;
        let mut started = Instant::now();
        loop {
            let wait = self.settings.linger.saturating_sub(started.elapsed());
            match self.rx.recv_timeout(if batch.is_empty() { Duration::from_millis(200) } else { wait }) {
                Ok(doc) => {
                    if batch.is_empty() {
                        started = Instant::now();
                    }
                    bytes += doc.source.len();
                    batch.push(doc);
                    if batch.len() < self.settings.batch_docs && bytes < self.settings.batch_bytes {
                        continue;
                    }
                }
                Err(RecvTimeoutError::Timeout) if batch.is_empty() => continue,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if !batch.is_empty() {
                        self.send(std::mem::take(&mut batch));
                    }
                    return;
                }
            }
            self.send(std::mem::take(&mut batch));
            bytes = 0;
        }
    }

    /// Sends one batch until every document is indexed, dead-lettered, or
    /// (on shutdown or rebalance) abandoned.
    fn send(&self, batch: Vec<Routed>) {
        let shared = &self.shared;
        // Only partitions still owned; only the newest message of an id.
        let (mut pending, superseded) = {
            let owned = shared.owned.lock().expect("not poisoned");
            // By topic and id: a title whose genre changed within the batch
            // is one document, not one per index.
            let mut newest: HashMap<(&str, &str), usize> = HashMap::new();
            for (i, doc) in batch.iter().enumerate() {
                newest.insert((doc.partition.0.as_str(), doc.id.as_str()), i);
            }
            let mut pending = Vec::new();
            let mut superseded = Vec::new();
            for (i, doc) in batch.iter().enumerate() {
                if !owned.contains(&doc.partition) {
                    continue;
                }
                if newest[&(doc.partition.0.as_str(), doc.id.as_str())] == i {
                    pending.push(doc.clone());
                } else {
                    superseded.push(doc.clone());
                }
            }
            let mut sending = shared.sending.lock().expect("not poisoned");
            for doc in &pending {
                *sending.entry(doc.partition.clone()).or_default() += 1;
            }
            (pending, superseded)
        };
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
                    self.done(&pending, false);
                    break;
                }
            }
            // Documents of a partition given up while they waited for a
            // retry are abandoned: the next owner indexes them again, and
            // ours must not land after its writes.
            let (kept, given_up): (Vec<Routed>, Vec<Routed>) = {
                let owned = shared.owned.lock().expect("not poisoned");
                pending.into_iter().partition(|doc| owned.contains(&doc.partition))
            };
            if !given_up.is_empty() {
                self.done(&given_up, false);
            }
            pending = kept;
            if pending.is_empty() {
                break;
            }
            if let Err(e) = self.remove_moved(&pending) {
                tracing::warn!(error = %Chain(&e), "could not look for titles that changed genre; retrying");
                backoff.sleep();
                continue;
            }
            let refs: Vec<&Routed> = pending.iter().collect();
            shared.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let result = self.engine.bulk(&refs);
            shared.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
            shared.metrics.bulk(started.elapsed(), refs.len());
            let outcomes = match result {
                Ok(outcomes) => outcomes,
                Err(e) => {
                    tracing::warn!(error = %Chain(&e), documents = pending.len(), "bulk failed; retrying");
                    shared.metrics.retried.add(pending.len() as u64);
                    backoff.sleep();
                    continue;
                }
            };
            let mut retry = Vec::new();
            let mut rejected = Vec::new();
            let mut indexed = Vec::new();
            for (doc, outcome) in pending.into_iter().zip(outcomes) {
                match outcome {
                    Outcome::Indexed => indexed.push(doc),
                    Outcome::Retry(_) => retry.push(doc),
                    Outcome::Rejected(reason) => rejected.push((doc, reason)),
                }
            }
            shared.metrics.indexed.add(indexed.len() as u64);
            self.done(&indexed, true);
            if !rejected.is_empty() {
                self.dead_letter(rejected, &mut retry);
            }
            if !retry.is_empty() {
                shared.metrics.retried.add(retry.len() as u64);
                backoff.sleep();
            }
            pending = retry;
        }
        for doc in &superseded {
            shared.acknowledge(&doc.partition, doc.offset);
        }
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
                self.shared.metrics.dead_lettered.add(rejected.len() as u64);
                let docs: Vec<Routed> = rejected.into_iter().map(|(d, _)| d).collect();
                self.done(&docs, true);
            }
            Err(e) => {
                // Not acknowledged by Kafka: try the documents again.
                tracing::warn!(error = %Chain(&e), "dead-letter topic unavailable; retrying the documents");
                retry.extend(rejected.into_iter().map(|(d, _)| d));
            }
        }
    }

    /// Documents no longer being sent; `acknowledged` ones may be committed.
    fn done(&self, docs: &[Routed], acknowledged: bool) {
        let shared = &self.shared;
        if acknowledged {
            let mut offsets = shared.offsets.lock().expect("not poisoned");
            for doc in docs {
                offsets.acknowledged(&doc.partition, doc.offset);
            }
        }
        let mut sending = shared.sending.lock().expect("not poisoned");
        for doc in docs {
            if let Some(n) = sending.get_mut(&doc.partition) {
                *n = n.saturating_sub(1);
            }
        }
        shared.sent.notify_all();
    }
}

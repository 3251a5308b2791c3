//! The indexer's settings, each also an environment variable (see `main.rs`).

use std::time::Duration;

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Consumer group: indexers of one group share the partitions.
    pub group: String,
    /// Static group membership (`group.instance.id`): a restarted indexer
    /// with the same id takes its partitions back at once instead of
    /// waiting for the group to notice the old process is gone.
    pub instance_id: Option<String>,
    /// Topics to consume (enrichment topics, and raw topics for the raw route).
    pub topics: Vec<String>,
    /// The search engine's node URLs, comma-separated.
    pub es_url: String,
    /// Prefix of every index name.
    pub index_prefix: String,
    /// Primary shards of new indexes.
    pub shards: u32,
    /// Replicas of new indexes; `None`: one when the cluster has more than
    /// one data node, else none.
    pub replicas: Option<u32>,
    /// Bulk threads (bulk requests in flight).
    pub workers: usize,
    /// Documents per bulk request at most.
    pub batch_docs: usize,
    /// Bytes of sources per bulk request at most.
    pub batch_bytes: usize,
    /// How long a batch waits to fill.
    pub linger: Duration,
    /// Timeout of one bulk request.
    pub request_timeout: Duration,
    /// How often acknowledged offsets are committed.
    pub commit_interval: Duration,
    /// Longest wait between retries.
    pub backoff_max: Duration,
    /// How long shutdown and rebalances wait for sends to finish.
    pub drain_timeout: Duration,
    /// Topic for documents that cannot be indexed.
    pub dead_letter_topic: String,
    /// Replication factor of the dead-letter topic when it is created;
    /// `None`: the project's policy for the cluster's broker count.
    pub replication_factor: Option<i32>,
}

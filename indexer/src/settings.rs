//! The indexer's settings: the command line itself (clap), every flag also
//! an environment variable, sizes and durations typed (`5MiB`, `500ms`).
//! `--help` lists them with their defaults; grouped here by what they
//! tune: Kafka, the search engine, the bulk workers.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser};
use imdb_model::RawSource;
use imdb_model::topics::{INDEXER_DEAD_LETTER, LOCAL_BOOTSTRAP, PEOPLE, TITLES};
use imdb_model::units::{parse_duration, parse_size};

/// Consumes the enriched title and person topics and bulk-writes the
/// documents into per-genre Elasticsearch indexes (a fallback index for
/// titles without a genre, one alias over all title indexes, a people
/// index). Several indexers with the same --group share the partitions.
/// Every flag can also be set through the environment variable in its help.
#[derive(Debug, Clone, Parser)]
#[command(name = "imdb-indexer", version)]
pub struct Settings {
    /// Address of `/metrics` and `/healthz`.
    #[arg(long, env = "IMDB_INDEXER_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    pub metrics_listen: SocketAddr,
    /// The consumer group and its topics.
    #[command(flatten)]
    pub kafka: KafkaSettings,
    /// The search engine and the indexes.
    #[command(flatten)]
    pub engine: EngineSettings,
    /// The bulk workers.
    #[command(flatten)]
    pub bulk: BulkSettings,
}

/// Kafka: where to read, as which group, where dead letters go.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Kafka")]
pub struct KafkaSettings {
    /// Kafka bootstrap servers.
    #[arg(long, env = "IMDB_BROKERS", default_value = LOCAL_BOOTSTRAP)]
    pub brokers: String,
    /// Consumer group: indexers of one group share the partitions.
    #[arg(long, env = "IMDB_INDEXER_GROUP", default_value = "imdb-indexer")]
    pub group: String,
    /// Static membership id (`group.instance.id`), stable across restarts of
    /// this indexer: a restart after a crash gets its partitions back at
    /// once. Each indexer of a group needs its own.
    #[arg(long, env = "IMDB_INDEXER_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Topics to consume (comma-separated).
    #[arg(long, env = "IMDB_INDEXER_TOPICS", value_delimiter = ',', default_values_t = [TITLES.name.to_owned(), PEOPLE.name.to_owned()])]
    pub topics: Vec<String>,
    /// Also consume the raw topics into raw indexes (`<prefix>-raw-<file>`),
    /// the job Logstash's pipelines do in production, for machines without it.
    #[arg(long, env = "IMDB_INDEXER_RAW")]
    pub raw: bool,
    /// How often acknowledged offsets are committed.
    #[arg(long, env = "IMDB_INDEXER_COMMIT_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub commit_interval: Duration,
    /// Topic for documents the engine rejects and messages that are not documents.
    #[arg(long, env = "IMDB_INDEXER_DEAD_LETTER_TOPIC", default_value = INDEXER_DEAD_LETTER.name)]
    pub dead_letter_topic: String,
    /// Replication factor of the dead-letter topic when the indexer creates
    /// it, with `min.insync.replicas` one less (at least 1, at most 2).
    /// Default: the cluster's `default.replication.factor` and
    /// `min.insync.replicas` (the local cluster's: 3 and 2 on three brokers).
    #[arg(long, env = "IMDB_REPLICATION_FACTOR", value_parser = clap::value_parser!(i32).range(1..))]
    pub replication_factor: Option<i32>,
}

impl KafkaSettings {
    /// The topics to subscribe to: `topics`, and the raw topics with `raw`.
    pub fn subscriptions(&self) -> Vec<String> {
        let raw = RawSource::ALL.iter().filter(|_| self.raw).map(|s| s.topic().name.to_owned());
        self.topics.iter().cloned().chain(raw).collect()
    }
}

/// The search engine and the indexes the templates create.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Search engine")]
pub struct EngineSettings {
    /// The search engine (Elasticsearch, OpenSearch or imdb-search-node):
    /// one node URL or several, comma-separated; a node that cannot be
    /// reached is skipped for the next one.
    #[arg(long, env = "IMDB_ES_URL", default_value = "http://127.0.0.1:9200")]
    pub es_url: String,
    /// Prefix of the index names (`<prefix>-titles-<genre>`, `<prefix>-people`).
    #[arg(long, env = "IMDB_INDEX_PREFIX", default_value = imdb_model::index::DEFAULT_INDEX_PREFIX)]
    pub index_prefix: String,
    /// Primary shards of the indexes the templates create.
    #[arg(long, env = "IMDB_INDEX_SHARDS", default_value_t = 1)]
    pub shards: u32,
    /// Replicas of the indexes the templates create (default: one per shard
    /// when the cluster has more than one data node, else none).
    #[arg(long, env = "IMDB_INDEX_REPLICAS")]
    pub replicas: Option<u32>,
    /// Timeout of one request to the engine (a bulk request included).
    #[arg(long, env = "IMDB_INDEXER_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

/// The bulk workers: how many, how big their batches, how they wait.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Bulk workers")]
pub struct BulkSettings {
    /// Bulk requests in flight (one thread each).
    #[arg(long, env = "IMDB_INDEXER_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Documents per bulk request at most.
    #[arg(long, env = "IMDB_INDEXER_BATCH_DOCS", default_value_t = 1000)]
    pub batch_docs: usize,
    /// Bytes of sources per bulk request at most.
    #[arg(long, env = "IMDB_INDEXER_BATCH_BYTES", default_value = "5MiB", value_parser = parse_size)]
    pub batch_bytes: usize,
    /// How long a batch waits to fill before it is sent.
    #[arg(long, env = "IMDB_INDEXER_LINGER", default_value = "500ms", value_parser = parse_duration)]
    pub linger: Duration,
    /// Longest wait between retries while the engine is busy or down.
    #[arg(long, env = "IMDB_INDEXER_BACKOFF_MAX", default_value = "10s", value_parser = parse_duration)]
    pub backoff_max: Duration,
    /// How long shutdown and rebalances wait for in-flight sends.
    #[arg(long, env = "IMDB_INDEXER_DRAIN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Settings::command().debug_assert();
    }

    #[test]
    fn every_flag_has_an_environment_variable_and_help() {
        for arg in Settings::command().get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            assert!(arg.get_env().is_some(), "--{id} has no environment variable");
            assert!(arg.get_help().is_some(), "--{id} has no help");
        }
    }

    #[test]
    fn defaults_and_typed_values() {
        let s = Settings::try_parse_from(["imdb-indexer"]).unwrap();
        assert_eq!(s.kafka.subscriptions(), [TITLES.name, PEOPLE.name]);
        assert_eq!((s.bulk.batch_bytes, s.bulk.linger), (5 << 20, Duration::from_millis(500)));
        let s = Settings::try_parse_from(["imdb-indexer", "--raw", "--batch-bytes", "1MiB", "--linger", "2s"]).unwrap();
        assert_eq!(s.kafka.subscriptions().len(), 2 + RawSource::ALL.len(), "raw topics added");
        assert_eq!((s.bulk.batch_bytes, s.bulk.linger), (1 << 20, Duration::from_secs(2)));
        assert!(Settings::try_parse_from(["imdb-indexer", "--linger", "2"]).is_err(), "a duration needs its unit");
        assert!(Settings::try_parse_from(["imdb-indexer", "--replication-factor", "0"]).is_err());
    }
}

//! `imdb-indexer`: the Kafka-consumer indexer. Serves `/metrics` and
//! `/healthz`; SIGTERM or SIGINT stops it cleanly (sends finished or
//! abandoned, offsets committed, exit 0).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use clap::Parser;
use imdb_indexer::metrics::Metrics;
use imdb_indexer::{Settings, pipeline};
use imdb_model::RawSource;
use imdb_model::topics::{INDEXER_DEAD_LETTER, LOCAL_BOOTSTRAP, PEOPLE, TITLES};
use imdb_model::units::{parse_duration, parse_size};

/// Consumes the enriched title and person topics and bulk-writes the
/// documents into per-genre Elasticsearch indexes (a fallback index for
/// titles without a genre, one alias over all title indexes, a people
/// index). Several indexers with the same --group share the partitions.
/// Every flag can also be set through the environment variable in its help.
#[derive(Debug, Parser)]
#[command(name = "imdb-indexer", version)]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(long, env = "IMDB_BROKERS", default_value = LOCAL_BOOTSTRAP)]
    brokers: String,
    /// The search engine (Elasticsearch, OpenSearch or imdb-search-node):
    /// one node URL or several, comma-separated; a node that cannot be
    /// reached is skipped for the next one.
    #[arg(long, env = "IMDB_ES_URL", default_value = "http://127.0.0.1:9200")]
    es_url: String,
    /// Consumer group.
    #[arg(long, env = "IMDB_INDEXER_GROUP", default_value = "imdb-indexer")]
    group: String,
    /// Static membership id (`group.instance.id`), stable across restarts of
    /// this indexer: a restart after a crash gets its partitions back at
    /// once. Each indexer of a group needs its own.
    #[arg(long, env = "IMDB_INDEXER_INSTANCE_ID")]
    instance_id: Option<String>,
    /// Topics to consume (comma-separated).
    #[arg(long, env = "IMDB_INDEXER_TOPICS", value_delimiter = ',', default_values_t = [TITLES.name.to_owned(), PEOPLE.name.to_owned()])]
    topics: Vec<String>,
    /// Also consume the raw topics into raw indexes (`<prefix>-raw-<file>`),
    /// the job Logstash's pipelines do in production, for machines without it.
    #[arg(long, env = "IMDB_INDEXER_RAW")]
    raw: bool,
    /// Prefix of the index names (`<prefix>-titles-<genre>`, `<prefix>-people`).
    #[arg(long, env = "IMDB_INDEX_PREFIX", default_value = imdb_model::index::DEFAULT_INDEX_PREFIX)]
    index_prefix: String,
    /// Primary shards of the indexes the templates create.
    #[arg(long, env = "IMDB_INDEX_SHARDS", default_value_t = 1)]
    shards: u32,
    /// Replicas of the indexes the templates create (default: one per shard
    /// when the cluster has more than one data node, else none).
    #[arg(long, env = "IMDB_INDEX_REPLICAS")]
    replicas: Option<u32>,
    /// Bulk requests in flight (one thread each).
    #[arg(long, env = "IMDB_INDEXER_WORKERS", default_value_t = 2)]
    workers: usize,
    /// Documents per bulk request at most.
    #[arg(long, env = "IMDB_INDEXER_BATCH_DOCS", default_value_t = 1000)]
    batch_docs: usize,
    /// Bytes of sources per bulk request at most.
    #[arg(long, env = "IMDB_INDEXER_BATCH_BYTES", default_value = "5MiB", value_parser = parse_size)]
    batch_bytes: usize,
    /// How long a batch waits to fill before it is sent.
    #[arg(long, env = "IMDB_INDEXER_LINGER", default_value = "500ms", value_parser = parse_duration)]
    linger: Duration,
    /// Timeout of one bulk request.
    #[arg(long, env = "IMDB_INDEXER_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// How often acknowledged offsets are committed.
    #[arg(long, env = "IMDB_INDEXER_COMMIT_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    commit_interval: Duration,
    /// Longest wait between retries while the engine is busy or down.
    #[arg(long, env = "IMDB_INDEXER_BACKOFF_MAX", default_value = "10s", value_parser = parse_duration)]
    backoff_max: Duration,
    /// How long shutdown and rebalances wait for in-flight sends.
    #[arg(long, env = "IMDB_INDEXER_DRAIN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// Topic for documents the engine rejects and messages that are not documents.
    #[arg(long, env = "IMDB_INDEXER_DEAD_LETTER_TOPIC", default_value = INDEXER_DEAD_LETTER.name)]
    dead_letter_topic: String,
    /// Replication factor of the dead-letter topic when the indexer creates
    /// it, with `min.insync.replicas` one less (at least 1, at most 2).
    /// Default: the cluster's `default.replication.factor` and
    /// `min.insync.replicas` (the local cluster's: 3 and 2 on three brokers).
    #[arg(long, env = "IMDB_REPLICATION_FACTOR", value_parser = clap::value_parser!(i32).range(1..))]
    replication_factor: Option<i32>,
    /// Address of `/metrics` and `/healthz`.
    #[arg(long, env = "IMDB_INDEXER_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    metrics_listen: std::net::SocketAddr,
}

/// Serves the metrics until SIGTERM/SIGINT, then sets `stop`.
fn serve_metrics(listen: std::net::SocketAddr, metrics: Arc<Metrics>, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    // Bound here, so that a taken port is an error of the command.
    let listener = std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        let result = actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                let metrics = metrics.clone();
                App::new()
                    .route(
                        "/metrics",
                        web::get().to(move || {
                            let text = metrics.render();
                            async move { HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text) }
                        }),
                    )
                    .route("/healthz", web::get().to(|| async { HttpResponse::Ok().body("ok\n") }))
            })
            .workers(1)
            .shutdown_timeout(1)
            .listen(listener)?
            .run()
            .await
        });
        // actix's server handles SIGTERM and SIGINT; when it returns, stop.
        if let Err(e) = result {
            tracing::error!(error = %e, "metrics server failed");
        }
        tracing::info!("stop signal: finishing");
        stop.store(true, Ordering::Relaxed);
    })?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    imdb_telemetry::logging::init("info");
    let cli = Cli::parse();
    let settings = Settings {
        brokers: cli.brokers,
        group: cli.group,
        instance_id: cli.instance_id,
        topics: if cli.raw {
            cli.topics.into_iter().chain(RawSource::ALL.iter().map(|s| s.topic().name.to_owned())).collect()
        } else {
            cli.topics
        },
        es_url: cli.es_url,
        index_prefix: cli.index_prefix,
        shards: cli.shards,
        replicas: cli.replicas,
        workers: cli.workers,
        batch_docs: cli.batch_docs.max(1),
        batch_bytes: cli.batch_bytes,
        linger: cli.linger,
        request_timeout: cli.request_timeout,
        commit_interval: cli.commit_interval,
        backoff_max: cli.backoff_max,
        drain_timeout: cli.drain_timeout,
        dead_letter_topic: cli.dead_letter_topic,
        replication_factor: cli.replication_factor,
    };
    let metrics = Arc::new(Metrics::default());
    let stop = Arc::new(AtomicBool::new(false));
    serve_metrics(cli.metrics_listen, metrics.clone(), stop.clone())?;
    tracing::info!(brokers = %settings.brokers, es = %settings.es_url, group = %settings.group, "indexer starting");
    let summary = pipeline::run(&settings, metrics, stop).context("indexer failed")?;
    tracing::info!(
        consumed = summary.consumed,
        indexed = summary.indexed,
        dead_lettered = summary.dead_lettered,
        "indexer stopped"
    );
    Ok(())
}

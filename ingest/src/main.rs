//! `imdb-ingest`: load IMDb data into Kafka, generate synthetic datasets,
//! and look into topics. Every flag is also an environment variable
//! (tested below); sizes and durations are typed (`1MiB`, `5m`).
//!
//! Exit codes: 0 done; 1 the run failed (Kafka unreachable, messages the
//! broker did not acknowledge, an I/O error); 2 the command cannot work as
//! given (an input that does not exist or holds nothing ingest reads, a
//! setting out of range, a replication factor the cluster cannot take;
//! clap's own code for a flag it cannot parse). Bad records are not
//! errors: they are dead-lettered and the load goes on.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use imdb_ingest::generate::{GenerateSettings, generate};
use imdb_ingest::kafka::{KafkaSink, ProducerSettings, ensure_topics};
use imdb_ingest::progress::Progress;
use imdb_ingest::sink::{NullSink, Sink};
use imdb_ingest::source::Format;
use imdb_ingest::units::{parse_duration, parse_size};
use imdb_ingest::worker::RawSettings;
use imdb_ingest::{IngestError, LoadSettings, Stats, inspect, load};
use imdb_model::topics::{LOCAL_BOOTSTRAP, Replication, all_topics};
use imdb_telemetry::logging::{EXIT_FAILURE, EXIT_USAGE};
use rdkafka::Message;

/// Loads IMDb data files into Kafka topics: raw rows to one raw topic per
/// file, enriched title and person documents to the enrichment topics, bad
/// records to the dead-letter topic. Every flag can also be set through the
/// environment variable named in its help.
#[derive(Debug, Parser)]
#[command(name = "imdb-ingest", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Load a dataset into Kafka.
    Load(LoadArgs),
    /// Write a synthetic dataset in the exact IMDb TSV format (gzipped).
    Generate(GenerateArgs),
    /// List topics: partitions, replicas, in-sync replicas and messages.
    Topics {
        /// Kafka bootstrap servers.
        #[arg(long, env = "IMDB_BROKERS", default_value = LOCAL_BOOTSTRAP)]
        brokers: String,
        /// Print JSON (every partition's offsets, leader, replicas and
        /// in-sync replicas) instead of the table.
        #[arg(long, env = "IMDB_INGEST_TOPICS_JSON")]
        json: bool,
    },
    /// Print messages of a topic (key, partition, offset, value).
    Read {
        /// Kafka bootstrap servers.
        #[arg(long, env = "IMDB_BROKERS", default_value = LOCAL_BOOTSTRAP)]
        brokers: String,
        /// Topic to read.
        #[arg(long, env = "IMDB_READ_TOPIC")]
        topic: String,
        /// Stop after this many messages.
        #[arg(long, env = "IMDB_READ_LIMIT", default_value_t = 10)]
        limit: u64,
    },
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// A directory of IMDb TSV files (`title.basics.tsv[.gz]`, ...), one
    /// such file, a JSON array file or an NDJSON file.
    #[arg(long, env = "IMDB_INGEST_INPUT")]
    input: PathBuf,
    /// Kafka bootstrap servers (`host:port[,host:port]`).
    #[arg(long, env = "IMDB_BROKERS", default_value = LOCAL_BOOTSTRAP)]
    brokers: String,
    /// Input format; `auto` decides from the file name and first byte.
    #[arg(long, env = "IMDB_INGEST_FORMAT", value_enum, default_value_t = Format::Auto)]
    format: Format,
    /// Worker threads that parse, join and publish (default: the core count).
    #[arg(long, env = "IMDB_INGEST_WORKERS")]
    workers: Option<usize>,
    /// Target size of the chunks the master hands to workers (decompressed).
    #[arg(long, env = "IMDB_INGEST_CHUNK_SIZE", default_value = "1MiB", value_parser = parse_size)]
    chunk_size: usize,
    /// Rows per raw Kafka message at most.
    #[arg(long, env = "IMDB_INGEST_RAW_BATCH_ROWS", default_value_t = 500)]
    raw_batch_rows: u64,
    /// Bytes per raw Kafka message, about, at most.
    #[arg(long, env = "IMDB_INGEST_RAW_BATCH_BYTES", default_value = "512KiB", value_parser = parse_size)]
    raw_batch_bytes: usize,
    /// Do not publish raw rows, only enriched documents and dead letters.
    #[arg(long, env = "IMDB_INGEST_NO_RAW")]
    no_raw: bool,
    /// Replication factor of topics this run creates, with
    /// `min.insync.replicas` one less (at least 1, at most 2). Default: the
    /// cluster's `default.replication.factor` and `min.insync.replicas`
    /// (the local cluster's: 3 and 2 on three brokers).
    #[arg(long, env = "IMDB_INGEST_REPLICATION_FACTOR", value_parser = clap::value_parser!(i32).range(1..))]
    replication_factor: Option<i32>,
    /// How long the producer retries a message before it counts as failed;
    /// long enough to ride out a broker restart.
    #[arg(long, env = "IMDB_INGEST_MESSAGE_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    message_timeout: Duration,
    /// How long to wait at the end for the last acknowledgements.
    #[arg(long, env = "IMDB_INGEST_FLUSH_TIMEOUT", default_value = "10m", value_parser = parse_duration)]
    flush_timeout: Duration,
    /// How long a partition's batch waits to fill (`linger.ms`). Ingest
    /// spreads ~40k messages/s over 66 partitions: at 20 ms a batch held ~10
    /// of them and a 3-broker cluster spent its CPU on requests; at 100 ms
    /// 1M titles load in 54 s instead of 64 s (bench/RESULTS.md).
    #[arg(long, env = "IMDB_INGEST_LINGER", default_value = "100ms", value_parser = parse_duration)]
    linger: Duration,
    /// Read, parse and join, but publish nothing (measures the parsing cost).
    #[arg(long, env = "IMDB_INGEST_DRY_RUN")]
    dry_run: bool,
    /// Also write the summary as JSON to this file.
    #[arg(long, env = "IMDB_INGEST_SUMMARY_JSON")]
    summary_json: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short, env = "IMDB_INGEST_QUIET")]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Number of titles (names: about 1.25 per title).
    #[arg(long, env = "IMDB_GENERATE_TITLES", default_value_t = 10_000)]
    titles: u64,
    /// Seed: the same seed and size give byte-identical files.
    #[arg(long, env = "IMDB_GENERATE_SEED", default_value_t = 42)]
    seed: u64,
    /// Output directory.
    #[arg(long, env = "IMDB_GENERATE_OUT")]
    out: PathBuf,
}

fn main() -> ExitCode {
    imdb_telemetry::logging::init("info,rdkafka=warn");
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            match error.downcast_ref::<IngestError>() {
                Some(e) if e.is_user_error() => EXIT_USAGE.into(),
                _ => EXIT_FAILURE.into(),
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Cmd::Load(args) => run_load(args),
        Cmd::Generate(args) => {
            let start = Instant::now();
            let summary = generate(&GenerateSettings { titles: args.titles, seed: args.seed, out: args.out.clone() })
                .with_context(|| format!("generating into {}", args.out.display()))?;
            for (file, rows) in &summary.files {
                println!("{file:<28} {rows:>12} rows");
            }
            println!("{} bytes in {:.1} s", summary.bytes, start.elapsed().as_secs_f64());
            Ok(())
        }
        Cmd::Topics { brokers, json } => {
            let topics = inspect::topics(&brokers, None, Duration::from_secs(10))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&topics)?);
            } else {
                print_topics(&topics);
            }
            Ok(())
        }
        Cmd::Read { brokers, topic, limit } => {
            if limit == 0 {
                return Ok(());
            }
            let mut left = limit;
            inspect::read_topic(&brokers, &topic, Duration::from_secs(60), |m| {
                let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
                let value = m.payload().map(String::from_utf8_lossy).unwrap_or_default();
                println!("{}/{} key={key}\n{}", m.partition(), m.offset(), value.trim_end());
                left -= 1;
                left > 0
            })?;
            Ok(())
        }
    }
}

/// One line per topic (partitions, replicas, in-sync copies, min in sync,
/// messages), and a line for each partition missing in-sync copies.
fn print_topics(topics: &[inspect::TopicInfo]) {
    println!(
        "{:<28} {:>10} {:>8} {:>8} {:>10} {:>10}  per partition",
        "topic", "partitions", "replicas", "in-sync", "min.insync", "messages"
    );
    for topic in topics {
        let in_sync: usize = topic.partitions.iter().map(|p| p.isr.len()).sum();
        let copies: usize = topic.partitions.iter().map(|p| p.replicas.len()).sum();
        let counts: Vec<String> = topic.partitions.iter().map(|p| (p.high - p.low).to_string()).collect();
        println!(
            "{:<28} {:>10} {:>8} {:>8} {:>10} {:>10}  [{}]",
            topic.name,
            topic.partitions.len(),
            topic.replication_factor(),
            format!("{in_sync}/{copies}"),
            topic.min_insync.map_or("?".to_owned(), |m| m.to_string()),
            topic.messages(),
            counts.join(", ")
        );
        for p in topic.under_replicated() {
            println!(
                "  partition {}: leader {}, replicas {:?}, in sync only {:?}",
                p.partition, p.leader, p.replicas, p.isr
            );
        }
    }
}

fn run_load(args: LoadArgs) -> anyhow::Result<()> {
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let config = LoadSettings {
        input: args.input.clone(),
        format: args.format,
        workers,
        chunk_bytes: args.chunk_size,
        raw: RawSettings { publish: !args.no_raw, max_rows: args.raw_batch_rows, max_bytes: args.raw_batch_bytes },
    };
    let stats = Arc::new(Stats::default());
    let sink: Box<dyn Sink> = if args.dry_run {
        Box::new(NullSink)
    } else {
        let admin_timeout = args.message_timeout.min(Duration::from_secs(30));
        let replication = args.replication_factor.map(Replication::with_factor);
        ensure_topics(&args.brokers, &all_topics(), replication, admin_timeout)?;
        let settings = ProducerSettings {
            brokers: args.brokers.clone(),
            message_timeout: args.message_timeout,
            flush_timeout: args.flush_timeout,
            linger: args.linger,
        };
        Box::new(KafkaSink::new(&settings, stats.clone())?)
    };
    tracing::info!(input = %args.input.display(), brokers = %args.brokers, workers, dry_run = args.dry_run, "load starting");
    let start = Instant::now();
    let progress = Progress::start(stats.clone(), args.quiet);
    let loaded = load(&config, sink.as_ref(), &stats);
    let finished = sink.finish(&stats);
    progress.finish();
    let loaded = match loaded {
        Err(e) if e.is_user_error() => return Err(e.into()),
        other => other,
    };
    let summary = stats.summary(start.elapsed());
    eprintln!("{summary}");
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    loaded?;
    finished?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_an_environment_variable_and_help() {
        use clap::CommandFactory;
        let cli = Cli::command();
        cli.clone().debug_assert();
        for command in cli.get_subcommands().filter(|c| c.get_name() != "help") {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                let name = command.get_name();
                assert!(arg.get_env().is_some(), "{name} --{id} has no environment variable");
                assert!(arg.get_help().is_some(), "{name} --{id} has no help");
            }
        }
    }

    #[test]
    fn the_producer_defaults_are_the_librarys() {
        let Cmd::Load(args) = Cli::parse_from(["imdb-ingest", "load", "--input", "x"]).command else { unreachable!() };
        let library = ProducerSettings::new(args.brokers.clone());
        assert_eq!(
            (args.message_timeout, args.flush_timeout, args.linger),
            (library.message_timeout, library.flush_timeout, library.linger)
        );
    }
}

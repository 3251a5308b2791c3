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

/// `load`: what to read, where to publish it, and how to report.
#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// What to load.
    #[command(flatten)]
    load: LoadSettings,
    /// The Kafka producer.
    #[command(flatten)]
    producer: ProducerSettings,
    /// Replication factor of topics this run creates, with
    /// `min.insync.replicas` one less (at least 1, at most 2). Default: the
    /// cluster's `default.replication.factor` and `min.insync.replicas`
    /// (the local cluster's: 3 and 2 on three brokers).
    #[arg(long, env = "IMDB_INGEST_REPLICATION_FACTOR", value_parser = clap::value_parser!(i32).range(1..))]
    replication_factor: Option<i32>,
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
    let stats = Arc::new(Stats::default());
    let producer = &args.producer;
    let sink: Box<dyn Sink> = if args.dry_run {
        Box::new(NullSink)
    } else {
        let admin_timeout = producer.message_timeout.min(Duration::from_secs(30));
        let replication = args.replication_factor.map(Replication::with_factor);
        ensure_topics(&producer.brokers, &all_topics(), replication, admin_timeout)?;
        Box::new(KafkaSink::new(producer, stats.clone())?)
    };
    tracing::info!(
        input = %args.load.input.display(),
        brokers = %producer.brokers,
        workers = args.load.workers,
        dry_run = args.dry_run,
        "load starting"
    );
    let start = Instant::now();
    let progress = Progress::start(stats.clone(), args.quiet);
    let loaded = load(&args.load, sink.as_ref(), &stats);
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
        assert_eq!(args.producer, ProducerSettings::new(args.producer.brokers.clone()));
        assert!(args.load.raw.publish(), "raw rows are published unless --no-raw");
        let Cmd::Load(args) = Cli::parse_from(["imdb-ingest", "load", "--input", "x", "--no-raw"]).command else {
            unreachable!()
        };
        assert!(!args.load.raw.publish());
    }
}

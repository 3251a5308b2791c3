//! `bare-producer`: the ceiling a Kafka cluster sets for ingest, measured
//! with ingest's own producer and no parsing or joining.
//!
//! After `imdb-ingest load` filled the topics, this reads a sample of each
//! topic's messages (the first `--sample`, keys, values and partitions),
//! creates a copy of each topic (`<prefix><name>`, same partitions,
//! replication by the same policy) and sends as many messages to each copy
//! as the original holds, cycling through the sample, interleaved across
//! topics as ingest interleaves them, through `imdb_ingest::kafka::KafkaSink`
//! with `imdb-ingest load`'s defaults (idempotent, `acks=all`, lz4, 100 ms
//! linger). Timed from the first send until the last acknowledgement.
//! `bench/ingest.py` runs it beside ingest on the same cluster.
//!
//! Output: one JSON object on stdout (`messages`, `bytes`, `seconds`,
//! `messages_per_second`, `mb_per_second`, `failed`); exit status 1 if any
//! message was not acknowledged.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use imdb_ingest::Stats;
use imdb_ingest::inspect;
use imdb_ingest::kafka::{KafkaSink, ProducerSettings, ensure_topics};
use imdb_ingest::sink::{Message, Sink};
use imdb_ingest::stats::MessageKind;
use imdb_model::Topic;
use imdb_model::topics::all_topics;
use rdkafka::Message as _;
use serde_json::json;

/// Replays a sample of ingest's topics into copies, at full speed.
#[derive(Debug, Parser)]
#[command(name = "bare-producer")]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(long, env = "IMDB_BROKERS", default_value = imdb_model::topics::LOCAL_BOOTSTRAP)]
    brokers: String,
    /// Messages sampled per topic.
    #[arg(long, default_value_t = 20_000)]
    sample: usize,
    /// Prefix of the copies' names.
    #[arg(long, default_value = "bench.bare.")]
    prefix: String,
}

/// One topic's sample and how many messages its copy gets.
struct Plan {
    copy: &'static str,
    count: u64,
    sample: Vec<(Option<i32>, Vec<u8>, Vec<u8>)>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let timeout = Duration::from_secs(600);
    let listed = inspect::topics(&cli.brokers, None, Duration::from_secs(30))?;
    let mut plans = Vec::new();
    let mut copies = Vec::new();
    for topic in all_topics() {
        let Some(info) = listed.iter().find(|t| t.name == topic.name) else { continue };
        let count = u64::try_from(info.messages()).unwrap_or(0);
        if count == 0 {
            continue;
        }
        let mut sample = Vec::new();
        // Raw batches keep their partition, as ingest sets it; documents are keyed.
        let keep_partition = topic.name.starts_with("imdb.raw.");
        inspect::read_topic(&cli.brokers, topic.name, timeout, |m| {
            let partition = keep_partition.then(|| m.partition());
            sample.push((partition, m.key().unwrap_or_default().to_vec(), m.payload().unwrap_or_default().to_vec()));
            sample.len() < cli.sample
        })
        .with_context(|| format!("sampling {}", topic.name))?;
        // The copies live as long as this process: leaking their names is
        // how they become the `&'static str` a Topic holds.
        let copy: &'static str = Box::leak(format!("{}{}", cli.prefix, topic.name).into_boxed_str());
        copies.push(Topic { name: copy, ..topic });
        plans.push(Plan { copy, count, sample });
    }
    if plans.is_empty() {
        bail!("no messages in the project's topics at {}: run imdb-ingest load first", cli.brokers);
    }
    ensure_topics(&cli.brokers, &copies, None, Duration::from_secs(60))?;

    let stats = std::sync::Arc::new(Stats::default());
    let sink = KafkaSink::new(&ProducerSettings::new(cli.brokers.clone()), stats.clone())?;
    let rounds = plans.iter().map(|p| p.count).max().unwrap_or(0);
    let (mut messages, mut bytes) = (0u64, 0u64);
    let start = Instant::now();
    for i in 0..rounds {
        for plan in plans.iter().filter(|p| i < p.count) {
            let (partition, key, payload) = &plan.sample[(i % plan.sample.len() as u64) as usize];
            let message =
                Message { topic: plan.copy, partition: *partition, key, payload, kind: MessageKind::Title, records: 1 };
            sink.send(message, &stats)?;
            messages += 1;
            bytes += (key.len() + payload.len()) as u64;
        }
    }
    let finished = sink.finish(&stats);
    let seconds = start.elapsed().as_secs_f64();
    let failed = stats.failed_messages() + stats.unconfirmed_messages();
    println!(
        "{}",
        json!({
            "messages": messages,
            "bytes": bytes,
            "seconds": seconds,
            "messages_per_second": messages as f64 / seconds,
            "mb_per_second": bytes as f64 / seconds / 1e6,
            "failed": failed,
        })
    );
    finished?;
    Ok(())
}

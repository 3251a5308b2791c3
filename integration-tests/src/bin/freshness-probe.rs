//! `freshness-probe`: measures how long a title takes from being produced to
//! Kafka to being searchable, at a steady rate, on a running stack (broker,
//! indexer, search engine). `bench/freshness.py` starts that stack and runs
//! this; it can also be pointed at any stack by hand.
//!
//! The producer publishes enriched titles to the titles topic at `--rate`
//! documents per second, paced every 10 ms so the load is smooth rather than
//! bursty, each with a fresh id (`tf<run>-<seq>`), and notes the time just
//! before handing each to the producer. A poller asks the engine every
//! `--poll` which of the outstanding ids the titles alias returns (`ids`
//! queries of up to 2,000 ids, all of them each time), and notes when each
//! first appears. Visibility is
//! seen at poll granularity, so figures are late by half a poll on average.
//!
//! Documents produced during `--warmup` are indexed but not measured: the
//! first documents create the genre indexes. Output: one JSON object on
//! stdout (`produced`, `measured`, `seen`, `missing`, `p50_ms`, `p90_ms`,
//! `p99_ms`, `max_ms`, `mean_ms`, `rate`); exit status 1 if a measured
//! document never became searchable within `--settle`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use imdb_ingest::Stats;
use imdb_ingest::kafka::{KafkaSink, ProducerSettings, ensure_topics};
use imdb_ingest::sink::{Message, Sink};
use imdb_ingest::stats::MessageKind;
use imdb_model::docs::TitleDoc;
use imdb_model::topics::{TITLES, all_topics};
use imdb_model::units::parse_duration;
use serde_json::{Value, json};

/// Measures produce-to-searchable latency of titles at a steady rate.
#[derive(Debug, Parser)]
#[command(name = "freshness-probe")]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(long, env = "IMDB_BROKERS", default_value = imdb_model::topics::LOCAL_BOOTSTRAP)]
    brokers: String,
    /// The search engine's base URL.
    #[arg(long, env = "IMDB_ES_URL", default_value = "http://127.0.0.1:9200")]
    es_url: String,
    /// The index or alias to look the titles up in.
    #[arg(long, default_value = "imdb-titles")]
    index: String,
    /// Titles produced per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// How long to produce, warm-up included.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Documents produced during this first part are not measured.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    warmup: Duration,
    /// How often the poller asks the engine.
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    poll: Duration,
    /// How long to wait after the last document for the stragglers.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    settle: Duration,
}

/// One produced document: its id, when it was produced, when first seen.
#[derive(Debug)]
struct Probe {
    id: String,
    produced: Instant,
    measured: bool,
    seen: Option<Instant>,
}

/// Outstanding documents in production order, and the finished ones.
#[derive(Debug, Default)]
struct Ledger {
    outstanding: VecDeque<Probe>,
    done: Vec<Probe>,
    producing: bool,
}

const GENRES: [&str; 6] = ["drama", "comedy", "action", "documentary", "horror", "romance"];
/// Ids per `ids` query; a poll asks about every outstanding id, in as many
/// queries as it takes.
const POLL_IDS: usize = 2000;

fn title(run: u64, seq: u64) -> TitleDoc {
    TitleDoc {
        tconst: format!("tf{run}-{seq}"),
        title_type: Some("movie".into()),
        primary_title: format!("Freshness probe {seq}"),
        start_year: Some(2000 + (seq % 26) as u16),
        genres: vec![GENRES[(seq % GENRES.len() as u64) as usize].into()],
        average_rating: Some(5.0 + (seq % 50) as f32 / 10.0),
        num_votes: Some(seq),
        ..TitleDoc::default()
    }
}

fn produce(cli: &Cli, ledger: &Mutex<Ledger>) -> anyhow::Result<u64> {
    ensure_topics(&cli.brokers, &all_topics(), None, Duration::from_secs(30))?;
    let stats = Arc::new(Stats::default());
    let settings = ProducerSettings {
        brokers: cli.brokers.clone(),
        message_timeout: Duration::from_secs(60),
        flush_timeout: Duration::from_secs(60),
        linger: Duration::from_millis(1),
    };
    let sink = KafkaSink::new(&settings, stats.clone())?;
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let start = Instant::now();
    let tick = Duration::from_millis(10);
    let mut seq = 0u64;
    while start.elapsed() < cli.duration {
        // Catch up to where the rate says we should be, so a slow send
        // does not lower the rate.
        let due = (start.elapsed().as_secs_f64() * cli.rate) as u64;
        while seq < due {
            let doc = title(run, seq);
            let payload = serde_json::to_vec(&doc)?;
            let measured = start.elapsed() >= cli.warmup;
            ledger.lock().expect("no prober thread panicked").outstanding.push_back(Probe {
                id: doc.tconst.clone(),
                produced: Instant::now(),
                measured,
                seen: None,
            });
            let message = Message {
                topic: TITLES.name,
                partition: None,
                key: doc.tconst.as_bytes(),
                payload: &payload,
                kind: MessageKind::Title,
                records: 1,
            };
            sink.send(message, &stats)?;
            seq += 1;
        }
        std::thread::sleep(tick);
    }
    sink.finish(&stats)?;
    ledger.lock().expect("no prober thread panicked").producing = false;
    Ok(seq)
}

/// Asks which of the oldest outstanding ids are searchable; moves them to
/// `done`. Returns false once nothing is outstanding and production ended.
fn poll_once(http: &reqwest::blocking::Client, url: &str, ledger: &Mutex<Ledger>) -> anyhow::Result<bool> {
    let ids: Vec<String> = {
        let ledger = ledger.lock().expect("no prober thread panicked");
        if ledger.outstanding.is_empty() {
            return Ok(ledger.producing);
        }
        ledger.outstanding.iter().map(|p| p.id.clone()).collect()
    };
    let mut found = std::collections::HashSet::new();
    let mut now = Instant::now();
    for chunk in ids.chunks(POLL_IDS) {
        let body = json!({"size": chunk.len(), "_source": false, "query": {"ids": {"values": chunk}}});
        let response = http.post(url).json(&body).send()?;
        // Seen no later than the answer; a chunk's own round trip is part
        // of the figure (a few ms), as is half a poll on average.
        now = Instant::now();
        let status = response.status();
        let answer: Value = response.json()?;
        if status.as_u16() == 404 {
            return Ok(true); // no title index yet
        }
        if !status.is_success() {
            bail!("{url}: HTTP {status}: {answer}");
        }
        let hits = answer["hits"]["hits"].as_array().context("no hits.hits in the search response")?;
        found.extend(hits.iter().filter_map(|h| h["_id"].as_str().map(str::to_owned)));
    }
    let mut ledger = ledger.lock().expect("no prober thread panicked");
    let mut kept = VecDeque::with_capacity(ledger.outstanding.len());
    while let Some(mut probe) = ledger.outstanding.pop_front() {
        if found.contains(probe.id.as_str()) {
            probe.seen = Some(now);
            ledger.done.push(probe);
        } else {
            kept.push_back(probe);
        }
    }
    ledger.outstanding = kept;
    Ok(true)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.rate.is_nan() || cli.rate <= 0.0 {
        bail!("--rate must be positive");
    }
    let ledger = Arc::new(Mutex::new(Ledger { producing: true, ..Ledger::default() }));
    let url = format!("{}/{}/_search", cli.es_url.trim_end_matches('/'), cli.index);
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let poller = {
        let ledger = ledger.clone();
        let (poll, settle) = (cli.poll, cli.settle);
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut ended: Option<Instant> = None;
            loop {
                let more = poll_once(&http, &url, &ledger)?;
                let producing = ledger.lock().expect("no prober thread panicked").producing;
                if !more {
                    return Ok(());
                }
                if !producing && ended.get_or_insert_with(Instant::now).elapsed() > settle {
                    return Ok(());
                }
                std::thread::sleep(poll);
            }
        })
    };
    let produced = produce(&cli, &ledger).context("producing")?;
    poller.join().expect("the poller does not panic").context("polling")?;

    let ledger = ledger.lock().expect("no prober thread panicked");
    let mut latencies: Vec<f64> = ledger
        .done
        .iter()
        .filter(|p| p.measured)
        .filter_map(|p| p.seen.map(|s| s.duration_since(p.produced).as_secs_f64() * 1e3))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let missing = ledger.outstanding.iter().filter(|p| p.measured).count();
    let measured = latencies.len() + missing;
    let mean = latencies.iter().sum::<f64>() / latencies.len().max(1) as f64;
    let report = json!({
        "produced": produced,
        "measured": measured,
        "seen": latencies.len(),
        "missing": missing,
        "rate": cli.rate,
        "p50_ms": percentile(&latencies, 0.50),
        "p90_ms": percentile(&latencies, 0.90),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": latencies.last().copied().unwrap_or(f64::NAN),
        "mean_ms": mean,
    });
    println!("{report}");
    if missing > 0 {
        bail!(
            "{missing} of {measured} measured titles were not searchable {:?} after the last was produced",
            cli.settle
        );
    }
    Ok(())
}

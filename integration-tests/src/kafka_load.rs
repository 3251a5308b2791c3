//! Loading input into Kafka with ingest's own pipeline, as the tests that
//! need topics filled (ingest's, the indexer's) do.

use std::sync::Arc;
use std::time::Duration;

use std::path::Path;

use imdb_ingest::kafka::{KafkaSink, ProducerSettings, ensure_topics};
use imdb_ingest::sink::Sink;
use imdb_ingest::source::Format;
use imdb_ingest::worker::RawSettings;
use imdb_ingest::{LoadSettings, Stats, Summary, load};
use imdb_model::topics::all_topics;

/// How the tests load `input`: two workers, 1 MiB chunks, raw rows
/// published only when `raw` (most tests are shorter without).
pub fn test_config(input: &Path, raw: bool) -> LoadSettings {
    LoadSettings {
        input: input.to_path_buf(),
        format: Format::Auto,
        workers: 2,
        chunk_bytes: 1 << 20,
        raw: RawSettings { no_raw: !raw, max_rows: 500, max_bytes: 512 * 1024 },
    }
}

/// Creates the topics (one replica) and loads `config` into the brokers,
/// panicking if ingest fails; returns ingest's summary. The producer waits
/// long enough to ride out a broker restart in the middle.
pub fn load_into_kafka(brokers: String, config: &LoadSettings) -> Summary {
    let stats = Arc::new(Stats::default());
    ensure_topics(&brokers, &all_topics(), None, Duration::from_secs(30)).expect("creating the topics");
    let settings = ProducerSettings {
        brokers,
        message_timeout: Duration::from_secs(120),
        flush_timeout: Duration::from_secs(180),
        linger: Duration::from_millis(5),
    };
    let sink = KafkaSink::new(&settings, stats.clone()).expect("a Kafka producer");
    load(config, &sink, &stats).expect("ingest into Kafka");
    sink.finish(&stats).expect("every message acknowledged");
    stats.summary(Duration::from_secs(1))
}

//! imdb-indexer: consumes the enrichment topics in a consumer group and
//! bulk-writes title and person documents into per-genre indexes of the
//! search engine (Elasticsearch, or imdb-search-node on one machine),
//! at least once, with idempotent document ids.
//!
//! Layers: `pipeline` (consumer thread, bulk workers, offsets, rebalances;
//! one module per concern) over `route` (message to index and id), `engine`
//! (the REST client and the index templates), `bulk` (the bulk answer and
//! each document's fate), `retry` (backoff), `dlq` (the dead-letter
//! producer), `offsets` (what may be committed), `metrics`, and `settings`
//! (the command line).

pub mod bulk;
pub mod dlq;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod offsets;
pub mod pipeline;
pub mod retry;
pub mod route;
pub mod settings;

pub use error::IndexerError;
pub use settings::{BulkSettings, EngineSettings, KafkaSettings, Settings};

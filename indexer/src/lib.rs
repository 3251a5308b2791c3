//! imdb-indexer: consumes the enrichment topics in a consumer group and
//! bulk-writes title and person documents into per-genre indexes of the
//! search engine (Elasticsearch, or imdb-search-node on one machine),
//! at least once, with idempotent document ids.
//!
//! Layers: `pipeline` (consumer thread, bulk workers, offsets, rebalances)
//! over `route` (message to index and id), `engine` (the REST client and the
//! index templates), `dlq` (the dead-letter producer), `offsets` (what may
//! be committed) and `metrics`.

pub mod bulk;
pub mod dlq;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod offsets;
pub mod pipeline;
pub mod route;
pub mod settings;

pub use error::IndexerError;
pub use settings::Settings;

//! imdb-ingest: IMDb data files in, partitioned Kafka topics out.
//!
//! A master splits each input into chunks at record boundaries
//! ([`chunk`], [`json_array`], [`join`]); worker threads parse, validate,
//! join and publish them ([`enrich`], [`json`]) through a [`sink::Sink`]
//! (the Kafka producer of [`kafka`], or nothing for parse-only runs). Bad
//! records become dead letters with their position and reason; they never
//! stop a run. [`pipeline`] ties the passes together; [`generate`] writes
//! synthetic IMDb datasets for tests and benchmarks.

pub mod chunk;
pub mod enrich;
pub mod error;
pub mod generate;
pub mod inspect;
pub mod join;
pub mod json;
pub mod json_array;
pub mod kafka;
pub mod pipeline;
pub mod progress;
pub mod raw;
pub mod sink;
pub mod source;
pub mod stats;
pub mod tables;
pub mod tsv;
pub use imdb_model::units;
pub mod worker;

pub use error::IngestError;
pub use pipeline::{LoadSettings, load};
pub use stats::{Stats, Summary};

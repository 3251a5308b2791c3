//! imdb-search-node: a single-node server speaking the subset of the
//! Elasticsearch REST API that imdb-search uses, so that the indexer, the
//! API nodes and Logstash run the same code against it and against a real
//! Elasticsearch cluster.
//!
//! Layers, each depending only on those below it:
//! - `http`: routes, media types, Elasticsearch-shaped errors;
//! - `node`: the indexes of the data folder, name resolution, refresher;
//! - `index`: one index's metadata, shards, write routing, dynamic mapping;
//! - `shard`: tantivy index + translog + live version map;
//! - `document`, `mapping`, `schema`, `analysis`, `date`: from JSON
//!   sources and mappings to tantivy documents and schemas.

pub mod aliases;
pub mod analysis;
pub mod bulk;
pub mod columns;
pub mod date;
pub mod document;
pub mod error;
pub mod http;
pub mod index;
pub mod mapping;
pub mod meta;
pub mod names;
pub mod node;
pub mod ops;
pub mod query;
pub mod schema;
pub mod search;
pub mod shard;
pub mod source_filter;
pub mod templates;
pub mod translog;
pub mod util;

pub use error::EsError;
pub use node::Node;

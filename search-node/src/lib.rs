//! imdb-search-node: a single-node server speaking the subset of the
//! Elasticsearch REST API that imdb-search uses, so that the indexer, the
//! API nodes and Logstash run the same code against it and against a real
//! Elasticsearch cluster.
//!
//! Layers, each depending only on those below it:
//! - `http`: routes, media types, Elasticsearch-shaped errors;
//! - `ops`, `bulk`: document operations and `_bulk` bodies, run on a node;
//! - `node`, `aliases`, `names`, `templates`: the indexes of the data
//!   folder, name and alias resolution, index templates, refresher;
//! - `search`: search requests over snapshots of index handles, scroll and
//!   point-in-time contexts;
//! - `query`: the query DSL compiled to tantivy queries;
//! - `index`: one index's metadata, shards, write routing, dynamic mapping;
//! - `shard`, `translog`, `columns`: tantivy index + translog + live
//!   version map, and doc-value columns;
//! - `context`, `document`, `mapping`, `meta`, `schema`, `analysis`,
//!   `date`, `source_filter`: from JSON sources and mappings to tantivy
//!   documents and schemas;
//! - `error`, `util`: used by all.

pub mod aliases;
pub mod analysis;
pub mod bulk;
pub mod columns;
pub mod context;
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

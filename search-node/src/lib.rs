//! imdb-search-node: a single-node server speaking the subset of the
//! Elasticsearch REST API that imdb-search uses, so that the indexer, the
//! API nodes and Logstash run the same code against it and against a real
//! Elasticsearch cluster.
//!
//! Layers, one folder each, each using only those below it (a request
//! goes down the list):
//! - [`http`]: routes, media types, Elasticsearch-shaped responses;
//! - [`ops`]: document writes (index, create, update, delete, `_bulk`)
//!   executed in order on a node;
//! - [`node`]: the node's state: indexes by name, aliases, index
//!   templates, name resolution, the refresher, open search contexts;
//! - [`search`]: search requests run over snapshots of index handles
//!   (query then fetch, aggregations, highlighting, scroll, point in time);
//! - [`query`]: the query DSL compiled to tantivy queries against a mapping;
//! - [`storage`]: one index's shards and write routing; a shard is a
//!   tantivy index + translog + live version map; doc-value columns;
//! - [`mapping`]: from mappings, settings and JSON sources to analyzers,
//!   tantivy schemas and documents;
//! - [`error`], [`util`]: used by every layer.

pub mod error;
pub mod http;
pub mod mapping;
pub mod node;
pub mod ops;
pub mod query;
pub mod search;
pub mod storage;
pub mod util;

pub use error::EsError;
pub use node::Node;

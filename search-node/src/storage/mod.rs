//! The storage layer: what is on disk and how it is read back. An
//! [`index::IndexHandle`] routes writes to its [`shard::Shard`]s, each a
//! tantivy index with its [`translog::Translog`]; [`columns`] reads doc
//! values for sorting, scoring and aggregations. It uses the mapping layer
//! (an index's `IndexContext`) and nothing above.

pub mod columns;
pub mod dense;
pub mod index;
pub mod shard;
pub mod translog;

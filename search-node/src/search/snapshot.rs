//! A frozen view of the indexes a search targets: each index's mapping
//! context and the tantivy searcher of each of its shards, as of one moment.
//!
//! Contract: every page of a search made from one [`Snapshot`] sees the same
//! documents, whatever is written, refreshed or merged meanwhile (a tantivy
//! `Searcher` pins its segments). A plain search takes one and drops it; a
//! scroll or point in time keeps it for its keep-alive. A snapshot whose
//! index was deleted since is no longer [`Snapshot::is_live`].

use std::sync::Arc;

use tantivy::Searcher;

use crate::mapping::context::IndexContext;
use crate::storage::columns::ColumnCache;
use crate::storage::index::IndexHandle;

/// One index as the snapshot holds it.
#[derive(Clone)]
pub struct FrozenIndex {
    /// The index.
    pub handle: Arc<IndexHandle>,
    /// Its mapping when the snapshot was taken.
    pub ctx: Arc<IndexContext>,
    /// One searcher per shard.
    pub searchers: Vec<Searcher>,
    /// The columns opened on each shard's searcher.
    pub columns: Vec<Arc<ColumnCache>>,
}

impl std::fmt::Debug for FrozenIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrozenIndex").field("index", &self.ctx.name).field("shards", &self.searchers.len()).finish()
    }
}

/// The indexes of a search, frozen.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// In the order of the search's targets.
    pub indices: Vec<FrozenIndex>,
}

impl Snapshot {
    /// The last refresh of every shard of these indexes.
    pub fn take(handles: &[Arc<IndexHandle>]) -> Snapshot {
        let indices = handles
            .iter()
            .map(|handle| {
                let (searchers, columns) = handle.shards().iter().map(crate::storage::shard::Shard::generation).unzip();
                FrozenIndex { handle: handle.clone(), ctx: handle.context(), searchers, columns }
            })
            .collect();
        Snapshot { indices }
    }

    /// Shards over every index.
    pub fn shard_count(&self) -> usize {
        self.indices.iter().map(|i| i.searchers.len()).sum()
    }

    /// Whether every index is still there (none was deleted since).
    pub fn is_live(&self) -> bool {
        self.indices.iter().all(|i| !i.handle.is_destroyed())
    }

    /// The position of shard `shard` of index `index` among all the
    /// snapshot's shards (the high half of a `_shard_doc` value).
    pub fn shard_ordinal(&self, index: usize, shard: usize) -> u32 {
        let before: usize = self.indices[..index].iter().map(|i| i.searchers.len()).sum();
        (before + shard) as u32
    }
}

/// The first document number of each segment of a shard's searcher, so
/// that `base + doc` numbers the shard's documents in order (like Lucene's
/// doc ids within a shard).
pub fn segment_bases(searcher: &Searcher) -> Vec<u32> {
    searcher
        .segment_readers()
        .iter()
        .scan(0u32, |next, reader| {
            let base = *next;
            *next += reader.max_doc();
            Some(base)
        })
        .collect()
}

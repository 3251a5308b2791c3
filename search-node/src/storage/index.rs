//! One index: its metadata, its shards, and the write path that routes
//! documents to shards and applies dynamic mapping.
//!
//! Contract: a write returns only once every shard it touched has synced
//! its translog, so whatever is acknowledged is durable. Writes run under
//! the read side of the index's mapping gate; a mapping change (dynamic or
//! put-mapping) takes the write side, so no document is ever built under
//! one schema and applied under another. Items of one request keep their
//! order within a shard, and results come back in input order.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::error::EsError;
use crate::mapping::Mapping;
use crate::mapping::context::IndexContext;
use crate::mapping::meta::{self, IndexMeta};
use crate::storage::shard::{Conditions, Shard, StoredDoc, Write, Written};

const META_FILE: &str = "meta.json";

/// A document write as a request states it.
#[derive(Debug, Clone)]
pub enum DocWrite {
    /// Index (or create, with `conditions.create`) a source.
    Index { id: String, source: Map<String, Value>, routing: Option<String>, conditions: Conditions },
    /// Delete by id.
    Delete { id: String, routing: Option<String>, conditions: Conditions },
}

impl DocWrite {
    fn id(&self) -> &str {
        match self {
            DocWrite::Index { id, .. } | DocWrite::Delete { id, .. } => id,
        }
    }

    fn routing(&self) -> Option<&str> {
        match self {
            DocWrite::Index { routing, .. } | DocWrite::Delete { routing, .. } => routing.as_deref(),
        }
    }
}

/// What the sources of a request would do to the mapping.
struct Pending {
    /// The grown mapping, when some source adds fields.
    update: Option<Value>,
    /// Per write, the error that refuses its source.
    refused: Vec<Option<EsError>>,
}

/// One open index.
#[derive(Debug)]
pub struct IndexHandle {
    dir: PathBuf,
    /// Shared, so that a search reads it without copying the mapping.
    meta: RwLock<Arc<IndexMeta>>,
    context: RwLock<Arc<IndexContext>>,
    gate: RwLock<()>,
    shards: Vec<Shard>,
    last_refresh: Mutex<Instant>,
    /// Set by [`IndexHandle::destroy`]: searches that kept this handle
    /// (scroll and point-in-time contexts) must not outlive the index.
    destroyed: std::sync::atomic::AtomicBool,
}

impl IndexHandle {
    /// Creates a new index in `dir`.
    pub fn create(dir: &Path, meta: IndexMeta) -> Result<IndexHandle, EsError> {
        let context = IndexContext::new(&meta)?;
        persist(dir, &meta)?;
        IndexHandle::open_with(dir, meta, context)
    }

    /// Opens an existing index folder.
    pub fn open(dir: &Path) -> Result<IndexHandle, EsError> {
        let path = dir.join(META_FILE);
        let meta: IndexMeta = serde_json::from_slice(&fs::read(&path)?)
            .map_err(|e| EsError::internal(format!("{}: {e}", path.display())).caused_by(e))?;
        let context = IndexContext::new(&meta)?;
        IndexHandle::open_with(dir, meta, context)
    }

    fn open_with(dir: &Path, meta: IndexMeta, context: IndexContext) -> Result<IndexHandle, EsError> {
        let shards =
            (0..meta.shards()).map(|n| Shard::open(&dir.join(n.to_string()), &context)).collect::<Result<_, _>>()?;
        Ok(IndexHandle {
            dir: dir.to_path_buf(),
            meta: RwLock::new(Arc::new(meta)),
            context: RwLock::new(Arc::new(context)),
            gate: RwLock::new(()),
            shards,
            last_refresh: Mutex::new(Instant::now()),
            destroyed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The index name.
    pub fn name(&self) -> String {
        self.meta.read().expect("not poisoned").name.clone()
    }

    /// The metadata as of now (a later change replaces it, never edits it).
    pub fn meta(&self) -> Arc<IndexMeta> {
        self.meta.read().expect("not poisoned").clone()
    }

    /// The current mapping context.
    pub fn context(&self) -> Arc<IndexContext> {
        self.context.read().expect("not poisoned").clone()
    }

    /// The shards.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// Changes the metadata (aliases, settings) and persists it.
    pub fn update_meta(&self, change: impl FnOnce(&mut IndexMeta) -> Result<(), EsError>) -> Result<(), EsError> {
        let mut meta = self.meta.write().expect("not poisoned");
        let mut updated = IndexMeta::clone(&meta);
        change(&mut updated)?;
        persist(&self.dir, &updated)?;
        *meta = Arc::new(updated);
        Ok(())
    }

    /// The shard a document goes to.
    pub fn shard_of(&self, id: &str, routing: Option<&str>) -> usize {
        let key = routing.unwrap_or(id);
        imdb_model::partition_for_key(key.as_bytes(), self.shards.len() as i32) as usize
    }

    /// Merges a mapping update: the schema changes, shards are rebuilt.
    pub fn put_mapping(&self, update: &Value) -> Result<(), EsError> {
        let _exclusive = self.gate.write().expect("not poisoned");
        self.apply_mapping(update)
    }

    fn apply_mapping(&self, update: &Value) -> Result<(), EsError> {
        let mut meta = IndexMeta::clone(&self.meta());
        meta::merge_mappings(&mut meta.mappings, update)?;
        let context = IndexContext::new(&meta)?;
        let changed = context.schema.schema != self.context().schema.schema;
        if changed {
            for shard in &self.shards {
                shard.rebuild(&context)?;
            }
        }
        persist(&self.dir, &meta)?;
        *self.meta.write().expect("not poisoned") = Arc::new(meta);
        *self.context.write().expect("not poisoned") = Arc::new(context);
        Ok(())
    }

    /// Applies writes; results in input order. Returns only once the
    /// successful ones are durable.
    pub fn write(&self, writes: Vec<DocWrite>) -> Vec<Result<Written, EsError>> {
        // Each round adds the fields the sources bring; a second round finds
        // none. The bound only guards against a mapping that never settles.
        for _ in 0..4 {
            let gate = self.gate.read().expect("not poisoned");
            let context = self.context();
            match self.pending_mapping(&context, &writes) {
                Ok(Pending { update: None, refused }) => return self.write_under(&context, writes, refused),
                Ok(Pending { update: Some(_), .. }) => {
                    drop(gate);
                    let _exclusive = self.gate.write().expect("not poisoned");
                    // Another writer may have added the same fields meanwhile.
                    if let Ok(Pending { update: Some(update), .. }) = self.pending_mapping(&self.context(), &writes)
                        && let Err(e) = self.apply_mapping(&update)
                    {
                        return writes.iter().map(|_| Err(e.clone())).collect();
                    }
                }
                Err(e) => return writes.iter().map(|_| Err(e.clone())).collect(),
            }
        }
        let e = EsError::internal("dynamic mapping did not settle after four updates");
        writes.iter().map(|_| Err(e.clone())).collect()
    }

    /// The fields the sources would add, as one mapping update, and per
    /// write the error that refuses it (`dynamic: strict`, a field whose
    /// type would change): each source is walked once, and the mapping is
    /// copied only when some source adds a field.
    fn pending_mapping(&self, context: &IndexContext, writes: &[DocWrite]) -> Result<Pending, EsError> {
        let mut grown: Option<(Value, Mapping)> = None;
        let mut refused: Vec<Option<EsError>> = Vec::with_capacity(writes.len());
        for write in writes {
            let DocWrite::Index { source, .. } = write else {
                refused.push(None);
                continue;
            };
            let mapping = grown.as_ref().map_or(&context.mapping, |(_, m)| m);
            let update = match crate::mapping::document::dynamic_update(source, mapping) {
                Ok(Some(update)) => update,
                Ok(None) => {
                    refused.push(None);
                    continue;
                }
                Err(e) => {
                    refused.push(Some(e));
                    continue;
                }
            };
            let mut json = grown.as_ref().map_or_else(|| self.meta().mappings.clone(), |(j, _)| j.clone());
            match meta::merge_mappings(&mut json, &update) {
                Ok(()) => {
                    let parsed = Mapping::parse(&json)?;
                    grown = Some((json, parsed));
                    refused.push(None);
                }
                Err(e) => refused.push(Some(e)),
            }
        }
        Ok(Pending { update: grown.map(|(json, _)| json), refused })
    }

    /// Writes under a mapping that knows every field of the sources;
    /// `refused` holds the per-write errors [`Self::pending_mapping`] found.
    fn write_under(
        &self,
        context: &IndexContext,
        writes: Vec<DocWrite>,
        refused: Vec<Option<EsError>>,
    ) -> Vec<Result<Written, EsError>> {
        let mut results: Vec<Option<Result<Written, EsError>>> = refused.into_iter().map(|e| e.map(Err)).collect();
        let mut per_shard: BTreeMap<usize, (Vec<usize>, Vec<Write>)> = BTreeMap::new();
        for (i, write) in writes.into_iter().enumerate() {
            if results[i].is_some() {
                continue;
            }
            let shard = self.shard_of(write.id(), write.routing());
            let built = match write {
                DocWrite::Index { id, source, routing, conditions } => {
                    match crate::mapping::document::build(
                        &id,
                        &source,
                        &context.mapping,
                        &context.schema,
                        &context.analyzers,
                    ) {
                        Ok(parsed) => {
                            let text = Value::Object(source).to_string();
                            Write::Index { id, source: text, routing, doc: parsed.doc, conditions }
                        }
                        Err(e) => {
                            results[i] = Some(Err(e));
                            continue;
                        }
                    }
                }
                DocWrite::Delete { id, conditions, .. } => Write::Delete { id, conditions },
            };
            let entry = per_shard.entry(shard).or_default();
            entry.0.push(i);
            entry.1.push(built);
        }
        let mut to_sync = Vec::new();
        for (shard, (positions, shard_writes)) in per_shard {
            match self.shards[shard].apply(context, shard_writes) {
                Ok((shard_results, position)) => {
                    to_sync.push((shard, position, positions.clone()));
                    for (i, r) in positions.into_iter().zip(shard_results) {
                        results[i] = Some(r.map(|w| Written { shard, ..w }));
                    }
                }
                Err(e) => {
                    for i in positions {
                        results[i] = Some(Err(e.clone()));
                    }
                }
            }
        }
        for (shard, position, positions) in to_sync {
            if let Err(e) = self.shards[shard].sync(position) {
                tracing::error!(index = %context.name, shard, error = %e, "translog sync failed");
                for i in positions {
                    results[i] = Some(Err(e.clone()));
                }
            }
        }
        results.into_iter().map(|r| r.expect("every item has a result")).collect()
    }

    /// Realtime get by id.
    pub fn get(&self, id: &str, routing: Option<&str>) -> Result<Option<StoredDoc>, EsError> {
        let context = self.context();
        self.shards[self.shard_of(id, routing)].get(&context, id)
    }

    /// Makes every write so far searchable.
    pub fn refresh(&self) -> Result<(), EsError> {
        let _shared = self.gate.read().expect("not poisoned");
        for shard in &self.shards {
            shard.refresh()?;
        }
        *self.last_refresh.lock().expect("not poisoned") = Instant::now();
        Ok(())
    }

    /// Merges each shard down to `max_segments` segments (`_forcemerge`).
    pub fn force_merge(&self, max_segments: usize) -> Result<(), EsError> {
        let _shared = self.gate.read().expect("not poisoned");
        for shard in &self.shards {
            shard.force_merge(max_segments)?;
        }
        Ok(())
    }

    /// Merges each shard that has been quiet for `idle` into one segment
    /// (see `shard/merge.rs`); how many merged.
    pub fn merge_if_idle(&self, idle: Duration) -> Result<usize, EsError> {
        let _shared = self.gate.read().expect("not poisoned");
        let mut merged = 0;
        for shard in &self.shards {
            merged += usize::from(shard.merge_if_idle(idle)?);
        }
        Ok(merged)
    }

    /// Refreshes one shard (`refresh=true` on a write).
    pub fn refresh_shard(&self, shard: usize) -> Result<(), EsError> {
        let _shared = self.gate.read().expect("not poisoned");
        self.shards.get(shard).map_or(Ok(()), Shard::refresh)
    }

    /// The `refresh_interval` (`None`: `-1`, refreshes only on request).
    pub fn refresh_interval(&self) -> Option<Duration> {
        let meta = self.meta.read().expect("not poisoned");
        match meta.settings.get("refresh_interval") {
            None => Some(Duration::from_secs(1)),
            Some(v) => crate::mapping::meta::parse_interval(v).unwrap_or(Some(Duration::from_secs(1))),
        }
    }

    /// Refreshes if the interval has passed and there is something to show.
    pub fn refresh_if_due(&self) -> Result<(), EsError> {
        let Some(interval) = self.refresh_interval() else { return Ok(()) };
        let due = self.last_refresh.lock().expect("not poisoned").elapsed() >= interval;
        if due && self.shards.iter().any(Shard::is_dirty) {
            self.refresh()?;
        }
        Ok(())
    }

    /// Waits until the writes made so far are searchable
    /// (`refresh=wait_for`): by the scheduled refresh, or by one of its own
    /// when the index never refreshes by itself.
    pub fn wait_for_refresh(&self) -> Result<(), EsError> {
        let Some(interval) = self.refresh_interval() else { return self.refresh() };
        for shard in &self.shards {
            let seen = shard.refresh_count();
            if shard.is_dirty() && !shard.wait_for_refresh(seen, interval * 2 + Duration::from_secs(1)) {
                shard.refresh()?;
            }
        }
        Ok(())
    }

    /// Documents visible to search, over all shards.
    pub fn doc_count(&self) -> u64 {
        self.shards.iter().map(Shard::doc_count).sum()
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.shards.iter().map(Shard::size_bytes).sum()
    }

    /// Whether the index was deleted (the handle outlived it).
    pub fn is_destroyed(&self) -> bool {
        self.destroyed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Closes the shards and deletes the index folder (the handle must not
    /// be used after).
    pub fn destroy(&self) -> Result<(), EsError> {
        let _exclusive = self.gate.write().expect("not poisoned");
        self.destroyed.store(true, std::sync::atomic::Ordering::Relaxed);
        for shard in &self.shards {
            shard.close();
        }
        Ok(fs::remove_dir_all(&self.dir)?)
    }
}

fn persist(dir: &Path, meta: &IndexMeta) -> Result<(), EsError> {
    let bytes = serde_json::to_vec_pretty(meta).map_err(|e| EsError::internal(e.to_string()).caused_by(e))?;
    Ok(crate::util::write_atomically(dir, META_FILE, &bytes)?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ErrorKind;
    use crate::storage::shard::WriteResult;

    fn create(dir: &Path, shards: u64, mappings: Value) -> IndexHandle {
        let meta = IndexMeta {
            name: "movies".into(),
            uuid: "uuid".into(),
            creation_date: 0,
            settings: meta::parse_settings(Some(&json!({ "number_of_shards": shards }))).unwrap(),
            mappings,
            aliases: BTreeMap::new(),
        };
        IndexHandle::create(&dir.join("movies"), meta).unwrap()
    }

    fn put(id: &str, source: Value) -> DocWrite {
        DocWrite::Index {
            id: id.into(),
            source: source.as_object().unwrap().clone(),
            routing: None,
            conditions: Conditions::default(),
        }
    }

    #[test]
    fn results_come_back_in_input_order_from_the_routed_shards() {
        let dir = tempfile::tempdir().unwrap();
        let index = create(dir.path(), 3, json!({}));
        let ids: Vec<String> = (0..12).map(|i| format!("tt{i:07}")).collect();
        let mut writes: Vec<DocWrite> = ids.iter().map(|id| put(id, json!({"n": 1}))).collect();
        // A create of a document written earlier in the same request fails
        // alone, in its place.
        writes.insert(
            5,
            DocWrite::Index {
                id: ids[0].clone(),
                source: Map::new(),
                routing: None,
                conditions: Conditions { create: true, ..Conditions::default() },
            },
        );
        let results = index.write(writes);
        assert_eq!(results.len(), 13);
        assert_eq!(results[5].as_ref().unwrap_err().kind, ErrorKind::VersionConflict);
        let written: Vec<&Written> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        for (id, w) in ids.iter().zip(&written) {
            assert_eq!((w.result, w.shard), (WriteResult::Created, index.shard_of(id, None)), "{id}");
        }
        assert!(written.iter().map(|w| w.shard).collect::<std::collections::BTreeSet<_>>().len() > 1);
        index.refresh().unwrap();
        assert_eq!(index.doc_count(), 12);
    }

    #[test]
    fn new_fields_grow_the_mapping_before_the_document_is_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let index = create(dir.path(), 2, json!({"properties": {"title": {"type": "text"}}}));
        index.write(vec![put("1", json!({"title": "Alien"}))]).pop().unwrap().unwrap();
        index.write(vec![put("2", json!({"title": "Heat", "year": 1995}))]).pop().unwrap().unwrap();
        assert_eq!(index.meta().mappings["properties"]["year"]["type"], "long");
        assert!(index.context().schema.fields.contains_key("year"), "the schema follows the mapping");
        index.refresh().unwrap();
        assert_eq!(index.doc_count(), 2, "documents written before the change survive the rebuild");
        let strict = create(&dir.path().join("strict"), 1, json!({"dynamic": "strict", "properties": {}}));
        let results = strict.write(vec![put("1", json!({})), put("2", json!({"year": 1995}))]);
        assert!(results[0].is_ok());
        assert_eq!(results[1].as_ref().unwrap_err().kind, ErrorKind::StrictDynamicMapping);
    }

    #[test]
    fn a_reopened_index_has_its_metadata_and_every_acknowledged_write() {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = create(dir.path(), 2, json!({}));
            index.write(vec![put("1", json!({"title": "Alien", "year": 1979}))]).pop().unwrap().unwrap();
        }
        let index = IndexHandle::open(&dir.path().join("movies")).unwrap();
        assert_eq!((index.name(), index.meta().shards()), ("movies".to_owned(), 2));
        assert_eq!(index.meta().mappings["properties"]["year"]["type"], "long");
        let doc = index.get("1", None).unwrap().expect("acknowledged, so durable");
        assert_eq!(serde_json::from_str::<Value>(&doc.source).unwrap()["year"], 1979);
    }
}

//! The node layer: the state of the whole node (indexes by name, aliases,
//! index templates, open search contexts) over the storage and search
//! layers. Request handling (`ops`, `http`) goes through [`Node`].
//!
//! This module itself: the node's state: the indexes it holds, found again in the data folder
//! after a restart, and the background refresh that makes writes
//! searchable every `refresh_interval`.
//!
//! Contract: an acknowledged metadata change (create, delete, mapping,
//! aliases) is on disk before the response: each index keeps its
//! `meta.json`, written to a temporary file, synced and renamed, so a crash
//! leaves either the old or the new metadata, never a torn file.

pub mod aliases;
pub mod names;
pub mod templates;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use self::aliases::{AliasAction, AliasState};
use self::templates::Templates;
use crate::error::EsError;
use crate::mapping::meta::{self, IndexMeta};
use crate::search::contexts::{Contexts, Limits};
use crate::storage::index::IndexHandle;

/// How often the refresher looks for indexes due for a refresh.
const REFRESH_TICK: Duration = Duration::from_millis(100);
/// How often the merger looks for quiet shards.
const MERGE_TICK: Duration = Duration::from_secs(2);

/// One node: its data folder and indexes.
#[derive(Debug)]
pub struct Node {
    data: PathBuf,
    indices: RwLock<BTreeMap<String, Arc<IndexHandle>>>,
    stopping: AtomicBool,
    /// Index templates.
    pub templates: Templates,
    /// Open scrolls and points in time.
    pub contexts: Contexts,
}

fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Node {
    /// Opens the node's data folder, loading every index found there.
    pub fn open(data: &Path) -> Result<Node, EsError> {
        let root = data.join("indices");
        fs::create_dir_all(&root)?;
        let mut indices = BTreeMap::new();
        for entry in fs::read_dir(&root)? {
            let dir = entry?.path();
            if !dir.join("meta.json").is_file() {
                // An index whose creation never completed.
                if dir.is_dir() {
                    fs::remove_dir_all(&dir)?;
                }
                continue;
            }
            let handle = IndexHandle::open(&dir)?;
            indices.insert(handle.name(), Arc::new(handle));
        }
        tracing::info!(data = %data.display(), indices = indices.len(), "node opened");
        Ok(Node {
            data: data.to_path_buf(),
            indices: RwLock::new(indices),
            stopping: AtomicBool::new(false),
            templates: Templates::open(data)?,
            contexts: Contexts::default(),
        })
    }

    /// The node with these bounds on open scrolls and points in time.
    pub fn with_context_limits(mut self, limits: Limits) -> Node {
        self.contexts = Contexts::new(limits);
        self
    }

    /// Starts the background refresher, which also drops expired scrolls
    /// and points in time; it stops when the node is dropped.
    pub fn start_refresher(self: &Arc<Node>) {
        self.every("refresher", REFRESH_TICK, |node| {
            for index in node.all_handles() {
                if let Err(e) = index.refresh_if_due() {
                    tracing::error!(index = %index.name(), error = %e, "scheduled refresh failed");
                }
            }
            let reaped = node.contexts.reap();
            if reaped > 0 {
                tracing::debug!(contexts = reaped, "expired search contexts dropped");
            }
        });
    }

    /// Starts the merger, which merges a shard into one segment once it has
    /// had no write for `idle` (see `storage/shard/merge.rs`); it stops
    /// when the node is dropped. Its own thread: a merge of a big shard
    /// takes seconds, which must not hold up the refresher.
    pub fn start_merger(self: &Arc<Node>, idle: Duration) {
        self.every("merger", MERGE_TICK, move |node| {
            for index in node.all_handles() {
                let started = std::time::Instant::now();
                match index.merge_if_idle(idle) {
                    Ok(0) => {}
                    Ok(shards) => tracing::info!(
                        index = %index.name(),
                        shards,
                        ms = started.elapsed().as_millis() as u64,
                        "quiet shards merged into one segment"
                    ),
                    // Tried again on a later tick.
                    Err(e) => tracing::warn!(index = %index.name(), error = %e, "idle merge failed"),
                }
            }
        });
    }

    /// Runs `job` on a thread of its own every `tick` until the node stops
    /// or is dropped (the thread holds it only while the job runs).
    fn every(self: &Arc<Node>, name: &str, tick: Duration, job: impl Fn(&Node) + Send + 'static) {
        let node: Weak<Node> = Arc::downgrade(self);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while let Some(node) = node.upgrade() {
                    if node.stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    job(&node);
                    drop(node);
                    std::thread::sleep(tick);
                }
            })
            .expect("thread starts");
    }

    /// Stops the refresher and refreshes every index (a clean shutdown
    /// leaves nothing to replay).
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        for index in self.all_handles() {
            if let Err(e) = index.refresh() {
                tracing::error!(index = %index.name(), error = %e, "final refresh failed");
            }
        }
    }

    fn index_dir(&self, name: &str) -> PathBuf {
        self.data.join("indices").join(name)
    }

    /// Resolves an index expression to existing index names.
    pub fn resolve(&self, expression: &str, ignore_unavailable: bool) -> Result<Vec<String>, EsError> {
        let indices = self.indices.read().expect("not poisoned");
        let metas: Vec<Arc<IndexMeta>> = indices.values().map(|h| h.meta()).collect();
        let names: Vec<&str> = metas.iter().map(|m| m.name.as_str()).collect();
        let aliases: Vec<(&str, &str)> =
            metas.iter().flat_map(|m| m.aliases.keys().map(move |a| (a.as_str(), m.name.as_str()))).collect();
        names::resolve(expression, &names, &aliases, ignore_unavailable)
    }

    /// The open index of that exact name.
    pub fn handle(&self, name: &str) -> Result<Arc<IndexHandle>, EsError> {
        self.indices.read().expect("not poisoned").get(name).cloned().ok_or_else(|| EsError::index_not_found(name))
    }

    /// The indexes an expression names.
    pub fn handles(&self, expression: &str, ignore_unavailable: bool) -> Result<Vec<Arc<IndexHandle>>, EsError> {
        let names = self.resolve(expression, ignore_unavailable)?;
        let indices = self.indices.read().expect("not poisoned");
        Ok(names.iter().filter_map(|n| indices.get(n).cloned()).collect())
    }

    /// Every open index.
    pub fn all_handles(&self) -> Vec<Arc<IndexHandle>> {
        self.indices.read().expect("not poisoned").values().cloned().collect()
    }

    /// The index a write to `target` goes to: the index itself, or the
    /// write index of an alias; `None` if nothing has that name yet.
    pub fn write_target(&self, target: &str) -> Result<Option<Arc<IndexHandle>>, EsError> {
        let indices = self.indices.read().expect("not poisoned");
        if let Some(handle) = indices.get(target) {
            return Ok(Some(handle.clone()));
        }
        let members: Vec<(&Arc<IndexHandle>, Arc<IndexMeta>)> =
            indices.values().map(|h| (h, h.meta())).filter(|(_, m)| m.aliases.contains_key(target)).collect();
        match members.len() {
            0 => Ok(None),
            1 if members[0].1.aliases[target].get("is_write_index") != Some(&json!(false)) => Ok(Some(members[0].0.clone())),
            _ => members
                .iter()
                .find(|(_, m)| m.aliases[target].get("is_write_index") == Some(&json!(true)))
                .map(|(h, _)| Some((*h).clone()))
                .ok_or_else(|| {
                    EsError::illegal_argument(format!(
                        "no write index is defined for alias [{target}]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index"
                    ))
                }),
        }
    }

    /// Whether a name is an alias of some index.
    pub fn is_alias(&self, name: &str) -> bool {
        self.all().iter().any(|m| m.aliases.contains_key(name))
    }

    /// Creates an index from a create-index body, under the matching index
    /// template.
    pub fn create(&self, name: &str, body: &Value) -> Result<Arc<IndexHandle>, EsError> {
        names::validate(name)?;
        let Value::Object(own) = body else { return Err(EsError::parsing("request body must be an object")) };
        if let Some(unknown) = own.keys().find(|k| !matches!(k.as_str(), "settings" | "mappings" | "aliases")) {
            return Err(EsError::parsing(format!("unknown key [{unknown}] for create index")));
        }
        let body = self.templates.apply(name, body)?;
        let Value::Object(body) = &body else { return Err(EsError::parsing("request body must be an object")) };
        if let Some(unknown) = body.keys().find(|k| !matches!(k.as_str(), "settings" | "mappings" | "aliases")) {
            return Err(EsError::parsing(format!("unknown key [{unknown}] for create index")));
        }
        let settings = meta::parse_settings(body.get("settings"))?;
        let mappings = meta::strip_type(body.get("mappings").cloned().unwrap_or_else(|| json!({})))?;
        let aliases: BTreeMap<String, Value> = match body.get("aliases") {
            None => BTreeMap::new(),
            Some(Value::Object(a)) => a
                .iter()
                .map(|(k, v)| {
                    let def = aliases::definition(v.as_object().unwrap_or(&serde_json::Map::new()))?;
                    Ok((k.clone(), Value::Object(def)))
                })
                .collect::<Result<_, EsError>>()?,
            Some(_) => return Err(EsError::parsing("[aliases] must be an object")),
        };
        let mut indices = self.indices.write().expect("not poisoned");
        if indices.contains_key(name) {
            return Err(EsError::index_exists(name));
        }
        if let Some(clash) = indices.values().find(|h| h.meta().aliases.contains_key(name)) {
            return Err(EsError::invalid_index_name(name, &format!("already exists as alias of [{}]", clash.name())));
        }
        if let Some(alias) = aliases.keys().find(|a| indices.contains_key(*a) || *a == name) {
            return Err(EsError::invalid_alias_name(
                alias,
                "an index or data stream exists with the same name as the alias",
            ));
        }
        let meta = IndexMeta {
            name: name.to_owned(),
            uuid: crate::util::new_uuid(),
            creation_date: now_millis(),
            settings,
            mappings,
            aliases,
        };
        let dir = self.index_dir(name);
        let handle = match IndexHandle::create(&dir, meta) {
            Ok(h) => Arc::new(h),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        indices.insert(name.to_owned(), handle.clone());
        tracing::info!(index = name, "index created");
        Ok(handle)
    }

    /// Deletes the indexes an expression names; returns their names.
    pub fn delete(&self, expression: &str, ignore_unavailable: bool) -> Result<Vec<String>, EsError> {
        let names = self.resolve(expression, ignore_unavailable)?;
        let mut indices = self.indices.write().expect("not poisoned");
        for name in &names {
            if let Some(handle) = indices.remove(name) {
                handle.destroy()?;
                tracing::info!(index = %name, "index deleted");
            }
        }
        Ok(names)
    }

    /// The metadata of the indexes an expression names.
    pub fn get(&self, expression: &str, ignore_unavailable: bool) -> Result<Vec<Arc<IndexMeta>>, EsError> {
        Ok(self.handles(expression, ignore_unavailable)?.iter().map(|h| h.meta()).collect())
    }

    /// Merges a mapping into every index an expression names.
    pub fn put_mapping(&self, expression: &str, mapping: &Value) -> Result<(), EsError> {
        if mapping.as_object().is_some_and(|m| m.len() == 1 && m.contains_key("_doc")) {
            return Err(EsError::illegal_argument("Types cannot be provided in put mapping requests"));
        }
        let mapping = meta::strip_type(mapping.clone())?;
        let handles = self.handles(expression, false)?;
        // All or nothing where it can be checked up front.
        for handle in &handles {
            let mut merged = handle.meta().mappings.clone();
            meta::merge_mappings(&mut merged, &mapping)?;
            crate::mapping::Mapping::parse(&merged)?;
        }
        for handle in handles {
            handle.put_mapping(&mapping)?;
        }
        Ok(())
    }

    /// Applies alias actions atomically: all are checked (see
    /// [`aliases::apply`]) before any index metadata is written.
    pub fn update_aliases(&self, actions: &[AliasAction]) -> Result<(), EsError> {
        let mut state: AliasState = self.all().into_iter().map(|m| (m.name.clone(), m.aliases.clone())).collect();
        let removed_indices = aliases::apply(&mut state, actions, |expression| self.resolve(expression, false))?;
        for index in &removed_indices {
            self.delete(index, true)?;
        }
        for handle in self.all_handles() {
            if let Some(aliases) = state.remove(&handle.name())
                && aliases != handle.meta().aliases
            {
                handle.update_meta(|m| {
                    m.aliases = aliases;
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// Aliases matching a pattern on indexes matching an expression:
    /// `index -> alias -> definition`.
    pub fn aliases(
        &self,
        indices: &str,
        names: Option<&str>,
    ) -> Result<BTreeMap<String, BTreeMap<String, Value>>, EsError> {
        let mut out = BTreeMap::new();
        for meta in self.get(indices, false)? {
            let aliases: BTreeMap<String, Value> = meta
                .aliases
                .iter()
                .filter(|(a, _)| names.is_none_or(|n| n.split(',').any(|p| aliases::matches_alias(p, a))))
                .map(|(a, v)| (a.clone(), v.clone()))
                .collect();
            out.insert(meta.name.clone(), aliases);
        }
        Ok(out)
    }

    /// Every index's metadata.
    pub fn all(&self) -> Vec<Arc<IndexMeta>> {
        self.all_handles().iter().map(|h| h.meta()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_survive_a_restart_and_deletes_are_final() {
        let dir = tempfile::tempdir().unwrap();
        {
            let node = Node::open(dir.path()).unwrap();
            node.create("movies", &json!({"settings": {"number_of_shards": 2}, "aliases": {"films": {}}})).unwrap();
            node.create("people", &json!({})).unwrap();
            assert_eq!(node.create("movies", &json!({})).unwrap_err().es_type(), "resource_already_exists_exception");
            node.put_mapping("movies", &json!({"properties": {"title": {"type": "text"}}})).unwrap();
            node.delete("people", false).unwrap();
        }
        let node = Node::open(dir.path()).unwrap();
        let all = node.all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].shards(), 2);
        assert_eq!(all[0].mappings["properties"]["title"]["type"], "text");
        assert_eq!(node.resolve("films", false).unwrap(), ["movies"]);
        assert_eq!(node.resolve("people", false).unwrap_err().es_type(), "index_not_found_exception");
    }
}

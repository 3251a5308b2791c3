//! One shard: a tantivy index, its translog, and the live version map.
//!
//! Contract:
//! - Writes are applied under the shard's writer lock, in the order they
//!   arrive: each gets the next sequence number, its version, and is
//!   appended to the translog. The caller acknowledges only after
//!   [`Shard::sync`], so an acknowledged write survives `kill -9`.
//! - Writes become searchable at the next [`Shard::refresh`], which is a
//!   tantivy commit (the translog rolls first and is trimmed after, so the
//!   commit plus the newer translog always hold every acknowledged write).
//!   The live version map keeps the version of every write since the last
//!   refresh (deletes for 60 s, as Elasticsearch's `index.gc_deletes`, so
//!   versions keep growing); a realtime get of such a document refreshes
//!   the shard first, so sources are never held in memory twice.
//! - The commit payload records the highest sequence number it holds; at
//!   start, translog operations above it are replayed, the others skipped,
//!   so a replay never applies a write twice.
//! - A mapping that gains fields changes the tantivy schema: the shard is
//!   rebuilt from `_source` into a new generation folder, which replaces
//!   the old one atomically (`CURRENT` names it).

mod merge;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use serde_json::Value;
use tantivy::schema::IndexRecordOption;
use tantivy::schema::document::Value as _;
use tantivy::{
    DocAddress, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TERMINATED, TantivyDocument, Term,
};

use crate::error::EsError;
use crate::mapping::context::IndexContext;
use crate::storage::columns::{ColumnCache, MetaColumns};
use crate::storage::translog::{Op, Translog};

/// How long deletes are remembered for versioning.
const GC_DELETES: Duration = Duration::from_secs(60);
/// Indexing memory per shard writer.
const WRITER_HEAP: usize = 48 << 20;

/// A document as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDoc {
    /// Document id.
    pub id: String,
    /// The source JSON text.
    pub source: Arc<str>,
    /// Version.
    pub version: u64,
    /// Sequence number of the write that made it.
    pub seq_no: u64,
    /// Custom routing.
    pub routing: Option<String>,
}

/// A write since the last refresh (or a delete younger than
/// [`GC_DELETES`]): enough for versioning, not the source, so memory stays
/// small between refreshes; a realtime get of such a document refreshes its
/// shard first, as Elasticsearch does.
#[derive(Debug, Clone)]
struct Live {
    /// `false` for a delete.
    exists: bool,
    version: u64,
    seq_no: u64,
    at: Instant,
}

/// How a write checks the current version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    /// `if_seq_no` (with `if_primary_term`).
    pub if_seq_no: Option<(u64, u64)>,
    /// External version (`version_type=external`, or `external_gte` when
    /// the flag is set).
    pub external: Option<(u64, bool)>,
    /// `op_type=create`: fail if the document exists.
    pub create: bool,
}

/// A write to apply.
#[derive(Debug)]
pub enum Write {
    /// Index a document whose indexed part is already built.
    Index { id: String, source: String, routing: Option<String>, doc: TantivyDocument, conditions: Conditions },
    /// Delete a document.
    Delete { id: String, conditions: Conditions },
}

/// What a write did to its document, serialised as Elasticsearch's
/// `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteResult {
    /// A new document.
    Created,
    /// A document replaced.
    Updated,
    /// A document deleted.
    Deleted,
    /// An update that changed nothing, so was not written.
    #[serde(rename = "noop")]
    NoOp,
    /// A delete of a missing document (still a write: it takes a sequence
    /// number and a version).
    NotFound,
}

impl WriteResult {
    /// The item status Elasticsearch gives a write with this result.
    pub fn status(self) -> StatusCode {
        match self {
            WriteResult::Created => StatusCode::CREATED,
            WriteResult::NotFound => StatusCode::NOT_FOUND,
            WriteResult::Updated | WriteResult::Deleted | WriteResult::NoOp => StatusCode::OK,
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// What happened to the document.
    pub result: WriteResult,
    /// The document's version after the write.
    pub version: u64,
    /// The write's sequence number.
    pub seq_no: u64,
    /// The shard written (set by the index).
    pub shard: usize,
}

struct State {
    index: Index,
    /// `None` once the shard is closed (its index being deleted).
    writer: Option<IndexWriter>,
    reader: IndexReader,
    live: HashMap<String, Live>,
    next_seq_no: u64,
    dirty: bool,
    /// When a write last came (or the shard opened), for idle merging.
    last_write: Instant,
    /// Merged into one segment since the last write (`merge`).
    merged: bool,
    generation: u64,
}

/// One shard of an index.
pub struct Shard {
    dir: PathBuf,
    state: Mutex<State>,
    /// The searcher of the last refresh, with the columns opened on it.
    searcher: RwLock<(Searcher, Arc<ColumnCache>)>,
    translog: Translog,
    refreshes: Mutex<u64>,
    refreshed: Condvar,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn generation_dir(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("gen-{generation}"))
}

fn read_current(dir: &Path) -> u64 {
    fs::read_to_string(dir.join("CURRENT")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn open_tantivy(dir: &Path, ctx: &IndexContext) -> Result<Index, EsError> {
    fs::create_dir_all(dir)?;
    let mut index = if dir.join("meta.json").exists() {
        Index::open_in_dir(dir)?
    } else {
        Index::create_in_dir(dir, ctx.schema.schema.clone())?
    };
    index.set_tokenizers(ctx.tokenizers());
    Ok(index)
}

/// A shard's tantivy writer: one indexing thread, [`WRITER_HEAP`], and the
/// shard merge policy ([`merge::policy`]).
fn new_writer(index: &Index) -> Result<IndexWriter, EsError> {
    let writer = index.writer_with_num_threads(1, WRITER_HEAP)?;
    writer.set_merge_policy(merge::policy());
    Ok(writer)
}

fn committed_seq_no(index: &Index) -> Result<Option<u64>, EsError> {
    let payload = index.load_metas()?.payload;
    Ok(payload.and_then(|p| serde_json::from_str::<Value>(&p).ok()?.get("max_seq_no")?.as_u64()))
}

fn id_term(ctx: &IndexContext, id: &str) -> Term {
    Term::from_field_text(ctx.schema.meta.id, id)
}

/// The live document with that id in a searcher.
fn find(searcher: &Searcher, term: &Term) -> Result<Option<DocAddress>, EsError> {
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let inverted = segment.inverted_index(term.field())?;
        let Some(mut postings) = inverted.read_postings(term, IndexRecordOption::Basic)? else { continue };
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if segment.alive_bitset().is_none_or(|alive| alive.is_alive(doc)) {
                return Ok(Some(DocAddress::new(ord as u32, doc)));
            }
            doc = postings.advance();
        }
    }
    Ok(None)
}

/// Reads a stored document at an address.
pub fn load(searcher: &Searcher, ctx: &IndexContext, address: DocAddress) -> Result<StoredDoc, EsError> {
    let meta = MetaColumns::open(searcher.segment_reader(address.segment_ord))?;
    load_with(searcher, ctx, address, &meta)
}

/// Reads a stored document at an address, its metadata from `meta` (the
/// columns of its segment, opened once for many documents).
pub fn load_with(
    searcher: &Searcher,
    ctx: &IndexContext,
    address: DocAddress,
    meta: &MetaColumns,
) -> Result<StoredDoc, EsError> {
    let version = meta.version.first(address.doc_id).unwrap_or(1);
    let seq_no = meta.seq_no.first(address.doc_id).unwrap_or(0);
    let doc: TantivyDocument = searcher.doc(address)?;
    let source = doc.get_first(ctx.schema.meta.source).and_then(|v| v.as_bytes()).unwrap_or(b"{}");
    let source = String::from_utf8_lossy(source).into();
    let routing = doc.get_first(ctx.schema.meta.routing).and_then(|v| v.as_str()).map(str::to_owned);
    let id = meta.id.as_ref().map(|c| id_of(c, address.doc_id)).transpose()?.flatten().unwrap_or_default();
    Ok(StoredDoc { id, source, version, seq_no, routing })
}

/// The `_id` of a document of a segment.
pub fn doc_id(segment: &tantivy::SegmentReader, doc: tantivy::DocId) -> Result<Option<String>, EsError> {
    let Some(column) = segment.fast_fields().str("_id")? else { return Ok(None) };
    id_of(&column, doc)
}

fn id_of(column: &tantivy::columnar::StrColumn, doc: tantivy::DocId) -> Result<Option<String>, EsError> {
    let mut out = String::new();
    match column.term_ords(doc).next() {
        Some(ord) if column.ord_to_str(ord, &mut out)? => Ok(Some(out)),
        _ => Ok(None),
    }
}

/// A document's metadata fields, as [`add_doc`] writes them beside its
/// indexed part.
#[derive(Debug, Clone, Copy)]
struct DocMeta<'a> {
    id: &'a str,
    source: &'a str,
    routing: Option<&'a str>,
    version: u64,
    seq_no: u64,
}

impl<'a> From<&'a StoredDoc> for DocMeta<'a> {
    fn from(stored: &'a StoredDoc) -> DocMeta<'a> {
        DocMeta {
            id: &stored.id,
            source: &stored.source,
            routing: stored.routing.as_deref(),
            version: stored.version,
            seq_no: stored.seq_no,
        }
    }
}

/// Replaces the document with that id by `doc` plus its metadata fields.
fn add_doc(writer: &IndexWriter, ctx: &IndexContext, m: DocMeta, mut doc: TantivyDocument) -> Result<(), EsError> {
    let meta = ctx.schema.meta;
    doc.add_text(meta.id, m.id);
    doc.add_bytes(meta.source, m.source.as_bytes());
    doc.add_u64(meta.version, m.version);
    doc.add_u64(meta.seq_no, m.seq_no);
    if let Some(routing) = m.routing {
        doc.add_text(meta.routing, routing);
    }
    writer.delete_term(id_term(ctx, m.id));
    writer.add_document(doc)?;
    Ok(())
}

/// The indexed part of a stored source under the context's mapping. A
/// source that no longer fits (it was indexed under an older mapping) keeps
/// only its metadata, as `ignore_malformed` would.
fn rebuild_doc(ctx: &IndexContext, id: &str, source: &str) -> TantivyDocument {
    let parsed: serde_json::Map<String, Value> = serde_json::from_str(source).unwrap_or_default();
    match crate::mapping::document::build(id, &parsed, &ctx.mapping, &ctx.schema, &ctx.analyzers) {
        Ok(p) => p.doc,
        Err(e) => {
            tracing::warn!(index = %ctx.name, id, error = %e, "stored source no longer fits the mapping");
            TantivyDocument::new()
        }
    }
}

impl State {
    fn writer(&self) -> Result<&IndexWriter, EsError> {
        self.writer.as_ref().ok_or_else(EsError::index_closed)
    }

    fn current(&self, searcher: &Searcher, ctx: &IndexContext, id: &str) -> Result<Option<Live>, EsError> {
        if let Some(live) = self.live.get(id) {
            return Ok(Some(live.clone()));
        }
        let Some(address) = find(searcher, &id_term(ctx, id))? else { return Ok(None) };
        let fast = searcher.segment_reader(address.segment_ord).fast_fields();
        let version = fast.u64("_version")?.first(address.doc_id).unwrap_or(1);
        let seq_no = fast.u64("_seq_no")?.first(address.doc_id).unwrap_or(0);
        Ok(Some(Live { exists: true, version, seq_no, at: Instant::now() }))
    }
}

fn check(index: &str, id: &str, current: Option<&Live>, c: &Conditions) -> Result<(), EsError> {
    let exists = current.is_some_and(|l| l.exists);
    if let Some((seq_no, term)) = c.if_seq_no {
        let matches = current.filter(|l| l.exists).is_some_and(|l| l.seq_no == seq_no) && term == 1;
        if !matches {
            let found = match current.filter(|l| l.exists) {
                Some(l) => format!("current document has seqNo [{}] and primary term [1]", l.seq_no),
                None => "but no document was found".to_owned(),
            };
            return Err(EsError::version_conflict(
                index,
                format!("[{id}]: version conflict, required seqNo [{seq_no}], primary term [{term}]. {found}"),
            ));
        }
    }
    if let Some((version, gte)) = c.external {
        let current_version = current.map(|l| l.version);
        if let Some(cur) = current_version
            && (version < cur || (version == cur && !gte))
        {
            return Err(EsError::version_conflict(
                index,
                format!(
                    "[{id}]: version conflict, current version [{cur}] is higher or equal to the one provided [{version}]"
                ),
            ));
        }
    }
    if c.create && exists {
        let version = current.map_or(0, |l| l.version);
        return Err(EsError::version_conflict(
            index,
            format!("[{id}]: version conflict, document already exists (current version [{version}])"),
        ));
    }
    Ok(())
}

impl Shard {
    /// Opens (or creates) the shard in `dir`, replaying its translog.
    pub fn open(dir: &Path, ctx: &IndexContext) -> Result<Shard, EsError> {
        fs::create_dir_all(dir)?;
        let generation = read_current(dir);
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let stale = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("gen-"))
                .and_then(|g| g.parse::<u64>().ok());
            if stale.is_some_and(|g| g != generation) {
                fs::remove_dir_all(&path)?;
            }
        }
        let index = open_tantivy(&generation_dir(dir, generation), ctx)?;
        let writer = new_writer(&index)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let committed = committed_seq_no(&index)?;
        let (translog, ops) = Translog::open(dir)?;
        let searcher = reader.searcher();
        let shard = Shard {
            dir: dir.to_path_buf(),
            searcher: RwLock::new((searcher, Arc::default())),
            state: Mutex::new(State {
                index,
                writer: Some(writer),
                reader,
                live: HashMap::new(),
                next_seq_no: committed.map_or(0, |s| s + 1),
                dirty: false,
                last_write: Instant::now(),
                merged: false,
                generation,
            }),
            translog,
            refreshes: Mutex::new(0),
            refreshed: Condvar::new(),
        };
        let replayed = shard.replay(ctx, ops, committed)?;
        if shard.schema_differs(ctx) {
            shard.rebuild(ctx)?;
        } else if replayed > 0 {
            shard.refresh()?;
        }
        tracing::info!(shard = %dir.display(), replayed, "shard opened");
        Ok(shard)
    }

    fn replay(&self, ctx: &IndexContext, ops: Vec<Op>, committed: Option<u64>) -> Result<usize, EsError> {
        let mut state = self.state.lock().expect("not poisoned");
        let mut replayed = 0;
        for op in ops.into_iter().filter(|op| committed.is_none_or(|c| op.seq_no() > c)) {
            state.next_seq_no = state.next_seq_no.max(op.seq_no() + 1);
            // Re-log the operation: the generation it came from is trimmed
            // at the next commit, which may not hold it if a later
            // rebuild fails.
            self.translog.append(std::slice::from_ref(&op))?;
            match op {
                Op::Index { id, seq_no, version, routing, source } => {
                    let doc = rebuild_doc(ctx, &id, &source);
                    let meta = DocMeta { id: &id, source: &source, routing: routing.as_deref(), version, seq_no };
                    add_doc(state.writer()?, ctx, meta, doc)?;
                    state.live.insert(id, Live { exists: true, version, seq_no, at: Instant::now() });
                }
                Op::Delete { id, seq_no, version } => {
                    state.writer()?.delete_term(id_term(ctx, &id));
                    state.live.insert(id, Live { exists: false, version, seq_no, at: Instant::now() });
                }
            }
            replayed += 1;
            state.dirty = true;
        }
        Ok(replayed)
    }

    fn schema_differs(&self, ctx: &IndexContext) -> bool {
        self.state.lock().expect("not poisoned").index.schema() != ctx.schema.schema
    }

    /// Applies writes in order; each gets its own result. Returns the
    /// translog position to [`Shard::sync`] before acknowledging.
    pub fn apply(
        &self,
        ctx: &IndexContext,
        writes: Vec<Write>,
    ) -> Result<(Vec<Result<Written, EsError>>, u64), EsError> {
        let mut state = self.state.lock().expect("not poisoned");
        let searcher = self.searcher();
        let mut results = Vec::with_capacity(writes.len());
        let mut ops = Vec::with_capacity(writes.len());
        for write in writes {
            let (id, conditions) = match &write {
                Write::Index { id, conditions, .. } | Write::Delete { id, conditions } => (id.clone(), conditions),
            };
            let current = state.current(&searcher, ctx, &id)?;
            if let Err(e) = check(&ctx.name, &id, current.as_ref(), conditions) {
                results.push(Err(e));
                continue;
            }
            let exists = current.as_ref().is_some_and(|l| l.exists);
            let next_version = match conditions.external {
                Some((v, _)) => v,
                None => current.as_ref().map_or(1, |l| l.version + 1),
            };
            let seq_no = state.next_seq_no;
            state.next_seq_no += 1;
            let written = match write {
                Write::Index { id, source, routing, doc, .. } => {
                    let meta = DocMeta {
                        id: &id,
                        source: &source,
                        routing: routing.as_deref(),
                        version: next_version,
                        seq_no,
                    };
                    add_doc(state.writer()?, ctx, meta, doc)?;
                    ops.push(Op::Index { id: id.clone(), seq_no, version: next_version, routing, source });
                    state.live.insert(id, Live { exists: true, version: next_version, seq_no, at: Instant::now() });
                    Written {
                        result: if exists { WriteResult::Updated } else { WriteResult::Created },
                        version: next_version,
                        seq_no,
                        shard: 0,
                    }
                }
                Write::Delete { id, .. } => {
                    // A delete of a missing document still takes a sequence
                    // number and a version, as in Elasticsearch.
                    state.writer()?.delete_term(id_term(ctx, &id));
                    ops.push(Op::Delete { id: id.clone(), seq_no, version: next_version });
                    state.live.insert(id, Live { exists: false, version: next_version, seq_no, at: Instant::now() });
                    Written {
                        result: if exists { WriteResult::Deleted } else { WriteResult::NotFound },
                        version: next_version,
                        seq_no,
                        shard: 0,
                    }
                }
            };
            state.dirty = true;
            state.last_write = Instant::now();
            state.merged = false;
            results.push(Ok(written));
        }
        let position = self.translog.append(&ops)?;
        Ok((results, position))
    }

    /// Makes writes up to `position` durable.
    pub fn sync(&self, position: u64) -> Result<(), EsError> {
        Ok(self.translog.sync(position)?)
    }

    /// Realtime get: the latest version of a document, refreshed or not.
    /// A document written since the last refresh makes the shard refresh
    /// first (Elasticsearch's realtime get does the same).
    pub fn get(&self, ctx: &IndexContext, id: &str) -> Result<Option<StoredDoc>, EsError> {
        let pending = match self.state.lock().expect("not poisoned").live.get(id) {
            Some(live) if !live.exists => return Ok(None),
            Some(_) => true,
            None => false,
        };
        if pending {
            self.refresh()?;
        }
        let searcher = self.searcher();
        find(&searcher, &id_term(ctx, id))?.map(|address| load(&searcher, ctx, address)).transpose()
    }

    /// The searcher of the last refresh.
    pub fn searcher(&self) -> Searcher {
        self.searcher.read().expect("not poisoned").0.clone()
    }

    /// The searcher of the last refresh and the cache of the columns
    /// opened on its segments (it lives as long as the searcher).
    pub fn generation(&self) -> (Searcher, Arc<ColumnCache>) {
        self.searcher.read().expect("not poisoned").clone()
    }

    /// Whether writes wait for a refresh.
    pub fn is_dirty(&self) -> bool {
        self.state.lock().expect("not poisoned").dirty
    }

    /// Commits to tantivy and makes every write so far searchable.
    pub fn refresh(&self) -> Result<(), EsError> {
        let mut state = self.state.lock().expect("not poisoned");
        if state.dirty && state.writer.is_some() {
            let closed = self.translog.roll()?;
            let max_seq_no = state.next_seq_no.checked_sub(1);
            let mut commit = state.writer.as_mut().expect("checked").prepare_commit()?;
            if let Some(max) = max_seq_no {
                commit.set_payload(&serde_json::json!({ "max_seq_no": max }).to_string());
            }
            commit.commit()?;
            state.reader.reload()?;
            let searcher = state.reader.searcher();
            let mut current = self.searcher.write().expect("not poisoned");
            let columns = Arc::new(current.1.next_generation(&searcher));
            *current = (searcher, columns);
            drop(current);
            self.translog.trim(closed)?;
            state.live.retain(|_, l| !l.exists && l.at.elapsed() < GC_DELETES);
            state.dirty = false;
        }
        drop(state);
        *self.refreshes.lock().expect("not poisoned") += 1;
        self.refreshed.notify_all();
        Ok(())
    }

    /// The number of refreshes so far, for [`Shard::wait_for_refresh`].
    pub fn refresh_count(&self) -> u64 {
        *self.refreshes.lock().expect("not poisoned")
    }

    /// Waits until a refresh after `seen` happened (`refresh=wait_for`).
    pub fn wait_for_refresh(&self, seen: u64, timeout: Duration) -> bool {
        let guard = self.refreshes.lock().expect("not poisoned");
        let (_guard, result) =
            self.refreshed.wait_timeout_while(guard, timeout, |count| *count <= seen).expect("not poisoned");
        !result.timed_out()
    }

    /// Rebuilds the shard under the context's schema from the stored
    /// sources (the mapping gained fields).
    pub fn rebuild(&self, ctx: &IndexContext) -> Result<(), EsError> {
        self.refresh()?;
        let mut state = self.state.lock().expect("not poisoned");
        let next = state.generation + 1;
        let dir = generation_dir(&self.dir, next);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        let index = open_tantivy(&dir, ctx)?;
        let mut writer = new_writer(&index)?;
        let searcher = self.searcher();
        let mut count = 0u64;
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            for doc_id in segment.doc_ids_alive() {
                let stored = load(&searcher, ctx, DocAddress::new(ord as u32, doc_id))?;
                let doc = rebuild_doc(ctx, &stored.id, &stored.source);
                add_doc(&writer, ctx, DocMeta::from(&stored), doc)?;
                count += 1;
            }
        }
        let mut commit = writer.prepare_commit()?;
        if let Some(max) = state.next_seq_no.checked_sub(1) {
            commit.set_payload(&serde_json::json!({ "max_seq_no": max }).to_string());
        }
        commit.commit()?;
        crate::util::write_atomically(&self.dir, "CURRENT", next.to_string().as_bytes())?;
        let reader: IndexReader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        *self.searcher.write().expect("not poisoned") = (reader.searcher(), Arc::default());
        let old_generation = state.generation;
        state.index = index;
        let old_writer = state.writer.replace(writer);
        state.reader = reader;
        state.generation = next;
        drop(state);
        // Its merge threads may still write files into the old folder.
        if let Some(old) = old_writer {
            old.wait_merging_threads()?;
        }
        fs::remove_dir_all(generation_dir(&self.dir, old_generation))?;
        tracing::info!(shard = %self.dir.display(), docs = count, generation = next, "shard rebuilt for a new mapping");
        Ok(())
    }

    /// Stops the writer and its merge threads, so the shard's files can be
    /// deleted. Writes after this fail.
    pub fn close(&self) {
        let writer = self.state.lock().expect("not poisoned").writer.take();
        if let Some(writer) = writer
            && let Err(e) = writer.wait_merging_threads()
        {
            tracing::warn!(shard = %self.dir.display(), error = %e, "merge threads ended with an error");
        }
    }

    /// Documents visible to search.
    pub fn doc_count(&self) -> u64 {
        self.searcher().num_docs()
    }

    /// Bytes on disk (index and translog).
    pub fn size_bytes(&self) -> u64 {
        fn walk(path: &Path) -> u64 {
            fs::read_dir(path).map_or(0, |entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => walk(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
        }
        walk(&self.dir)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::mapping::meta::{IndexMeta, parse_settings};

    pub(super) fn context() -> IndexContext {
        let meta = IndexMeta {
            name: "movies".into(),
            uuid: "uuid".into(),
            creation_date: 0,
            settings: parse_settings(None).unwrap(),
            mappings: json!({"properties": {"title": {"type": "text"}}}),
            aliases: BTreeMap::new(),
        };
        IndexContext::new(&meta).unwrap()
    }

    pub(super) fn index(ctx: &IndexContext, id: &str, title: &str, conditions: Conditions) -> Write {
        let source = json!({ "title": title });
        let map = source.as_object().unwrap();
        let doc = crate::mapping::document::build(id, map, &ctx.mapping, &ctx.schema, &ctx.analyzers).unwrap().doc;
        Write::Index { id: id.into(), source: source.to_string(), routing: None, doc, conditions }
    }

    /// Applies and syncs one write, as the index does before acknowledging.
    pub(super) fn acknowledged(shard: &Shard, ctx: &IndexContext, write: Write) -> Result<Written, EsError> {
        let (mut results, position) = shard.apply(ctx, vec![write]).unwrap();
        shard.sync(position).unwrap();
        results.pop().unwrap()
    }

    fn title(doc: &StoredDoc) -> String {
        serde_json::from_str::<Value>(&doc.source).unwrap()["title"].as_str().unwrap().to_owned()
    }

    #[test]
    fn an_acknowledged_write_survives_a_reopen_from_the_translog() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context();
        {
            let shard = Shard::open(dir.path(), &ctx).unwrap();
            acknowledged(&shard, &ctx, index(&ctx, "1", "Alien", Conditions::default())).unwrap();
            // Never refreshed: nothing committed to tantivy, only the translog holds it.
        }
        let shard = Shard::open(dir.path(), &ctx).unwrap();
        let doc = shard.get(&ctx, "1").unwrap().expect("replayed from the translog");
        assert_eq!((title(&doc), doc.version, doc.seq_no), ("Alien".to_owned(), 1, 0));
        assert_eq!(shard.doc_count(), 1, "the replay is refreshed at open");
        let next = acknowledged(&shard, &ctx, index(&ctx, "2", "Aliens", Conditions::default())).unwrap();
        assert_eq!(next.seq_no, 1, "sequence numbers go on after the replayed ones");
    }

    #[test]
    fn a_replay_skips_what_the_last_commit_holds() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context();
        {
            let shard = Shard::open(dir.path(), &ctx).unwrap();
            acknowledged(&shard, &ctx, index(&ctx, "1", "Alien", Conditions::default())).unwrap();
            shard.refresh().unwrap();
            acknowledged(&shard, &ctx, index(&ctx, "1", "Alien (1979)", Conditions::default())).unwrap();
        }
        let shard = Shard::open(dir.path(), &ctx).unwrap();
        let doc = shard.get(&ctx, "1").unwrap().unwrap();
        assert_eq!((title(&doc), doc.version, doc.seq_no), ("Alien (1979)".to_owned(), 2, 1));
        assert_eq!(shard.doc_count(), 1);
    }

    #[test]
    fn writes_are_searchable_after_a_refresh_and_gettable_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context();
        let shard = Shard::open(dir.path(), &ctx).unwrap();
        let before = shard.refresh_count();
        acknowledged(&shard, &ctx, index(&ctx, "1", "Alien", Conditions::default())).unwrap();
        assert!(shard.is_dirty());
        assert_eq!(shard.doc_count(), 0, "not searchable before a refresh");
        shard.refresh().unwrap();
        assert_eq!(shard.doc_count(), 1);
        assert!(!shard.is_dirty());
        assert!(shard.wait_for_refresh(before, Duration::ZERO));
        // A realtime get sees a write the searcher does not yet.
        acknowledged(&shard, &ctx, index(&ctx, "2", "Aliens", Conditions::default())).unwrap();
        assert_eq!(shard.searcher().num_docs(), 1);
        assert_eq!(title(&shard.get(&ctx, "2").unwrap().unwrap()), "Aliens");
    }

    #[test]
    fn versions_grow_and_conditions_are_checked_against_the_latest_write() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context();
        let shard = Shard::open(dir.path(), &ctx).unwrap();
        let write = |title: &str, conditions| acknowledged(&shard, &ctx, index(&ctx, "1", title, conditions));
        let delete = || acknowledged(&shard, &ctx, Write::Delete { id: "1".into(), conditions: Conditions::default() });
        let summary = |w: Written| (w.result, w.version, w.seq_no);
        assert_eq!(summary(write("a", Conditions::default()).unwrap()), (WriteResult::Created, 1, 0));
        assert_eq!(summary(write("b", Conditions::default()).unwrap()), (WriteResult::Updated, 2, 1));
        let create = Conditions { create: true, ..Conditions::default() };
        assert_eq!(write("c", create.clone()).unwrap_err().kind, crate::error::ErrorKind::VersionConflict);
        let stale = Conditions { if_seq_no: Some((0, 1)), ..Conditions::default() };
        assert_eq!(write("c", stale).unwrap_err().status().as_u16(), 409);
        let current = Conditions { if_seq_no: Some((1, 1)), ..Conditions::default() };
        assert_eq!(summary(write("c", current).unwrap()), (WriteResult::Updated, 3, 2));
        assert_eq!(summary(delete().unwrap()), (WriteResult::Deleted, 4, 3));
        // Deletes are remembered, so versions keep growing.
        assert_eq!(summary(delete().unwrap()), (WriteResult::NotFound, 5, 4));
        assert_eq!(shard.get(&ctx, "1").unwrap(), None);
        assert_eq!(summary(write("d", create).unwrap()), (WriteResult::Created, 6, 5));
        let external = Conditions { external: Some((6, false)), ..Conditions::default() };
        assert_eq!(write("e", external).unwrap_err().kind, crate::error::ErrorKind::VersionConflict);
        let external_gte = Conditions { external: Some((6, true)), ..Conditions::default() };
        assert_eq!(summary(write("e", external_gte).unwrap()), (WriteResult::Updated, 6, 6));
    }
}

//! Columnar (doc-values) access to a mapped field in one segment, for
//! sorting and scoring by field values, and the columns a searcher's
//! segments have opened ([`ColumnCache`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DateTime, DocId, Searcher, SegmentReader};

use crate::error::EsError;
use crate::mapping::{FieldDef, FieldType, Numeric};
use crate::storage::dense::{DENSE_MIN_DOCS, Dense};

/// A field's values in one segment.
#[derive(Clone)]
pub enum FieldColumn {
    /// Whole numbers.
    I64(Column<i64>),
    /// Floating point.
    F64(Column<f64>),
    /// Booleans.
    Bool(Column<bool>),
    /// Dates.
    Date(Column<DateTime>),
    /// IP addresses.
    Ip(Column<std::net::Ipv6Addr>),
    /// Keywords (term ordinals of the segment).
    Str(StrColumn),
}

impl std::fmt::Debug for FieldColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldColumn")
    }
}

/// A value read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValue {
    /// A number (dates as epoch milliseconds, booleans as 0/1).
    Num(f64),
    /// A whole number, exact beyond 2^53.
    Int(i64),
    /// A keyword.
    Str(String),
}

impl FieldColumn {
    /// The column of a field, or `None` when the segment has no values for
    /// it. Fields without doc values are refused.
    pub fn open(reader: &SegmentReader, def: &FieldDef) -> Result<Option<FieldColumn>, EsError> {
        if !def.doc_values {
            return Err(EsError::illegal_argument(format!(
                "Can't load fielddata on [{}] because fielddata is unsupported on fields of type [{}]. Use a field with doc values instead (a keyword or numeric field).",
                def.path,
                def.ty.name()
            )));
        }
        let ff = reader.fast_fields();
        let path = def.path.as_str();
        Ok(match &def.ty {
            FieldType::Number { kind: Numeric::Integer { .. }, .. } => {
                ff.column_opt::<i64>(path)?.map(FieldColumn::I64)
            }
            FieldType::Number { .. } => ff.column_opt::<f64>(path)?.map(FieldColumn::F64),
            FieldType::Boolean => ff.column_opt::<bool>(path)?.map(FieldColumn::Bool),
            FieldType::Date { .. } => ff.column_opt::<DateTime>(path)?.map(FieldColumn::Date),
            FieldType::Keyword { .. } => ff.str(path)?.map(FieldColumn::Str),
            FieldType::Ip => ff.column_opt::<std::net::Ipv6Addr>(path)?.map(FieldColumn::Ip),
            FieldType::Text { .. } => None,
        })
    }

    /// The document's first value as a number (keywords have none);
    /// without allocating, for per-document scoring.
    pub fn first_number(&self, doc: DocId) -> Option<f64> {
        match self {
            FieldColumn::I64(c) => c.first(doc).map(|v| v as f64),
            FieldColumn::F64(c) => c.first(doc),
            FieldColumn::Bool(c) => c.first(doc).map(|v| f64::from(u8::from(v))),
            FieldColumn::Date(c) => c.first(doc).map(|v| v.into_timestamp_millis() as f64),
            FieldColumn::Str(_) | FieldColumn::Ip(_) => None,
        }
    }

    /// Calls `f` with each of the document's values as a number (keywords
    /// have none); without allocating, for per-document counting.
    pub fn each_number(&self, doc: DocId, mut f: impl FnMut(f64)) {
        match self {
            FieldColumn::I64(c) => c.values_for_doc(doc).for_each(|v| f(v as f64)),
            FieldColumn::F64(c) => c.values_for_doc(doc).for_each(f),
            FieldColumn::Bool(c) => c.values_for_doc(doc).for_each(|v| f(f64::from(u8::from(v)))),
            FieldColumn::Date(c) => c.values_for_doc(doc).for_each(|v| f(v.into_timestamp_millis() as f64)),
            FieldColumn::Str(_) | FieldColumn::Ip(_) => {}
        }
    }

    /// The column's dense copy over `max_doc` documents (see [`Dense`]);
    /// none for several numbers per document, or for dates, booleans and
    /// addresses, which no per-document loop reads.
    pub fn dense(&self, max_doc: u32) -> Option<Dense> {
        match self {
            FieldColumn::I64(c) => Dense::numbers(c, max_doc, |v| v as f64),
            FieldColumn::F64(c) => Dense::numbers(c, max_doc, |v| v),
            FieldColumn::Str(c) => Dense::ordinals(c, max_doc),
            FieldColumn::Bool(_) | FieldColumn::Date(_) | FieldColumn::Ip(_) => None,
        }
    }

    /// The document's values as numbers (keywords have none).
    pub fn numbers(&self, doc: DocId) -> Vec<f64> {
        match self {
            FieldColumn::I64(c) => c.values_for_doc(doc).map(|v| v as f64).collect(),
            FieldColumn::F64(c) => c.values_for_doc(doc).collect(),
            FieldColumn::Bool(c) => c.values_for_doc(doc).map(|v| f64::from(u8::from(v))).collect(),
            FieldColumn::Date(c) => c.values_for_doc(doc).map(|v| v.into_timestamp_millis() as f64).collect(),
            FieldColumn::Str(_) | FieldColumn::Ip(_) => Vec::new(),
        }
    }

    /// The document's values.
    pub fn values(&self, doc: DocId) -> Vec<ColumnValue> {
        match self {
            FieldColumn::Str(c) => c
                .term_ords(doc)
                .filter_map(|ord| {
                    let mut out = String::new();
                    c.ord_to_str(ord, &mut out).ok().filter(|found| *found).map(|_| ColumnValue::Str(out))
                })
                .collect(),
            FieldColumn::Ip(c) => {
                c.values_for_doc(doc).map(|ip| ColumnValue::Str(crate::mapping::document::format_ip(ip))).collect()
            }
            FieldColumn::I64(c) => c.values_for_doc(doc).map(ColumnValue::Int).collect(),
            FieldColumn::Date(c) => {
                c.values_for_doc(doc).map(|v| ColumnValue::Int(v.into_timestamp_millis())).collect()
            }
            other => other.numbers(doc).into_iter().map(ColumnValue::Num).collect(),
        }
    }
}

/// A field of one segment read as a number a document at a time: from its
/// dense copy when the segment has one.
#[derive(Debug)]
pub enum NumberReader {
    /// The dense copy (numeric).
    Dense(Arc<Dense>),
    /// The column.
    Column(FieldColumn),
}

impl NumberReader {
    /// The reader of `def` in the segment `reader` reads, through the
    /// [`current`] cache when there is one; `None` when the segment has no
    /// values for the field.
    pub fn open(reader: &SegmentReader, def: &FieldDef) -> Result<Option<NumberReader>, EsError> {
        let Some(cache) = current() else { return Ok(FieldColumn::open(reader, def)?.map(NumberReader::Column)) };
        if let Some(dense) = cache.dense(reader, def)?.filter(|d| matches!(**d, Dense::Numbers(_))) {
            return Ok(Some(NumberReader::Dense(dense)));
        }
        Ok(cache.open(reader, def)?.map(NumberReader::Column))
    }

    /// The document's first value as a number, as
    /// [`FieldColumn::first_number`] reads it.
    #[inline]
    pub fn first(&self, doc: DocId) -> Option<f64> {
        match self {
            NumberReader::Dense(d) => d.number(doc),
            NumberReader::Column(c) => c.first_number(doc),
        }
    }
}

/// The columns opened on the segments of one searcher (a shard's refresh),
/// by segment and field: a search over 30 indexes opened its sort columns
/// again in every segment, and opening a keyword column parses its
/// dictionary's index. Lives as long as the searcher, whose segments never
/// change, so an entry is never stale; errors are not kept. The dense
/// copies ([`Dense`]) cost more to build and are handed on to the next
/// generation for the segments it keeps ([`ColumnCache::next_generation`]).
#[derive(Default)]
pub struct ColumnCache {
    opened: Mutex<HashMap<ColumnKey, Option<FieldColumn>>>,
    meta: Mutex<HashMap<SegmentId, MetaColumns>>,
    dense: Mutex<HashMap<ColumnKey, DenseSlot>>,
}

/// Derived copies kept per segment and field (see [`ColumnCache::derived`]);
/// past these, the function is computed per document.
const MAX_DERIVED: usize = 4;

/// A column: its segment, field path and field type.
type ColumnKey = (SegmentId, String, String);

/// A dense copy, built once by whichever search asks first.
type DenseSlot = Arc<OnceLock<Option<Arc<Dense>>>>;

fn key(reader: &SegmentReader, def: &FieldDef) -> ColumnKey {
    (reader.segment_id(), def.path.clone(), def.ty.name().to_owned())
}

/// A segment's metadata columns, which every hit shown reads: opening
/// them for each hit (reading the segment's column directory, loading a
/// codec) was a tenth of a suggestion's time.
#[derive(Clone)]
pub struct MetaColumns {
    /// `_id`.
    pub id: Option<StrColumn>,
    /// `_version`.
    pub version: Column<u64>,
    /// `_seq_no`.
    pub seq_no: Column<u64>,
}

impl std::fmt::Debug for MetaColumns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaColumns").finish_non_exhaustive()
    }
}

impl MetaColumns {
    /// Opens the metadata columns of a segment.
    pub fn open(reader: &SegmentReader) -> Result<MetaColumns, EsError> {
        let fast = reader.fast_fields();
        Ok(MetaColumns { id: fast.str("_id")?, version: fast.u64("_version")?, seq_no: fast.u64("_seq_no")? })
    }
}

impl std::fmt::Debug for ColumnCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnCache").finish_non_exhaustive()
    }
}

impl ColumnCache {
    /// The column of `def` in the segment `reader` reads, as
    /// [`FieldColumn::open`] gives it.
    pub fn open(&self, reader: &SegmentReader, def: &FieldDef) -> Result<Option<FieldColumn>, EsError> {
        let key = key(reader, def);
        if let Some(column) = self.opened.lock().expect("not poisoned").get(&key) {
            return Ok(column.clone());
        }
        let column = FieldColumn::open(reader, def)?;
        self.opened.lock().expect("not poisoned").insert(key, column.clone());
        Ok(column)
    }

    /// The metadata columns of the segment `reader` reads.
    pub fn meta(&self, reader: &SegmentReader) -> Result<MetaColumns, EsError> {
        let segment = reader.segment_id();
        if let Some(meta) = self.meta.lock().expect("not poisoned").get(&segment) {
            return Ok(meta.clone());
        }
        let meta = MetaColumns::open(reader)?;
        self.meta.lock().expect("not poisoned").insert(segment, meta.clone());
        Ok(meta)
    }

    /// The dense copy of `def`'s column in the segment `reader` reads; none
    /// for a segment under [`DENSE_MIN_DOCS`] documents, a field without
    /// values there, or a column without a dense form.
    pub fn dense(&self, reader: &SegmentReader, def: &FieldDef) -> Result<Option<Arc<Dense>>, EsError> {
        if reader.max_doc() < DENSE_MIN_DOCS {
            return Ok(None);
        }
        let Some(column) = self.open(reader, def)? else { return Ok(None) };
        let slot = self.dense.lock().expect("not poisoned").entry(key(reader, def)).or_default().clone();
        Ok(slot.get_or_init(|| column.dense(reader.max_doc()).map(Arc::new)).clone())
    }

    /// A numeric copy derived from `def`'s dense numbers: `f` of each
    /// document's value (`None` where it has none), kept beside them under
    /// `name`, which must name `f` exactly. `function_score` keeps its
    /// per-document function values so (a logarithm per match was a tenth
    /// of a search matching a third of the titles). `None` where `def` has
    /// no dense numbers.
    pub fn derived(
        &self,
        reader: &SegmentReader,
        def: &FieldDef,
        name: &str,
        f: impl Fn(Option<f64>) -> f64,
    ) -> Result<Option<Arc<Dense>>, EsError> {
        let Some(base) = self.dense(reader, def)?.filter(|d| matches!(**d, Dense::Numbers(_))) else {
            return Ok(None);
        };
        let key = (reader.segment_id(), def.path.clone(), format!("{} {name}", def.ty.name()));
        let slot = {
            let mut dense = self.dense.lock().expect("not poisoned");
            // `name` comes from the request (a factor, a modifier): a
            // client varying it must not grow the cache without bound.
            let derived_prefix = format!("{} ", def.ty.name());
            let others = |(segment, path, ty): &ColumnKey| {
                *segment == key.0 && *path == key.1 && ty.starts_with(&derived_prefix)
            };
            if !dense.contains_key(&key) && dense.keys().filter(|k| others(k)).count() >= MAX_DERIVED {
                return Ok(None);
            }
            dense.entry(key).or_default().clone()
        };
        let build = || {
            let values = (0..reader.max_doc()).map(|doc| f(base.number(doc))).collect();
            Some(Arc::new(Dense::Numbers(values)))
        };
        Ok(slot.get_or_init(build).clone())
    }

    /// The cache of the searcher that replaces this one's: the dense copies
    /// of the segments `next` still has, nothing else (opened columns are
    /// cheap to open again).
    pub fn next_generation(&self, next: &Searcher) -> ColumnCache {
        let live: HashSet<SegmentId> = next.segment_readers().iter().map(SegmentReader::segment_id).collect();
        let mut dense = self.dense.lock().expect("not poisoned").clone();
        dense.retain(|(segment, _, _), slot| live.contains(segment) && slot.get().is_some());
        ColumnCache { dense: Mutex::new(dense), ..ColumnCache::default() }
    }
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Arc<ColumnCache>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with `cache` as this thread's [`current`] cache. A search runs
/// its segments on the thread that calls it, and tantivy hands a query's
/// weight nothing but the segment, so this is how the query side
/// (`function_score`) reaches the shard's columns.
pub fn with_current<R>(cache: &Arc<ColumnCache>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<ColumnCache>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(cache.clone())));
    f()
}

/// The cache of the search running on this thread, if any (a query run
/// outside [`with_current`] opens its columns itself).
pub fn current() -> Option<Arc<ColumnCache>> {
    CURRENT.with(|c| c.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Mapping;
    use serde_json::json;
    use tantivy::Index;
    use tantivy::schema::{FAST, INDEXED, Schema};

    #[test]
    fn dense_copies_outlive_a_refresh_only_for_the_segments_kept() {
        let mut b = Schema::builder();
        let votes = b.add_i64_field("votes", FAST | INDEXED);
        let index = Index::create_in_ram(b.build());
        let mut w = index.writer_with_num_threads(1, 15_000_000).unwrap();
        w.add_document(tantivy::doc!(votes => 7i64)).unwrap();
        w.commit().unwrap();
        let reader = index.reader().unwrap();
        let mapping = Mapping::parse(&json!({"properties": {"votes": {"type": "long"}}})).unwrap();
        let def = mapping.fields.get("votes").unwrap();

        let first = ColumnCache::default();
        let old = reader.searcher();
        let dense = first.dense(old.segment_reader(0), def).unwrap().unwrap();
        assert_eq!(dense.number(0), Some(7.0));
        let log = |v: Option<f64>| v.map_or(1.0, f64::log10);
        let derived = first.derived(old.segment_reader(0), def, "log10", log).unwrap().unwrap();
        assert!((derived.slot(0) - 7f64.log10()).abs() < 1e-12);
        for n in 1..MAX_DERIVED {
            assert!(first.derived(old.segment_reader(0), def, &format!("f{n}"), log).unwrap().is_some());
        }
        let capped = first.derived(old.segment_reader(0), def, "one more", log).unwrap();
        assert!(capped.is_none(), "no more than MAX_DERIVED per segment and field");
        assert!(first.derived(old.segment_reader(0), def, "log10", log).unwrap().is_some(), "kept ones still served");

        w.add_document(tantivy::doc!(votes => 9i64)).unwrap();
        w.commit().unwrap();
        reader.reload().unwrap();
        let new = reader.searcher();
        assert_eq!(new.segment_readers().len(), 2);
        let second = first.next_generation(&new);
        assert_eq!(second.dense.lock().unwrap().len(), 1 + MAX_DERIVED, "the kept segment's copy and its derived ones");
        let kept = new.segment_readers().iter().find(|r| r.segment_id() == old.segment_reader(0).segment_id());
        let again = second.dense(kept.unwrap(), def).unwrap().unwrap();
        assert!(Arc::ptr_eq(&again, &dense), "handed on, not rebuilt");

        w.merge(&new.segment_readers().iter().map(SegmentReader::segment_id).collect::<Vec<_>>()).wait().unwrap();
        reader.reload().unwrap();
        let merged = reader.searcher();
        let third = second.next_generation(&merged);
        assert!(third.dense.lock().unwrap().is_empty(), "no copy of a segment merged away");
        let rebuilt = third.dense(merged.segment_reader(0), def).unwrap().unwrap();
        let mut values: Vec<_> = (0..2).filter_map(|d| rebuilt.number(d)).collect();
        values.sort_by(f64::total_cmp);
        assert_eq!(values, [7.0, 9.0]);
    }
}

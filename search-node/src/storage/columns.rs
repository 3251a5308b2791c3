//! Columnar (doc-values) access to a mapped field in one segment, for
//! sorting and scoring by field values, and the columns a searcher's
//! segments have opened ([`ColumnCache`]).

use std::collections::HashMap;
use std::sync::Mutex;

use tantivy::columnar::{Column, StrColumn};
use tantivy::{DateTime, DocId, SegmentOrdinal, SegmentReader};

use crate::error::EsError;
use crate::mapping::{FieldDef, FieldType, Numeric};

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

/// The columns opened on the segments of one searcher (a shard's refresh),
/// by segment and field: a search over 30 indexes opened its sort columns
/// again in every segment, and opening a keyword column parses its
/// dictionary's index. Lives as long as the searcher, whose segments never
/// change, so an entry is never stale; errors are not kept.
#[derive(Default)]
pub struct ColumnCache {
    opened: Mutex<HashMap<(SegmentOrdinal, String, String), Option<FieldColumn>>>,
    meta: Mutex<HashMap<SegmentOrdinal, MetaColumns>>,
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
    /// The column of `def` in segment `segment` (read with `reader`), as
    /// [`FieldColumn::open`] gives it.
    pub fn open(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
        def: &FieldDef,
    ) -> Result<Option<FieldColumn>, EsError> {
        let key = (segment, def.path.clone(), def.ty.name().to_owned());
        if let Some(column) = self.opened.lock().expect("not poisoned").get(&key) {
            return Ok(column.clone());
        }
        let column = FieldColumn::open(reader, def)?;
        self.opened.lock().expect("not poisoned").insert(key, column.clone());
        Ok(column)
    }

    /// The metadata columns of segment `segment` (read with `reader`).
    pub fn meta(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> Result<MetaColumns, EsError> {
        if let Some(meta) = self.meta.lock().expect("not poisoned").get(&segment) {
            return Ok(meta.clone());
        }
        let meta = MetaColumns::open(reader)?;
        self.meta.lock().expect("not poisoned").insert(segment, meta.clone());
        Ok(meta)
    }
}

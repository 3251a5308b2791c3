//! A segment's column decoded into one slot per document ([`Dense`]), for
//! the loops that read a field for every matching document:
//! `function_score`'s `field_value_factor` and the counted facets.
//!
//! Why: tantivy's columns are compact (values bit-packed; an optional
//! column's values found through the rank of the document in a bit set),
//! so every read is a rank lookup and an unpacking. On a search matching a
//! third of a million titles those reads were half the engine's time
//! (perf, bench/RESULTS.md). A dense copy costs 8 bytes per document for a
//! number and 4 per value for a keyword, is built once per segment and
//! field on first use, and is kept across refreshes for as long as the
//! segment lives ([`super::columns::ColumnCache::next_generation`]). Only
//! segments of at least [`DENSE_MIN_DOCS`] documents get one: small
//! segments are cheap to read directly and are soon merged away, and a copy
//! of each fresh segment would be rebuilt at every refresh.
//!
//! Contract: a dense column answers what its column answers.
//! [`Dense::Numbers`] holds the document's value as `f64`, as
//! the numeric `FieldColumn::first_number` reads it, for columns with at most one value
//! per document, and NaN where there is none (documents never hold NaN:
//! JSON has no NaN and the mapping refuses non-finite numbers).
//! [`Dense::Ord`] and [`Dense::Ords`] hold a keyword's term ordinals, in the
//! column's order. A segment never changes, so a copy is never stale;
//! deleted documents keep their slots and are never asked for.

use tantivy::DocId;
use tantivy::columnar::{Cardinality, Column, StrColumn};

/// Segments smaller than this are read straight from their columns.
#[cfg(not(test))]
pub const DENSE_MIN_DOCS: u32 = 16_384;
/// Unit tests take the dense path on their small segments (among them the
/// counted-against-tantivy tests of `search/counts_tests.rs` and the
/// `function_score` tests); the process and conformance tests, with the
/// real threshold, take the column path.
#[cfg(test)]
pub const DENSE_MIN_DOCS: u32 = 1;

/// No value, in [`Dense::Ord`].
pub const NO_ORD: u32 = u32::MAX;

/// A column's values, one slot per document.
pub enum Dense {
    /// A number per document, NaN for none.
    Numbers(Box<[f64]>),
    /// A keyword column with at most one value per document: its term
    /// ordinal, [`NO_ORD`] for none.
    Ord(Box<[u32]>),
    /// A multi-valued keyword column: document `d`'s ordinals are
    /// `ords[starts[d]..starts[d + 1]]`.
    Ords { starts: Box<[u32]>, ords: Box<[u32]> },
}

impl std::fmt::Debug for Dense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, len) = match self {
            Dense::Numbers(v) => ("numbers", v.len()),
            Dense::Ord(v) => ("ord", v.len()),
            Dense::Ords { ords, .. } => ("ords", ords.len()),
        };
        write!(f, "Dense::{kind}({len})")
    }
}

impl Dense {
    /// The dense copy of a numeric column over `max_doc` documents, or
    /// `None` when some document has several values.
    pub fn numbers<T>(column: &Column<T>, max_doc: u32, as_f64: impl Fn(T) -> f64) -> Option<Dense>
    where
        T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static,
    {
        if column.get_cardinality() == Cardinality::Multivalued {
            return None;
        }
        let values = (0..max_doc).map(|doc| column.first(doc).map_or(f64::NAN, &as_f64)).collect();
        Some(Dense::Numbers(values))
    }

    /// The dense copy of a keyword column's ordinals over `max_doc`
    /// documents, or `None` when it has more terms than a `u32` holds.
    pub fn ordinals(column: &StrColumn, max_doc: u32) -> Option<Dense> {
        u32::try_from(column.num_terms()).ok().filter(|n| *n < NO_ORD)?;
        let ords = column.ords();
        if ords.get_cardinality() != Cardinality::Multivalued {
            let values = (0..max_doc).map(|doc| ords.first(doc).map_or(NO_ORD, |o| o as u32)).collect();
            return Some(Dense::Ord(values));
        }
        let mut starts = Vec::with_capacity(max_doc as usize + 1);
        let mut all = Vec::new();
        for doc in 0..max_doc {
            starts.push(u32::try_from(all.len()).ok()?);
            all.extend(ords.values_for_doc(doc).map(|o| o as u32));
        }
        starts.push(u32::try_from(all.len()).ok()?);
        Some(Dense::Ords { starts: starts.into(), ords: all.into() })
    }

    /// The document's number, if this is a numeric copy and it has one.
    #[inline]
    pub fn number(&self, doc: DocId) -> Option<f64> {
        match self {
            Dense::Numbers(v) => Some(v[doc as usize]).filter(|v| !v.is_nan()),
            Dense::Ord(_) | Dense::Ords { .. } => None,
        }
    }

    /// The document's slot in a numeric copy as stored (NaN for none);
    /// NaN for an ordinal copy.
    #[inline]
    pub fn slot(&self, doc: DocId) -> f64 {
        match self {
            Dense::Numbers(v) => v[doc as usize],
            Dense::Ord(_) | Dense::Ords { .. } => f64::NAN,
        }
    }

    /// Calls `f` with each of the document's term ordinals (none for a
    /// numeric copy).
    #[inline]
    pub fn each_ord(&self, doc: DocId, mut f: impl FnMut(u32)) {
        match self {
            Dense::Ord(v) => {
                let ord = v[doc as usize];
                if ord != NO_ORD {
                    f(ord);
                }
            }
            Dense::Ords { starts, ords } => {
                let (from, to) = (starts[doc as usize] as usize, starts[doc as usize + 1] as usize);
                ords[from..to].iter().copied().for_each(f);
            }
            Dense::Numbers(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::{FAST, INDEXED, STRING, Schema};
    use tantivy::{Index, TantivyDocument};

    /// 300 documents in one segment: an optional whole number, a
    /// multi-valued float, an optional keyword and a multi-valued keyword
    /// (with a value repeated).
    fn segment() -> tantivy::Searcher {
        let mut b = Schema::builder();
        let votes = b.add_i64_field("votes", FAST | INDEXED);
        let many = b.add_f64_field("many", FAST);
        let kind = b.add_text_field("kind", STRING | FAST);
        let tags = b.add_text_field("tags", STRING | FAST);
        let index = Index::create_in_ram(b.build());
        let mut w = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for i in 0..300i64 {
            let mut d = TantivyDocument::default();
            if i % 3 != 0 {
                d.add_i64(votes, i * 1_000_003);
            }
            d.add_f64(many, i as f64);
            if i % 7 == 0 {
                d.add_f64(many, -1.5);
            }
            if i % 5 != 0 {
                d.add_text(kind, ["movie", "short", "series"][i as usize % 3]);
            }
            for t in 0..(i % 5) {
                d.add_text(tags, ["b", "a", "c", "a"][t as usize % 4]);
            }
            w.add_document(d).unwrap();
        }
        w.commit().unwrap();
        index.reader().unwrap().searcher()
    }

    #[test]
    fn a_dense_number_reads_as_the_column_does() {
        let searcher = segment();
        let reader = searcher.segment_reader(0);
        let col = reader.fast_fields().i64("votes").unwrap();
        let dense = Dense::numbers(&col, reader.max_doc(), |v| v as f64).unwrap();
        for doc in 0..reader.max_doc() {
            assert_eq!(dense.number(doc), col.first(doc).map(|v| v as f64), "doc {doc}");
        }
        assert!(dense.number(0).is_none() && dense.number(1) == Some(1_000_003.0));
        let mut none = 0;
        dense.each_ord(1, |_| none += 1);
        assert_eq!(none, 0, "a numeric copy has no ordinals");
    }

    #[test]
    fn several_numbers_per_document_have_no_dense_form() {
        let searcher = segment();
        let reader = searcher.segment_reader(0);
        let col = reader.fast_fields().f64("many").unwrap();
        assert!(Dense::numbers(&col, reader.max_doc(), |v| v).is_none());
    }

    #[test]
    fn dense_ordinals_are_the_columns_in_its_order() {
        let searcher = segment();
        let reader = searcher.segment_reader(0);
        for (field, single) in [("kind", true), ("tags", false)] {
            let col = reader.fast_fields().str(field).unwrap().unwrap();
            let dense = Dense::ordinals(&col, reader.max_doc()).unwrap();
            assert_eq!(matches!(dense, Dense::Ord(_)), single, "{field}: {dense:?}");
            for doc in 0..reader.max_doc() {
                let mut got = Vec::new();
                dense.each_ord(doc, |o| got.push(u64::from(o)));
                let want: Vec<u64> = col.term_ords(doc).collect();
                assert_eq!(got, want, "{field} doc {doc}");
                assert!(dense.number(doc).is_none());
            }
        }
    }
}

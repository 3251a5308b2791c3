//! Collecting the best `k` hits of a shard under any sort (fields, score,
//! index order, `missing`, `mode`, `search_after`), counting matches as it
//! goes; and the order that merges shards' hits.
//!
//! Ties are broken by index, shard and document order, so a sort is a
//! total order and pages never overlap. `_doc` keys number a shard's
//! documents in order (segment base + document, like Lucene's shard-level
//! doc ids); `_shard_doc` keys put the shard's ordinal in the high 32 bits,
//! so they are unique over a snapshot: point-in-time searches add it as the
//! last criterion, making `search_after` exact. A scroll resumes after the
//! last hit's whole position ([`After::tie`]), so even equal keys never
//! repeat or skip a hit.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use serde_json::Value;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::request::{Missing, SortSpec};
use crate::error::EsError;
use crate::mapping::FieldDef;
use crate::storage::columns::{ColumnCache, ColumnValue, FieldColumn};

/// One sort key value.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// No value.
    Missing,
    /// A number (scores, floating-point fields).
    Num(f64),
    /// A whole number (long fields, dates as epoch milliseconds), exact.
    Int(i64),
    /// A keyword.
    Str(String),
    /// A keyword's term ordinal in one segment: ordered like the keywords,
    /// turned into [`Key::Str`] only for the hits a segment keeps.
    Ord(u64),
}

impl Key {
    /// The value as the response's `sort` array shows it.
    pub fn to_json(&self, integer: bool) -> Value {
        match self {
            Key::Missing => Value::Null,
            Key::Num(n) if integer && n.fract() == 0.0 => Value::from(*n as i64),
            Key::Num(n) => Value::from(*n),
            Key::Int(n) => Value::from(*n),
            Key::Str(s) => Value::from(s.clone()),
            Key::Ord(o) => Value::from(*o),
        }
    }
}

/// A sort criterion resolved against one index.
#[derive(Debug, Clone)]
pub enum Criterion {
    /// `_score`.
    Score { desc: bool },
    /// `_doc`: document order within a shard.
    Doc { desc: bool },
    /// `_shard_doc`: shard ordinal, then document order.
    ShardDoc { desc: bool },
    /// A field with doc values (`None`: unmapped here, all missing).
    Field { def: Option<Box<FieldDef>>, spec: SortSpec },
}

impl Criterion {
    fn desc(&self) -> bool {
        match self {
            Criterion::Score { desc } | Criterion::Doc { desc } | Criterion::ShardDoc { desc } => *desc,
            Criterion::Field { spec, .. } => spec.desc,
        }
    }

    fn missing(&self) -> &Missing {
        match self {
            Criterion::Field { spec, .. } => &spec.missing,
            _ => &Missing::Last,
        }
    }

    /// Whether the key is a whole number in responses.
    pub fn is_integer(&self) -> bool {
        match self {
            Criterion::Doc { .. } | Criterion::ShardDoc { .. } => true,
            Criterion::Score { .. } => false,
            Criterion::Field { def, .. } => def.as_ref().is_some_and(|d| {
                matches!(d.ty, crate::mapping::FieldType::Date { .. } | crate::mapping::FieldType::Boolean)
                    || matches!(
                        d.ty,
                        crate::mapping::FieldType::Number { kind: crate::mapping::Numeric::Integer { .. }, .. }
                    )
            }),
        }
    }

    /// A `search_after` value as a key.
    pub fn key_of(&self, value: &Value) -> Key {
        match value {
            Value::Null => Key::Missing,
            Value::Number(n) => n.as_i64().map_or_else(|| Key::Num(n.as_f64().unwrap_or(0.0)), Key::Int),
            Value::Bool(b) => Key::Num(f64::from(u8::from(*b))),
            Value::String(s) => match self {
                Criterion::Field { def: Some(def), .. }
                    if def.ty.is_exact() && !matches!(def.ty, crate::mapping::FieldType::Keyword { .. }) =>
                {
                    match &def.ty {
                        crate::mapping::FieldType::Date { format, .. } => {
                            format.parse_value(s).map_or_else(|| Key::Str(s.clone()), Key::Int)
                        }
                        _ => s.parse().map_or_else(|_| Key::Str(s.clone()), Key::Num),
                    }
                }
                _ => Key::Str(s.clone()),
            },
            other => Key::Str(other.to_string()),
        }
    }
}

fn compare_one(a: &Key, b: &Key, c: &Criterion) -> Ordering {
    let missing_first = matches!(c.missing(), Missing::First);
    match (a, b) {
        (Key::Missing, Key::Missing) => Ordering::Equal,
        (Key::Missing, _) => {
            if missing_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (_, Key::Missing) => {
            if missing_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (x, y) => {
            let ord = match (x, y) {
                (Key::Num(x), Key::Num(y)) => x.total_cmp(y),
                (Key::Int(x), Key::Int(y)) => x.cmp(y),
                (Key::Int(x), Key::Num(y)) => (*x as f64).total_cmp(y),
                (Key::Num(x), Key::Int(y)) => x.total_cmp(&(*y as f64)),
                (Key::Str(x), Key::Str(y)) => x.cmp(y),
                (Key::Ord(x), Key::Ord(y)) => x.cmp(y),
                (Key::Num(_) | Key::Int(_), Key::Str(_) | Key::Ord(_)) => Ordering::Less,
                (Key::Str(_) | Key::Ord(_), Key::Num(_) | Key::Int(_)) => Ordering::Greater,
                // Never met: ordinals stay within their segment's heap.
                (Key::Str(_), Key::Ord(_)) | (Key::Ord(_), Key::Str(_)) => Ordering::Equal,
                _ => unreachable!("missing handled above"),
            };
            if c.desc() { ord.reverse() } else { ord }
        }
    }
}

/// Compares two keys under the criteria: `Less` sorts first.
pub fn compare(a: &[Key], b: &[Key], criteria: &[Criterion]) -> Ordering {
    for ((x, y), c) in a.iter().zip(b).zip(criteria) {
        let ord = compare_one(x, y, c);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// A collected hit.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Sort key.
    pub key: Vec<Key>,
    /// Score (NaN when not computed).
    pub score: Score,
    /// Where the document is.
    pub address: DocAddress,
    /// Index and shard order, for ties.
    pub origin: (usize, usize),
}

impl Hit {
    /// Whether a keyword key is still a segment ordinal.
    pub fn has_ordinals(&self) -> bool {
        self.key.iter().any(|k| matches!(k, Key::Ord(_)))
    }

    /// The segment the hit is in: index and shard, segment.
    pub fn segment(&self) -> ((usize, usize), SegmentOrdinal) {
        (self.origin, self.address.segment_ord)
    }
}

/// Where a hit was found: index and shard (`origin`), segment, document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Index and shard order.
    pub origin: (usize, usize),
    /// Segment ordinal in the shard's searcher.
    pub segment: u32,
    /// Document in the segment.
    pub doc: DocId,
}

impl Hit {
    /// The hit's position, for ties.
    pub fn position(&self) -> Position {
        Position { origin: self.origin, segment: self.address.segment_ord, doc: self.address.doc_id }
    }
}

/// Only hits after this: `search_after` gives a key; a scroll resumes
/// after its last hit's key and position.
#[derive(Debug, Clone, PartialEq)]
pub struct After {
    /// Sort key.
    pub key: Vec<Key>,
    /// For equal keys, only hits after this position (none: no equal key).
    pub tie: Option<Position>,
}

impl After {
    /// Right after `hit` (a scroll's last hit).
    pub fn hit(hit: &Hit) -> After {
        After { key: hit.key.clone(), tie: Some(hit.position()) }
    }

    /// Whether a hit with this key and position comes after.
    fn admits(&self, key: &[Key], position: Position, criteria: &[Criterion]) -> bool {
        let tie = |t: Position| position.cmp(&t);
        compare(key, &self.key, criteria).then_with(|| self.tie.map_or(Ordering::Equal, tie)) == Ordering::Greater
    }
}

/// Merges hits: by key, then origin and address.
pub fn order(a: &Hit, b: &Hit, criteria: &[Criterion]) -> Ordering {
    compare(&a.key, &b.key, criteria)
        .then(a.origin.cmp(&b.origin))
        .then(a.address.segment_ord.cmp(&b.address.segment_ord))
        .then(a.address.doc_id.cmp(&b.address.doc_id))
}

struct Ranked {
    hit: Hit,
    criteria: Arc<Vec<Criterion>>,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    /// The heap's top is the worst kept hit.
    fn cmp(&self, other: &Self) -> Ordering {
        order(&self.hit, &other.hit, &self.criteria)
    }
}

/// Collects a shard's top `k` under the criteria, and the match count.
#[derive(Debug)]
pub struct TopCollector {
    /// Sort criteria.
    pub criteria: Arc<Vec<Criterion>>,
    /// Hits to keep.
    pub k: usize,
    /// Only hits after this.
    pub after: Option<After>,
    /// Hits scoring less are dropped (and not counted).
    pub min_score: Option<Score>,
    /// Whether scores are needed.
    pub scoring: bool,
    /// Index and shard order.
    pub origin: (usize, usize),
    /// The shard's ordinal in the search (for `_shard_doc`).
    pub shard_ordinal: u32,
    /// The first document number of each segment (for `_doc`).
    pub bases: Arc<Vec<u32>>,
    /// When to stop collecting (`timeout`): the hits so far are kept and
    /// `timed_out` is set.
    pub deadline: Option<std::time::Instant>,
    /// Set when the deadline passed.
    pub timed_out: Arc<std::sync::atomic::AtomicBool>,
    /// The sort columns already opened on the shard's segments.
    pub columns: Arc<ColumnCache>,
}

/// What a shard's collection yields.
#[derive(Debug, Default)]
pub struct Collected {
    /// Best hits, best first.
    pub hits: Vec<Hit>,
    /// Matches counted.
    pub total: u64,
}

impl Collector for TopCollector {
    type Fruit = Collected;
    type Child = TopSegment;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<TopSegment> {
        let columns = self
            .criteria
            .iter()
            .map(|c| match c {
                Criterion::Field { def: Some(def), .. } => {
                    self.columns.open(reader, def).map_err(|e| tantivy::TantivyError::InvalidArgument(e.reason))
                }
                _ => Ok(None),
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(TopSegment {
            segment,
            columns,
            heap: BinaryHeap::new(),
            criteria: self.criteria.clone(),
            k: self.k,
            after: self.after.clone(),
            min_score: self.min_score,
            total: 0,
            origin: self.origin,
            shard_doc_high: u64::from(self.shard_ordinal) << 32,
            base: self.bases.get(segment as usize).copied().unwrap_or(0),
            deadline: self.deadline,
            timed_out: self.timed_out.clone(),
            seen: 0,
            scratch: Vec::with_capacity(self.criteria.len()),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<Collected>) -> tantivy::Result<Collected> {
        let mut hits: Vec<Hit> = Vec::new();
        let mut total = 0;
        for f in fruits {
            total += f.total;
            hits.extend(f.hits);
        }
        // Keyword ordinals of different segments do not compare: such hits
        // are ordered with the others of the search ([`order_all`]).
        if !hits.iter().any(Hit::has_ordinals) {
            hits.sort_by(|a, b| order(a, b, &self.criteria));
            hits.truncate(self.k);
        }
        Ok(Collected { hits, total })
    }
}

/// [`TopCollector`] on one segment.
#[allow(missing_debug_implementations, reason = "holds tantivy columns, which have no Debug")]
pub struct TopSegment {
    segment: SegmentOrdinal,
    columns: Vec<Option<FieldColumn>>,
    heap: BinaryHeap<Ranked>,
    criteria: Arc<Vec<Criterion>>,
    k: usize,
    after: Option<After>,
    min_score: Option<Score>,
    total: u64,
    origin: (usize, usize),
    shard_doc_high: u64,
    base: u32,
    deadline: Option<std::time::Instant>,
    timed_out: Arc<std::sync::atomic::AtomicBool>,
    seen: u64,
    /// The keys of the document being collected: a fresh vector is taken
    /// only when it enters the heap, not for each of the many that lose.
    scratch: Vec<Key>,
}

fn pick(values: Vec<ColumnValue>, spec: &SortSpec) -> Key {
    if values.is_empty() {
        return match &spec.missing {
            Missing::Value(v) => Criterion::Field { def: None, spec: spec.clone() }.key_of(v),
            _ => Key::Missing,
        };
    }
    let mode = spec.mode.as_deref().unwrap_or(if spec.desc { "max" } else { "min" });
    let ints: Vec<i64> =
        values.iter().filter_map(|v| if let ColumnValue::Int(n) = v { Some(*n) } else { None }).collect();
    if ints.len() == values.len() && matches!(mode, "min" | "max" | "median") {
        let mut sorted = ints;
        sorted.sort_unstable();
        return Key::Int(match mode {
            "max" => sorted[sorted.len() - 1],
            "median" => sorted[sorted.len() / 2],
            _ => sorted[0],
        });
    }
    let values: Vec<ColumnValue> =
        values.into_iter().map(|v| if let ColumnValue::Int(n) = v { ColumnValue::Num(n as f64) } else { v }).collect();
    let numbers: Vec<f64> =
        values.iter().filter_map(|v| if let ColumnValue::Num(n) = v { Some(*n) } else { None }).collect();
    if numbers.len() == values.len() {
        let n = match mode {
            "max" => numbers.iter().copied().fold(f64::MIN, f64::max),
            "sum" => numbers.iter().sum(),
            "avg" => numbers.iter().sum::<f64>() / numbers.len() as f64,
            "median" => {
                let mut sorted = numbers.clone();
                sorted.sort_by(f64::total_cmp);
                sorted[sorted.len() / 2]
            }
            _ => numbers.iter().copied().fold(f64::MAX, f64::min),
        };
        return Key::Num(n);
    }
    let mut strings: Vec<String> =
        values.into_iter().filter_map(|v| if let ColumnValue::Str(s) = v { Some(s) } else { None }).collect();
    strings.sort();
    Key::Str(if mode == "max" { strings.pop().unwrap_or_default() } else { strings.swap_remove(0) })
}

impl TopSegment {
    /// The document's key under criterion `i`.
    fn key_at(&self, i: usize, doc: DocId, score: Score) -> Key {
        match &self.criteria[i] {
            Criterion::Score { .. } => Key::Num(f64::from(score)),
            Criterion::Doc { .. } => Key::Int(i64::from(self.base + doc)),
            Criterion::ShardDoc { .. } => Key::Int((self.shard_doc_high | u64::from(self.base + doc)) as i64),
            Criterion::Field { spec, .. } => match &self.columns[i] {
                // Keywords compare by ordinal unless a `search_after`
                // string must be compared with them.
                Some(FieldColumn::Str(c))
                    if self.after.is_none() && spec.mode.as_deref().is_none_or(|m| m == "min" || m == "max") =>
                {
                    let mut ords = c.term_ords(doc);
                    let picked =
                        if spec.desc || spec.mode.as_deref() == Some("max") { ords.last() } else { ords.next() };
                    picked.map_or_else(|| pick(Vec::new(), spec), Key::Ord)
                }
                // Numbers under min or max: folded as read, without the
                // vectors `pick` needs for the other modes (this runs for
                // every matching document when a field sorts first).
                Some(column) if spec.mode.as_deref().is_none_or(|m| m == "min" || m == "max") => {
                    let max = spec.mode.as_deref().map_or(spec.desc, |m| m == "max");
                    match extreme(column, doc, max) {
                        Some(Some(key)) => key,
                        Some(None) => pick(Vec::new(), spec),
                        None => pick(column.values(doc), spec),
                    }
                }
                column => pick(column.as_ref().map(|col| col.values(doc)).unwrap_or_default(), spec),
            },
        }
    }
}

/// The smallest or largest of a numeric column's values for `doc`, keyed
/// as [`pick`] keys them (whole numbers and dates exact, the others as
/// floating point); `Some(None)` when the document has no value, `None` for
/// keywords and addresses.
fn extreme(column: &FieldColumn, doc: DocId, max: bool) -> Option<Option<Key>> {
    fn fold<T: PartialOrd + Copy>(values: impl Iterator<Item = T>, max: bool) -> Option<T> {
        values.reduce(|a, b| if (b > a) == max && b != a { b } else { a })
    }
    Some(match column {
        FieldColumn::I64(c) => fold(c.values_for_doc(doc), max).map(Key::Int),
        FieldColumn::Date(c) => {
            fold(c.values_for_doc(doc).map(tantivy::DateTime::into_timestamp_millis), max).map(Key::Int)
        }
        FieldColumn::F64(c) => fold(c.values_for_doc(doc), max).map(Key::Num),
        FieldColumn::Bool(c) => fold(c.values_for_doc(doc).map(|b| f64::from(u8::from(b))), max).map(Key::Num),
        FieldColumn::Str(_) | FieldColumn::Ip(_) => return None,
    })
}

impl SegmentCollector for TopSegment {
    type Fruit = Collected;

    fn collect(&mut self, doc: DocId, score: Score) {
        // The clock is read every 1024 documents: cheap, and a timeout is
        // noticed within a millisecond or so.
        self.seen += 1;
        if let Some(deadline) = self.deadline
            && (self.seen % 1024 == 1 && std::time::Instant::now() > deadline
                || self.timed_out.load(std::sync::atomic::Ordering::Relaxed))
        {
            self.timed_out.store(true, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        if self.min_score.is_some_and(|m| score < m) {
            return;
        }
        self.total += 1;
        if self.k == 0 {
            return;
        }
        // With the heap full, a document is kept only if it ranks before the
        // worst kept hit. Most lose on the first criterion (the score), so
        // the later keys (column reads) are read only while the comparison
        // is still tied.
        let worst = if self.heap.len() == self.k { self.heap.peek().map(|w| &w.hit.key) } else { None };
        self.scratch.clear();
        let mut ahead = worst.is_none();
        for (i, c) in self.criteria.iter().enumerate() {
            let k = self.key_at(i, doc, score);
            if !ahead && let Some(worst) = worst {
                match compare_one(&k, &worst[i], c) {
                    Ordering::Greater => return,
                    Ordering::Less => ahead = true,
                    Ordering::Equal => {}
                }
            }
            self.scratch.push(k);
        }
        let key = std::mem::replace(&mut self.scratch, Vec::with_capacity(self.criteria.len()));
        if let Some(after) = &self.after
            && !after.admits(&key, Position { origin: self.origin, segment: self.segment, doc }, &self.criteria)
        {
            return;
        }
        let hit = Hit { key, score, address: DocAddress::new(self.segment, doc), origin: self.origin };
        let ranked = Ranked { hit, criteria: self.criteria.clone() };
        if self.heap.len() < self.k {
            self.heap.push(ranked);
        } else if let Some(worst) = self.heap.peek()
            && ranked < *worst
        {
            self.heap.pop();
            self.heap.push(ranked);
        }
    }

    fn harvest(self) -> Collected {
        let hits: Vec<Hit> = self.heap.into_sorted_vec().into_iter().map(|r| r.hit).collect();
        Collected { hits, total: self.total }
    }
}

/// Puts in order hits gathered from many segments, whose keyword keys may
/// still be ordinals of their segment ([`Key::Ord`]; comparable only within
/// it). Turning an ordinal into its keyword means decoding a block of the
/// segment's dictionary, so it is done only where the order depends on it:
/// for the hits that tie on every earlier key with a hit of another
/// segment, and only among the first `needed` hits (the page and those
/// before it): a group of ties that starts beyond them is cut whatever its
/// order. `resolve(hits, which, i)` turns key `i` of the hits `which` into
/// keywords. The page shown is resolved afterwards, by the caller.
pub fn order_all<E>(
    hits: &mut [Hit],
    criteria: &[Criterion],
    needed: usize,
    mut resolve: impl FnMut(&mut [Hit], &[usize], usize) -> Result<(), E>,
) -> Result<(), E> {
    for i in 0..criteria.len() {
        if !hits.iter().any(|h| matches!(h.key.get(i), Some(Key::Ord(_)))) {
            continue;
        }
        let before = &criteria[..i];
        let mut idx: Vec<usize> = (0..hits.len()).collect();
        idx.sort_by(|&a, &b| compare(&hits[a].key[..i], &hits[b].key[..i], before));
        let mut start = 0;
        // Groups come in order: past `needed` none is shown. (A group left
        // unresolved holds ordinals only, so it still sorts consistently.)
        while start < idx.len().min(needed) {
            let first = &hits[idx[start]];
            let end = start
                + idx[start..]
                    .iter()
                    .take_while(|&&n| compare(&first.key[..i], &hits[n].key[..i], before) == Ordering::Equal)
                    .count();
            let group = &idx[start..end];
            if group.iter().any(|&n| hits[n].segment() != first.segment()) {
                resolve(hits, group, i)?;
            }
            start = end;
        }
    }
    hits.sort_by(|a, b| order(a, b, criteria));
    Ok(())
}

/// Turns the keyword ordinals at key `i` of the hits `which` (all of one
/// segment, whose keyword column is `column`) into the keywords. In one
/// pass over the dictionary, in ordinal order: looked up one by one, each
/// would open and decode its dictionary block again.
pub fn resolve_ords(hits: &mut [Hit], which: &[usize], i: usize, column: &tantivy::columnar::StrColumn) {
    let mut wanted: Vec<(u64, usize)> =
        which.iter().filter_map(|&n| if let Key::Ord(ord) = hits[n].key[i] { Some((ord, n)) } else { None }).collect();
    wanted.sort_unstable();
    let ords: Vec<u64> = wanted.iter().map(|(ord, _)| *ord).collect();
    let mut terms = Vec::with_capacity(ords.len());
    // On a read error the ordinals left without a term sort as missing.
    let _complete = column
        .dictionary()
        .sorted_ords_to_term_cb(&ords, |bytes| terms.push(String::from_utf8_lossy(bytes).into_owned()));
    let mut terms = terms.into_iter();
    for (_, hit) in &wanted {
        hits[*hit].key[i] = terms.next().map_or(Key::Missing, Key::Str);
    }
}

/// Resolves sort specs against an index's mapping.
pub fn criteria(specs: &[SortSpec], mapping: &crate::mapping::Mapping) -> Result<Vec<Criterion>, EsError> {
    if specs.is_empty() {
        return Ok(vec![Criterion::Score { desc: true }]);
    }
    specs
        .iter()
        .map(|s| match s.field.as_str() {
            "_score" => Ok(Criterion::Score { desc: s.desc }),
            "_doc" => Ok(Criterion::Doc { desc: s.desc }),
            "_shard_doc" => Ok(Criterion::ShardDoc { desc: s.desc }),
            path => match mapping.fields.get(path) {
                Some(def) if !def.doc_values => Err(EsError::illegal_argument(format!(
                    "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{path}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."
                ))),
                Some(def) => Ok(Criterion::Field { def: Some(Box::new(def.clone())), spec: s.clone() }),
                None if s.unmapped_type.is_some() => Ok(Criterion::Field { def: None, spec: s.clone() }),
                None => Err(EsError::query_shard(format!("No mapping found for [{path}] in order to sort on"))),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(desc: bool, missing: Missing) -> Criterion {
        let spec = SortSpec { field: "year".into(), desc, missing, mode: None, unmapped_type: None, format: None };
        Criterion::Field { def: None, spec }
    }

    fn hit(key: Vec<Key>, origin: (usize, usize), segment: u32, doc: DocId) -> Hit {
        Hit { key, score: f32::NAN, address: DocAddress::new(segment, doc), origin }
    }

    fn sorted(mut hits: Vec<Hit>, criteria: &[Criterion]) -> Vec<(usize, usize, u32, DocId)> {
        hits.sort_by(|a, b| order(a, b, criteria));
        hits.iter().map(|h| (h.origin.0, h.origin.1, h.address.segment_ord, h.address.doc_id)).collect()
    }

    #[test]
    fn equal_keys_are_ordered_by_index_shard_segment_and_document() {
        let score = [Criterion::Score { desc: true }];
        let same = || vec![Key::Num(1.0)];
        let hits = vec![
            hit(same(), (1, 0), 0, 0),
            hit(same(), (0, 1), 0, 0),
            hit(same(), (0, 0), 1, 0),
            hit(same(), (0, 0), 0, 7),
            hit(vec![Key::Num(2.0)], (1, 1), 3, 9),
        ];
        assert_eq!(sorted(hits, &score), [(1, 1, 3, 9), (0, 0, 0, 7), (0, 0, 1, 0), (0, 1, 0, 0), (1, 0, 0, 0)]);
    }

    #[test]
    fn missing_values_sort_last_in_both_directions_unless_asked_first() {
        let keys = [Key::Missing, Key::Int(1990), Key::Num(2000.5), Key::Int(1950)];
        let order_of = |criterion: Criterion| {
            let hits: Vec<Hit> =
                keys.iter().enumerate().map(|(i, k)| hit(vec![k.clone()], (0, 0), 0, i as DocId)).collect();
            sorted(hits, &[criterion]).into_iter().map(|(.., doc)| doc).collect::<Vec<_>>()
        };
        assert_eq!(order_of(field(false, Missing::Last)), [3, 1, 2, 0]);
        assert_eq!(order_of(field(true, Missing::Last)), [2, 1, 3, 0]);
        assert_eq!(order_of(field(false, Missing::First)), [0, 3, 1, 2]);
        assert_eq!(order_of(field(true, Missing::First)), [0, 2, 1, 3]);
    }

    #[test]
    fn later_criteria_break_ties_of_earlier_ones() {
        let criteria = [field(true, Missing::Last), Criterion::Score { desc: true }];
        let a = [Key::Int(2000), Key::Num(0.5)];
        let b = [Key::Int(2000), Key::Num(0.9)];
        assert_eq!(compare(&b, &a, &criteria), Ordering::Less);
        assert_eq!(compare(&[Key::Int(2001), Key::Num(0.1)], &b, &criteria), Ordering::Less);
        assert_eq!(compare(&a, &a, &criteria), Ordering::Equal);
    }

    #[test]
    fn a_scroll_resumes_strictly_after_its_last_hit() {
        let criteria = [Criterion::Score { desc: true }];
        let last = hit(vec![Key::Num(1.0)], (0, 1), 0, 5);
        let after = After::hit(&last);
        let at = |key: f64, origin, doc| (vec![Key::Num(key)], Position { origin, segment: 0, doc });
        let admits = |(key, position): (Vec<Key>, Position)| after.admits(&key, position, &criteria);
        assert!(!admits(at(1.0, (0, 1), 5)), "the last hit itself");
        assert!(!admits(at(1.0, (0, 1), 4)), "an equal key before it");
        assert!(admits(at(1.0, (0, 1), 6)), "an equal key after it");
        assert!(admits(at(1.0, (1, 0), 0)), "an equal key in a later shard");
        assert!(admits(at(0.5, (0, 0), 0)), "a lower score");
        assert!(!admits(at(2.0, (9, 9), 9)), "a higher score");
        // `search_after` has no position: equal keys are not repeated.
        let search_after = After { key: vec![Key::Num(1.0)], tie: None };
        assert!(!search_after.admits(&[Key::Num(1.0)], Position { origin: (9, 9), segment: 9, doc: 9 }, &criteria));
    }
}

//! Counting aggregations: the facets a search page shows (`terms` on a
//! keyword, `histogram` and `range` on a number, none with
//! sub-aggregations), counted straight from the segments' columns.
//!
//! tantivy's aggregation module runs any request, and pays for it per
//! document: values are buffered per block, deduplicated and dispatched to
//! collectors built per segment from the request. On the API's faceted
//! search over the 29 genre indexes that was a fifth of the engine's time
//! (bench/RESULTS.md); here a document costs a column read and an
//! increment per aggregation.
//!
//! Contract: [`CountPlan::of`] takes a request only when every aggregation
//! in it has one of those forms (anything else returns `None` and tantivy
//! runs it), and the answer is then the one tantivy gives; `counts_tests.rs`
//! runs both on the same indexes and compares. Two differences, both
//! Elasticsearch's behaviour: `range` answers with the ranges asked for
//! (tantivy adds a bucket for each gap between them) and counts a document
//! in each of overlapping ranges (tantivy refuses those). And one by design:
//! terms are counted exactly in every segment, so where tantivy cuts a
//! segment's terms at `shard_size` and reports an error bound, these counts
//! stay exact and `doc_count_error_upper_bound` is 0. A document counts
//! once in a bucket however many of its values fall in it.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, RowId, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::mapping::{FieldDef, FieldType, Mapping};
use crate::storage::columns::{ColumnCache, FieldColumn};
use crate::storage::dense::{Dense, NO_ORD};

/// More ranges than this go to tantivy (a document's ranges are a bit set).
const MAX_RANGES: usize = 64;

/// The aggregations of a request, when all of them can be counted here.
#[derive(Debug, Clone)]
pub struct CountPlan {
    aggs: Arc<[(String, Spec)]>,
}

#[derive(Debug)]
enum Spec {
    Terms { field: FieldDef, size: usize },
    Histogram { field: FieldDef, interval: f64, min_doc_count: u64 },
    Range { field: FieldDef, ranges: Vec<Band> },
}

/// One requested range: `from <= value < to`, named `key`.
#[derive(Debug)]
struct Band {
    key: String,
    from: Option<f64>,
    to: Option<f64>,
}

/// Whether `body` has no keys but `allowed`.
fn only(body: &Map<String, Value>, allowed: &[&str]) -> bool {
    body.keys().all(|k| allowed.contains(&k.as_str()))
}

fn spec(def: &Value, mapping: &Mapping) -> Option<Spec> {
    let def = def.as_object()?;
    let [(kind, body)] = def.iter().collect::<Vec<_>>()[..] else { return None };
    let body = body.as_object()?;
    let field = mapping.fields.get(body.get("field")?.as_str()?).filter(|f| f.doc_values)?.clone();
    let number = matches!(field.ty, FieldType::Number { .. });
    match kind.as_str() {
        "terms" if only(body, &["field", "size"]) && matches!(field.ty, FieldType::Keyword { .. }) => {
            let size = match body.get("size") {
                None => 10,
                Some(v) => usize::try_from(v.as_u64()?).ok().filter(|s| *s > 0)?,
            };
            Some(Spec::Terms { field, size })
        }
        "histogram" if only(body, &["field", "interval", "min_doc_count"]) && number => {
            let interval = body.get("interval")?.as_f64().filter(|i| *i > 0.0 && i.is_finite())?;
            // Elasticsearch's default, 0, fills the gaps between buckets.
            let min_doc_count = body.get("min_doc_count")?.as_u64().filter(|m| *m >= 1)?;
            Some(Spec::Histogram { field, interval, min_doc_count })
        }
        "range" if only(body, &["field", "ranges"]) && number => {
            let ranges = body.get("ranges")?.as_array()?;
            if ranges.is_empty() || ranges.len() > MAX_RANGES {
                return None;
            }
            let band = |r: &Value| {
                let r = r.as_object().filter(|r| only(r, &["key", "from", "to"]))?;
                let bound = |name| match r.get(name) {
                    None => Some(None),
                    Some(v) => v.as_f64().filter(|f| f.is_finite()).map(Some),
                };
                Some(Band { key: r.get("key")?.as_str()?.to_owned(), from: bound("from")?, to: bound("to")? })
            };
            let ranges = ranges.iter().map(band).collect::<Option<Vec<_>>>()?;
            Some(Spec::Range { field, ranges })
        }
        _ => None,
    }
}

impl CountPlan {
    /// The plan for a request's `aggs` on an index of `mapping`, or `None`
    /// when any aggregation needs tantivy's.
    pub fn of(aggs: &Map<String, Value>, mapping: &Mapping) -> Option<CountPlan> {
        let specs = aggs.iter().map(|(name, def)| Some((name.clone(), spec(def, mapping)?))).collect::<Option<_>>()?;
        Some(CountPlan { aggs: specs })
    }

    /// The collector counting this plan on one shard, its columns opened
    /// through `columns`.
    pub fn collector(&self, columns: Arc<ColumnCache>) -> CountCollector {
        CountCollector { plan: self.clone(), columns }
    }

    /// The response's `aggregations` (before [`super::aggs::finish`]) from
    /// the shards' merged counts, in tantivy's result format.
    pub fn results(&self, counts: Option<Counts>) -> Value {
        let counts = counts.unwrap_or_else(|| self.empty());
        let mut out = Map::new();
        for ((name, spec), tally) in self.aggs.iter().zip(counts.0) {
            out.insert(name.clone(), result(spec, tally));
        }
        Value::Object(out)
    }

    fn empty(&self) -> Counts {
        Counts(self.aggs.iter().map(|(_, spec)| Tally::empty(spec)).collect())
    }
}

fn result(spec: &Spec, tally: Tally) -> Value {
    match (spec, tally) {
        (Spec::Terms { size, .. }, Tally::Terms(counts)) => {
            let mut entries: Vec<(String, u64)> = counts.into_iter().collect();
            entries.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let other: u64 = entries.iter().skip(*size).map(|(_, c)| c).sum();
            entries.truncate(*size);
            let buckets: Vec<Value> = entries.into_iter().map(|(k, c)| json!({"key": k, "doc_count": c})).collect();
            json!({"doc_count_error_upper_bound": 0, "sum_other_doc_count": other, "buckets": buckets})
        }
        (Spec::Histogram { interval, min_doc_count, .. }, Tally::Histogram(counts)) => {
            let mut entries: Vec<(i64, u64)> = counts.into_iter().filter(|(_, c)| c >= min_doc_count).collect();
            entries.sort_unstable();
            let buckets: Vec<Value> =
                entries.into_iter().map(|(pos, c)| json!({"key": pos as f64 * interval, "doc_count": c})).collect();
            json!({ "buckets": buckets })
        }
        (Spec::Range { ranges, .. }, Tally::Range(counts)) => {
            let mut buckets: Vec<(&Band, u64)> = ranges.iter().zip(counts).collect();
            // Elasticsearch orders range buckets by their bounds.
            let low = |b: &Band| b.from.unwrap_or(f64::NEG_INFINITY);
            let high = |b: &Band| b.to.unwrap_or(f64::INFINITY);
            buckets.sort_by(|a, b| low(a.0).total_cmp(&low(b.0)).then(high(a.0).total_cmp(&high(b.0))));
            let buckets: Vec<Value> = buckets
                .into_iter()
                .map(|(band, c)| {
                    let mut b = json!({"key": band.key, "doc_count": c});
                    if let Some(from) = band.from {
                        b["from"] = json!(from);
                    }
                    if let Some(to) = band.to {
                        b["to"] = json!(to);
                    }
                    b
                })
                .collect();
            json!({ "buckets": buckets })
        }
        _ => unreachable!("a tally is made for its spec"),
    }
}

/// The counts of every aggregation of a plan, in its order.
#[derive(Debug)]
pub struct Counts(Vec<Tally>);

#[derive(Debug)]
enum Tally {
    Terms(HashMap<String, u64>),
    /// By bucket position: `floor(value / interval)`.
    Histogram(HashMap<i64, u64>),
    Range(Vec<u64>),
}

impl Tally {
    fn empty(spec: &Spec) -> Tally {
        match spec {
            Spec::Terms { .. } => Tally::Terms(HashMap::new()),
            Spec::Histogram { .. } => Tally::Histogram(HashMap::new()),
            Spec::Range { ranges, .. } => Tally::Range(vec![0; ranges.len()]),
        }
    }

    fn add(&mut self, other: Tally) {
        match (self, other) {
            (Tally::Terms(a), Tally::Terms(b)) => b.into_iter().for_each(|(k, c)| *a.entry(k).or_default() += c),
            (Tally::Histogram(a), Tally::Histogram(b)) => {
                b.into_iter().for_each(|(k, c)| *a.entry(k).or_default() += c);
            }
            (Tally::Range(a), Tally::Range(b)) => a.iter_mut().zip(b).for_each(|(x, y)| *x += y),
            _ => unreachable!("tallies of one plan"),
        }
    }
}

impl Counts {
    /// Adds another shard's or segment's counts of the same plan.
    pub fn add(&mut self, other: Counts) {
        self.0.iter_mut().zip(other.0).for_each(|(a, b)| a.add(b));
    }
}

/// Counts a plan on one shard's segments.
pub struct CountCollector {
    plan: CountPlan,
    columns: Arc<ColumnCache>,
}

impl Collector for CountCollector {
    type Fruit = Counts;
    type Child = SegmentCounts;

    fn for_segment(&self, _: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentCounts> {
        let mut counters = Vec::with_capacity(self.plan.aggs.len());
        for (_, spec) in self.plan.aggs.iter() {
            let (Spec::Terms { field, .. } | Spec::Histogram { field, .. } | Spec::Range { field, .. }) = spec;
            let internal = |e: crate::error::EsError| tantivy::TantivyError::InternalError(e.to_string());
            let column = self.columns.open(reader, field).map_err(internal)?;
            let dense = self.columns.dense(reader, field).map_err(internal)?;
            counters.push(Counter::new(spec, column, dense));
        }
        Ok(SegmentCounts {
            plan: self.plan.clone(),
            counters,
            batch: Vec::with_capacity(BATCH),
            scratch: Scratch::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Counts>) -> tantivy::Result<Counts> {
        let mut all = self.plan.empty();
        fruits.into_iter().for_each(|f| all.add(f));
        Ok(all)
    }
}

/// Documents buffered before the counters read their columns: a batch
/// reads each column once for many documents (an optional column's rank,
/// a multi-valued column's ranges), which per document was most of the cost.
const BATCH: usize = 256;

/// One aggregation's counting in one segment.
enum Counter {
    /// No values in this segment.
    Nothing,
    /// Per term ordinal, its count and the last document counted.
    Terms {
        column: StrColumn,
        dense: Option<Arc<Dense>>,
        counts: Vec<u64>,
        last: Vec<DocId>,
    },
    Histogram {
        values: Numbers,
        interval: f64,
        buckets: Buckets,
    },
    Range {
        values: Numbers,
        bands: Vec<(Option<f64>, Option<f64>)>,
        counts: Vec<u64>,
    },
}

/// A numeric column, read as `f64`.
enum Numbers {
    I64(Column<i64>),
    F64(Column<f64>),
    Dense(Arc<Dense>),
}

/// The buffers a batch is read into, reused.
#[derive(Default)]
struct Scratch {
    docs: Vec<DocId>,
    rows: Vec<RowId>,
    ords: Vec<u64>,
    ints: Vec<i64>,
    nums: Vec<f64>,
}

impl Numbers {
    /// Reads the values of `docs` into `s.docs` (each value's document,
    /// ascending) and `s.nums`.
    fn read(&self, docs: &[DocId], s: &mut Scratch) {
        s.docs.clear();
        s.rows.clear();
        match self {
            Numbers::I64(c) => {
                c.index.docids_to_rowids(docs, &mut s.docs, &mut s.rows);
                s.ints.resize(s.rows.len(), 0);
                c.values.get_vals(&s.rows, &mut s.ints);
                s.nums.clear();
                s.nums.extend(s.ints.iter().map(|&v| v as f64));
            }
            Numbers::F64(c) => {
                c.index.docids_to_rowids(docs, &mut s.docs, &mut s.rows);
                s.nums.resize(s.rows.len(), 0.0);
                c.values.get_vals(&s.rows, &mut s.nums);
            }
            // Counted straight from the slots (`Counter::count`).
            Numbers::Dense(_) => unreachable!("dense numbers are not read into a batch"),
        }
    }
}

/// Histogram counts by bucket position: dense over the span of positions
/// seen, or a map once that span grows past [`Buckets::MAX_SPAN`].
enum Buckets {
    Dense { base: i64, counts: Vec<u64> },
    Sparse(HashMap<i64, u64>),
}

impl Buckets {
    const MAX_SPAN: i64 = 1 << 16;

    #[inline]
    fn add(&mut self, pos: i64) {
        if let Buckets::Dense { base, counts } = self
            && let Some(count) = usize::try_from(pos.wrapping_sub(*base)).ok().and_then(|i| counts.get_mut(i))
        {
            *count += 1;
            return;
        }
        self.grow(pos);
    }

    /// [`Buckets::add`] outside the span counted so far.
    fn grow(&mut self, pos: i64) {
        match self {
            Buckets::Dense { base, counts } => {
                if counts.is_empty() {
                    *base = pos;
                }
                let low = (*base).min(pos);
                let high = (*base + counts.len() as i64 - 1).max(pos);
                if high.saturating_sub(low) >= Self::MAX_SPAN {
                    let map = Self::entries(*base, counts).collect();
                    *self = Buckets::Sparse(map);
                    return self.add(pos);
                }
                if pos < *base {
                    counts.splice(0..0, std::iter::repeat_n(0, (*base - pos) as usize));
                    *base = pos;
                }
                let i = (pos - *base) as usize;
                if i >= counts.len() {
                    counts.resize(i + 1, 0);
                }
                counts[i] += 1;
            }
            Buckets::Sparse(map) => *map.entry(pos).or_default() += 1,
        }
    }

    fn entries(base: i64, counts: &[u64]) -> impl Iterator<Item = (i64, u64)> + '_ {
        counts.iter().enumerate().filter(|(_, c)| **c > 0).map(move |(i, c)| (base + i as i64, *c))
    }

    fn into_map(self) -> HashMap<i64, u64> {
        match self {
            Buckets::Dense { base, counts } => Self::entries(base, &counts).collect(),
            Buckets::Sparse(map) => map,
        }
    }
}

impl Counter {
    /// The counter of `spec` over `column`, reading `dense` (the column's
    /// dense copy) instead where there is one.
    fn new(spec: &Spec, column: Option<FieldColumn>, dense: Option<Arc<Dense>>) -> Counter {
        let numbers = |column| match (column, dense.clone()) {
            (FieldColumn::I64(_) | FieldColumn::F64(_), Some(d)) if matches!(*d, Dense::Numbers(_)) => {
                Some(Numbers::Dense(d))
            }
            (FieldColumn::I64(c), _) => Some(Numbers::I64(c)),
            (FieldColumn::F64(c), _) => Some(Numbers::F64(c)),
            _ => None,
        };
        match (spec, column) {
            (Spec::Terms { .. }, Some(FieldColumn::Str(column))) => {
                let terms = column.num_terms();
                let dense = dense.clone().filter(|d| !matches!(**d, Dense::Numbers(_)));
                Counter::Terms { column, dense, counts: vec![0; terms], last: vec![DocId::MAX; terms] }
            }
            (Spec::Histogram { interval, .. }, Some(column)) => match numbers(column) {
                Some(values) => Counter::Histogram {
                    values,
                    interval: *interval,
                    buckets: Buckets::Dense { base: 0, counts: Vec::new() },
                },
                None => Counter::Nothing,
            },
            (Spec::Range { ranges, .. }, Some(column)) => match numbers(column) {
                Some(values) => Counter::Range {
                    values,
                    bands: ranges.iter().map(|b| (b.from, b.to)).collect(),
                    counts: vec![0; ranges.len()],
                },
                None => Counter::Nothing,
            },
            // No values here; or a type the plan refused, which a segment
            // of the index cannot have.
            _ => Counter::Nothing,
        }
    }

    fn count(&mut self, docs: &[DocId], s: &mut Scratch) {
        match self {
            Counter::Nothing => {}
            Counter::Terms { dense: Some(dense), counts, .. } if matches!(**dense, Dense::Ord(_)) => {
                let Dense::Ord(slots) = &**dense else { unreachable!("matched") };
                for &doc in docs {
                    let ord = slots[doc as usize];
                    if ord != NO_ORD {
                        counts[ord as usize] += 1;
                    }
                }
            }
            Counter::Terms { dense: Some(dense), counts, last, .. } => {
                for &doc in docs {
                    dense.each_ord(doc, |ord| {
                        let ord = ord as usize;
                        if last[ord] != doc {
                            last[ord] = doc;
                            counts[ord] += 1;
                        }
                    });
                }
            }
            Counter::Terms { column, counts, last, dense: None } => {
                let ords = column.ords();
                s.docs.clear();
                s.rows.clear();
                ords.index.docids_to_rowids(docs, &mut s.docs, &mut s.rows);
                s.ords.resize(s.rows.len(), 0);
                ords.values.get_vals(&s.rows, &mut s.ords);
                for (&doc, &ord) in s.docs.iter().zip(&s.ords) {
                    let ord = ord as usize;
                    if last[ord] != doc {
                        last[ord] = doc;
                        counts[ord] += 1;
                    }
                }
            }
            // One value per document at most: nothing to count only once.
            Counter::Histogram { values: Numbers::Dense(dense), interval, buckets } => {
                let Dense::Numbers(slots) = &**dense else { return };
                for &doc in docs {
                    let v = slots[doc as usize];
                    if !v.is_nan() {
                        buckets.add((v / *interval).floor() as i64);
                    }
                }
            }
            Counter::Range { values: Numbers::Dense(dense), bands, counts } => {
                let Dense::Numbers(slots) = &**dense else { return };
                for &doc in docs {
                    let v = slots[doc as usize];
                    if v.is_nan() {
                        continue;
                    }
                    for ((from, to), count) in bands.iter().zip(counts.iter_mut()) {
                        if from.is_none_or(|f| v >= f) && to.is_none_or(|t| v < t) {
                            *count += 1;
                        }
                    }
                }
            }
            Counter::Histogram { values, interval, buckets } => {
                values.read(docs, s);
                // A document's values are together: count each of its
                // buckets once.
                let mut seen: Vec<i64> = Vec::new();
                let mut current = None;
                for (&doc, &v) in s.docs.iter().zip(&s.nums) {
                    if current != Some(doc) {
                        current = Some(doc);
                        seen.clear();
                    }
                    let pos = (v / *interval).floor() as i64;
                    if !seen.contains(&pos) {
                        seen.push(pos);
                        buckets.add(pos);
                    }
                }
            }
            Counter::Range { values, bands, counts } => {
                values.read(docs, s);
                let mut hit = 0u64;
                let mut current = None;
                for (&doc, &v) in s.docs.iter().zip(&s.nums) {
                    if current != Some(doc) {
                        add_bits(counts, hit);
                        current = Some(doc);
                        hit = 0;
                    }
                    for (i, (from, to)) in bands.iter().enumerate() {
                        if from.is_none_or(|f| v >= f) && to.is_none_or(|t| v < t) {
                            hit |= 1 << i;
                        }
                    }
                }
                add_bits(counts, hit);
            }
        }
    }

    fn harvest(self, spec: &Spec) -> Tally {
        match self {
            Counter::Nothing => Tally::empty(spec),
            Counter::Terms { column, counts, .. } => {
                let mut out = HashMap::new();
                for (ord, count) in counts.into_iter().enumerate().filter(|(_, c)| *c > 0) {
                    let mut term = String::new();
                    if column.ord_to_str(ord as u64, &mut term).unwrap_or(false) {
                        out.insert(term, count);
                    }
                }
                Tally::Terms(out)
            }
            Counter::Histogram { buckets, .. } => Tally::Histogram(buckets.into_map()),
            Counter::Range { counts, .. } => Tally::Range(counts),
        }
    }
}

/// Adds one to the count of each range whose bit is set.
fn add_bits(counts: &mut [u64], mut bits: u64) {
    while bits != 0 {
        counts[bits.trailing_zeros() as usize] += 1;
        bits &= bits - 1;
    }
}

/// A plan's counters in one segment.
pub struct SegmentCounts {
    plan: CountPlan,
    counters: Vec<Counter>,
    batch: Vec<DocId>,
    scratch: Scratch,
}

impl SegmentCounts {
    fn flush(&mut self) {
        for counter in &mut self.counters {
            counter.count(&self.batch, &mut self.scratch);
        }
        self.batch.clear();
    }
}

impl SegmentCollector for SegmentCounts {
    type Fruit = Counts;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.batch.push(doc);
        if self.batch.len() == BATCH {
            self.flush();
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        for chunk in docs.chunks(BATCH) {
            if self.batch.len() + chunk.len() > BATCH {
                self.flush();
            }
            self.batch.extend_from_slice(chunk);
        }
    }

    fn harvest(mut self) -> Counts {
        self.flush();
        Counts(self.counters.into_iter().zip(self.plan.aggs.iter()).map(|(c, (_, spec))| c.harvest(spec)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(b: Buckets) -> Vec<(i64, u64)> {
        let mut v: Vec<_> = b.into_map().into_iter().collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn buckets_grow_both_ways_and_turn_sparse_past_their_span() {
        let mut b = Buckets::Dense { base: 0, counts: Vec::new() };
        for pos in [5, 3, 9, 5, -2] {
            b.add(pos);
        }
        assert!(matches!(b, Buckets::Dense { base: -2, .. }));
        assert_eq!(sorted(b), [(-2, 1), (3, 1), (5, 2), (9, 1)]);
        let mut b = Buckets::Dense { base: 0, counts: Vec::new() };
        for pos in [10, 11, 10 + Buckets::MAX_SPAN, i64::MIN, 11] {
            b.add(pos);
        }
        assert!(matches!(b, Buckets::Sparse(_)));
        assert_eq!(sorted(b), [(i64::MIN, 1), (10, 1), (11, 2), (10 + Buckets::MAX_SPAN, 1)]);
    }

    #[test]
    fn set_bits_count_once_each() {
        let mut counts = [0; 4];
        add_bits(&mut counts, 0b1010);
        add_bits(&mut counts, 0b0011);
        add_bits(&mut counts, 0);
        assert_eq!(counts, [1, 2, 0, 1]);
    }
}

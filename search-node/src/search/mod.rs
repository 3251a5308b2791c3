//! Search: query then fetch over every shard of the target indexes.
//!
//! Each shard collects its best `from + size` hits (under the request's
//! sort) and its match count, in parallel on the node's search pool
//! (`pool`); the hits are merged, the page
//! is cut, and only the page's documents are loaded. Aggregations run on
//! the same pass (on `query`, before `post_filter`) and merge through
//! tantivy's intermediate results. A search sees the last refresh, or the
//! [`Snapshot`] a scroll or point in time keeps (`contexts`, `scroll`,
//! `pit`).

pub mod aggs;
pub mod collector;
pub mod contexts;
mod counts;
#[cfg(test)]
mod counts_tests;
pub mod dfs;
pub mod highlight;
#[cfg(test)]
mod paging_tests;
pub mod pit;
pub mod pool;
pub mod request;
pub mod scroll;
mod shape;
mod shard_aggs;
#[cfg(test)]
mod sharing_tests;
pub mod snapshot;
pub mod source_filter;
#[cfg(test)]
mod test_indexes;

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur};
use tantivy::{DocAddress, Searcher};

use self::collector::{After, Collected, Criterion, Hit, Key, TopCollector};
use self::dfs::GlobalStats;
pub use self::request::{SearchRequest, TrackTotal};
use self::shard_aggs::{AggPlan, ShardAggs};
pub use self::snapshot::Snapshot;
use crate::error::EsError;
use crate::mapping::context::IndexContext;
use crate::query::{Compiled, Cx};
use crate::storage::index::IndexHandle;
use crate::storage::shard::load_with;

/// Elasticsearch's `index.max_result_window` default.
pub const MAX_RESULT_WINDOW: usize = 10_000;

/// How a page is cut beyond the request itself (scroll and point in time).
#[derive(Debug, Clone, Default)]
pub struct Paging {
    /// Resume after this hit (a scroll's next page); `from` is ignored.
    pub resume: Option<After>,
    /// Add `_shard_doc` as the last sort criterion unless the sort has it
    /// (a point in time's tiebreaker), and show sort values.
    pub tiebreak: bool,
    /// Leave aggregations out (a scroll's later pages).
    pub skip_aggs: bool,
}

/// A page of results: the response body, and the last hit for a scroll.
#[derive(Debug)]
pub struct Page {
    /// The response body.
    pub body: Value,
    /// The page's last hit.
    pub last: Option<Hit>,
}

/// One index's part of a search.
struct Target {
    handle: Arc<IndexHandle>,
    ctx: Arc<IndexContext>,
    query: Compiled,
    hits_query: Compiled,
    criteria: Vec<Criterion>,
    aggs: Option<AggPlan>,
    searchers: Vec<Searcher>,
    /// The columns opened on each shard's searcher.
    columns: Vec<Arc<crate::storage::columns::ColumnCache>>,
}

/// What a request compiles for an index: the same for every index of a
/// shape ([`shape::ByShape`]).
struct Plan {
    query: Compiled,
    hits_query: Compiled,
    criteria: Vec<Criterion>,
    aggs: Option<AggPlan>,
}

impl Plan {
    fn compile(cx: Cx<'_>, req: &SearchRequest, paging: &Paging) -> Result<Plan, EsError> {
        let query = req.query.compile(cx)?;
        let hits_query: Compiled = match &req.post_filter {
            Some(filter) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, query.box_clone()),
                (Occur::Must, Box::new(BoostQuery::new(filter.compile(cx)?, 0.0))),
            ])),
            None => query.box_clone(),
        };
        let mut criteria = collector::criteria(&req.sort, &cx.index.mapping)?;
        if paging.tiebreak && !criteria.iter().any(|c| matches!(c, Criterion::ShardDoc { .. })) {
            criteria.push(Criterion::ShardDoc { desc: false });
        }
        let aggs = match &req.aggs {
            Some(a) if !paging.skip_aggs => {
                Some(shard_aggs::plan(a, aggs::translate(a, cx)?, cx.index, tantivy_aggs()))
            }
            _ => None,
        };
        Ok(Plan { query, hits_query, criteria, aggs })
    }

    fn copy(&self) -> Plan {
        Plan {
            query: self.query.box_clone(),
            hits_query: self.hits_query.box_clone(),
            criteria: self.criteria.clone(),
            aggs: self.aggs.clone(),
        }
    }
}

/// Prepares every index of a snapshot, compiling once per shape.
fn prepare_all(snapshot: &Snapshot, req: &SearchRequest, paging: &Paging) -> Result<Vec<Target>, EsError> {
    let mut plans = shape::ByShape::new();
    let mut targets = Vec::with_capacity(snapshot.indices.len());
    for frozen in &snapshot.indices {
        let Plan { query, hits_query, criteria, aggs } =
            plans.get(&frozen.ctx, |cx| Plan::compile(cx, req, paging), Plan::copy)?;
        targets.push(Target {
            handle: frozen.handle.clone(),
            ctx: frozen.ctx.clone(),
            query,
            hits_query,
            criteria,
            aggs,
            searchers: frozen.searchers.clone(),
            columns: frozen.columns.clone(),
        });
    }
    shard_aggs::agree(&mut targets.iter_mut().map(|t| &mut t.aggs).collect::<Vec<_>>());
    if let Some(request) = &req.aggs
        && targets.iter().any(|t| t.aggs.as_ref().is_some_and(|a| a.counts.is_none()))
    {
        aggs::refuse_overlapping_ranges(request)?;
    }
    Ok(targets)
}

#[cfg(test)]
thread_local! {
    /// Set by tests to run every aggregation through tantivy's module.
    static TANTIVY_AGGS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether aggregations must run through tantivy's module (tests compare).
fn tantivy_aggs() -> bool {
    #[cfg(test)]
    return TANTIVY_AGGS.with(std::cell::Cell::get);
    #[cfg(not(test))]
    false
}

/// A shard's results.
struct ShardResult {
    collected: Collected,
    aggs: Option<ShardAggs>,
}

/// The request's time budget, shared by its shards.
struct Clock {
    deadline: Option<Instant>,
    timed_out: Arc<std::sync::atomic::AtomicBool>,
}

/// Where a shard sits in the search: `(index, shard)` and its ordinal.
#[derive(Debug, Clone, Copy)]
struct ShardAt {
    origin: (usize, usize),
    ordinal: u32,
}

fn run_shard(
    target: &Target,
    at: ShardAt,
    req: &SearchRequest,
    k: usize,
    after: Option<After>,
    clock: &Clock,
    stats: Option<&GlobalStats<'_>>,
) -> Result<ShardResult, EsError> {
    let origin = at.origin;
    let searcher = &target.searchers[origin.1];
    // A scroll's pages resume after a hit's position, so its first page too
    // must break ties by position, which only the sort collector promises.
    let relevance_only = matches!(target.criteria.as_slice(), [Criterion::Score { desc: true }])
        && after.is_none()
        && req.scroll.is_none()
        && req.min_score.is_none()
        && clock.deadline.is_none();
    let count_wanted = req.track_total_hits != TrackTotal::Off;
    let agg_collector = || target.aggs.as_ref().map(|a| a.collector(&target.ctx, &target.columns[origin.1]));
    // Aggregations see `query`; with a post_filter the hits need their own pass.
    let separate_aggs = req.post_filter.is_some();
    let mut aggs = None;
    let collected = if relevance_only {
        let top = TopDocs::with_limit(k.max(1)).order_by_score();
        let (docs, total, shard_aggs) = match (agg_collector(), count_wanted, separate_aggs) {
            (Some(a), true, false) => {
                let (docs, total, r) = collect(searcher, target.hits_query.as_ref(), &(top, Count, a), stats)?;
                (docs, total, Some(r))
            }
            (_, true, _) => {
                let (docs, total) = collect(searcher, target.hits_query.as_ref(), &(top, Count), stats)?;
                (docs, total, None)
            }
            (_, false, _) => (collect(searcher, target.hits_query.as_ref(), &top, stats)?, 0, None),
        };
        aggs = shard_aggs;
        let hits = docs
            .into_iter()
            .take(k)
            .map(|(score, address)| Hit { key: vec![Key::Num(f64::from(score))], score, address, origin })
            .collect();
        Collected { hits, total: total as u64 }
    } else {
        let scoring = target.criteria.iter().any(|c| matches!(c, Criterion::Score { .. }))
            || req.track_scores
            || req.min_score.is_some();
        let top = TopCollector {
            criteria: Arc::new(target.criteria.clone()),
            k,
            after,
            min_score: req.min_score,
            scoring,
            origin,
            shard_ordinal: at.ordinal,
            bases: Arc::new(snapshot::segment_bases(searcher)),
            deadline: clock.deadline,
            timed_out: clock.timed_out.clone(),
            columns: target.columns[origin.1].clone(),
        };
        match (agg_collector(), separate_aggs) {
            (Some(a), false) => {
                let (c, r) = collect(searcher, target.hits_query.as_ref(), &(top, a), stats)?;
                aggs = Some(r);
                c
            }
            _ => collect(searcher, target.hits_query.as_ref(), &top, stats)?,
        }
    };
    if aggs.is_none()
        && let Some(a) = agg_collector()
    {
        aggs = Some(searcher.search(target.query.as_ref(), &a)?);
    }
    Ok(ShardResult { collected, aggs })
}

/// Runs `collector` on `searcher`, scoring with `stats` when given.
fn collect<C: tantivy::collector::Collector>(
    searcher: &Searcher,
    query: &dyn tantivy::query::Query,
    collector: &C,
    stats: Option<&GlobalStats<'_>>,
) -> tantivy::Result<C::Fruit> {
    match stats {
        Some(stats) => searcher.search_with_statistics_provider(query, collector, stats),
        None => searcher.search(query, collector),
    }
}

/// Runs a search over indexes, as of their last refresh; returns the
/// response body.
pub fn search(handles: &[Arc<IndexHandle>], req: &SearchRequest) -> Result<Value, EsError> {
    if req.pit.is_some() || req.scroll.is_some() {
        return Err(EsError::illegal_argument("[scroll] and [pit] are not supported in this API"));
    }
    Ok(run(&Snapshot::take(handles), req, &Paging::default())?.body)
}

/// Runs a search over a snapshot; returns the page.
pub fn run(snapshot: &Snapshot, req: &SearchRequest, paging: &Paging) -> Result<Page, EsError> {
    let started = Instant::now();
    let from = if paging.resume.is_some() { 0 } else { req.from };
    check_window(snapshot, req, from)?;
    let targets = prepare_all(snapshot, req, paging)?;
    let after = start_after(req, paging, &targets)?;
    let clock = Clock { deadline: req.timeout.map(|t| started + t), timed_out: Arc::default() };
    let results = search_shards(snapshot, &targets, req, from + req.size, after, &clock);
    let Merged { mut hits, total, aggs: merged_aggs } = merge(results)?;
    let criteria = targets.first().map_or_else(|| vec![Criterion::Score { desc: true }], |t| t.criteria.clone());
    let needed = from + req.size;
    collector::order_all(&mut hits, &criteria, needed, |hits, which, i| resolve_keywords(&targets, hits, which, i))?;
    let mut page: Vec<Hit> = hits.into_iter().skip(from).take(req.size).collect();
    // The page shows its sort values, and a scroll resumes after its last.
    let all: Vec<usize> = (0..page.len()).collect();
    for i in 0..criteria.len() {
        resolve_keywords(&targets, &mut page, &all, i)?;
    }
    let by_score = matches!(criteria.as_slice(), [Criterion::Score { .. }]) && req.sort.is_empty();
    let scored = by_score || criteria.iter().any(|c| matches!(c, Criterion::Score { .. })) || req.track_scores;
    let show_sort = !req.sort.is_empty() || paging.tiebreak;
    let hits_json = fetch(&targets, &page, req, &criteria, scored, show_sort)?;
    let max_score = if scored {
        page.iter().map(|h| h.score).fold(None, |m: Option<f32>, s| Some(m.map_or(s, |m| m.max(s))))
    } else {
        None
    };
    let mut hits_obj = Map::new();
    if let Some(total) = total_json(req, total) {
        hits_obj.insert("total".into(), total);
    }
    hits_obj.insert("max_score".into(), json!(max_score));
    hits_obj.insert("hits".into(), Value::Array(hits_json));
    let shard_count: usize = targets.iter().map(|t| t.searchers.len()).sum();
    let mut body = json!({
        "took": started.elapsed().as_millis() as u64,
        "timed_out": clock.timed_out.load(std::sync::atomic::Ordering::Relaxed),
        "_shards": {"total": shard_count, "successful": shard_count, "skipped": 0, "failed": 0},
        "hits": hits_obj,
    });
    // A scroll's later pages carry no aggregations.
    let aggs_request = req.aggs.as_ref().filter(|_| !paging.skip_aggs);
    if let (Some(request), Some(first)) = (aggs_request, targets.first()) {
        body["aggregations"] = aggregations(first, merged_aggs, request, req.typed_keys)?;
    } else if aggs_request.is_some() {
        body["aggregations"] = json!({});
    }
    Ok(Page { body, last: page.into_iter().last() })
}

/// Turns key `i` of the hits `which` from segment ordinals into keywords,
/// reading each segment's keyword column once.
fn resolve_keywords(targets: &[Target], hits: &mut [Hit], which: &[usize], i: usize) -> Result<(), EsError> {
    let mut by_segment: std::collections::BTreeMap<_, Vec<usize>> = std::collections::BTreeMap::new();
    for &n in which {
        if matches!(hits[n].key[i], Key::Ord(_)) {
            by_segment.entry(hits[n].segment()).or_default().push(n);
        }
    }
    for (((index, shard), segment), ns) in by_segment {
        let target = &targets[index];
        let Criterion::Field { def: Some(def), .. } = &target.criteria[i] else { continue };
        let reader = target.searchers[shard].segment_reader(segment);
        if let Some(crate::storage::columns::FieldColumn::Str(column)) = target.columns[shard].open(reader, def)? {
            collector::resolve_ords(hits, &ns, i, &column);
        }
    }
    Ok(())
}

/// Refuses a page beyond the smallest `max_result_window` of the indexes.
fn check_window(snapshot: &Snapshot, req: &SearchRequest, from: usize) -> Result<(), EsError> {
    let window = snapshot
        .indices
        .iter()
        .map(|i| i.handle.meta().setting_u64("max_result_window", MAX_RESULT_WINDOW as u64) as usize)
        .min()
        .unwrap_or(MAX_RESULT_WINDOW);
    if from + req.size > window {
        let what = if req.scroll.is_some() {
            "Batch size is too large, size"
        } else {
            "Result window is too large, from + size"
        };
        return Err(EsError::illegal_argument(format!(
            "{what} must be less than or equal to: [{window}] but was [{}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.",
            from + req.size
        )));
    }
    if req.search_after.is_some() && req.from > 0 {
        return Err(EsError::illegal_argument("[from] parameter must be set to 0 when [search_after] is used"));
    }
    Ok(())
}

/// Where the page starts: a scroll's resume point, or `search_after` read
/// against the sort.
fn start_after(req: &SearchRequest, paging: &Paging, targets: &[Target]) -> Result<Option<After>, EsError> {
    match (&req.search_after, targets.first()) {
        _ if paging.resume.is_some() => Ok(paging.resume.clone()),
        (Some(values), Some(t)) => {
            if values.len() != t.criteria.len() {
                return Err(EsError::illegal_argument(format!(
                    "search_after has {} value(s) but sort has {}.",
                    values.len(),
                    t.criteria.len()
                )));
            }
            Ok(Some(After { key: values.iter().zip(&t.criteria).map(|(v, c)| c.key_of(v)).collect(), tie: None }))
        }
        _ => Ok(None),
    }
}

/// Searches every shard of every target on the node's search pool; the
/// top `k` of each, in shard order.
fn search_shards(
    snapshot: &Snapshot,
    targets: &[Target],
    req: &SearchRequest,
    k: usize,
    after: Option<After>,
    clock: &Clock,
) -> Vec<Result<ShardResult, EsError>> {
    let jobs: Vec<ShardAt> = targets
        .iter()
        .enumerate()
        .flat_map(|(i, t)| (0..t.searchers.len()).map(move |s| (i, s)))
        .map(|origin| ShardAt { origin, ordinal: snapshot.shard_ordinal(origin.0, origin.1) })
        .collect();
    let stats_cache = dfs::StatsCache::default();
    let all_shards: Vec<&Searcher> =
        if req.dfs { targets.iter().flat_map(|t| t.searchers.iter()).collect() } else { Vec::new() };
    pool::map(&jobs, |&at| {
        let (i, s) = at.origin;
        let stats =
            req.dfs.then(|| GlobalStats { own: &targets[i].searchers[s], shards: &all_shards, cache: &stats_cache });
        // The shard's column cache is the thread's current one while it
        // runs: the query side (`function_score`) reads dense copies through it.
        crate::storage::columns::with_current(&targets[i].columns[s], || {
            run_shard(&targets[i], at, req, k, after.clone(), clock, stats.as_ref())
        })
    })
}

/// The shards' results together: every hit (unsorted), the total, and the
/// aggregations merged.
struct Merged {
    hits: Vec<Hit>,
    total: u64,
    aggs: Option<ShardAggs>,
}

fn merge(results: Vec<Result<ShardResult, EsError>>) -> Result<Merged, EsError> {
    let mut merged = Merged { hits: Vec::new(), total: 0, aggs: None };
    for result in results {
        let result = result?;
        merged.total += result.collected.total;
        merged.hits.extend(result.collected.hits);
        if let Some(a) = result.aggs {
            match &mut merged.aggs {
                Some(m) => m.merge(a)?,
                None => merged.aggs = Some(a),
            }
        }
    }
    Ok(merged)
}

/// `hits.total` as the request asks for it; `None` leaves it out.
fn total_json(req: &SearchRequest, total: u64) -> Option<Value> {
    match req.track_total_hits {
        TrackTotal::Off if req.total_as_int => Some(json!(-1)),
        TrackTotal::Off => None,
        _ if req.total_as_int => Some(json!(total)),
        TrackTotal::UpTo(limit) if total > limit as u64 => Some(json!({"value": limit, "relation": "gte"})),
        _ => Some(json!({"value": total, "relation": "eq"})),
    }
}

/// The `aggregations` of the response, from the shards' merged results.
fn aggregations(
    first: &Target,
    merged: Option<ShardAggs>,
    request: &Map<String, Value>,
    typed_keys: bool,
) -> Result<Value, EsError> {
    let json = match &first.aggs {
        Some(plan) => plan.results(merged)?,
        None => Value::Object(Map::new()),
    };
    Ok(aggs::finish(json, request, &first.ctx.mapping, typed_keys))
}

fn fetch(
    targets: &[Target],
    page: &[Hit],
    req: &SearchRequest,
    criteria: &[Criterion],
    scored: bool,
    show_sort: bool,
) -> Result<Vec<Value>, EsError> {
    let mut highlighters: Vec<Option<highlight::Highlighter>> = targets.iter().map(|_| None).collect();
    let mut out = Vec::with_capacity(page.len());
    for hit in page {
        let (i, shard) = hit.origin;
        let target = &targets[i];
        let searcher = &target.searchers[shard];
        let meta = target.columns[shard].meta(searcher.segment_reader(hit.address.segment_ord))?;
        let doc =
            load_with(searcher, &target.ctx, DocAddress::new(hit.address.segment_ord, hit.address.doc_id), &meta)?;
        let source: Value = serde_json::from_str(&doc.source).unwrap_or(Value::Null);
        let mut h = json!({"_index": target.handle.name(), "_id": doc.id});
        h["_score"] = if scored && hit.score.is_finite() { json!(hit.score) } else { Value::Null };
        if let Some(routing) = &doc.routing {
            h["_routing"] = json!(routing);
        }
        if req.version {
            h["_version"] = json!(doc.version);
        }
        if req.seq_no_primary_term {
            h["_seq_no"] = json!(doc.seq_no);
            h["_primary_term"] = json!(1);
        }
        if let Some(filtered) = req.source.apply(&source) {
            h["_source"] = filtered;
        }
        if !req.fields.is_empty() {
            h["fields"] = fields_of(&source, &req.fields);
        }
        if let Some(spec) = &req.highlight {
            if highlighters[i].is_none() {
                highlighters[i] = Some(highlight::Highlighter::new(spec, &target.ctx, searcher, &target.query)?);
            }
            if let Some(hl) = highlighters[i].as_mut().and_then(|hl| hl.highlight(&source)) {
                h["highlight"] = hl;
            }
        }
        if show_sort {
            let values: Vec<Value> = hit.key.iter().zip(criteria).map(|(k, c)| k.to_json(c.is_integer())).collect();
            h["sort"] = Value::Array(values);
        }
        out.push(h);
    }
    Ok(out)
}

/// `fields`: values at the requested paths, always as arrays.
fn fields_of(source: &Value, patterns: &[String]) -> Value {
    fn walk(prefix: &str, value: &Value, patterns: &[String], out: &mut Map<String, Value>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&path, v, patterns, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(prefix, v, patterns, out)),
            Value::Null => {}
            leaf => {
                if patterns.iter().any(|p| crate::util::glob_match(p, prefix)) {
                    let entry = out.entry(prefix.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = entry {
                        a.push(leaf.clone());
                    }
                }
            }
        }
    }
    let mut out = Map::new();
    walk("", source, patterns, &mut out);
    Value::Object(out)
}

/// Counts the matches of a query over indexes, the shards on the search
/// pool; the query compiled once per shape.
pub fn count(handles: &[Arc<IndexHandle>], query: &crate::query::Query) -> Result<u64, EsError> {
    let mut queries = shape::ByShape::new();
    let mut jobs = Vec::new();
    for handle in handles {
        let query: Arc<dyn tantivy::query::Query> =
            queries.get(&handle.context(), |cx| query.compile(cx).map(Arc::from), Arc::clone)?;
        jobs.extend(handle.shards().iter().map(|shard| (shard.searcher(), query.clone())));
    }
    let counts = pool::map(&jobs, |(searcher, query)| searcher.search(query.as_ref(), &Count));
    let mut total = 0;
    for n in counts {
        total += n? as u64;
    }
    Ok(total)
}

/// The ids of every match of a query, per index (for delete-by-query).
pub fn matching_ids(handle: &IndexHandle, query: &crate::query::Query) -> Result<Vec<String>, EsError> {
    let ctx = handle.context();
    let compiled = query.compile(Cx::new(&ctx, &std::cell::Cell::new(false)))?;
    let mut ids = Vec::new();
    for shard in handle.shards() {
        let searcher = shard.searcher();
        let docs = searcher.search(compiled.as_ref(), &tantivy::collector::DocSetCollector)?;
        for address in docs {
            let segment = searcher.segment_reader(address.segment_ord);
            if let Some(id) = crate::storage::shard::doc_id(segment, address.doc_id)? {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

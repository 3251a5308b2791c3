//! A request's aggregations on a shard, run one of two ways: counted from
//! the columns ([`super::counts`]) when every aggregation of the request
//! allows it on every index searched, by tantivy's aggregation module
//! otherwise. One request never mixes the two: their partial results do
//! not merge.

use std::sync::Arc;

use serde_json::{Map, Value};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::intermediate_agg_result::IntermediateAggregationResults;
use tantivy::aggregation::{AggContextParams, AggregationLimitsGuard, DistributedAggregationCollector};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::counts::{CountCollector, CountPlan, Counts, SegmentCounts};
use crate::error::EsError;
use crate::mapping::context::IndexContext;
use crate::storage::columns::ColumnCache;

/// The memory and bucket limits of tantivy's aggregations.
fn limits() -> AggregationLimitsGuard {
    AggregationLimitsGuard::new(Some(500 << 20), Some(65_535))
}

/// How one index runs a request's aggregations.
#[derive(Debug, Clone)]
pub struct AggPlan {
    /// tantivy's translation: always made, so a request is validated alike
    /// whichever way it runs.
    pub translated: Aggregations,
    /// Set when the request can be counted.
    pub counts: Option<CountPlan>,
}

impl AggPlan {
    /// The collector for one shard, its columns opened through `columns`.
    pub fn collector(&self, ctx: &IndexContext, columns: &Arc<ColumnCache>) -> AggCollector {
        match &self.counts {
            Some(plan) => AggCollector::Counts(plan.collector(columns.clone())),
            None => AggCollector::Tantivy(DistributedAggregationCollector::from_aggs(
                self.translated.clone(),
                AggContextParams::new(limits(), ctx.tokenizers()),
            )),
        }
    }

    /// The response's aggregations (tantivy's result format, before
    /// [`super::aggs::finish`]) from the shards' merged results.
    pub fn results(&self, merged: Option<ShardAggs>) -> Result<Value, EsError> {
        let internal = |e: serde_json::Error| EsError::internal(e.to_string()).caused_by(e);
        match (&self.counts, merged) {
            (Some(plan), Some(ShardAggs::Counts(c))) => Ok(plan.results(Some(c))),
            (Some(plan), None) => Ok(plan.results(None)),
            (_, merged) => {
                let intermediate = match merged {
                    Some(ShardAggs::Tantivy(r)) => r,
                    _ => IntermediateAggregationResults::default(),
                };
                let results = intermediate.into_final_result(self.translated.clone(), limits())?;
                serde_json::to_value(results).map_err(internal)
            }
        }
    }
}

/// Makes every index of a request run its aggregations the same way:
/// counted only when all of them can be.
pub fn agree(plans: &mut [&mut Option<AggPlan>]) {
    if plans.iter().any(|p| p.as_ref().is_some_and(|p| p.counts.is_none())) {
        plans.iter_mut().filter_map(|p| p.as_mut()).for_each(|p| p.counts = None);
    }
}

/// A shard's aggregation results.
pub enum ShardAggs {
    /// tantivy's intermediate results.
    Tantivy(IntermediateAggregationResults),
    /// Counts.
    Counts(Counts),
}

impl ShardAggs {
    /// Adds another shard's results of the same request.
    pub fn merge(&mut self, other: ShardAggs) -> Result<(), EsError> {
        match (self, other) {
            (ShardAggs::Tantivy(a), ShardAggs::Tantivy(b)) => Ok(a.merge_fruits(b)?),
            (ShardAggs::Counts(a), ShardAggs::Counts(b)) => {
                a.add(b);
                Ok(())
            }
            _ => Err(EsError::internal("aggregations of one request ran two ways")),
        }
    }
}

/// Runs a shard's aggregations either way.
pub enum AggCollector {
    /// tantivy's.
    Tantivy(DistributedAggregationCollector),
    /// Counting.
    Counts(CountCollector),
}

/// [`AggCollector`] in one segment.
pub enum AggSegment {
    /// tantivy's.
    Tantivy(<DistributedAggregationCollector as Collector>::Child),
    /// Counting.
    Counts(SegmentCounts),
}

impl Collector for AggCollector {
    type Fruit = ShardAggs;
    type Child = AggSegment;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<AggSegment> {
        Ok(match self {
            AggCollector::Tantivy(c) => AggSegment::Tantivy(c.for_segment(segment, reader)?),
            AggCollector::Counts(c) => AggSegment::Counts(c.for_segment(segment, reader)?),
        })
    }

    fn requires_scoring(&self) -> bool {
        match self {
            AggCollector::Tantivy(c) => c.requires_scoring(),
            AggCollector::Counts(c) => c.requires_scoring(),
        }
    }

    fn merge_fruits(&self, fruits: Vec<SegmentAggs>) -> tantivy::Result<ShardAggs> {
        let bad = || tantivy::TantivyError::InternalError("a segment's aggregations ran another way".into());
        let mut tantivy_fruits = Vec::new();
        let mut counts = Vec::new();
        for fruit in fruits {
            match fruit {
                SegmentAggs::Tantivy(r) => tantivy_fruits.push(r),
                SegmentAggs::Counts(c) => counts.push(c),
            }
        }
        Ok(match self {
            AggCollector::Tantivy(c) if counts.is_empty() => ShardAggs::Tantivy(c.merge_fruits(tantivy_fruits)?),
            AggCollector::Counts(c) if tantivy_fruits.is_empty() => ShardAggs::Counts(c.merge_fruits(counts)?),
            _ => return Err(bad()),
        })
    }
}

/// A segment's aggregation results.
pub enum SegmentAggs {
    /// tantivy's.
    Tantivy(tantivy::Result<IntermediateAggregationResults>),
    /// Counts.
    Counts(Counts),
}

impl SegmentCollector for AggSegment {
    type Fruit = SegmentAggs;

    fn collect(&mut self, doc: DocId, score: Score) {
        match self {
            AggSegment::Tantivy(c) => c.collect(doc, score),
            AggSegment::Counts(c) => c.collect(doc, score),
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        match self {
            AggSegment::Tantivy(c) => c.collect_block(docs),
            AggSegment::Counts(c) => c.collect_block(docs),
        }
    }

    fn harvest(self) -> SegmentAggs {
        match self {
            AggSegment::Tantivy(c) => SegmentAggs::Tantivy(c.harvest()),
            AggSegment::Counts(c) => SegmentAggs::Counts(c.harvest()),
        }
    }
}

/// Whether a request's `aggs` could be counted on an index of `ctx`'s
/// mapping; `force_tantivy` (tests) says never.
pub fn plan(aggs: &Map<String, Value>, translated: Aggregations, ctx: &IndexContext, force_tantivy: bool) -> AggPlan {
    let counts = if force_tantivy { None } else { CountPlan::of(aggs, &ctx.mapping) };
    AggPlan { translated, counts }
}

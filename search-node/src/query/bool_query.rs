//! `bool`: `must` and `should` clauses score, `filter` and `must_not`
//! only select. Without `must` or `filter`, at least one `should` clause
//! must match (`minimum_should_match` overrides).

use serde_json::Value;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur};

use super::{Compiled, Cx, Params, Query, boosted, minimum_should_match};
use crate::error::EsError;

/// A `bool` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BoolQuery {
    /// Must match; scores.
    pub must: Vec<Query>,
    /// Should match; scores.
    pub should: Vec<Query>,
    /// Must match; no score.
    pub filter: Vec<Query>,
    /// Must not match.
    pub must_not: Vec<Query>,
    /// `minimum_should_match`, as given.
    pub minimum_should_match: Option<Value>,
    /// Score multiplier.
    pub boost: f32,
}

fn clauses(p: &Params, key: &str) -> Result<Vec<Query>, EsError> {
    match p.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(Query::parse).collect(),
        Some(one @ Value::Object(_)) => Ok(vec![Query::parse(one)?]),
        Some(_) => Err(EsError::parsing(format!("[bool] query malformed, [{key}] must be an object or an array"))),
    }
}

impl BoolQuery {
    pub(super) fn parse(body: &Value) -> Result<BoolQuery, EsError> {
        let p = Params::new(
            "bool",
            body,
            &["must", "should", "filter", "must_not", "minimum_should_match", "boost", "_name", "adjust_pure_negative"],
        )?;
        Ok(BoolQuery {
            must: clauses(&p, "must")?,
            should: clauses(&p, "should")?,
            filter: clauses(&p, "filter")?,
            must_not: clauses(&p, "must_not")?,
            minimum_should_match: p.get("minimum_should_match").cloned(),
            boost: p.f32("boost", 1.0)?,
        })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        let mut subqueries: Vec<(Occur, Compiled)> = Vec::new();
        for q in &self.must {
            subqueries.push((Occur::Must, q.compile(cx)?));
        }
        let mut excluded: Vec<&Query> = self.must_not.iter().collect();
        let mut selecting = false;
        for q in &self.filter {
            match q {
                // A filter that only excludes (`is_adult` is not true)
                // excludes here: as a clause of its own it matched every
                // other document, and intersecting with that cost a seek
                // per match (a sixth of a search matching a third of the
                // titles).
                Query::Bool(only_not) if only_not.is_pure_negative() => excluded.extend(&only_not.must_not),
                // Selects without adding to the score.
                q => {
                    subqueries.push((Occur::Must, Box::new(BoostQuery::new(q.compile(cx)?, 0.0))));
                    selecting = true;
                }
            }
        }
        for q in excluded {
            subqueries.push((Occur::MustNot, q.compile(cx)?));
        }
        let required = match &self.minimum_should_match {
            Some(spec) => minimum_should_match(spec, self.should.len())?,
            None if self.must.is_empty() && self.filter.is_empty() => usize::from(!self.should.is_empty()),
            None => 0,
        };
        for q in &self.should {
            subqueries.push((Occur::Should, q.compile(cx)?));
        }
        let lifted = !self.filter.is_empty() && !selecting;
        if self.must.is_empty() && lifted && (self.should.is_empty() || required == 0) {
            // Only lifted filters: everything not excluded matches, and the
            // filters add nothing to the score (the `should` clauses score).
            subqueries.push((Occur::Must, Box::new(BoostQuery::new(Box::new(AllQuery), 0.0))));
        } else if self.must.is_empty() && self.filter.is_empty() && self.should.is_empty() {
            // Only must_not (or nothing): everything else matches.
            subqueries.push((Occur::Must, Box::new(AllQuery)));
        }
        let query = if required > 0 {
            BooleanQuery::with_minimum_required_clauses(subqueries, required)
        } else {
            BooleanQuery::new(subqueries)
        };
        Ok(boosted(Box::new(query), self.boost))
    }

    /// Whether this only excludes (`must_not` clauses and nothing else), so
    /// that as a filter it can join its parent's `must_not`.
    fn is_pure_negative(&self) -> bool {
        self.must.is_empty() && self.should.is_empty() && self.filter.is_empty() && !self.must_not.is_empty()
    }
}

//! `constant_score` and `dis_max`.

use serde_json::Value;
use tantivy::query::{ConstScoreQuery, DisjunctionMaxQuery};

use super::{Compiled, Cx, Params, Query, boosted};
use crate::error::EsError;

/// `constant_score`: the filter's matches, each scoring `boost`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantScoreQuery {
    /// The filter.
    pub filter: Box<Query>,
    /// The score.
    pub boost: f32,
}

impl ConstantScoreQuery {
    pub(super) fn parse(body: &Value) -> Result<ConstantScoreQuery, EsError> {
        let p = Params::new("constant_score", body, &["filter", "boost", "_name"])?;
        let filter =
            p.query("filter")?.ok_or_else(|| EsError::parsing("[constant_score] requires a 'filter' element"))?;
        Ok(ConstantScoreQuery { filter: Box::new(filter), boost: p.f32("boost", 1.0)? })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        Ok(Box::new(ConstScoreQuery::new(self.filter.compile(cx)?, self.boost)))
    }
}

/// `dis_max`: the best clause's score, plus `tie_breaker` times the others'.
#[derive(Debug, Clone, PartialEq)]
pub struct DisMaxQuery {
    /// The clauses.
    pub queries: Vec<Query>,
    /// Weight of the non-best clauses.
    pub tie_breaker: f32,
    /// Score multiplier.
    pub boost: f32,
}

impl DisMaxQuery {
    pub(super) fn parse(body: &Value) -> Result<DisMaxQuery, EsError> {
        let p = Params::new("dis_max", body, &["queries", "tie_breaker", "boost", "_name"])?;
        let queries = match p.get("queries") {
            Some(Value::Array(a)) => a.iter().map(Query::parse).collect::<Result<_, _>>()?,
            Some(q @ Value::Object(_)) => vec![Query::parse(q)?],
            _ => return Err(EsError::parsing("[dis_max] requires 'queries' field with at least one clause")),
        };
        Ok(DisMaxQuery { queries, tie_breaker: p.f32("tie_breaker", 0.0)?, boost: p.f32("boost", 1.0)? })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        let disjuncts = self.queries.iter().map(|q| q.compile(cx)).collect::<Result<Vec<_>, _>>()?;
        Ok(boosted(Box::new(DisjunctionMaxQuery::with_tie_breaker(disjuncts, self.tie_breaker)), self.boost))
    }
}

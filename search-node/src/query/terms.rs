//! `terms`: documents whose field holds any of the values; constant score.

use serde_json::Value;
use tantivy::Term;
use tantivy::query::{BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, TermQuery, TermSetQuery};
use tantivy::schema::IndexRecordOption;

use super::{Compiled, Cx};
use crate::error::EsError;

/// Up to this many terms are looked up one by one (a union of term
/// queries), as Lucene rewrites a small `TermInSetQuery`: tantivy's set
/// query builds an FST of the terms for every shard it runs on, and an FST
/// builder starts with a 1 MB table, which is most of a filtered search's
/// cost over the 30 title indexes.
const FEW_TERMS: usize = 16;

/// Documents holding any of `terms` (unscored: callers wrap it in a
/// constant score).
pub(crate) fn any_term(terms: Vec<Term>) -> Compiled {
    let single = |t| -> Compiled { Box::new(TermQuery::new(t, IndexRecordOption::Basic)) };
    match terms.len() {
        1 => single(terms.into_iter().next().expect("one term")),
        n if n <= FEW_TERMS => {
            Box::new(BooleanQuery::new(terms.into_iter().map(|t| (Occur::Should, single(t))).collect()))
        }
        _ => Box::new(TermSetQuery::new(terms)),
    }
}

/// A `terms` query.
#[derive(Debug, Clone, PartialEq)]
pub struct TermsQuery {
    /// Field path.
    pub field: String,
    /// The values.
    pub values: Vec<Value>,
    /// The constant score.
    pub boost: f32,
}

impl TermsQuery {
    pub(super) fn parse(body: &Value) -> Result<TermsQuery, EsError> {
        let Value::Object(map) = body else { return Err(EsError::parsing("[terms] query malformed")) };
        let mut field = None;
        let mut boost = 1.0;
        for (key, value) in map {
            match key.as_str() {
                "boost" => boost = value.as_f64().unwrap_or(1.0) as f32,
                "_name" => {}
                _ => {
                    let Value::Array(values) = value else {
                        return Err(EsError::parsing(format!(
                            "[terms] query does not support [{key}]: a terms lookup is not supported by imdb-search-node, give the values as an array"
                        )));
                    };
                    if field.is_some() {
                        return Err(EsError::parsing("[terms] query does not support multiple fields"));
                    }
                    field = Some((key.clone(), values.clone()));
                }
            }
        }
        let (field, values) = field.ok_or_else(|| EsError::parsing("[terms] query requires a field"))?;
        Ok(TermsQuery { field, values, boost })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        if let Some(q) =
            super::on_index_name(cx, &self.field, |n| self.values.iter().any(|v| crate::util::plain(v) == n))
        {
            return Ok(q);
        }
        let Some(r) = cx.field(&self.field) else { return Ok(Box::new(EmptyQuery)) };
        let terms = self.values.iter().map(|v| cx.term(r, v)).collect::<Result<Vec<_>, _>>()?;
        if terms.is_empty() {
            return Ok(Box::new(EmptyQuery));
        }
        let inner: Compiled = if r.def.index {
            any_term(terms)
        } else {
            let clauses = terms
                .into_iter()
                .map(|t| super::term::exact(r, t).map(|q| (Occur::Should, q)))
                .collect::<Result<Vec<_>, _>>()?;
            Box::new(BooleanQuery::new(clauses))
        };
        Ok(Box::new(ConstScoreQuery::new(inner, self.boost)))
    }
}

//! `ids`: documents by `_id`; constant score.

use serde_json::Value;
use tantivy::Term;
use tantivy::query::ConstScoreQuery;

use super::{Compiled, Cx, Params};
use crate::error::EsError;

/// An `ids` query.
#[derive(Debug, Clone, PartialEq)]
pub struct IdsQuery {
    /// The ids.
    pub values: Vec<String>,
    /// The constant score.
    pub boost: f32,
}

impl IdsQuery {
    pub(super) fn parse(body: &Value) -> Result<IdsQuery, EsError> {
        let p = Params::new("ids", body, &["values", "boost", "_name", "type"])?;
        let values = match p.get("values") {
            Some(Value::Array(a)) => a.iter().map(crate::util::plain).collect(),
            None => Vec::new(),
            Some(_) => return Err(EsError::parsing("[ids] query [values] must be an array")),
        };
        Ok(IdsQuery { values, boost: p.f32("boost", 1.0)? })
    }

    pub(super) fn compile(&self, cx: Cx) -> Compiled {
        let field = cx.index.schema.meta.id;
        let terms: Vec<Term> = self.values.iter().map(|id| Term::from_field_text(field, id)).collect();
        Box::new(ConstScoreQuery::new(super::terms::any_term(terms), self.boost))
    }
}

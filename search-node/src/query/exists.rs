//! `exists`: documents with at least one indexed value for a field (or,
//! for an object, for any field under it).

use serde_json::Value;
use tantivy::Term;
use tantivy::query::{ConstScoreQuery, EmptyQuery};

use super::{Compiled, Cx, Params};
use crate::error::EsError;

/// An `exists` query.
#[derive(Debug, Clone, PartialEq)]
pub struct ExistsQuery {
    /// Field path or pattern.
    pub field: String,
    /// The constant score.
    pub boost: f32,
}

impl ExistsQuery {
    pub(super) fn parse(body: &Value) -> Result<ExistsQuery, EsError> {
        let p = Params::new("exists", body, &["field", "boost", "_name"])?;
        let field = p.string("field").ok_or_else(|| EsError::parsing("[exists] must be provided with a [field]"))?;
        Ok(ExistsQuery { field, boost: p.f32("boost", 1.0)? })
    }

    pub(super) fn compile(&self, cx: Cx) -> Compiled {
        let names = cx.index.schema.meta.field_names;
        let mapping = &cx.index.mapping;
        // `_field_names` holds every path with a value and its parents.
        let mut paths: Vec<&str> = mapping
            .fields
            .keys()
            .chain(mapping.objects.keys())
            .filter(|p| crate::util::glob_match(&self.field, p))
            .map(String::as_str)
            .collect();
        paths.sort_unstable();
        paths.dedup();
        if paths.is_empty() {
            return Box::new(EmptyQuery);
        }
        let terms: Vec<Term> = paths.iter().map(|p| Term::from_field_text(names, p)).collect();
        Box::new(ConstScoreQuery::new(super::terms::any_term(terms), self.boost))
    }
}

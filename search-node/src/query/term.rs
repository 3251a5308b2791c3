//! `term`: documents whose field holds exactly this value (not analysed;
//! keyword normalizers apply, values are coerced to the field's type).

use serde_json::Value;
use tantivy::Term;
use tantivy::query::{ConstScoreQuery, EmptyQuery, RangeQuery as TantivyRange, RegexQuery, TermQuery as TantivyTerm};
use tantivy::schema::IndexRecordOption;

use super::{Compiled, Cx, Params, Resolved, boosted, single_field};
use crate::error::EsError;
use crate::mapping::FieldType;

/// A `term` query.
#[derive(Debug, Clone, PartialEq)]
pub struct TermQuery {
    /// Field path.
    pub field: String,
    /// The exact value.
    pub value: Value,
    /// Score multiplier.
    pub boost: f32,
    /// ASCII case-insensitive match (keyword and text terms).
    pub case_insensitive: bool,
}

impl TermQuery {
    pub(super) fn parse(body: &Value) -> Result<TermQuery, EsError> {
        let (field, value, outer_boost) = single_field("term", body)?;
        if let Value::Object(_) = value {
            let p = Params::new("term", value, &["value", "boost", "case_insensitive", "_name"])?;
            let value = p.get("value").cloned().ok_or_else(|| EsError::parsing("[term] query requires a [value]"))?;
            return Ok(TermQuery {
                field: field.to_owned(),
                value,
                boost: p.f32("boost", outer_boost)?,
                case_insensitive: p.bool("case_insensitive", false)?,
            });
        }
        if value.is_array() {
            return Err(EsError::parsing("[term] query does not support array of values"));
        }
        Ok(TermQuery { field: field.to_owned(), value: value.clone(), boost: outer_boost, case_insensitive: false })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        if let Some(q) = super::on_index_name(cx, &self.field, |n| n == crate::util::plain(&self.value)) {
            return Ok(q);
        }
        let Some(r) = cx.field(&self.field) else { return Ok(Box::new(EmptyQuery)) };
        if self.case_insensitive && matches!(r.def.ty, FieldType::Keyword { .. } | FieldType::Text { .. }) {
            let text = cx.analyze(r, &crate::util::plain(&self.value), Some("keyword")).map(|t| t[0].1.clone());
            let text = text.unwrap_or_default();
            let pattern = case_insensitive_pattern(&text);
            let query = RegexQuery::from_pattern(&pattern, r.field)?;
            return Ok(Box::new(ConstScoreQuery::new(Box::new(query), self.boost)));
        }
        let term = cx.term(r, &self.value)?;
        Ok(boosted(exact(r, term)?, self.boost))
    }
}

/// The query for one exact term: scored from the inverted index when the
/// field is indexed, a constant-score doc-values scan when it only has
/// doc values (`index: false`), as Elasticsearch does.
pub(crate) fn exact(r: Resolved, term: Term) -> Result<Compiled, EsError> {
    if r.def.index {
        let scored = matches!(r.def.ty, FieldType::Text { .. });
        let record = if scored { IndexRecordOption::WithFreqs } else { IndexRecordOption::Basic };
        let query: Compiled = Box::new(TantivyTerm::new(term, record));
        // Keyword and numeric fields have no norms nor frequencies in
        // Elasticsearch: a match scores by rarity alone.
        return Ok(query);
    }
    if r.def.doc_values {
        let range = TantivyRange::new(std::ops::Bound::Included(term.clone()), std::ops::Bound::Included(term));
        return Ok(Box::new(ConstScoreQuery::new(Box::new(range), 1.0)));
    }
    Err(EsError::illegal_argument(format!("Cannot search on field [{}] since it is not indexed.", r.def.path)))
}

/// A regular expression matching `text` whatever the ASCII case.
pub(crate) fn case_insensitive_pattern(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            out.push('[');
            out.push(c.to_ascii_lowercase());
            out.push(c.to_ascii_uppercase());
            out.push(']');
        } else {
            out.push_str(&regex_escape(&c.to_string()));
        }
    }
    out
}

/// Escapes a literal for tantivy's regular expressions.
pub(crate) fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~\"<>@".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

//! `prefix` and `wildcard`: term-level pattern queries over the terms of a
//! field (after the keyword normalizer); constant score.

use serde_json::Value;
use tantivy::query::{ConstScoreQuery, EmptyQuery, RegexQuery};

use super::term::{case_insensitive_pattern, regex_escape};
use super::{Compiled, Cx, Params, single_field};
use crate::error::EsError;
use crate::mapping::FieldType;
use crate::mapping::analysis::MAX_PREFIX;
use crate::mapping::schema::PREFIX_SUFFIX;

/// A `prefix` query.
#[derive(Debug, Clone, PartialEq)]
pub struct PrefixQuery {
    /// Field path.
    pub field: String,
    /// The prefix.
    pub value: String,
    /// The constant score.
    pub boost: f32,
    /// ASCII case-insensitive.
    pub case_insensitive: bool,
}

/// A `wildcard` query (`*` any characters, `?` one).
#[derive(Debug, Clone, PartialEq)]
pub struct WildcardQuery {
    /// Field path.
    pub field: String,
    /// The pattern.
    pub value: String,
    /// The constant score.
    pub boost: f32,
    /// ASCII case-insensitive.
    pub case_insensitive: bool,
}

fn parse_field(kind: &'static str, body: &Value) -> Result<(String, String, f32, bool), EsError> {
    let (field, inner, outer_boost) = single_field(kind, body)?;
    if let Value::Object(_) = inner {
        let p = Params::new(kind, inner, &["value", "wildcard", "boost", "case_insensitive", "rewrite", "_name"])?;
        let value = p
            .string("value")
            .or_else(|| p.string("wildcard"))
            .ok_or_else(|| EsError::parsing(format!("[{kind}] query requires a [value]")))?;
        return Ok((field.to_owned(), value, p.f32("boost", outer_boost)?, p.bool("case_insensitive", false)?));
    }
    Ok((field.to_owned(), crate::util::plain(inner), outer_boost, false))
}

fn normalized(cx: Cx, field: &str, value: &str) -> String {
    match cx.field(field).map(|r| &r.def.ty) {
        Some(FieldType::Keyword { normalizer, .. }) => cx.index.analyzers.normalize(normalizer.as_deref(), value),
        _ => value.to_owned(),
    }
}

fn pattern_query(cx: Cx, field: &str, pattern: &str, boost: f32) -> Result<Compiled, EsError> {
    let Some(r) = cx.field(field) else { return Ok(Box::new(EmptyQuery)) };
    if !r.def.index || !matches!(r.def.ty, FieldType::Text { .. } | FieldType::Keyword { .. }) {
        return Err(EsError::illegal_argument(format!(
            "Can only use prefix or wildcard queries on keyword and text fields - not on [{field}] which is of type [{}]",
            r.def.ty.name()
        )));
    }
    let query = RegexQuery::from_pattern(pattern, r.field)
        .map_err(|e| EsError::illegal_argument(format!("invalid pattern for [{field}]: {e}")).caused_by(e))?;
    Ok(Box::new(ConstScoreQuery::new(Box::new(query), boost)))
}

impl PrefixQuery {
    pub(super) fn parse(body: &Value) -> Result<PrefixQuery, EsError> {
        let (field, value, boost, case_insensitive) = parse_field("prefix", body)?;
        Ok(PrefixQuery { field, value, boost, case_insensitive })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        if let Some(q) = super::on_index_name(cx, &self.field, |n| n.starts_with(&self.value)) {
            return Ok(q);
        }
        let value = normalized(cx, &self.field, &self.value);
        // A text field with `index_prefixes` has its prefixes as terms.
        let prefixes = format!("{}{PREFIX_SUFFIX}", self.field);
        if !self.case_insensitive
            && value.chars().count() <= MAX_PREFIX
            && let Some(&field) = cx.index.schema.fields.get(&prefixes)
        {
            let term = tantivy::Term::from_field_text(field, &value.to_lowercase());
            let query = tantivy::query::TermQuery::new(term, tantivy::schema::IndexRecordOption::Basic);
            return Ok(Box::new(ConstScoreQuery::new(Box::new(query), self.boost)));
        }
        let literal = if self.case_insensitive { case_insensitive_pattern(&value) } else { regex_escape(&value) };
        pattern_query(cx, &self.field, &format!("{literal}.*"), self.boost)
    }
}

/// The regular expression of a wildcard pattern.
pub(crate) fn wildcard_regex(pattern: &str, case_insensitive: bool) -> String {
    let mut out = String::new();
    for c in pattern.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c if case_insensitive => out.push_str(&case_insensitive_pattern(&c.to_string())),
            c => out.push_str(&regex_escape(&c.to_string())),
        }
    }
    out
}

impl WildcardQuery {
    pub(super) fn parse(body: &Value) -> Result<WildcardQuery, EsError> {
        let (field, value, boost, case_insensitive) = parse_field("wildcard", body)?;
        Ok(WildcardQuery { field, value, boost, case_insensitive })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        if let Some(q) = super::on_index_name(cx, &self.field, |n| crate::util::glob_match(&self.value, n)) {
            return Ok(q);
        }
        let value = normalized(cx, &self.field, &self.value);
        pattern_query(cx, &self.field, &wildcard_regex(&value, self.case_insensitive), self.boost)
    }
}

//! The Elasticsearch query DSL: one externally tagged enum, one file per
//! query type, compiled to tantivy queries against one index's mapping.
//!
//! Parsing is strict: an unknown query type or parameter is a
//! `parsing_exception` naming it (`[match] query does not support [foo]`),
//! never ignored. Compilation follows Elasticsearch's semantics: a query on
//! a field the mapping does not know matches nothing; text is analysed with
//! the field's search analyzer; term-level queries on `keyword` fields go
//! through the field's normalizer; values are coerced to the field's type.

mod bool_query;
mod compound;
mod exists;
mod function_score;
mod fuzzy;
mod ids;
mod match_all;
mod match_phrase;
mod match_query;
mod multi_match;
mod prefix;
mod query_string;
mod range;
mod term;
mod terms;

use serde_json::{Map, Value};
use tantivy::Term;
use tantivy::query::{BoostQuery, EmptyQuery, Query as TantivyQuery};
use tantivy::schema::Field;

pub use bool_query::BoolQuery;
pub use compound::{ConstantScoreQuery, DisMaxQuery};
pub use exists::ExistsQuery;
pub use function_score::FunctionScoreQuery;
pub use ids::IdsQuery;
pub use match_phrase::MatchPhraseQuery;
pub use match_query::MatchQuery;
pub use multi_match::MultiMatchQuery;
pub use prefix::{PrefixQuery, WildcardQuery};
pub use query_string::QueryStringQuery;
pub use range::RangeQuery;
pub use term::TermQuery;
pub use terms::TermsQuery;

use crate::error::EsError;
use crate::mapping::context::IndexContext;
use crate::mapping::date::DateFormat;
use crate::mapping::document::{Typed, convert};
use crate::mapping::{FieldDef, FieldType};

/// A compiled query.
pub type Compiled = Box<dyn TantivyQuery>;

/// A query of the DSL.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// `match_all`.
    MatchAll { boost: f32 },
    /// `match_none`.
    MatchNone,
    /// `match`.
    Match(MatchQuery),
    /// `match_phrase` and `match_phrase_prefix`.
    MatchPhrase(MatchPhraseQuery),
    /// `multi_match`.
    MultiMatch(MultiMatchQuery),
    /// `bool`.
    Bool(BoolQuery),
    /// `term`.
    Term(TermQuery),
    /// `terms`.
    Terms(TermsQuery),
    /// `range`.
    Range(RangeQuery),
    /// `prefix`.
    Prefix(PrefixQuery),
    /// `wildcard`.
    Wildcard(WildcardQuery),
    /// `exists`.
    Exists(ExistsQuery),
    /// `ids`.
    Ids(IdsQuery),
    /// `constant_score`.
    ConstantScore(ConstantScoreQuery),
    /// `dis_max`.
    DisMax(DisMaxQuery),
    /// `function_score`.
    FunctionScore(FunctionScoreQuery),
    /// `query_string` and `simple_query_string` (and `q=` in the URL).
    QueryString(QueryStringQuery),
}

impl Query {
    /// Parses `{"<type>": {...}}`.
    pub fn parse(value: &Value) -> Result<Query, EsError> {
        let _depth = DepthGuard::enter()?;
        let Value::Object(map) = value else {
            return Err(EsError::parsing("query malformed, must start with start_object"));
        };
        let mut entries = map.iter();
        let Some((kind, body)) = entries.next() else {
            return Err(EsError::parsing("query malformed, empty clause found"));
        };
        if let Some((second, _)) = entries.next() {
            return Err(EsError::parsing(format!(
                "[{kind}] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ([{second}])"
            )));
        }
        Ok(match kind.as_str() {
            "match_all" => match_all::parse_all(body)?,
            "match_none" => Query::MatchNone,
            "match" => Query::Match(MatchQuery::parse(body)?),
            "match_phrase" => Query::MatchPhrase(MatchPhraseQuery::parse("match_phrase", body, false)?),
            "match_phrase_prefix" => Query::MatchPhrase(MatchPhraseQuery::parse("match_phrase_prefix", body, true)?),
            "multi_match" => Query::MultiMatch(MultiMatchQuery::parse(body)?),
            "bool" => Query::Bool(BoolQuery::parse(body)?),
            "term" => Query::Term(TermQuery::parse(body)?),
            "terms" => Query::Terms(TermsQuery::parse(body)?),
            "range" => Query::Range(RangeQuery::parse(body)?),
            "prefix" => Query::Prefix(PrefixQuery::parse(body)?),
            "wildcard" => Query::Wildcard(WildcardQuery::parse(body)?),
            "exists" => Query::Exists(ExistsQuery::parse(body)?),
            "ids" => Query::Ids(IdsQuery::parse(body)?),
            "constant_score" => Query::ConstantScore(ConstantScoreQuery::parse(body)?),
            "dis_max" => Query::DisMax(DisMaxQuery::parse(body)?),
            "function_score" => Query::FunctionScore(FunctionScoreQuery::parse(body)?),
            "query_string" => Query::QueryString(QueryStringQuery::parse(body, false)?),
            "simple_query_string" => Query::QueryString(QueryStringQuery::parse(body, true)?),
            other => return Err(EsError::parsing(format!("unknown query [{other}]"))),
        })
    }

    /// Compiles against one index.
    pub fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        match self {
            Query::MatchAll { boost } => Ok(boosted(Box::new(tantivy::query::AllQuery), *boost)),
            Query::MatchNone => Ok(Box::new(EmptyQuery)),
            Query::Match(q) => q.compile(cx),
            Query::MatchPhrase(q) => q.compile(cx),
            Query::MultiMatch(q) => q.compile(cx),
            Query::Bool(q) => q.compile(cx),
            Query::Term(q) => q.compile(cx),
            Query::Terms(q) => q.compile(cx),
            Query::Range(q) => q.compile(cx),
            Query::Prefix(q) => q.compile(cx),
            Query::Wildcard(q) => q.compile(cx),
            Query::Exists(q) => Ok(q.compile(cx)),
            Query::Ids(q) => Ok(q.compile(cx)),
            Query::ConstantScore(q) => q.compile(cx),
            Query::DisMax(q) => q.compile(cx),
            Query::FunctionScore(q) => q.compile(cx),
            Query::QueryString(q) => q.compile(cx),
        }
    }
}

/// How deeply queries may nest: deeper is refused rather than risking the
/// stack on a hostile request.
pub const MAX_NESTED_DEPTH: usize = 64;

thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts the nesting of [`Query::parse`] calls on this thread.
struct DepthGuard;

impl DepthGuard {
    fn enter() -> Result<DepthGuard, EsError> {
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let guard = DepthGuard;
        if depth > MAX_NESTED_DEPTH {
            return Err(EsError::parsing(format!("query is nested deeper than {MAX_NESTED_DEPTH} levels")));
        }
        Ok(guard)
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// What compilation needs: the index's mapping, schema and analyzers.
#[derive(Debug, Clone, Copy)]
pub struct Cx<'a> {
    /// The index.
    pub index: &'a IndexContext,
    /// Set when the compiled query depends on the index's name (a query on
    /// `_index`), so it is not reused for another index of the same shape.
    pub name_read: &'a std::cell::Cell<bool>,
}

impl<'a> Cx<'a> {
    /// The context of `index`, its name read into `name_read`.
    pub fn new(index: &'a IndexContext, name_read: &'a std::cell::Cell<bool>) -> Cx<'a> {
        Cx { index, name_read }
    }
}

/// A mapped field: its definition and tantivy field.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The mapping's definition.
    pub def: &'a FieldDef,
    /// The tantivy field.
    pub field: Field,
}

impl<'a> Cx<'a> {
    /// The mapped field of that path, if any.
    pub fn field(&self, path: &str) -> Option<Resolved<'a>> {
        if path == "_id" {
            return Some(Resolved { def: &self.index.id_def, field: self.index.schema.meta.id });
        }
        let def = self.index.mapping.fields.get(path)?;
        let field = *self.index.schema.fields.get(path)?;
        Some(Resolved { def, field })
    }

    /// Fields matching a pattern (`title*`, `*`): leaves that can be
    /// searched as text or exact values.
    pub fn fields_matching(&self, pattern: &str) -> Vec<Resolved<'a>> {
        self.index
            .mapping
            .fields
            .keys()
            .filter(|p| crate::util::glob_match(pattern, p))
            .filter_map(|p| self.field(p))
            .filter(|r| r.def.index)
            .collect()
    }

    /// The term of a value for a term-level query: coerced to the field's
    /// type, normalised for keywords. `None` when the value cannot match
    /// (a fraction for an integer field, say) and `lenient` is set.
    pub fn term(&self, r: Resolved, value: &Value) -> Result<Term, EsError> {
        let typed = match &r.def.ty {
            FieldType::Text { .. } => Typed::Str(crate::util::plain(value)),
            FieldType::Date { format, .. } => {
                Typed::Date(crate::mapping::date::parse_math(&crate::util::plain(value), format, false)?)
            }
            _ => convert(r.def, value, &self.index.analyzers)
                .map_err(|why| EsError::illegal_argument(format!("failed to create query: {why}")))?
                .ok_or_else(|| {
                    EsError::illegal_argument(format!("failed to create query: no value for [{}]", r.def.path))
                })?,
        };
        Ok(term_of(r.field, &typed))
    }

    /// The tokens of `text` under the field's search analyzer (or
    /// `analyzer`), as (position, text).
    pub fn analyze(&self, r: Resolved, text: &str, analyzer: Option<&str>) -> Result<Vec<(usize, String)>, EsError> {
        match &r.def.ty {
            FieldType::Text { search_analyzer, .. } => {
                let name = analyzer.unwrap_or(search_analyzer);
                Ok(self.index.analyzers.tokens(name, text)?.into_iter().map(|t| (t.position, t.text)).collect())
            }
            FieldType::Keyword { normalizer, .. } => {
                Ok(vec![(0, self.index.analyzers.normalize(normalizer.as_deref(), text))])
            }
            _ => Ok(vec![(0, text.to_owned())]),
        }
    }

    /// A date field's format (for `range` and `term` on dates).
    pub fn date_format(&self, r: Resolved<'a>) -> Option<&'a DateFormat> {
        match &r.def.ty {
            FieldType::Date { format, .. } => Some(format),
            _ => None,
        }
    }
}

/// The tantivy term of a typed value.
pub fn term_of(field: Field, typed: &Typed) -> Term {
    match typed {
        Typed::Str(s) => Term::from_field_text(field, s),
        Typed::I64(n) => Term::from_field_i64(field, *n),
        Typed::F64(n) => Term::from_field_f64(field, *n),
        Typed::Bool(b) => Term::from_field_bool(field, *b),
        Typed::Date(ms) => Term::from_field_date_for_search(field, tantivy::DateTime::from_timestamp_millis(*ms)),
        Typed::Ip(ip) => Term::from_field_ip_addr(field, *ip),
    }
}

/// A query on `_index`: every document of this index when its name
/// matches, none otherwise; `None` for any other field.
pub(crate) fn on_index_name(cx: Cx, field: &str, matches: impl Fn(&str) -> bool) -> Option<Compiled> {
    (field == "_index").then(|| -> Compiled {
        cx.name_read.set(true);
        if matches(&cx.index.name) {
            Box::new(tantivy::query::ConstScoreQuery::new(Box::new(tantivy::query::AllQuery), 1.0))
        } else {
            Box::new(EmptyQuery)
        }
    })
}

/// Wraps a query in a boost unless the boost is 1.
pub fn boosted(query: Compiled, boost: f32) -> Compiled {
    if (boost - 1.0).abs() < f32::EPSILON { query } else { Box::new(BoostQuery::new(query, boost)) }
}

/// A query's parameters, read one by one; whatever is left unread is an
/// unknown parameter.
pub(crate) struct Params<'a> {
    kind: &'static str,
    map: &'a Map<String, Value>,
    known: &'static [&'static str],
}

impl<'a> Params<'a> {
    /// The parameters of `kind` from an object, refusing unknown keys.
    pub(crate) fn new(
        kind: &'static str,
        value: &'a Value,
        known: &'static [&'static str],
    ) -> Result<Params<'a>, EsError> {
        let Value::Object(map) = value else {
            return Err(EsError::parsing(format!("[{kind}] query malformed, no start_object after query name")));
        };
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(EsError::parsing(format!("[{kind}] query does not support [{unknown}]")));
        }
        Ok(Params { kind, map, known })
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        debug_assert!(self.known.contains(&key), "{key} is not declared for {}", self.kind);
        self.map.get(key)
    }

    pub(crate) fn f32(&self, key: &str, default: f32) -> Result<f32, EsError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(|f| f as f32)
                .ok_or_else(|| EsError::parsing(format!("[{}] failed to parse field [{key}]", self.kind))),
        }
    }

    pub(crate) fn usize(&self, key: &str, default: usize) -> Result<usize, EsError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(|n| n as usize)
                .ok_or_else(|| EsError::parsing(format!("[{}] failed to parse field [{key}]", self.kind))),
        }
    }

    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool, EsError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
            Some(_) => Err(EsError::parsing(format!("[{}] failed to parse field [{key}]", self.kind))),
        }
    }

    pub(crate) fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(crate::util::plain)
    }

    pub(crate) fn query(&self, key: &str) -> Result<Option<Query>, EsError> {
        self.get(key).map(Query::parse).transpose()
    }
}

/// The single `{field: body}` entry of a field-level query
/// (`{"term": {"title": ...}}`); `_name` and `boost` beside it are allowed.
pub(crate) fn single_field<'a>(kind: &str, value: &'a Value) -> Result<(&'a str, &'a Value, f32), EsError> {
    let Value::Object(map) = value else {
        return Err(EsError::parsing(format!("[{kind}] query malformed, no start_object after query name")));
    };
    let mut field = None;
    let mut boost = 1.0;
    for (key, v) in map {
        match key.as_str() {
            "boost" => boost = v.as_f64().unwrap_or(1.0) as f32,
            "_name" => {}
            _ if field.is_some() => {
                return Err(EsError::parsing(format!(
                    "[{kind}] query doesn't support multiple fields, found [{}] and [{key}]",
                    field.map(|(f, _)| f).unwrap_or_default()
                )));
            }
            _ => field = Some((key.as_str(), v)),
        }
    }
    let (name, body) = field.ok_or_else(|| EsError::illegal_argument(format!("[{kind}] query requires a field")))?;
    Ok((name, body, boost))
}

/// Reads `minimum_should_match` (`2`, `-1`, `75%`, `-25%`) against a
/// number of optional clauses.
pub fn minimum_should_match(spec: &Value, optional: usize) -> Result<usize, EsError> {
    let text = crate::util::plain(spec);
    let text = text.trim();
    let bad = || EsError::parsing(format!("failed to parse [minimum_should_match] value [{text}]"));
    let n = optional as i64;
    let wanted = if let Some(percent) = text.strip_suffix('%') {
        let p: i64 = percent.parse().map_err(|_| bad())?;
        let count = n * p.abs() / 100;
        if p < 0 { n - count } else { count }
    } else {
        let k: i64 = text.parse().map_err(|_| bad())?;
        if k < 0 { n + k } else { k }
    };
    Ok(wanted.clamp(0, n) as usize)
}

#[cfg(test)]
mod tests;

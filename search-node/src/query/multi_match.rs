//! `multi_match`: one text over several fields (`title^3`, `*_name`),
//! scored by `type`: `best_fields` (the best field, plus `tie_breaker` of
//! the others), `most_fields` (the sum), `cross_fields` (each token's best
//! field, as if the fields were one), `phrase`, `phrase_prefix`,
//! `bool_prefix` (tokens as terms, the last as a prefix).

use serde_json::Value;
use tantivy::query::{BooleanQuery, DisjunctionMaxQuery, EmptyQuery, Occur, RegexQuery};

use super::match_query::{MatchOptions, combine, match_field, token_clause};
use super::{Compiled, Cx, MatchPhraseQuery, Params, Resolved, boosted};
use crate::error::EsError;
use crate::mapping::FieldType;

/// How a `multi_match` scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiMatchType {
    /// `best_fields` (default).
    BestFields,
    /// `most_fields`.
    MostFields,
    /// `cross_fields`.
    CrossFields,
    /// `phrase`.
    Phrase,
    /// `phrase_prefix`.
    PhrasePrefix,
    /// `bool_prefix`.
    BoolPrefix,
}

/// A `multi_match` query.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiMatchQuery {
    /// The text.
    pub query: Value,
    /// Field patterns with their boosts.
    pub fields: Vec<(String, f32)>,
    /// Scoring type.
    pub kind: MultiMatchType,
    /// Match options.
    pub options: MatchOptions,
    /// Weight of the non-best fields.
    pub tie_breaker: Option<f32>,
    /// Phrase slop.
    pub slop: u32,
    /// Prefix expansions.
    pub max_expansions: u32,
    /// Score multiplier.
    pub boost: f32,
}

const PARAMS: [&str; 19] = [
    "query",
    "fields",
    "type",
    "tie_breaker",
    "slop",
    "operator",
    "fuzziness",
    "prefix_length",
    "max_expansions",
    "fuzzy_transpositions",
    "minimum_should_match",
    "analyzer",
    "zero_terms_query",
    "lenient",
    "boost",
    "_name",
    "auto_generate_synonyms_phrase_query",
    "fuzzy_rewrite",
    "cutoff_frequency",
];

/// `title^3` into (`title`, 3.0).
pub(crate) fn field_boost(spec: &str) -> Result<(String, f32), EsError> {
    match spec.rsplit_once('^') {
        Some((name, boost)) => {
            let boost = boost.parse().map_err(|_| EsError::parsing(format!("invalid boost in field [{spec}]")))?;
            Ok((name.to_owned(), boost))
        }
        None => Ok((spec.to_owned(), 1.0)),
    }
}

impl MultiMatchQuery {
    pub(super) fn parse(body: &Value) -> Result<MultiMatchQuery, EsError> {
        let p = Params::new("multi_match", body, &PARAMS)?;
        if p.get("cutoff_frequency").is_some() {
            return Err(EsError::parsing("[multi_match] query does not support [cutoff_frequency]"));
        }
        let query =
            p.get("query").cloned().ok_or_else(|| EsError::parsing("No text specified for multi_match query"))?;
        let fields = match p.get("fields") {
            None => vec![("*".to_owned(), 1.0)],
            Some(Value::String(s)) => vec![field_boost(s)?],
            Some(Value::Array(a)) => a.iter().map(|f| field_boost(&crate::util::plain(f))).collect::<Result<_, _>>()?,
            Some(_) => return Err(EsError::parsing("[multi_match] [fields] must be a string or an array")),
        };
        let kind = match p.string("type").as_deref().unwrap_or("best_fields") {
            "best_fields" => MultiMatchType::BestFields,
            "most_fields" => MultiMatchType::MostFields,
            "cross_fields" => MultiMatchType::CrossFields,
            "phrase" => MultiMatchType::Phrase,
            "phrase_prefix" => MultiMatchType::PhrasePrefix,
            "bool_prefix" => MultiMatchType::BoolPrefix,
            other => {
                return Err(EsError::parsing(format!(
                    "failed to parse [multi_match] query type [{other}]. unknown type."
                )));
            }
        };
        Ok(MultiMatchQuery {
            query,
            fields,
            kind,
            options: MatchOptions::parse(&p)?,
            tie_breaker: p.get("tie_breaker").map(|_| p.f32("tie_breaker", 0.0)).transpose()?,
            slop: p.usize("slop", 0)? as u32,
            max_expansions: p.usize("max_expansions", 50)? as u32,
            boost: p.f32("boost", 1.0)?,
        })
    }

    fn resolved<'a>(&self, cx: Cx<'a>) -> Vec<(Resolved<'a>, f32)> {
        let mut out: Vec<(Resolved<'a>, f32)> = Vec::new();
        for (pattern, boost) in &self.fields {
            for r in cx.fields_matching(pattern) {
                // `*` means the fields a text query makes sense on.
                if pattern == "*" && !matches!(r.def.ty, FieldType::Text { .. } | FieldType::Keyword { .. }) {
                    continue;
                }
                if !out.iter().any(|(o, _)| o.def.path == r.def.path) {
                    out.push((r, *boost));
                }
            }
        }
        out
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        let fields = self.resolved(cx);
        if fields.is_empty() {
            return Ok(Box::new(EmptyQuery));
        }
        let text = crate::util::plain(&self.query);
        let lenient = MatchOptions { lenient: true, ..self.options.clone() };
        let per_field = |f: &dyn Fn(Resolved) -> Result<Compiled, EsError>| -> Result<Vec<Compiled>, EsError> {
            fields.iter().map(|(r, boost)| f(*r).map(|q| boosted(q, *boost))).collect()
        };
        let phrase = |prefix: bool| MatchPhraseQuery {
            field: String::new(),
            query: text.clone(),
            slop: self.slop,
            prefix,
            max_expansions: self.max_expansions,
            analyzer: self.options.analyzer.clone(),
            zero_terms_all: self.options.zero_terms_all,
            boost: 1.0,
        };
        let query: Compiled = match self.kind {
            MultiMatchType::BestFields => {
                let q = per_field(&|r| match_field(cx, r, &self.query, &lenient))?;
                Box::new(DisjunctionMaxQuery::with_tie_breaker(q, self.tie_breaker.unwrap_or(0.0)))
            }
            MultiMatchType::MostFields => {
                let q = per_field(&|r| match_field(cx, r, &self.query, &lenient))?;
                Box::new(BooleanQuery::new(q.into_iter().map(|c| (Occur::Should, c)).collect()))
            }
            MultiMatchType::Phrase | MultiMatchType::PhrasePrefix => {
                let p = phrase(self.kind == MultiMatchType::PhrasePrefix);
                let q = per_field(&|r| p.compile_field(cx, r))?;
                Box::new(DisjunctionMaxQuery::with_tie_breaker(q, self.tie_breaker.unwrap_or(0.0)))
            }
            MultiMatchType::CrossFields => self.cross_fields(cx, &fields, &text)?,
            MultiMatchType::BoolPrefix => {
                let q = per_field(&|r| bool_prefix(cx, r, &text, &lenient))?;
                Box::new(DisjunctionMaxQuery::with_tie_breaker(q, self.tie_breaker.unwrap_or(0.0)))
            }
        };
        Ok(boosted(query, self.boost))
    }

    /// Each token must match in some field (with `operator: and`), scored
    /// by its best field: the fields act as one.
    fn cross_fields(&self, cx: Cx, fields: &[(Resolved, f32)], text: &str) -> Result<Compiled, EsError> {
        let text_fields: Vec<&(Resolved, f32)> =
            fields.iter().filter(|(r, _)| matches!(r.def.ty, FieldType::Text { .. })).collect();
        let Some((first, _)) = text_fields.first() else { return Ok(Box::new(EmptyQuery)) };
        let tokens = cx.analyze(*first, text, self.options.analyzer.as_deref())?;
        let mut clauses = Vec::new();
        for (_, token) in &tokens {
            let per_field = text_fields
                .iter()
                .map(|(r, boost)| token_clause(*r, token, &self.options).map(|q| boosted(q, *boost)))
                .collect::<Result<Vec<_>, _>>()?;
            clauses
                .push(Box::new(DisjunctionMaxQuery::with_tie_breaker(per_field, self.tie_breaker.unwrap_or(0.0)))
                    as Compiled);
        }
        if clauses.is_empty() {
            return Ok(Box::new(EmptyQuery));
        }
        combine(clauses, &self.options)
    }
}

/// `match_bool_prefix` on one field: every token a term clause, the last
/// also as a prefix.
pub(crate) fn bool_prefix(cx: Cx, r: Resolved, text: &str, options: &MatchOptions) -> Result<Compiled, EsError> {
    if !matches!(r.def.ty, FieldType::Text { .. }) {
        return match_field(cx, r, &Value::String(text.to_owned()), options);
    }
    let tokens = cx.analyze(r, text, options.analyzer.as_deref())?;
    let Some(((_, last), rest)) = tokens.split_last() else { return Ok(Box::new(EmptyQuery)) };
    let mut clauses: Vec<Compiled> = rest.iter().map(|(_, t)| token_clause(r, t, options)).collect::<Result<_, _>>()?;
    let pattern = format!("{}.*", super::term::regex_escape(last));
    clauses.push(Box::new(RegexQuery::from_pattern(&pattern, r.field)?));
    combine(clauses, options)
}

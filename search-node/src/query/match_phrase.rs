//! `match_phrase` and `match_phrase_prefix`: the analysed tokens in order
//! (within `slop` moves); the prefix variant lets the last token be the
//! start of a word, for search as you type.

use serde_json::Value;
use tantivy::Term;
use tantivy::query::{AllQuery, EmptyQuery, PhrasePrefixQuery, PhraseQuery, RegexQuery, TermQuery};
use tantivy::schema::IndexRecordOption;

use super::{Compiled, Cx, Params, Resolved, boosted, single_field};
use crate::error::EsError;
use crate::mapping::FieldType;

/// A `match_phrase` or `match_phrase_prefix` query.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchPhraseQuery {
    /// Field path.
    pub field: String,
    /// The text.
    pub query: String,
    /// Allowed moves between tokens.
    pub slop: u32,
    /// Whether the last token is a prefix.
    pub prefix: bool,
    /// Terms the prefix may expand to.
    pub max_expansions: u32,
    /// Analyzer overriding the field's search analyzer.
    pub analyzer: Option<String>,
    /// `zero_terms_query: all`.
    pub zero_terms_all: bool,
    /// Score multiplier.
    pub boost: f32,
}

const PARAMS: [&str; 8] =
    ["query", "slop", "analyzer", "zero_terms_query", "max_expansions", "boost", "_name", "lenient"];

impl MatchPhraseQuery {
    pub(super) fn parse(kind: &'static str, body: &Value, prefix: bool) -> Result<MatchPhraseQuery, EsError> {
        let (field, inner, outer_boost) = single_field(kind, body)?;
        let mut q = MatchPhraseQuery {
            field: field.to_owned(),
            query: String::new(),
            slop: 0,
            prefix,
            max_expansions: 50,
            analyzer: None,
            zero_terms_all: false,
            boost: outer_boost,
        };
        if let Value::Object(_) = inner {
            let p = Params::new(kind, inner, &PARAMS)?;
            q.query = p.string("query").ok_or_else(|| EsError::parsing(format!("[{kind}] requires query value")))?;
            q.slop = p.usize("slop", 0)? as u32;
            q.max_expansions = p.usize("max_expansions", 50)? as u32;
            q.analyzer = p.string("analyzer");
            q.zero_terms_all = p.string("zero_terms_query").is_some_and(|z| z.eq_ignore_ascii_case("all"));
            q.boost = p.f32("boost", outer_boost)?;
        } else {
            q.query = crate::util::plain(inner);
        }
        Ok(q)
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        let Some(r) = cx.field(&self.field) else { return Ok(Box::new(EmptyQuery)) };
        Ok(boosted(self.compile_field(cx, r)?, self.boost))
    }

    /// The query on one resolved field (also used by `multi_match`).
    pub(crate) fn compile_field(&self, cx: Cx, r: Resolved) -> Result<Compiled, EsError> {
        if !matches!(r.def.ty, FieldType::Text { .. }) {
            if self.prefix && matches!(r.def.ty, FieldType::Keyword { .. }) {
                let value = cx.analyze(r, &self.query, None)?.remove(0).1;
                let pattern = format!("{}.*", super::term::regex_escape(&value));
                return Ok(Box::new(RegexQuery::from_pattern(&pattern, r.field)?));
            }
            return super::term::exact(r, cx.term(r, &Value::String(self.query.clone()))?);
        }
        let tokens = cx.analyze(r, &self.query, self.analyzer.as_deref())?;
        let terms: Vec<(usize, Term)> =
            tokens.iter().map(|(pos, t)| (*pos, Term::from_field_text(r.field, t))).collect();
        match (terms.len(), self.prefix) {
            (0, _) => Ok(if self.zero_terms_all { Box::new(AllQuery) } else { Box::new(EmptyQuery) }),
            (1, false) => Ok(Box::new(TermQuery::new(terms[0].1.clone(), IndexRecordOption::WithFreqs))),
            (1, true) => {
                let pattern = format!("{}.*", super::term::regex_escape(&tokens[0].1));
                Ok(Box::new(RegexQuery::from_pattern(&pattern, r.field)?))
            }
            (_, false) => Ok(Box::new(PhraseQuery::new_with_offset_and_slop(terms, self.slop))),
            (_, true) => {
                let mut query = PhrasePrefixQuery::new_with_offset(terms);
                query.set_max_expansions(self.max_expansions);
                Ok(Box::new(query))
            }
        }
    }
}

//! `match`: full-text search on one field. The text is analysed with the
//! field's search analyzer; each token is a term clause (fuzzy when
//! `fuzziness` is set), combined with `operator` and
//! `minimum_should_match`. On exact fields it is a term query.

use serde_json::Value;
use tantivy::Term;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, EmptyQuery, FuzzyTermQuery, Occur, TermQuery};
use tantivy::schema::IndexRecordOption;

use super::{Compiled, Cx, Params, Resolved, boosted, minimum_should_match, single_field};
use crate::error::EsError;
use crate::mapping::FieldType;

/// Options shared by `match` and `multi_match`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchOptions {
    /// `and`: every token must match; `or` (default): any.
    pub and: bool,
    /// `fuzziness`: `AUTO`, `AUTO:3,6`, or an edit distance.
    pub fuzziness: Option<String>,
    /// Leading characters that must match exactly in fuzzy terms.
    pub prefix_length: usize,
    /// Transpositions count as one edit.
    pub transpositions: bool,
    /// `minimum_should_match`.
    pub minimum_should_match: Option<Value>,
    /// Analyzer overriding the field's search analyzer.
    pub analyzer: Option<String>,
    /// `zero_terms_query: all`.
    pub zero_terms_all: bool,
    /// Ignore values that do not fit the field's type.
    pub lenient: bool,
}

impl Default for MatchOptions {
    fn default() -> MatchOptions {
        MatchOptions {
            and: false,
            fuzziness: None,
            prefix_length: 0,
            transpositions: true,
            minimum_should_match: None,
            analyzer: None,
            zero_terms_all: false,
            lenient: false,
        }
    }
}

const MATCH_PARAMS: [&str; 14] = [
    "query",
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
];

impl MatchOptions {
    pub(super) fn parse(p: &Params) -> Result<MatchOptions, EsError> {
        let and = match p.string("operator").map(|o| o.to_lowercase()) {
            None => false,
            Some(o) if o == "or" => false,
            Some(o) if o == "and" => true,
            Some(o) => return Err(EsError::illegal_argument(format!("No enum constant for operator [{o}]"))),
        };
        let zero_terms_all = match p.string("zero_terms_query").map(|z| z.to_lowercase()) {
            None => false,
            Some(z) if z == "none" => false,
            Some(z) if z == "all" => true,
            Some(z) => return Err(EsError::parsing(format!("Unsupported zero_terms_query value [{z}]"))),
        };
        let fuzziness = p.string("fuzziness");
        if let Some(f) = &fuzziness {
            fuzzy_distance(f, 5)?;
        }
        Ok(MatchOptions {
            and,
            fuzziness,
            prefix_length: p.usize("prefix_length", 0)?,
            transpositions: p.bool("fuzzy_transpositions", true)?,
            minimum_should_match: p.get("minimum_should_match").cloned(),
            analyzer: p.string("analyzer"),
            zero_terms_all,
            lenient: p.bool("lenient", false)?,
        })
    }
}

/// The edit distance `fuzziness` allows for a term of `len` characters.
pub(crate) fn fuzzy_distance(spec: &str, len: usize) -> Result<u8, EsError> {
    let spec = spec.trim();
    if let Some(rest) = spec.strip_prefix("AUTO").or_else(|| spec.strip_prefix("auto")) {
        let (low, high) = match rest.strip_prefix(':') {
            Some(bounds) => {
                let (a, b) = bounds.split_once(',').ok_or_else(|| {
                    EsError::parsing(format!("failed to find low and high distance values in [{spec}]"))
                })?;
                let parse = |s: &str| {
                    s.trim().parse::<usize>().map_err(|_| EsError::parsing(format!("invalid fuzziness [{spec}]")))
                };
                (parse(a)?, parse(b)?)
            }
            None => (3, 6),
        };
        return Ok(if len < low {
            0
        } else if len < high {
            1
        } else {
            2
        });
    }
    match spec.parse::<f64>() {
        Ok(n) if (0.0..=2.0).contains(&n) && n.fract() == 0.0 => Ok(n as u8),
        Ok(_) => Err(EsError::illegal_argument(format!("Valid edit distances are [0, 1, 2] but was [{spec}]"))),
        Err(_) => Err(EsError::parsing(format!("invalid fuzziness value: [{spec}]"))),
    }
}

/// The clause of one token: exact, or exact-or-fuzzy (so exact spellings
/// outscore corrections).
pub(crate) fn token_clause(r: Resolved, token: &str, options: &MatchOptions) -> Result<Compiled, EsError> {
    let term = Term::from_field_text(r.field, token);
    let exact: Compiled = Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs));
    let distance = match &options.fuzziness {
        Some(spec) => fuzzy_distance(spec, token.chars().count())?,
        None => 0,
    };
    if distance == 0 || token.chars().count() <= options.prefix_length {
        return Ok(exact);
    }
    let fuzzy: Compiled = if options.prefix_length > 0 {
        Box::new(super::fuzzy::PrefixedFuzzyQuery::new(&term, distance, options.transpositions, options.prefix_length)?)
    } else {
        Box::new(FuzzyTermQuery::new(term, distance, options.transpositions))
    };
    // A fuzzy match scores a constant; half of it keeps exact matches first.
    let fuzzy: Compiled = Box::new(BoostQuery::new(fuzzy, 0.5));
    Ok(Box::new(BooleanQuery::new(vec![(Occur::Should, exact), (Occur::Should, fuzzy)])))
}

/// Compiles match semantics for one resolved field.
pub(crate) fn match_field(cx: Cx, r: Resolved, text: &Value, options: &MatchOptions) -> Result<Compiled, EsError> {
    if !matches!(r.def.ty, FieldType::Text { .. }) {
        return match cx.term(r, text) {
            Ok(term) => super::term::exact(r, term),
            Err(_) if options.lenient => Ok(Box::new(EmptyQuery)),
            Err(e) => Err(e),
        };
    }
    let tokens = cx.analyze(r, &crate::util::plain(text), options.analyzer.as_deref())?;
    if tokens.is_empty() {
        return Ok(if options.zero_terms_all { Box::new(AllQuery) } else { Box::new(EmptyQuery) });
    }
    let clauses: Vec<Compiled> = tokens.iter().map(|(_, t)| token_clause(r, t, options)).collect::<Result<_, _>>()?;
    combine(clauses, options)
}

/// Combines token clauses with the operator and `minimum_should_match`.
pub(crate) fn combine(clauses: Vec<Compiled>, options: &MatchOptions) -> Result<Compiled, EsError> {
    if clauses.len() == 1 {
        return Ok(clauses.into_iter().next().expect("one"));
    }
    let n = clauses.len();
    if options.and {
        return Ok(Box::new(BooleanQuery::new(clauses.into_iter().map(|c| (Occur::Must, c)).collect())));
    }
    let required = match &options.minimum_should_match {
        Some(spec) => minimum_should_match(spec, n)?.max(1),
        None => 1,
    };
    Ok(Box::new(BooleanQuery::with_minimum_required_clauses(
        clauses.into_iter().map(|c| (Occur::Should, c)).collect(),
        required,
    )))
}

/// A `match` query.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchQuery {
    /// Field path.
    pub field: String,
    /// The text.
    pub query: Value,
    /// Options.
    pub options: MatchOptions,
    /// Score multiplier.
    pub boost: f32,
}

impl MatchQuery {
    pub(super) fn parse(body: &Value) -> Result<MatchQuery, EsError> {
        let (field, inner, outer_boost) = single_field("match", body)?;
        if let Value::Object(_) = inner {
            let p = Params::new("match", inner, &MATCH_PARAMS)?;
            let query = p
                .get("query")
                .cloned()
                .ok_or_else(|| EsError::parsing(format!("[match] requires query value for [{field}]")))?;
            return Ok(MatchQuery {
                field: field.to_owned(),
                query,
                options: MatchOptions::parse(&p)?,
                boost: p.f32("boost", outer_boost)?,
            });
        }
        Ok(MatchQuery {
            field: field.to_owned(),
            query: inner.clone(),
            options: MatchOptions::default(),
            boost: outer_boost,
        })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        if let Some(q) = super::on_index_name(cx, &self.field, |n| n == crate::util::plain(&self.query)) {
            return Ok(q);
        }
        let Some(r) = cx.field(&self.field) else { return Ok(Box::new(EmptyQuery)) };
        Ok(boosted(match_field(cx, r, &self.query, &self.options)?, self.boost))
    }
}

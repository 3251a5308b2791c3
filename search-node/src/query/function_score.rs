//! `function_score`: rescoring the matches of a query by functions of the
//! document: `field_value_factor` (a numeric field, e.g. votes, through
//! `log1p`, `sqrt` ...) and `weight`, each optionally under a `filter`,
//! combined by `score_mode` and merged with the query score by
//! `boost_mode`. This is how popular titles rank higher. Scripts, decay
//! and random functions are refused by name.

use std::sync::Arc;

use serde_json::Value;
use tantivy::query::{EnableScoring, Explanation, Query as TantivyQuery, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED};

use super::{Compiled, Cx, Params, Query};
use crate::error::EsError;
use crate::mapping::FieldDef;
use crate::storage::columns::{self, NumberReader};
use crate::storage::dense::Dense;

/// `field_value_factor` modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    /// `none`.
    None,
    /// `log` (base 10).
    Log,
    /// `log1p`.
    Log1p,
    /// `log2p`.
    Log2p,
    /// `ln`.
    Ln,
    /// `ln1p`.
    Ln1p,
    /// `ln2p`.
    Ln2p,
    /// `square`.
    Square,
    /// `sqrt`.
    Sqrt,
    /// `reciprocal`.
    Reciprocal,
}

impl Modifier {
    fn parse(name: &str) -> Result<Modifier, EsError> {
        Ok(match name {
            "none" => Modifier::None,
            "log" => Modifier::Log,
            "log1p" => Modifier::Log1p,
            "log2p" => Modifier::Log2p,
            "ln" => Modifier::Ln,
            "ln1p" => Modifier::Ln1p,
            "ln2p" => Modifier::Ln2p,
            "square" => Modifier::Square,
            "sqrt" => Modifier::Sqrt,
            "reciprocal" => Modifier::Reciprocal,
            other => return Err(EsError::illegal_argument(format!("Illegal modifier: {other}"))),
        })
    }

    fn apply(self, v: f64) -> f64 {
        match self {
            Modifier::None => v,
            Modifier::Log => v.log10(),
            Modifier::Log1p => (v + 1.0).log10(),
            Modifier::Log2p => (v + 2.0).log10(),
            Modifier::Ln => v.ln(),
            Modifier::Ln1p => v.ln_1p(),
            Modifier::Ln2p => (v + 2.0).ln(),
            Modifier::Square => v * v,
            Modifier::Sqrt => v.sqrt(),
            Modifier::Reciprocal => 1.0 / v,
        }
    }
}

/// One scoring function.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Documents it applies to (all when absent).
    pub filter: Option<Query>,
    /// Multiplier of the function's value.
    pub weight: f64,
    /// `field_value_factor`: field, factor, modifier, missing.
    pub field_value: Option<(String, f64, Modifier, Option<f64>)>,
}

/// How function values combine, and how they merge with the query score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Product.
    Multiply,
    /// Sum.
    Sum,
    /// Mean.
    Avg,
    /// First that applies (score mode only).
    First,
    /// Largest.
    Max,
    /// Smallest.
    Min,
    /// Function value only (boost mode only).
    Replace,
}

impl Mode {
    /// As `score_mode`: the functions' values (each already weighted)
    /// combined; no function applies: 1. `avg` is Elasticsearch's weighted
    /// average: the weighted values' sum over `weights`, the sum of the
    /// weights of the functions that applied.
    fn combine(self, values: &[f64], weights: f64) -> f64 {
        let Some(&first) = values.first() else { return 1.0 };
        match self {
            Mode::Multiply => values.iter().product(),
            Mode::Sum => values.iter().sum(),
            Mode::Avg => values.iter().sum::<f64>() / weights,
            Mode::First | Mode::Replace => first,
            Mode::Max => values.iter().copied().fold(f64::MIN, f64::max),
            Mode::Min => values.iter().copied().fold(f64::MAX, f64::min),
        }
    }

    /// As `boost_mode`: the query's score and the functions' combined value
    /// merged.
    fn merge(self, query_score: f64, combined: f64) -> f64 {
        match self {
            Mode::Multiply => query_score * combined,
            Mode::Sum => query_score + combined,
            Mode::Avg => (query_score + combined) / 2.0,
            Mode::Max => query_score.max(combined),
            Mode::Min => query_score.min(combined),
            Mode::Replace | Mode::First => combined,
        }
    }
}

fn mode(name: &str, boost_mode: bool) -> Result<Mode, EsError> {
    Ok(match name {
        "multiply" => Mode::Multiply,
        "sum" => Mode::Sum,
        "avg" => Mode::Avg,
        "max" => Mode::Max,
        "min" => Mode::Min,
        "first" if !boost_mode => Mode::First,
        "replace" if boost_mode => Mode::Replace,
        other => {
            return Err(EsError::illegal_argument(format!(
                "Illegal {} [{other}]",
                if boost_mode { "boost_mode" } else { "score_mode" }
            )));
        }
    })
}

/// A `function_score` query.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionScoreQuery {
    /// The query whose matches are rescored (`match_all` by default).
    pub query: Box<Query>,
    /// The functions.
    pub functions: Vec<Function>,
    /// How function values combine.
    pub score_mode: Mode,
    /// How the result merges with the query score.
    pub boost_mode: Mode,
    /// Cap on the combined function value.
    pub max_boost: f64,
    /// Documents scoring less are dropped.
    pub min_score: Option<f32>,
    /// Score multiplier.
    pub boost: f32,
}

const FUNCTION_KINDS: [&str; 6] = ["script_score", "random_score", "gauss", "linear", "exp", "decay"];

fn parse_function(value: &Value) -> Result<Function, EsError> {
    let Value::Object(map) = value else { return Err(EsError::parsing("[function_score] malformed function")) };
    let mut function = Function { filter: None, weight: 1.0, field_value: None };
    for (key, v) in map {
        match key.as_str() {
            "filter" => function.filter = Some(Query::parse(v)?),
            "weight" => {
                function.weight =
                    v.as_f64().ok_or_else(|| EsError::parsing("[function_score] [weight] must be a number"))?;
            }
            "field_value_factor" => {
                let p = Params::new("field_value_factor", v, &["field", "factor", "modifier", "missing"])?;
                let field =
                    p.string("field").ok_or_else(|| EsError::parsing("[field_value_factor] requires a [field]"))?;
                let factor = f64::from(p.f32("factor", 1.0)?);
                let modifier = Modifier::parse(&p.string("modifier").unwrap_or_else(|| "none".into()))?;
                let missing = p.get("missing").and_then(Value::as_f64);
                function.field_value = Some((field, factor, modifier, missing));
            }
            k if FUNCTION_KINDS.contains(&k) => {
                return Err(EsError::parsing(format!(
                    "[function_score] function [{k}] is not supported by imdb-search-node"
                )));
            }
            other => {
                return Err(EsError::parsing(format!(
                    "failed to parse [function_score] function: unknown field [{other}]"
                )));
            }
        }
    }
    Ok(function)
}

impl FunctionScoreQuery {
    pub(super) fn parse(body: &Value) -> Result<FunctionScoreQuery, EsError> {
        let mut known: Vec<&str> = vec![
            "query",
            "functions",
            "score_mode",
            "boost_mode",
            "max_boost",
            "min_score",
            "boost",
            "_name",
            "filter",
            "weight",
            "field_value_factor",
        ];
        known.extend(FUNCTION_KINDS);
        let Value::Object(map) = body else { return Err(EsError::parsing("[function_score] malformed query")) };
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(EsError::parsing(format!("[function_score] query does not support [{unknown}]")));
        }
        let mut functions = match map.get("functions") {
            Some(Value::Array(list)) => list.iter().map(parse_function).collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(EsError::parsing("[function_score] [functions] must be an array")),
            None => Vec::new(),
        };
        // A single function may be given inline.
        let inline: serde_json::Map<String, Value> = map
            .iter()
            .filter(|(k, _)| {
                matches!(k.as_str(), "weight" | "field_value_factor") || FUNCTION_KINDS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !inline.is_empty() {
            functions.push(parse_function(&Value::Object(inline))?);
        }
        let float = |k: &str| map.get(k).and_then(Value::as_f64);
        Ok(FunctionScoreQuery {
            query: Box::new(match map.get("query") {
                Some(q) => Query::parse(q)?,
                None => Query::MatchAll { boost: 1.0 },
            }),
            functions,
            score_mode: mode(map.get("score_mode").and_then(Value::as_str).unwrap_or("multiply"), false)?,
            boost_mode: mode(map.get("boost_mode").and_then(Value::as_str).unwrap_or("multiply"), true)?,
            max_boost: float("max_boost").unwrap_or(f64::from(f32::MAX)),
            min_score: float("min_score").map(|f| f as f32),
            boost: float("boost").unwrap_or(1.0) as f32,
        })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        let mut functions = Vec::new();
        for f in &self.functions {
            let filter = f.filter.as_ref().map(|q| q.compile(cx)).transpose()?;
            let field = match &f.field_value {
                None => None,
                Some((path, factor, modifier, missing)) => {
                    let def = cx.index.mapping.fields.get(path).cloned();
                    if def.is_none() && missing.is_none() {
                        return Err(EsError::illegal_argument(format!("No field found for [{path}] in mapping")));
                    }
                    Some(FieldValue { def, factor: *factor, modifier: *modifier, missing: *missing })
                }
            };
            functions.push(CompiledFunction { filter, weight: f.weight, field });
        }
        Ok(Box::new(FunctionScoreTantivy {
            inner: self.query.compile(cx)?,
            functions,
            score_mode: self.score_mode,
            boost_mode: self.boost_mode,
            max_boost: self.max_boost,
            min_score: self.min_score,
            boost: self.boost,
        }))
    }
}

#[derive(Debug, Clone)]
struct FieldValue {
    def: Option<FieldDef>,
    factor: f64,
    modifier: Modifier,
    missing: Option<f64>,
}

#[derive(Debug)]
struct CompiledFunction {
    filter: Option<Compiled>,
    weight: f64,
    field: Option<FieldValue>,
}

impl Clone for CompiledFunction {
    fn clone(&self) -> Self {
        CompiledFunction {
            filter: self.filter.as_ref().map(|f| f.box_clone()),
            weight: self.weight,
            field: self.field.clone(),
        }
    }
}

/// The tantivy query of a `function_score`.
#[derive(Debug)]
struct FunctionScoreTantivy {
    inner: Compiled,
    functions: Vec<CompiledFunction>,
    score_mode: Mode,
    boost_mode: Mode,
    max_boost: f64,
    min_score: Option<f32>,
    boost: f32,
}

impl Clone for FunctionScoreTantivy {
    fn clone(&self) -> Self {
        FunctionScoreTantivy {
            inner: self.inner.box_clone(),
            functions: self.functions.clone(),
            score_mode: self.score_mode,
            boost_mode: self.boost_mode,
            max_boost: self.max_boost,
            min_score: self.min_score,
            boost: self.boost,
        }
    }
}

impl TantivyQuery for FunctionScoreTantivy {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let functions = self
            .functions
            .iter()
            .map(|f| {
                let filter = f.filter.as_ref().map(|q| q.weight(scoring)).transpose()?;
                Ok((filter, f.weight, f.field.clone()))
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(FunctionWeight { inner: self.inner.weight(scoring)?, functions, query: self.clone() }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a tantivy::Term, bool)) {
        self.inner.query_terms(visitor);
    }
}

/// A function's filter weight, weight and field.
type WeightedFunction = (Option<Box<dyn Weight>>, f64, Option<FieldValue>);

struct FunctionWeight {
    inner: Box<dyn Weight>,
    functions: Vec<WeightedFunction>,
    query: FunctionScoreTantivy,
}

struct SegmentFunction {
    filter: Option<Box<dyn Scorer>>,
    weight: f64,
    column: Option<(NumberReader, FieldValue)>,
    missing_only: Option<FieldValue>,
    /// The function's unweighted value per document, when the segment's
    /// column has a dense copy (see `ColumnCache::derived`).
    memo: Option<Arc<Dense>>,
}

impl Weight for FunctionWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut functions = Vec::new();
        for (filter, weight, field) in &self.functions {
            let filter = filter.as_ref().map(|w| w.scorer(reader, 1.0)).transpose()?;
            let memo = match (field, columns::current()) {
                (Some(fv @ FieldValue { def: Some(def), .. }), Some(cache)) => {
                    let name = format!("field_value_factor {:?} {} {:?}", fv.modifier, fv.factor, fv.missing);
                    cache
                        .derived(reader, def, &name, |v| FunctionScorer::field_value(fv, v).unwrap_or(1.0))
                        .map_err(|e| tantivy::TantivyError::InvalidArgument(e.reason))?
                }
                _ => None,
            };
            let (column, missing_only) = match field {
                _ if memo.is_some() => (None, None),
                None => (None, None),
                Some(fv) => {
                    let column = match &fv.def {
                        Some(def) => NumberReader::open(reader, def)
                            .map_err(|e| tantivy::TantivyError::InvalidArgument(e.reason))?,
                        None => None,
                    };
                    match column {
                        Some(c) => (Some((c, fv.clone())), None),
                        None => (None, Some(fv.clone())),
                    }
                }
            };
            functions.push(SegmentFunction { filter, weight: *weight, column, missing_only, memo });
        }
        let mut scorer = FunctionScorer {
            // The boost applies to the final score, whatever the modes.
            inner: self.inner.scorer(reader, 1.0)?,
            functions,
            query: self.query.clone(),
            boost,
            current: 0.0,
            values: Vec::with_capacity(self.functions.len()),
        };
        scorer.settle();
        Ok(Box::new(scorer))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!("document {doc} does not match")));
        }
        Ok(Explanation::new("function score", scorer.score()))
    }
}

struct FunctionScorer {
    inner: Box<dyn Scorer>,
    functions: Vec<SegmentFunction>,
    query: FunctionScoreTantivy,
    boost: Score,
    current: Score,
    /// Each function's weighted value for the current document.
    values: Vec<f64>,
}

impl FunctionScorer {
    /// The function's value for a document whose field holds `value`; none
    /// when the document lacks the field and the function gives no
    /// `missing`.
    fn field_value(fv: &FieldValue, value: Option<f64>) -> Option<f64> {
        Some(fv.modifier.apply(value.or(fv.missing)? * fv.factor))
    }

    /// Called for every matching document: no allocation here (the values
    /// go to a buffer kept across documents).
    fn compute(&mut self) -> Score {
        let doc = self.inner.doc();
        let query_score = f64::from(self.inner.score());
        self.values.clear();
        let mut weights = 0.0;
        for f in &mut self.functions {
            if let Some(filter) = &mut f.filter {
                if filter.doc() < doc {
                    filter.seek(doc);
                }
                if filter.doc() != doc {
                    continue;
                }
            }
            // A document without the field and no `missing` counts as 1,
            // never as an error in the middle of a search.
            let value = match (&f.memo, &f.column, &f.missing_only) {
                (Some(memo), _, _) => memo.slot(doc),
                (None, Some((column, fv)), _) => Self::field_value(fv, column.first(doc)).unwrap_or(1.0),
                (None, None, Some(fv)) => Self::field_value(fv, None).unwrap_or(1.0),
                (None, None, None) => 1.0,
            };
            self.values.push(value * f.weight);
            weights += f.weight;
        }
        let q = &self.query;
        let combined = q.score_mode.combine(&self.values, weights).min(q.max_boost);
        let score = q.boost_mode.merge(query_score, combined);
        let score = (score * f64::from(q.boost)) as Score;
        if score.is_finite() { score } else { 0.0 }
    }

    /// Moves to the current or next document that passes `min_score`.
    fn settle(&mut self) -> DocId {
        loop {
            if self.inner.doc() == TERMINATED {
                return TERMINATED;
            }
            self.current = self.compute() * self.boost;
            if self.query.min_score.is_none_or(|m| self.current >= m) {
                return self.inner.doc();
            }
            self.inner.advance();
        }
    }
}

impl DocSet for FunctionScorer {
    fn advance(&mut self) -> DocId {
        self.inner.advance();
        self.settle()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.inner.seek(target);
        self.settle()
    }

    fn doc(&self) -> DocId {
        self.inner.doc()
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }
}

impl Scorer for FunctionScorer {
    fn score(&mut self) -> Score {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_modes_combine_the_weighted_function_values() {
        let values = [2.0, 3.0, 0.5];
        let combined = |mode: &str| mode_of(mode, false).combine(&values, 3.0);
        assert_eq!(combined("multiply"), 3.0);
        assert_eq!(combined("sum"), 5.5);
        assert!((combined("avg") - 5.5 / 3.0).abs() < 1e-12);
        // Weighted: 2 x 1.0 and 4 x 0.5 average to (2 + 2) / (2 + 4), as in
        // Elasticsearch, not to the mean of the weighted values.
        assert!((mode_of("avg", false).combine(&[2.0, 2.0], 6.0) - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(combined("first"), 2.0);
        assert_eq!(combined("max"), 3.0);
        assert_eq!(combined("min"), 0.5);
        // No function applies to the document: neutral for every mode.
        for mode in ["multiply", "sum", "avg", "first", "max", "min"] {
            assert_eq!(mode_of(mode, false).combine(&[], 0.0), 1.0, "{mode}");
        }
    }

    #[test]
    fn boost_modes_merge_the_query_score_with_the_functions() {
        let merged = |mode: &str| mode_of(mode, true).merge(4.0, 0.5);
        assert_eq!(merged("multiply"), 2.0);
        assert_eq!(merged("sum"), 4.5);
        assert_eq!(merged("avg"), 2.25);
        assert_eq!(merged("max"), 4.0);
        assert_eq!(merged("min"), 0.5);
        assert_eq!(merged("replace"), 0.5);
    }

    #[test]
    fn first_is_only_a_score_mode_and_replace_only_a_boost_mode() {
        assert_eq!(mode("first", true).unwrap_err().reason, "Illegal boost_mode [first]");
        assert_eq!(mode("replace", false).unwrap_err().reason, "Illegal score_mode [replace]");
        assert_eq!(mode("median", false).unwrap_err().es_type(), "illegal_argument_exception");
    }

    fn mode_of(name: &str, boost_mode: bool) -> Mode {
        mode(name, boost_mode).unwrap()
    }
}

//! `range`: values within bounds (`gt`, `gte`, `lt`, `lte`; the older
//! `from`/`to`/`include_lower`/`include_upper` too). Dates take date math
//! and `format`; constant score.

use std::ops::Bound;

use serde_json::Value;
use tantivy::Term;
use tantivy::query::{ConstScoreQuery, EmptyQuery, RangeQuery as TantivyRange};

use super::{Compiled, Cx, Params, Resolved, single_field, term_of};
use crate::error::EsError;
use crate::mapping::date::DateFormat;
use crate::mapping::document::Typed;
use crate::mapping::{FieldType, Numeric};

/// A `range` query.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeQuery {
    /// Field path.
    pub field: String,
    /// Lower bound and whether it is inclusive.
    pub lower: Option<(Value, bool)>,
    /// Upper bound and whether it is inclusive.
    pub upper: Option<(Value, bool)>,
    /// Date format of the bounds (dates only).
    pub format: Option<String>,
    /// The constant score.
    pub boost: f32,
}

const PARAMS: [&str; 14] = [
    "gt",
    "gte",
    "lt",
    "lte",
    "from",
    "to",
    "include_lower",
    "include_upper",
    "format",
    "boost",
    "_name",
    "relation",
    "time_zone",
    "value_type",
];

impl RangeQuery {
    pub(super) fn parse(body: &Value) -> Result<RangeQuery, EsError> {
        let (field, inner, _) = single_field("range", body)?;
        let p = Params::new("range", inner, &PARAMS)?;
        if let Some(tz) = p.string("time_zone")
            && !matches!(tz.as_str(), "Z" | "UTC" | "+00:00" | "Etc/UTC")
        {
            return Err(EsError::illegal_argument(format!(
                "[range] query: imdb-search-node supports only UTC for [time_zone], got [{tz}]"
            )));
        }
        let bound = |key: &str| p.get(key).filter(|v| !v.is_null()).cloned();
        let lower = match (bound("gt"), bound("gte"), bound("from")) {
            (Some(v), _, _) => Some((v, false)),
            (None, Some(v), _) => Some((v, true)),
            (None, None, Some(v)) => Some((v, p.bool("include_lower", true)?)),
            _ => None,
        };
        let upper = match (bound("lt"), bound("lte"), bound("to")) {
            (Some(v), _, _) => Some((v, false)),
            (None, Some(v), _) => Some((v, true)),
            (None, None, Some(v)) => Some((v, p.bool("include_upper", true)?)),
            _ => None,
        };
        Ok(RangeQuery {
            field: field.to_owned(),
            lower,
            upper,
            format: p.string("format"),
            boost: p.f32("boost", 1.0)?,
        })
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        let Some(r) = cx.field(&self.field) else { return Ok(Box::new(EmptyQuery)) };
        let lower = self.lower.as_ref().map(|(v, inc)| self.bound(cx, r, v, *inc, false)).transpose()?;
        let upper = self.upper.as_ref().map(|(v, inc)| self.bound(cx, r, v, *inc, true)).transpose()?;
        let lower = lower.flatten().unwrap_or(Bound::Unbounded);
        let upper = upper.flatten().unwrap_or(Bound::Unbounded);
        let query: Compiled = if matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
            super::ExistsQuery { field: self.field.clone(), boost: 1.0 }.compile(cx)
        } else {
            Box::new(TantivyRange::new(lower, upper))
        };
        Ok(Box::new(ConstScoreQuery::new(query, self.boost)))
    }

    /// One bound as a term. Integer fields round fractional bounds inward
    /// (`gte 2.5` is `gte 3`).
    fn bound(
        &self,
        cx: Cx,
        r: Resolved,
        value: &Value,
        inclusive: bool,
        upper: bool,
    ) -> Result<Option<Bound<Term>>, EsError> {
        let wrap = |t: Term, inc: bool| if inc { Bound::Included(t) } else { Bound::Excluded(t) };
        let text = crate::util::plain(value);
        match &r.def.ty {
            FieldType::Date { format, .. } => {
                let parsed;
                let format = match &self.format {
                    Some(f) => {
                        parsed =
                            DateFormat::parse(Some(f)).map_err(|e| EsError::parsing(e.reason.clone()).caused_by(e))?;
                        &parsed
                    }
                    None => format,
                };
                // `lte` and `gt` round date math up, as Elasticsearch does.
                let millis = crate::mapping::date::parse_math(&text, format, upper == inclusive)?;
                Ok(Some(wrap(term_of(r.field, &Typed::Date(millis)), inclusive)))
            }
            FieldType::Number { kind: Numeric::Integer { .. }, .. } => {
                let n: f64 = text.trim().parse().map_err(|_| {
                    EsError::illegal_argument(format!("failed to create query: For input string: \"{text}\""))
                })?;
                if n.fract() == 0.0 {
                    return Ok(Some(wrap(term_of(r.field, &Typed::I64(n as i64)), inclusive)));
                }
                let rounded = if upper { n.floor() } else { n.ceil() };
                Ok(Some(Bound::Included(term_of(r.field, &Typed::I64(rounded as i64)))))
            }
            FieldType::Number { .. } => {
                let n: f64 = text.trim().parse().map_err(|_| {
                    EsError::illegal_argument(format!("failed to create query: For input string: \"{text}\""))
                })?;
                Ok(Some(wrap(term_of(r.field, &Typed::F64(n)), inclusive)))
            }
            _ => Ok(Some(wrap(cx.term(r, value)?, inclusive))),
        }
    }
}

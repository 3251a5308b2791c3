//! `match_all`: every document, with a constant score of `boost`.

use serde_json::Value;

use super::{Params, Query};
use crate::error::EsError;

/// Parses `{"match_all": {"boost": 1.2}}`.
pub(super) fn parse_all(body: &Value) -> Result<Query, EsError> {
    let p = Params::new("match_all", body, &["boost", "_name"])?;
    Ok(Query::MatchAll { boost: p.f32("boost", 1.0)? })
}

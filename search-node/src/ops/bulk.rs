//! Reading a `_bulk` body: NDJSON pairs of an action line and, for index,
//! create and update, a source line.
//!
//! Contract: a malformed action line, an unknown action or parameter, or a
//! missing source line fails the whole request with a 400 naming the line,
//! as Elasticsearch does; a source line that is not a JSON object fails
//! only its own item.

use serde_json::{Map, Value};

use crate::error::EsError;
use crate::ops::{Action, OpType, conditions};
use crate::storage::shard::Conditions;

const PARAMS: [&str; 13] = [
    "op_type",
    "_index",
    "_id",
    "routing",
    "_routing",
    "if_seq_no",
    "if_primary_term",
    "version",
    "version_type",
    "retry_on_conflict",
    "require_alias",
    "dynamic_templates",
    "_source",
];

/// Defaults a bulk request's URL gives every action.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// `/{index}/_bulk`.
    pub index: Option<String>,
    /// `?routing=`.
    pub routing: Option<String>,
    /// `?require_alias=true`.
    pub require_alias: bool,
    /// `?_source=`: what update items return of the updated document,
    /// unless their action or body says otherwise.
    pub source: Option<Value>,
}

fn line_error(n: usize, what: impl std::fmt::Display) -> EsError {
    EsError::illegal_argument(format!("Malformed action/metadata line [{n}], {what}"))
}

/// Parses a bulk body into actions.
pub fn parse(body: &[u8], defaults: &Defaults) -> Result<Vec<Action>, EsError> {
    if !body.iter().all(u8::is_ascii_whitespace) && !body.ends_with(b"\n") {
        return Err(EsError::illegal_argument("The bulk request must be terminated by a newline [\\n]"));
    }
    let mut lines = body
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
    let mut actions = Vec::new();
    while let Some((n, line)) = lines.next() {
        let (op, meta) = action_line(n, line)?;
        let text = |key: &str| meta.get(key).map(crate::util::plain);
        let op = if op == OpType::Index && text("op_type").as_deref() == Some("create") { OpType::Create } else { op };
        let body = if op == OpType::Delete {
            Ok(Map::new())
        } else {
            let (m, source) = lines.next().ok_or_else(|| {
                EsError::illegal_argument(format!(
                    "Validation Failed: 1: no requests added; source missing after line [{n}]"
                ))
            })?;
            source_line(m, source)
        };
        actions.push(action(n, op, &meta, body, defaults)?);
    }
    Ok(actions)
}

/// Reads an action line: the operation and its parameters.
fn action_line(n: usize, line: &[u8]) -> Result<(OpType, Map<String, Value>), EsError> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| line_error(n, format!("expected START_OBJECT: {e}")).caused_by(e))?;
    let Value::Object(map) = value else { return Err(line_error(n, "expected START_OBJECT")) };
    if map.is_empty() {
        return Err(line_error(n, "expected FIELD_NAME but found [END_OBJECT]"));
    }
    if map.len() != 1 {
        return Err(line_error(n, "expected END_OBJECT but found [FIELD_NAME]"));
    }
    let (name, meta) = map.into_iter().next().expect("one entry");
    let op = OpType::parse(&name).ok_or_else(|| {
        line_error(n, format!("expected field [create], [delete], [index] or [update] but found [{name}]"))
    })?;
    let Value::Object(meta) = meta else { return Err(line_error(n, "expected START_OBJECT after the action")) };
    if let Some(unknown) = meta.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(EsError::illegal_argument(format!(
            "Action/metadata line [{n}] contains an unknown parameter [{unknown}]"
        )));
    }
    Ok((op, meta))
}

/// Reads source line `m`; an error here fails only its item.
fn source_line(m: usize, source: &[u8]) -> Result<Map<String, Value>, EsError> {
    match serde_json::from_slice::<Value>(source) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(EsError::document_parsing(format!("[{m}:1] failed to parse: source must be a JSON object"))),
        Err(e) => Err(EsError::document_parsing(format!("[{m}:{}] failed to parse: {e}", e.column())).caused_by(e)),
    }
}

/// The action of line `n` from its parameters, its body and the URL's
/// defaults.
fn action(
    n: usize,
    op: OpType,
    meta: &Map<String, Value>,
    body: Result<Map<String, Value>, EsError>,
    defaults: &Defaults,
) -> Result<Action, EsError> {
    let text = |key: &str| meta.get(key).map(crate::util::plain);
    // An update's `_source` may sit on its action line, or in the URL.
    let body = match (op, body, meta.get("_source").or(defaults.source.as_ref())) {
        (OpType::Update, Ok(mut b), Some(source)) => {
            b.entry("_source").or_insert_with(|| source.clone());
            Ok(b)
        }
        (_, body, _) => body,
    };
    let index = text("_index").or_else(|| defaults.index.clone());
    let Some(index) = index else {
        return Err(EsError::validation(format!("index is missing for line [{n}]")));
    };
    let conditions = conditions(
        meta.get("if_seq_no"),
        meta.get("if_primary_term"),
        meta.get("version"),
        text("version_type").as_deref(),
    );
    let (conditions, body) = match conditions {
        Ok(c) => (c, body),
        Err(e) => (Conditions::default(), Err(e)),
    };
    Ok(Action {
        op,
        index,
        id: text("_id"),
        routing: text("routing").or_else(|| text("_routing")).or_else(|| defaults.routing.clone()),
        body,
        conditions,
        retry_on_conflict: meta.get("retry_on_conflict").and_then(Value::as_u64).unwrap_or(0) as u32,
        require_alias: meta.get("require_alias").and_then(Value::as_bool).unwrap_or(defaults.require_alias),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults { index: Some("movies".into()), routing: None, require_alias: false, source: None }
    }

    #[test]
    fn actions_in_order_with_sources() {
        let body = b"{\"index\":{\"_id\":\"1\"}}\n{\"title\":\"Heat\"}\n{\"delete\":{\"_index\":\"other\",\"_id\":\"2\"}}\n{\"update\":{\"_id\":\"3\",\"retry_on_conflict\":2}}\n{\"doc\":{\"a\":1}}\n";
        let actions = parse(body, &defaults()).unwrap();
        assert_eq!(actions.iter().map(|a| a.op).collect::<Vec<_>>(), [OpType::Index, OpType::Delete, OpType::Update]);
        assert_eq!(actions[0].index, "movies");
        assert_eq!(actions[1].index, "other");
        assert_eq!(actions[2].retry_on_conflict, 2);
        assert_eq!(actions[0].body.as_ref().unwrap()["title"], "Heat");
    }

    #[test]
    fn malformed_lines_fail_the_request_bad_sources_only_their_item() {
        assert_eq!(parse(b"{\"index\":{}}\n{}", &defaults()).unwrap_err().status().as_u16(), 400);
        assert!(parse(b"not json\n", &defaults()).unwrap_err().reason.contains("line [1]"));
        assert!(parse(b"{\"frob\":{}}\n", &defaults()).unwrap_err().reason.contains("[frob]"));
        assert!(
            parse(b"{\"index\":{\"_idx\":1}}\n{}\n", &defaults())
                .unwrap_err()
                .reason
                .contains("unknown parameter [_idx]")
        );
        assert!(parse(b"{\"index\":{}}\n", &defaults()).is_err());
        let actions = parse(b"{\"index\":{}}\n{\"a\":\n{\"index\":{}}\n{\"a\":1}\n", &defaults()).unwrap();
        assert_eq!(actions[0].body.as_ref().unwrap_err().es_type(), "document_parsing_exception");
        assert!(actions[1].body.is_ok());
        assert_eq!(
            parse(b"{\"index\":{}}\n{}\n", &Defaults::default()).unwrap_err().es_type(),
            "action_request_validation_exception"
        );
    }
}

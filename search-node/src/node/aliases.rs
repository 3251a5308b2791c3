//! Aliases: names that point at one or more indexes (the API searches the
//! alias over all title indexes), with at most one write index.
//!
//! Contract: a `_aliases` request applies all its actions or none: every
//! action is checked against the state the earlier ones leave before any
//! index metadata is written. Alias filters are refused (searches would
//! not apply them).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::EsError;
use crate::util::glob_match;

/// One `_aliases` action.
#[derive(Debug, Clone, PartialEq)]
pub enum AliasAction {
    /// Point `alias` at `index`, with its definition.
    Add { indices: Vec<String>, aliases: Vec<String>, definition: Map<String, Value>, must_exist: bool },
    /// Remove `alias` from `index`.
    Remove { indices: Vec<String>, aliases: Vec<String>, must_exist: Option<bool> },
    /// Delete an index.
    RemoveIndex { indices: Vec<String> },
}

fn list(map: &Map<String, Value>, one: &str, many: &str) -> Result<Vec<String>, EsError> {
    let mut out = Vec::new();
    if let Some(v) = map.get(one) {
        out.push(crate::util::plain(v));
    }
    if let Some(v) = map.get(many) {
        match v {
            Value::Array(a) => out.extend(a.iter().map(crate::util::plain)),
            other => out.push(crate::util::plain(other)),
        }
    }
    if out.is_empty() && !map.contains_key(many) {
        return Err(EsError::validation(format!("[{one}] is missing")));
    }
    Ok(out)
}

const DEFINITION_KEYS: [&str; 6] =
    ["is_write_index", "routing", "index_routing", "search_routing", "is_hidden", "filter"];

/// Reads the `actions` of a `_aliases` body.
pub fn parse_actions(body: &Value) -> Result<Vec<AliasAction>, EsError> {
    let actions =
        body.get("actions").and_then(Value::as_array).ok_or_else(|| EsError::validation("no action specified"))?;
    let mut out = Vec::new();
    for action in actions {
        let Some((kind, params)) = action.as_object().and_then(|m| m.iter().next()) else {
            return Err(EsError::parsing("[aliases] malformed action"));
        };
        let params = params.as_object().ok_or_else(|| EsError::parsing(format!("[{kind}] must be an object")))?;
        let must_exist = params.get("must_exist").and_then(Value::as_bool);
        out.push(match kind.as_str() {
            "add" => {
                let definition = definition(params)?;
                AliasAction::Add {
                    indices: list(params, "index", "indices")?,
                    aliases: list(params, "alias", "aliases")?,
                    definition,
                    must_exist: must_exist.unwrap_or(false),
                }
            }
            "remove" => AliasAction::Remove {
                indices: list(params, "index", "indices")?,
                aliases: list(params, "alias", "aliases")?,
                must_exist,
            },
            "remove_index" => AliasAction::RemoveIndex { indices: list(params, "index", "indices")? },
            other => return Err(EsError::parsing(format!("[aliases] unknown action [{other}]"))),
        });
    }
    Ok(out)
}

/// The stored definition of an alias from a request's parameters.
pub fn definition(params: &Map<String, Value>) -> Result<Map<String, Value>, EsError> {
    let mut out = Map::new();
    for (key, value) in params {
        match key.as_str() {
            "filter" => return Err(EsError::illegal_argument("imdb-search-node does not support alias filters")),
            k if DEFINITION_KEYS.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            "index" | "indices" | "alias" | "aliases" | "must_exist" => {}
            other => return Err(EsError::parsing(format!("[aliases] unknown field [{other}]"))),
        }
    }
    if let Some(routing) = out.remove("routing") {
        out.insert("index_routing".into(), routing.clone());
        out.insert("search_routing".into(), routing);
    }
    Ok(out)
}

/// Index name to its aliases (`alias -> definition`).
pub type AliasState = BTreeMap<String, BTreeMap<String, Value>>;

/// Applies alias actions to `state` in order, each checked against what the
/// earlier ones left; `resolve` turns an index expression into the names of
/// existing indexes. Returns the indexes `remove_index` actions delete.
/// Nothing is written: on an error the caller drops `state`.
pub fn apply(
    state: &mut AliasState,
    actions: &[AliasAction],
    resolve: impl Fn(&str) -> Result<Vec<String>, EsError>,
) -> Result<Vec<String>, EsError> {
    let mut removed_indices = Vec::new();
    for action in actions {
        match action {
            AliasAction::Add { indices, aliases, definition, .. } => {
                for index in resolve(&indices.join(","))? {
                    for alias in aliases {
                        crate::node::names::validate(alias)
                            .map_err(|e| EsError::invalid_alias_name(alias, &e.reason).caused_by(e))?;
                        if state.contains_key(alias) {
                            return Err(EsError::invalid_alias_name(
                                alias,
                                "an index or data stream exists with the same name as the alias",
                            ));
                        }
                        state
                            .entry(index.clone())
                            .or_default()
                            .insert(alias.clone(), Value::Object(definition.clone()));
                    }
                }
            }
            AliasAction::Remove { indices, aliases, must_exist } => {
                if aliases.is_empty() {
                    return Err(EsError::validation("[aliases] can't be empty"));
                }
                let mut found = false;
                for index in resolve(&indices.join(","))? {
                    if let Some(current) = state.get_mut(&index) {
                        let before = current.len();
                        current.retain(|a, _| !aliases.iter().any(|p| matches_alias(p, a)));
                        found |= current.len() != before;
                    }
                }
                // Nothing removed is an error unless `must_exist: false`.
                if !found && must_exist.unwrap_or(true) {
                    return Err(EsError::aliases_not_found(aliases));
                }
            }
            AliasAction::RemoveIndex { indices } => {
                for index in resolve(&indices.join(","))? {
                    state.remove(&index);
                    removed_indices.push(index);
                }
            }
        }
    }
    check_write_indexes(state)?;
    Ok(removed_indices)
}

/// Whether an alias name matches a pattern of a request (`_all`, globs).
pub fn matches_alias(pattern: &str, alias: &str) -> bool {
    pattern == "_all" || glob_match(pattern, alias)
}

fn check_write_indexes(state: &BTreeMap<String, BTreeMap<String, Value>>) -> Result<(), EsError> {
    let mut writers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (index, aliases) in state {
        for (alias, def) in aliases {
            if def.get("is_write_index") == Some(&json!(true)) {
                writers.entry(alias).or_default().push(index);
            }
        }
    }
    if let Some((alias, indices)) = writers.iter().find(|(_, i)| i.len() > 1) {
        return Err(EsError::illegal_argument(format!(
            "alias [{alias}] has more than one write index [{}]",
            indices.join(",")
        )));
    }
    Ok(())
}

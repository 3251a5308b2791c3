//! `highlight`: fragments of a hit's text fields with the query's terms in
//! `pre_tags`/`post_tags` (`<em>` by default), taken from `_source` and cut
//! around the best match (`fragment_size`, or the whole value with
//! `number_of_fragments: 0`). As Elasticsearch's default
//! `require_field_match`, a field is highlighted only for the query terms on
//! that field. Terms of fuzzy, prefix and wildcard clauses are not
//! highlighted.

use serde_json::{Map, Value, json};
use tantivy::Searcher;
use tantivy::snippet::SnippetGenerator;

use crate::error::EsError;
use crate::mapping::FieldType;
use crate::mapping::context::IndexContext;
use crate::query::Compiled;

/// One field to highlight, with its options.
struct FieldSpec {
    path: String,
    fragment_size: usize,
    whole: bool,
    pre: String,
    post: String,
}

/// Highlighters for the fields of one index, built once per search.
pub struct Highlighter {
    fields: Vec<(FieldSpec, SnippetGenerator)>,
}

impl std::fmt::Debug for Highlighter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Highlighter").field("fields", &self.fields.len()).finish()
    }
}

fn tag(options: &Map<String, Value>, key: &str, default: &str) -> String {
    match options.get(key) {
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or(default).to_owned(),
        Some(Value::String(s)) => s.clone(),
        _ => default.to_owned(),
    }
}

impl Highlighter {
    /// Reads a `highlight` request for one index.
    pub fn new(
        spec: &Value,
        ctx: &IndexContext,
        searcher: &Searcher,
        query: &Compiled,
    ) -> Result<Highlighter, EsError> {
        let Value::Object(top) = spec else { return Err(EsError::parsing("[highlight] must be an object")) };
        let fields: Vec<(String, Map<String, Value>)> = match top.get("fields") {
            Some(Value::Object(m)) => {
                m.iter().map(|(k, v)| (k.clone(), v.as_object().cloned().unwrap_or_default())).collect()
            }
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_object().cloned().unwrap_or_default())))
                .collect(),
            _ => return Err(EsError::parsing("[highlight] requires [fields]")),
        };
        let mut out = Vec::new();
        for (pattern, options) in fields {
            let option = |k: &str| options.get(k).or_else(|| top.get(k));
            let number = option("number_of_fragments").and_then(Value::as_u64).unwrap_or(5);
            let fragment_size = option("fragment_size").and_then(Value::as_u64).unwrap_or(100) as usize;
            let mut merged = top.clone();
            merged.extend(options.clone());
            for (path, def) in &ctx.mapping.fields {
                if !crate::util::glob_match(&pattern, path)
                    || !matches!(def.ty, FieldType::Text { .. } | FieldType::Keyword { .. })
                {
                    continue;
                }
                let Some(&field) = ctx.schema.fields.get(path) else { continue };
                let generator = SnippetGenerator::create(searcher, query.as_ref(), field)?;
                let spec = FieldSpec {
                    path: path.clone(),
                    fragment_size,
                    whole: number == 0,
                    pre: tag(&merged, "pre_tags", "<em>"),
                    post: tag(&merged, "post_tags", "</em>"),
                };
                out.push((spec, generator));
            }
        }
        Ok(Highlighter { fields: out })
    }

    /// The `highlight` object of a hit, or `None` when nothing matched.
    pub fn highlight(&mut self, source: &Value) -> Option<Value> {
        let mut out = Map::new();
        for (spec, generator) in &mut self.fields {
            let mut fragments = Vec::new();
            for text in values_at(source, &spec.path) {
                let whole = spec.whole || text.chars().count() <= spec.fragment_size;
                generator.set_max_num_chars(if whole { text.len().max(1) } else { spec.fragment_size.max(1) });
                let snippet = generator.snippet(&text);
                if snippet.highlighted().is_empty() {
                    continue;
                }
                // The whole value keeps what lies around the matches
                // (trailing punctuation); tantivy's fragment ends at a token.
                let (fragment, base) = match (whole, text.find(snippet.fragment())) {
                    (true, Some(base)) => (text.as_str(), base),
                    _ => (snippet.fragment(), 0),
                };
                let mut marked = String::with_capacity(fragment.len() + 16);
                let mut at = 0;
                for range in snippet.highlighted() {
                    let (start, end) = (base + range.start, base + range.end);
                    marked.push_str(&fragment[at..start]);
                    marked.push_str(&spec.pre);
                    marked.push_str(&fragment[start..end]);
                    marked.push_str(&spec.post);
                    at = end;
                }
                marked.push_str(&fragment[at..]);
                fragments.push(Value::String(marked));
            }
            if !fragments.is_empty() {
                out.insert(spec.path.clone(), Value::Array(fragments));
            }
        }
        (!out.is_empty()).then(|| json!(out))
    }
}

/// The string values at a dotted path of a source (arrays flattened). A
/// multi-field (`title.keyword`) reads its parent's value.
fn values_at(source: &Value, path: &str) -> Vec<String> {
    fn walk(value: &Value, parts: &[&str], out: &mut Vec<String>) {
        match (value, parts.split_first()) {
            (Value::Array(items), _) => items.iter().for_each(|v| walk(v, parts, out)),
            (Value::Object(map), Some((head, rest))) => {
                if let Some(v) = map.get(*head) {
                    walk(v, rest, out);
                } else if !rest.is_empty() {
                    // Keys may hold dots themselves.
                    let joined = parts.join(".");
                    if let Some(v) = map.get(&joined) {
                        walk(v, &[], out);
                    }
                }
            }
            (Value::String(s), None) => out.push(s.clone()),
            (Value::Number(n), None) => out.push(n.to_string()),
            _ => {}
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    walk(source, &parts, &mut out);
    if out.is_empty() && parts.len() > 1 {
        walk(source, &parts[..parts.len() - 1], &mut out);
    }
    out
}

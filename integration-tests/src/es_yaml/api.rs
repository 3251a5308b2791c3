//! The REST API specs (`api/<name>.json`) and turning a `do` step into an
//! HTTP request.
//!
//! Contract, as the upstream runner builds requests:
//! - Path: among the spec's paths whose `{parts}` are all given, the one
//!   with the most parts (the first listed on a tie); a part given empty
//!   (`index: []`) counts as not given. Part values are percent-encoded (`,`
//!   and `*` stay readable, as index expressions).
//! - Every other argument must be a parameter of the API, a global one
//!   (`pretty`, `human`, `error_trace`, `filter_path`, `source`) or the client's
//!   `ignore` (statuses that are not errors); it goes to the query string,
//!   booleans as `true`/`false`, lists comma-joined. Anything else, a
//!   missing required parameter, no usable path, a body the API does not
//!   take or a missing required one is a [`BuildError::Param`]: the
//!   client-side error `catch: param` expects.
//! - Method: with a body, the first listed method that is not GET, HEAD or
//!   DELETE (POST for search, PUT for create); without one, GET if listed,
//!   else the first.
//! - Body: JSON; a string is sent as it is. For APIs whose spec says
//!   `"serialize": "bulk"` (bulk, msearch) a list is sent as NDJSON, one
//!   line per element (strings as they are), with `application/x-ndjson` and
//!   a final newline, which a string body also gets. `headers` of the step
//!   replace the runner's.
//! - APIs the corpus calls without shipping their spec (`indices.close`,
//!   `indices.get`, ...) have built-in specs with Elasticsearch's paths whose
//!   parameters are not checked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

use super::stash::value_text;
use crate::Error;

/// Parameters every API takes.
const GLOBAL_PARAMS: [&str; 5] = ["pretty", "human", "error_trace", "filter_path", "source"];
/// Parameters the client consumes itself.
const CLIENT_PARAM_IGNORE: &str = "ignore";

/// Specs of APIs the corpus calls without shipping `api/<name>.json`,
/// with the paths and methods of Elasticsearch's spec. Parameters unchecked.
const BUILTIN_SPECS: &str = r#"{
  "indices.close": {"url": {"paths": [{"path": "/{index}/_close", "methods": ["POST"], "parts": {"index": {}}}]}},
  "indices.open": {"url": {"paths": [{"path": "/{index}/_open", "methods": ["POST"], "parts": {"index": {}}}]}},
  "indices.get": {"url": {"paths": [{"path": "/{index}", "methods": ["GET"], "parts": {"index": {}}}]}},
  "indices.get_settings": {"url": {"paths": [
    {"path": "/_settings", "methods": ["GET"]},
    {"path": "/{index}/_settings", "methods": ["GET"], "parts": {"index": {}}},
    {"path": "/{index}/_settings/{name}", "methods": ["GET"], "parts": {"index": {}, "name": {}}},
    {"path": "/_settings/{name}", "methods": ["GET"], "parts": {"name": {}}}]}},
  "indices.stats": {"url": {"paths": [
    {"path": "/_stats", "methods": ["GET"]},
    {"path": "/_stats/{metric}", "methods": ["GET"], "parts": {"metric": {}}},
    {"path": "/{index}/_stats", "methods": ["GET"], "parts": {"index": {}}},
    {"path": "/{index}/_stats/{metric}", "methods": ["GET"], "parts": {"index": {}, "metric": {}}}]}},
  "indices.forcemerge": {"url": {"paths": [
    {"path": "/_forcemerge", "methods": ["POST"]},
    {"path": "/{index}/_forcemerge", "methods": ["POST"], "parts": {"index": {}}}]}}
}"#;

/// One API's spec.
#[derive(Debug, Clone)]
pub struct ApiSpec {
    /// `indices.create`, ...
    pub name: String,
    /// URL templates, in spec order.
    pub paths: Vec<ApiPath>,
    /// Query parameters and whether each is required.
    pub params: BTreeMap<String, bool>,
    /// `None`: takes no body; `Some(required)` otherwise.
    pub body: Option<bool>,
    /// Bodies that are lists go as NDJSON.
    pub ndjson: bool,
    /// A built-in spec: any parameter is let through.
    pub builtin: bool,
}

/// One URL template.
#[derive(Debug, Clone)]
pub struct ApiPath {
    /// `/{index}/_doc/{id}`
    pub path: String,
    /// Methods, in spec order.
    pub methods: Vec<String>,
    /// The template's `{parts}`.
    pub parts: Vec<String>,
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Encoded path and query string, from the leading `/`.
    pub path: String,
    /// Headers, `Content-Type` included when there is a body.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Option<Vec<u8>>,
    /// Statuses the step's `ignore` turns into successes.
    pub ignore: Vec<u16>,
}

/// Why a `do` step could not become a request.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildError {
    /// No spec for the API, not even a built-in one.
    UnknownApi(String),
    /// The arguments do not fit the spec: what `catch: param` expects.
    Param(String),
}

/// All specs by API name.
#[derive(Debug, Clone, Default)]
pub struct ApiSpecs {
    apis: BTreeMap<String, ApiSpec>,
}

impl ApiSpecs {
    /// Reads every `*.json` spec of a folder, over the built-in ones.
    pub fn load(dir: &Path) -> Result<ApiSpecs, Error> {
        let mut specs = ApiSpecs::builtin();
        let entries = std::fs::read_dir(dir).map_err(Error::io(format!("listing {}", dir.display())))?;
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let text = std::fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))?;
            specs.add_json(&text, false).map_err(|m| Error::corpus(path, m))?;
        }
        Ok(specs)
    }

    /// Only the built-in specs.
    pub fn builtin() -> ApiSpecs {
        let mut specs = ApiSpecs::default();
        specs.add_json(BUILTIN_SPECS, true).expect("the built-in specs parse");
        specs
    }

    /// Adds the specs of one JSON document (`{"name": {...}, ...}`).
    pub fn add_json(&mut self, text: &str, builtin: bool) -> Result<(), String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(doc) = doc else { return Err("a spec must be an object".into()) };
        for (name, spec) in doc {
            let spec = parse_spec(&name, &spec, builtin).map_err(|e| format!("{name}: {e}"))?;
            self.apis.insert(name, spec);
        }
        Ok(())
    }

    /// The spec of an API.
    pub fn get(&self, api: &str) -> Option<&ApiSpec> {
        self.apis.get(api)
    }

    /// The request for an API call with (stash-substituted) arguments.
    pub fn build(
        &self,
        api: &str,
        args: &Map<String, Value>,
        headers: &[(String, String)],
    ) -> Result<HttpRequest, BuildError> {
        let spec = self.get(api).ok_or_else(|| BuildError::UnknownApi(api.to_owned()))?;
        spec.build(args, headers)
    }
}

fn parse_spec(name: &str, spec: &Value, builtin: bool) -> Result<ApiSpec, String> {
    let paths = spec["url"]["paths"].as_array().ok_or("no url.paths")?;
    let paths = paths
        .iter()
        .map(|p| {
            let path = p["path"].as_str().ok_or("a path without `path`")?.to_owned();
            let methods: Vec<String> =
                p["methods"].as_array().into_iter().flatten().filter_map(|m| m.as_str().map(str::to_owned)).collect();
            if methods.is_empty() {
                return Err(format!("{path}: no methods"));
            }
            let parts = p["parts"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            Ok(ApiPath { path, methods, parts })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let params = spec["params"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v["required"].as_bool().unwrap_or(false))).collect())
        .unwrap_or_default();
    let body = spec.get("body").filter(|b| !b.is_null()).map(|b| b["required"].as_bool().unwrap_or(false));
    let ndjson = spec["body"]["serialize"].as_str() == Some("bulk");
    Ok(ApiSpec { name: name.to_owned(), paths, params, body, ndjson, builtin })
}

impl ApiSpec {
    /// The request for a call with these arguments (see the module docs).
    pub fn build(&self, args: &Map<String, Value>, headers: &[(String, String)]) -> Result<HttpRequest, BuildError> {
        let param = |msg: String| BuildError::Param(msg);
        // A part given empty (`index: []`) counts as not given, as the
        // Python client does: `/_refresh`, not `//_refresh`.
        let is_part = |k: &str| self.paths.iter().any(|p| p.parts.iter().any(|part| part == k));
        let args: Map<String, Value> = args
            .iter()
            .filter(|(k, v)| !(is_part(k) && value_text(v).is_empty()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let args = &args;
        let given: Vec<&str> = args.keys().map(String::as_str).filter(|k| *k != "body").collect();
        let usable = |p: &&ApiPath| p.parts.iter().all(|part| given.contains(&part.as_str()));
        let most = self.paths.iter().filter(usable).map(|p| p.parts.len()).max();
        let path = self
            .paths
            .iter()
            .filter(usable)
            .find(|p| Some(p.parts.len()) == most)
            .ok_or_else(|| param(format!("no path of [{}] takes the arguments {given:?}", self.name)))?;

        let mut url = String::new();
        for segment in path.path.split('/').filter(|s| !s.is_empty()) {
            url.push('/');
            url.push_str(&substitute_parts(segment, args));
        }
        if url.is_empty() {
            url.push('/');
        }

        let mut query = Vec::new();
        let mut ignore = Vec::new();
        for (key, value) in args {
            if key == "body" || path.parts.contains(key) {
                continue;
            }
            if key == CLIENT_PARAM_IGNORE {
                ignore = statuses(value).ok_or_else(|| param(format!("ignore: {value} is not a list of statuses")))?;
                continue;
            }
            if !(self.builtin || self.params.contains_key(key) || GLOBAL_PARAMS.contains(&key.as_str())) {
                return Err(param(format!("param [{key}] not supported by [{}] api", self.name)));
            }
            query.push(format!("{}={}", encode(key, QUERY_KEEP), encode(&value_text(value), QUERY_KEEP)));
        }
        if let Some((missing, _)) = self.params.iter().find(|(k, required)| **required && !args.contains_key(*k)) {
            return Err(param(format!("param [{missing}] is required by [{}] api", self.name)));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }

        let body = args.get("body");
        let (body, content_type) = match (body, self.body) {
            (Some(_), None) => return Err(param(format!("body is not supported by [{}] api", self.name))),
            (None, Some(true)) => return Err(param(format!("body is required by [{}] api", self.name))),
            (None, _) => (None, None),
            (Some(body), Some(_)) => {
                let (bytes, content_type) = self.encode_body(body);
                (Some(bytes), Some(content_type))
            }
        };
        let method = choose_method(&path.methods, body.is_some());
        let mut all_headers: Vec<(String, String)> =
            content_type.map(|t| ("Content-Type".to_owned(), t)).into_iter().collect();
        for (name, value) in headers {
            all_headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            all_headers.push((name.clone(), value.clone()));
        }
        Ok(HttpRequest { method, path: url, headers: all_headers, body, ignore })
    }

    fn encode_body(&self, body: &Value) -> (Vec<u8>, String) {
        const JSON: &str = "application/json";
        const NDJSON: &str = "application/x-ndjson";
        match body {
            Value::String(text) if self.ndjson => {
                let mut text = text.clone();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                (text.into_bytes(), NDJSON.to_owned())
            }
            Value::String(text) => (text.clone().into_bytes(), JSON.to_owned()),
            Value::Array(lines) if self.ndjson => {
                let mut text = String::new();
                for line in lines {
                    match line {
                        Value::String(s) => text.push_str(s.trim_end_matches('\n')),
                        other => text.push_str(&other.to_string()),
                    }
                    text.push('\n');
                }
                (text.into_bytes(), NDJSON.to_owned())
            }
            other => (other.to_string().into_bytes(), JSON.to_owned()),
        }
    }
}

/// Replaces `{part}`s in one path segment by their encoded values.
fn substitute_parts(segment: &str, args: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = segment;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else { break };
        let name = &rest[start + 1..start + len];
        out.push_str(&rest[..start]);
        let value = args.get(name).map(value_text).unwrap_or_default();
        out.push_str(&encode(&value, PATH_KEEP));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

fn choose_method(methods: &[String], has_body: bool) -> String {
    let pick = if has_body {
        methods.iter().find(|m| !matches!(m.as_str(), "GET" | "HEAD" | "DELETE"))
    } else {
        methods.iter().find(|m| *m == "GET")
    };
    pick.unwrap_or(&methods[0]).clone()
}

fn statuses(value: &Value) -> Option<Vec<u16>> {
    let one = |v: &Value| v.as_u64().and_then(|n| u16::try_from(n).ok()).or_else(|| v.as_str()?.trim().parse().ok());
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Some(vec![one(other)?]),
    }
}

/// Characters left as they are in a path segment, besides ASCII letters,
/// digits and `-._~`: index expressions stay readable.
const PATH_KEEP: &str = "*,:@";
/// Likewise in a query string key or value.
const QUERY_KEEP: &str = "*,:";

/// Percent-encodes UTF-8 text, keeping unreserved characters and `keep`.
pub fn encode(text: &str, keep: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let c = byte as char;
        if c.is_ascii_alphanumeric() || "-._~".contains(c) || (byte.is_ascii() && keep.contains(c)) {
            out.push(c);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn specs() -> ApiSpecs {
        let mut specs = ApiSpecs::builtin();
        specs
            .add_json(
                r#"{
            "index": {"url": {"paths": [
                {"path": "/{index}/_doc/{id}", "methods": ["PUT", "POST"], "parts": {"id": {}, "index": {}}},
                {"path": "/{index}/_doc", "methods": ["POST"], "parts": {"index": {}}}]},
              "params": {"refresh": {"type": "enum"}, "op_type": {}}, "body": {"required": true}},
            "search": {"url": {"paths": [
                {"path": "/_search", "methods": ["GET", "POST"]},
                {"path": "/{index}/_search", "methods": ["GET", "POST"], "parts": {"index": {"type": "list"}}}]},
              "params": {"_source_includes": {}, "rest_total_hits_as_int": {}}, "body": {}},
            "bulk": {"url": {"paths": [{"path": "/_bulk", "methods": ["POST", "PUT"]}]},
              "params": {"refresh": {}}, "body": {"required": true, "serialize": "bulk"}},
            "exists": {"url": {"paths": [{"path": "/{index}/_doc/{id}", "methods": ["HEAD"], "parts": {"id": {}, "index": {}}}]}},
            "indices.delete_alias": {"url": {"paths": [
                {"path": "/{index}/_alias/{name}", "methods": ["DELETE"], "parts": {"index": {}, "name": {}}}]}},
            "with_required": {"url": {"paths": [{"path": "/_x", "methods": ["GET"]}]}, "params": {"must": {"required": true}}}
        }"#,
                false,
            )
            .unwrap();
        specs
    }

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_path_with_the_most_given_parts_is_chosen_and_parts_are_encoded() {
        let s = specs();
        let with_id = s.build("index", &args(json!({"index": "test", "id": 1, "body": {"a": 1}})), &[]).unwrap();
        assert_eq!((with_id.method.as_str(), with_id.path.as_str()), ("PUT", "/test/_doc/1"));
        let without = s.build("index", &args(json!({"index": "test", "body": {}})), &[]).unwrap();
        assert_eq!((without.method.as_str(), without.path.as_str()), ("POST", "/test/_doc"));
        let weird = s.build("index", &args(json!({"index": "test-中文", "id": "a b/c?d#e", "body": {}})), &[]).unwrap();
        assert_eq!(weird.path, "/test-%E4%B8%AD%E6%96%87/_doc/a%20b%2Fc%3Fd%23e");
        let list = s.build("search", &args(json!({"index": ["test_1", "test-*"]})), &[]).unwrap();
        assert_eq!((list.method.as_str(), list.path.as_str()), ("GET", "/test_1,test-*/_search"));
    }

    #[test]
    fn other_arguments_become_query_parameters() {
        let s = specs();
        let req = s
            .build(
                "search",
                // Keys in sorted order: the query keeps the arguments' order,
                // which `preserve_order` or not, is then this one.
                &args(json!({"_source_includes": ["a.b", "c d"], "body": {"size": 0}, "ignore": 404, "rest_total_hits_as_int": true})),
                &[],
            )
            .unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/_search?_source_includes=a.b,c%20d&rest_total_hits_as_int=true");
        assert_eq!(req.ignore, [404]);
        assert_eq!(req.body.as_deref(), Some(br#"{"size":0}"#.as_slice()));
        assert_eq!(req.headers, [("Content-Type".to_owned(), "application/json".to_owned())]);
        let pretty = s.build("search", &args(json!({"filter_path": "hits.total", "pretty": true})), &[]).unwrap();
        assert_eq!(pretty.path, "/_search?filter_path=hits.total&pretty=true");
    }

    #[test]
    fn arguments_outside_the_spec_are_client_side_param_errors() {
        let s = specs();
        let unknown = s.build("search", &args(json!({"nope": 1})), &[]).unwrap_err();
        assert_eq!(unknown, BuildError::Param("param [nope] not supported by [search] api".into()));
        let no_path = s.build("indices.delete_alias", &args(json!({"name": "alias1"})), &[]).unwrap_err();
        assert!(matches!(no_path, BuildError::Param(m) if m.contains("no path")));
        assert!(
            matches!(s.build("index", &args(json!({"index": "t"})), &[]), Err(BuildError::Param(m)) if m.contains("body is required"))
        );
        assert!(matches!(
            s.build("exists", &args(json!({"index": "t", "id": 1, "body": {}})), &[]),
            Err(BuildError::Param(_))
        ));
        assert!(
            matches!(s.build("with_required", &Map::new(), &[]), Err(BuildError::Param(m)) if m.contains("[must] is required"))
        );
        assert_eq!(s.build("nope.api", &Map::new(), &[]), Err(BuildError::UnknownApi("nope.api".into())));
    }

    #[test]
    fn bulk_bodies_are_ndjson() {
        let s = specs();
        let list = json!({"body": [{"index": {"_id": "1", "_index": "t"}}, {"f": 1}, "{\"delete\":{\"_id\":\"2\"}}"], "refresh": true});
        let req = s.build("bulk", &args(list), &[]).unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/_bulk?refresh=true");
        let body = String::from_utf8(req.body.unwrap()).unwrap();
        assert_eq!(body, "{\"index\":{\"_id\":\"1\",\"_index\":\"t\"}}\n{\"f\":1}\n{\"delete\":{\"_id\":\"2\"}}\n");
        assert_eq!(req.headers, [("Content-Type".to_owned(), "application/x-ndjson".to_owned())]);
        // A string body goes as it is, with the final newline bulk needs,
        // and the step's headers win.
        let headers = [("content-type".to_owned(), "application/json".to_owned())];
        let req = s.build("bulk", &args(json!({"body": "{\"index\":{}}\n{}"})), &headers).unwrap();
        assert_eq!(req.body.as_deref(), Some(b"{\"index\":{}}\n{}\n".as_slice()));
        assert_eq!(req.headers, headers);
    }

    #[test]
    fn head_apis_and_builtin_specs() {
        let s = specs();
        let head = s.build("exists", &args(json!({"index": "t", "id": "1"})), &[]).unwrap();
        assert_eq!((head.method.as_str(), head.path.as_str()), ("HEAD", "/t/_doc/1"));
        let close = s.build("indices.close", &args(json!({"index": "index-2", "anything": "goes"})), &[]).unwrap();
        assert_eq!((close.method.as_str(), close.path.as_str()), ("POST", "/index-2/_close?anything=goes"));
        let stats = s.build("indices.stats", &args(json!({"index": "t", "metric": "fielddata"})), &[]).unwrap();
        assert_eq!(stats.path, "/t/_stats/fielddata");
        // An empty list for a part is no part at all.
        let all = s.build("indices.stats", &args(json!({"index": [], "metric": "fielddata"})), &[]).unwrap();
        assert_eq!(all.path, "/_stats/fielddata");
    }

    #[test]
    fn the_corpus_specs_load_when_present() {
        let dir = crate::workspace_root().join("../shared/es-rest-tests/api");
        if !dir.is_dir() {
            eprintln!("SKIPPED: {} is absent", dir.display());
            return;
        }
        let specs = ApiSpecs::load(&dir).unwrap();
        let req = specs.build("indices.put_alias", &args(json!({"body": {"index": "a", "alias": "b"}})), &[]).unwrap();
        assert_eq!((req.method.as_str(), req.path.as_str()), ("PUT", "/_alias"));
        let count = specs.build("count", &args(json!({"index": "test"})), &[]).unwrap();
        assert_eq!((count.method.as_str(), count.path.as_str()), ("GET", "/test/_count"));
    }
}

//! The YAML test files read into sections and steps.
//!
//! Contract: a file is a stream of YAML documents, each a mapping of section
//! names to step lists; `setup` and `teardown` are special, every other key
//! is a test, kept in file order. A `skip` step must come first in its
//! section and becomes [`Section::skip`]. Every other step becomes a
//! [`Step`]; an assertion mapping with several keys becomes one step per
//! key, as if written one by one. A step the runner does not know, or one
//! whose shape is wrong, becomes [`StepKind::Unsupported`]: it fails the test
//! that reaches it instead of refusing the whole file. Only YAML that does
//! not parse, or a file that is not sections of step lists, is an error.
//!
//! Values are kept as `serde_json::Value`: the request bodies are JSON, and
//! the assertions compare them with JSON responses. YAML's non-string keys
//! become their text.

use std::path::Path;

use serde::Deserialize as _;
use serde_json::{Map, Value};
use serde_norway::Value as Yaml;

use crate::Error;

/// One `test/<api>/<file>.yml` file.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// `<api>/<file>.yml`, the prefix of every test id.
    pub name: String,
    /// Run before each test.
    pub setup: Option<Section>,
    /// Run after each test, pass or fail.
    pub teardown: Option<Section>,
    /// The tests, in file order.
    pub tests: Vec<Section>,
}

impl TestFile {
    /// The id of one of its tests: `<api>/<file>.yml :: <test name>`.
    pub fn test_id(&self, test: &Section) -> String {
        test_id(&self.name, &test.name)
    }
}

/// `<api>/<file>.yml :: <test name>`.
pub fn test_id(file: &str, test: &str) -> String {
    format!("{file} :: {test}")
}

/// A setup, teardown or test section.
#[derive(Debug, Clone)]
pub struct Section {
    /// The section's key (`setup`, `teardown` or the test's name).
    pub name: String,
    /// Its leading `skip` step, if any.
    pub skip: Option<Skip>,
    /// The steps after it.
    pub steps: Vec<Step>,
}

/// A `skip` step: skipped when the server's version is in `version`, or
/// when the runner lacks one of `features`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Skip {
    /// Version ranges (`"1.0.0 - 2.0.0"`, `" - 6.99.99"`, `"all"`), comma separated.
    pub version: Option<String>,
    /// Why, as the file says.
    pub reason: Option<String>,
    /// Runner features the section needs.
    pub features: Vec<String>,
}

/// A step, with its position for messages.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based position in its section's step list (the `skip` counts).
    pub number: usize,
    /// What it does.
    pub kind: StepKind,
}

/// Numeric comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `gt`
    Gt,
    /// `gte`
    Gte,
    /// `lt`
    Lt,
    /// `lte`
    Lte,
}

impl CmpOp {
    /// The step's name in the files.
    pub fn name(self) -> &'static str {
        match self {
            CmpOp::Gt => "gt",
            CmpOp::Gte => "gte",
            CmpOp::Lt => "lt",
            CmpOp::Lte => "lte",
        }
    }
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// Calls an API.
    Do(DoStep),
    /// The value at `path` equals `expected` (or matches it, for `/regex/`).
    Match {
        /// Path into the response, or a `$stash` reference.
        path: String,
        /// Expected value.
        expected: Value,
    },
    /// The string, array or object at `path` has `expected` elements.
    Length {
        /// Path into the response.
        path: String,
        /// Expected length.
        expected: Value,
    },
    /// The number at `path` compares with `expected` as `op` says.
    Compare {
        /// The comparison.
        op: CmpOp,
        /// Path into the response.
        path: String,
        /// The bound.
        expected: Value,
    },
    /// The value at `path` exists and is not false, 0, "" or null.
    IsTrue(String),
    /// The value at `path` is missing or false, 0, "" or null.
    IsFalse(String),
    /// Stashes the value at `path` as `$name`.
    Set {
        /// Path into the response.
        path: String,
        /// Stash name, without `$`.
        name: String,
    },
    /// The array at `path` has an element matching `expected`.
    Contains {
        /// Path into the response.
        path: String,
        /// The element (an object matches any element that has its keys).
        expected: Value,
    },
    /// A step this runner does not run; fails the test that reaches it.
    Unsupported(String),
}

/// A `do` step.
#[derive(Debug, Clone, Default)]
pub struct DoStep {
    /// The API, as named in `api/<name>.json`.
    pub api: String,
    /// Its arguments: path parts, query parameters, `body`, `ignore`.
    pub args: Map<String, Value>,
    /// The expected error: `missing`, `bad_request`, `/regex/`, ...
    pub catch: Option<String>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
}

impl StepKind {
    /// A short description for messages: `do search`, `match hits.total`.
    pub fn describe(&self) -> String {
        match self {
            StepKind::Do(d) => match &d.catch {
                Some(c) => format!("do {} (catch {c})", d.api),
                None => format!("do {}", d.api),
            },
            StepKind::Match { path, .. } => format!("match {}", show_path(path)),
            StepKind::Length { path, .. } => format!("length {}", show_path(path)),
            StepKind::Compare { op, path, .. } => format!("{} {}", op.name(), show_path(path)),
            StepKind::IsTrue(path) => format!("is_true {}", show_path(path)),
            StepKind::IsFalse(path) => format!("is_false {}", show_path(path)),
            StepKind::Set { path, name } => format!("set {} as ${name}", show_path(path)),
            StepKind::Contains { path, .. } => format!("contains {}", show_path(path)),
            StepKind::Unsupported(what) => what.clone(),
        }
    }
}

fn show_path(path: &str) -> &str {
    if path.is_empty() { "''" } else { path }
}

/// Reads one test file; `name` is its `<api>/<file>.yml`.
pub fn parse_file(path: &Path, name: &str) -> Result<TestFile, Error> {
    let text = std::fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))?;
    parse_text(&text, name).map_err(|message| Error::corpus(path, message))
}

/// Parses the text of a test file.
pub fn parse_text(text: &str, name: &str) -> Result<TestFile, String> {
    let mut file = TestFile { name: name.to_owned(), setup: None, teardown: None, tests: Vec::new() };
    for document in serde_norway::Deserializer::from_str(text) {
        let document = Yaml::deserialize(document).map_err(|e| format!("not valid YAML: {e}"))?;
        let document = match document {
            Yaml::Null => continue,
            Yaml::Mapping(m) => m,
            other => return Err(format!("a document must map section names to steps, found {}", kind(&other))),
        };
        for (key, steps) in document {
            let key = scalar_text(&key).ok_or("a section name must be a string")?;
            let section = parse_section(&key, steps)?;
            match key.as_str() {
                "setup" | "teardown" => {
                    let slot = if key == "setup" { &mut file.setup } else { &mut file.teardown };
                    if slot.is_some() {
                        return Err(format!("two `{key}` sections"));
                    }
                    *slot = Some(section);
                }
                _ => {
                    if file.tests.iter().any(|t| t.name == key) {
                        return Err(format!("two tests named {key:?}"));
                    }
                    file.tests.push(section);
                }
            }
        }
    }
    Ok(file)
}

fn parse_section(name: &str, steps: Yaml) -> Result<Section, String> {
    let steps = match steps {
        Yaml::Sequence(s) => s,
        Yaml::Null => Vec::new(),
        other => return Err(format!("section {name:?} must be a list of steps, found {}", kind(&other))),
    };
    let mut section = Section { name: name.to_owned(), skip: None, steps: Vec::new() };
    for (i, step) in steps.into_iter().enumerate() {
        let number = i + 1;
        let Yaml::Mapping(map) = step else {
            section.steps.push(Step { number, kind: StepKind::Unsupported(format!("a step that is {}", kind(&step))) });
            continue;
        };
        if map.len() != 1 {
            section.steps.push(Step { number, kind: StepKind::Unsupported("a step with several keys".into()) });
            continue;
        }
        let (key, value) = map.into_iter().next().expect("one entry");
        let key = scalar_text(&key).unwrap_or_default();
        if key == "skip" {
            if i != 0 {
                return Err(format!("section {name:?}: `skip` must be the first step"));
            }
            section.skip = Some(parse_skip(value).map_err(|e| format!("section {name:?}: {e}"))?);
            continue;
        }
        for kind in parse_step(&key, value) {
            section.steps.push(Step { number, kind });
        }
    }
    Ok(section)
}

fn parse_skip(value: Yaml) -> Result<Skip, String> {
    let Yaml::Mapping(map) = value else { return Err("`skip` must be a mapping".into()) };
    let mut skip = Skip::default();
    for (key, value) in map {
        match scalar_text(&key).as_deref() {
            Some("version") => skip.version = scalar_text(&value),
            Some("reason") => skip.reason = scalar_text(&value),
            Some("features") => {
                skip.features = match value {
                    Yaml::Sequence(list) => list.iter().filter_map(scalar_text).collect(),
                    other => scalar_text(&other).into_iter().collect(),
                }
            }
            // `os` and future keys: a condition we cannot evaluate is no
            // reason to skip.
            _ => {}
        }
    }
    Ok(skip)
}

fn parse_step(key: &str, value: Yaml) -> Vec<StepKind> {
    let value = match to_json(value) {
        Ok(v) => v,
        Err(e) => return vec![StepKind::Unsupported(format!("{key}: {e}"))],
    };
    // An assertion maps paths to values; each pair is one step.
    let each = |make: &dyn Fn(String, Value) -> StepKind| match &value {
        Value::Object(map) if !map.is_empty() => map.iter().map(|(path, v)| make(path.clone(), v.clone())).collect(),
        _ => vec![StepKind::Unsupported(format!("`{key}` must map paths to values"))],
    };
    match key {
        "do" => vec![parse_do(value)],
        "match" => each(&|path, expected| StepKind::Match { path, expected }),
        "length" => each(&|path, expected| StepKind::Length { path, expected }),
        "contains" => each(&|path, expected| StepKind::Contains { path, expected }),
        "gt" => each(&|path, expected| StepKind::Compare { op: CmpOp::Gt, path, expected }),
        "gte" => each(&|path, expected| StepKind::Compare { op: CmpOp::Gte, path, expected }),
        "lt" => each(&|path, expected| StepKind::Compare { op: CmpOp::Lt, path, expected }),
        "lte" => each(&|path, expected| StepKind::Compare { op: CmpOp::Lte, path, expected }),
        "set" => each(&|path, name| match name {
            Value::String(name) => StepKind::Set { path, name },
            _ => StepKind::Unsupported("`set` must name the stash entry with a string".into()),
        }),
        "is_true" | "is_false" => {
            let path = match value {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            vec![if key == "is_true" { StepKind::IsTrue(path) } else { StepKind::IsFalse(path) }]
        }
        other => vec![StepKind::Unsupported(format!("step `{other}` is not supported by the runner"))],
    }
}

/// Keys of a `do` step that configure the runner, not the API call.
const DO_META: [&str; 7] =
    ["catch", "headers", "warnings", "allowed_warnings", "warnings_regex", "allowed_warnings_regex", "node_selector"];

fn parse_do(value: Value) -> StepKind {
    let Value::Object(map) = value else { return StepKind::Unsupported("`do` must be a mapping".into()) };
    let mut step = DoStep::default();
    let mut apis = Vec::new();
    for (key, value) in map {
        match key.as_str() {
            "catch" => step.catch = Some(text_of(&value)),
            "headers" => match value {
                Value::Object(h) => step.headers = h.into_iter().map(|(k, v)| (k, text_of(&v))).collect(),
                _ => return StepKind::Unsupported("`do.headers` must be a mapping".into()),
            },
            // Warning headers are not checked (the runner's documented
            // limitation), and there is a single node to select.
            k if DO_META.contains(&k) => {}
            _ => apis.push((key, value)),
        }
    }
    if apis.len() != 1 {
        let names: Vec<&str> = apis.iter().map(|(k, _)| k.as_str()).collect();
        return StepKind::Unsupported(format!("`do` must call exactly one API, found {names:?}"));
    }
    let (api, args) = apis.pop().expect("one API");
    step.api = api;
    step.args = match args {
        Value::Object(args) => args,
        Value::Null => Map::new(),
        _ => return StepKind::Unsupported(format!("the arguments of `{}` must be a mapping", step.api)),
    };
    StepKind::Do(step)
}

/// A scalar's text (for names, reasons, headers): strings as they are,
/// numbers and booleans as written.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Tagged(t) => scalar_text(&t.value),
        Yaml::Null | Yaml::Sequence(_) | Yaml::Mapping(_) => None,
    }
}

fn kind(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// Converts a YAML value to JSON.
pub fn to_json(value: Yaml) -> Result<Value, String> {
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Value::Number(serde_json::Number::from_f64(f).ok_or_else(|| format!("{f} has no JSON form"))?)
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(list) => Value::Array(list.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = scalar_text(&k).ok_or("a mapping key must be a scalar")?;
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(t) => to_json(t.value)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FILE: &str = r#"
---
setup:
  - do:
      indices.create:
        index: test
---
"First":
  - skip:
      version: " - 6.99.99"
      reason: old
      features: [headers, contains]
  - do:
      catch: missing
      headers: { Content-Type: application/json }
      allowed_warnings: [ "x" ]
      get: { index: test, id: 1 }
  - match: { _id: "1", found: true }
  - is_false: ''
  - set: { _id: id }
  - gte: { count: 1 }
  - transform_and_set: { a: b }
---
"Second":
- do: { indices.refresh: }
- length: { hits.hits: 2 }
"#;

    #[test]
    fn sections_steps_and_skips_are_read_in_order() {
        let file = parse_text(FILE, "get/10_basic.yml").unwrap();
        assert_eq!(file.setup.as_ref().unwrap().steps.len(), 1);
        assert_eq!(file.tests.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["First", "Second"]);
        let first = &file.tests[0];
        assert_eq!(file.test_id(first), "get/10_basic.yml :: First");
        let skip = first.skip.as_ref().unwrap();
        assert_eq!(skip.version.as_deref(), Some(" - 6.99.99"));
        assert_eq!(skip.features, ["headers", "contains"]);
        let StepKind::Do(d) = &first.steps[0].kind else { panic!("{:?}", first.steps[0]) };
        assert_eq!(first.steps[0].number, 2);
        assert_eq!(d.api, "get");
        assert_eq!(d.catch.as_deref(), Some("missing"));
        assert_eq!(d.headers, [("Content-Type".to_owned(), "application/json".to_owned())]);
        assert_eq!(Value::Object(d.args.clone()), json!({"index": "test", "id": 1}));
        // One match step per key, both numbered as the YAML step.
        let matches: Vec<_> = first.steps.iter().filter(|s| matches!(s.kind, StepKind::Match { .. })).collect();
        assert_eq!(matches.len(), 2);
        assert!(matches.iter().all(|s| s.number == 3));
        assert!(matches!(&first.steps[3].kind, StepKind::IsFalse(p) if p.is_empty()));
        assert!(matches!(&first.steps[4].kind, StepKind::Set { path, name } if path == "_id" && name == "id"));
        assert!(matches!(&first.steps[5].kind, StepKind::Compare { op: CmpOp::Gte, .. }));
        assert!(matches!(&first.steps[6].kind, StepKind::Unsupported(w) if w.contains("transform_and_set")));
        let StepKind::Do(refresh) = &file.tests[1].steps[0].kind else { panic!() };
        assert!(refresh.args.is_empty());
    }

    #[test]
    fn a_skip_after_the_first_step_is_refused() {
        let err = parse_text("\"t\":\n  - do: { info: {} }\n  - skip: { version: all }\n", "x/y.yml").unwrap_err();
        assert!(err.contains("first step"), "{err}");
    }

    #[test]
    fn yaml_numbers_and_keys_become_json() {
        let yaml: Yaml = serde_norway::from_str("{1: a, big: 72057594037927936, f: 2.5, t: true, n: ~}").unwrap();
        assert_eq!(
            to_json(yaml).unwrap(),
            json!({"1": "a", "big": 72057594037927936_i64, "f": 2.5, "t": true, "n": null})
        );
    }

    #[test]
    fn a_do_with_two_apis_fails_when_run_not_when_read() {
        let file = parse_text("\"t\":\n  - do: { get: {}, index: {} }\n", "x/y.yml").unwrap();
        assert!(matches!(&file.tests[0].steps[0].kind, StepKind::Unsupported(w) if w.contains("exactly one API")));
    }
}

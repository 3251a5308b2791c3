//! Running the tests against a server: the HTTP client, the steps, the
//! cleanup between tests, the outcomes.
//!
//! Contract (beyond the module docs of [`super`]):
//! - A response is an error when its status is 400 or more, except a 404 to
//!   a HEAD request (a HEAD API's `false`) and the statuses of the step's
//!   `ignore`. An error with no `catch` fails the step with the status and
//!   body; a `catch` with no error fails it too.
//! - `catch` values: `bad_request` 400, `unauthorized` 401, `forbidden` 403,
//!   `missing` 404, `request_timeout` 408, `conflict` 409, `unavailable`
//!   503, `request` any other status of 400 or more, `param` a request the
//!   runner refuses to build (no request is sent), `/regex/` an error whose
//!   body, as the server wrote it (keys in its order), the regex finds.
//! - The response body, as paths see it and as `$body`: the JSON of a JSON
//!   response, `true`/`false` for a HEAD request (status below 400), the
//!   text otherwise (paths into text find nothing).
//! - Cleanup: `DELETE /*?expand_wildcards=all` (a 5xx fails), then whatever
//!   `GET /_cat/indices?format=json&expand_wildcards=all` still lists is
//!   deleted by name; index, component and legacy templates are deleted with
//!   `*`, where a 4xx (not supported, none there) is fine. A cleanup that
//!   leaves indices behind fails the test it followed.

use std::cmp::Ordering;
use std::time::Duration;

use serde_json::{Map, Value};

use super::Corpus;
use super::api::{ApiSpecs, BuildError, HttpRequest, encode};
use super::compare::{self, as_regex, regex_find};
use super::lists::TestList;
use super::model::{CmpOp, DoStep, Section, Step, StepKind, TestFile};
use super::skip::{ServerVersion, skip_reason};
use super::stash::{Stash, lookup, value_text, whole_reference};
use crate::Error;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Body text kept in a failure message.
const MESSAGE_BODY_CHARS: usize = 400;

/// A test's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every step held.
    Pass,
    /// A step failed.
    Fail,
    /// Not run.
    Skip,
}

/// One test's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `<api>/<file>.yml :: <test name>`
    pub id: String,
    /// What happened.
    pub status: Status,
    /// For a failure, the first failing step and why; for a skip, why.
    pub reason: String,
}

impl Outcome {
    /// `PASS  <id>`, `FAIL  <id> -- <reason>`, `SKIP  <id> -- <reason>`, on
    /// one line: line breaks in the reason are shown as `\n`.
    pub fn line(&self) -> String {
        let word = match self.status {
            Status::Pass => return format!("PASS  {}", self.id),
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        };
        let reason = self.reason.trim().replace("\r\n", "\\n").replace(['\n', '\r'], "\\n");
        format!("{word}  {} -- {reason}", self.id)
    }
}

/// Every outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// In run order.
    pub outcomes: Vec<Outcome>,
}

impl Summary {
    /// How many tests ended so.
    pub fn count(&self, status: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }

    /// `N passed, N failed, N skipped`.
    pub fn total_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip)
        )
    }

    /// The ids of the tests that ended so.
    pub fn ids(&self, status: Status) -> Vec<String> {
        self.outcomes.iter().filter(|o| o.status == status).map(|o| o.id.clone()).collect()
    }
}

/// What to run and how to report it.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run only the tests whose id contains this.
    pub filter: Option<String>,
    /// Print every request and response.
    pub verbose: bool,
}

/// A server's response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The request was a HEAD.
    pub head: bool,
    /// The body's text.
    pub text: String,
    /// The body, parsed, when the response says it is JSON.
    pub json: Option<Value>,
}

impl Response {
    /// The body as `$body` sees it.
    pub fn body(&self) -> Value {
        self.root().unwrap_or_else(|| Value::String(self.text.clone()))
    }

    /// The body as paths see it; `None` for text.
    fn root(&self) -> Option<Value> {
        if self.head {
            return Some(Value::Bool(self.status < 400));
        }
        self.json.clone()
    }

    fn excerpt(&self) -> String {
        let text = self.text.trim();
        let cut: String = text.chars().take(MESSAGE_BODY_CHARS).collect::<String>().replace('\n', "\\n");
        if text.chars().count() > MESSAGE_BODY_CHARS { format!("{cut}...") } else { cut }
    }
}

/// A connection to the server under test.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    /// The version (and distribution) the server reports at `GET /`.
    pub version: ServerVersion,
}

impl Client {
    /// Connects to `base` (`http://host:port`) and reads its version.
    pub fn connect(base: &str) -> Result<Client, Error> {
        let http = reqwest::blocking::Client::builder().timeout(REQUEST_TIMEOUT).build()?;
        let base = base.trim_end_matches('/').to_owned();
        let info = http.get(format!("{base}/")).send()?;
        let status = info.status();
        let info: Value = info.json().unwrap_or(Value::Null);
        let number = info["version"]["number"].as_str().unwrap_or_default();
        let distribution = info["version"]["distribution"].as_str();
        let version =
            ServerVersion::from_info(number, distribution).filter(|_| status.is_success()).ok_or_else(|| {
                Error::Server {
                    url: base.clone(),
                    message: format!("GET / answered {status} without a version.number: {info}"),
                }
            })?;
        Ok(Client { http, base, version })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request; an error only when no response came.
    pub fn send(&self, request: &HttpRequest, verbose: bool) -> Result<Response, String> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = self.http.request(method, format!("{}{}", self.base, request.path));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        if verbose {
            let body = request.body.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            let line = format!("      > {} {} {}", request.method, request.path, body.trim_end().replace('\n', "\\n"));
            println!("{}", line.trim_end());
        }
        let response = builder.send().map_err(|e| format!("{} {}: no response: {e}", request.method, request.path))?;
        let status = response.status().as_u16();
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let bytes =
            response.bytes().map_err(|e| format!("{} {}: reading the body: {e}", request.method, request.path))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = if is_json && !text.trim().is_empty() { serde_json::from_str(&text).ok() } else { None };
        let response = Response { status, head: request.method == "HEAD", text, json };
        if verbose {
            println!("      < {status} {}", response.excerpt());
        }
        Ok(response)
    }

    fn call(&self, method: &str, path: &str, verbose: bool) -> Result<Response, String> {
        let request = HttpRequest {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            ignore: Vec::new(),
        };
        self.send(&request, verbose)
    }

    /// Deletes every index (and so alias) and template (see the module docs).
    pub fn cleanup(&self, verbose: bool) -> Result<(), String> {
        let all = self.call("DELETE", "/*?expand_wildcards=all", verbose)?;
        // A refusal (4xx: wildcard deletes disabled, say) has the fallback
        // below; a failure is the server's bug and must show.
        if all.status >= 500 {
            return Err(format!("DELETE /* answered {}: {}", all.status, all.excerpt()));
        }
        let listed = self.call("GET", "/_cat/indices?format=json&expand_wildcards=all", verbose)?;
        match listed.json.as_ref().and_then(Value::as_array) {
            Some(rows) => {
                for name in rows.iter().filter_map(|row| row["index"].as_str()) {
                    let deleted = self.call("DELETE", &format!("/{}", encode(name, "")), verbose)?;
                    if !(deleted.status < 300 || deleted.status == 404) {
                        return Err(format!("DELETE /{name} answered {}: {}", deleted.status, deleted.excerpt()));
                    }
                }
            }
            None if all.status < 300 || all.status == 404 => {}
            None => {
                return Err(format!(
                    "DELETE /* answered {} ({}) and GET /_cat/indices answered {} ({})",
                    all.status,
                    all.excerpt(),
                    listed.status,
                    listed.excerpt()
                ));
            }
        }
        for templates in ["/_index_template/*", "/_component_template/*", "/_template/*"] {
            let answer = self.call("DELETE", templates, verbose)?;
            if answer.status >= 500 {
                return Err(format!("DELETE {templates} answered {}: {}", answer.status, answer.excerpt()));
            }
        }
        Ok(())
    }
}

/// Runs the corpus's tests (those `options.filter` selects, less those the
/// skip list names), calling `report` as each ends.
pub fn run(
    corpus: &Corpus,
    client: &Client,
    skips: &TestList,
    options: &RunOptions,
    mut report: impl FnMut(&Outcome),
) -> Summary {
    let mut summary = Summary::default();
    let mut clean = false;
    for file in &corpus.files {
        for test in &file.tests {
            let id = file.test_id(test);
            if options.filter.as_deref().is_some_and(|f| !id.contains(f)) {
                continue;
            }
            let decided = match skips.entry_for(&file.name, &test.name) {
                Some(entry) => Some((Status::Skip, format!("skip list: {}", entry.reason))),
                None => section_skip(file, test, client.version),
            };
            let (status, reason) = if let Some(decided) = decided {
                decided
            } else {
                if options.verbose {
                    println!("    running {id}");
                }
                // The server may hold leftovers of whatever ran before us.
                let before = if clean { Ok(()) } else { client.cleanup(options.verbose) };
                let result = before.and_then(|()| run_test(corpus, client, file, test, options.verbose));
                let after = client.cleanup(options.verbose);
                clean = after.is_ok();
                match result.and_then(|()| after.map_err(|e| format!("cleanup after the test: {e}"))) {
                    Ok(()) => (Status::Pass, String::new()),
                    Err(reason) => (Status::Fail, reason),
                }
            };
            let outcome = Outcome { id, status, reason };
            report(&outcome);
            summary.outcomes.push(outcome);
        }
    }
    summary
}

/// Why the `skip` sections of the file or the test skip it, if they do.
fn section_skip(file: &TestFile, test: &Section, version: ServerVersion) -> Option<(Status, String)> {
    for (label, section) in [("setup", file.setup.as_ref()), ("teardown", file.teardown.as_ref()), ("test", Some(test))]
    {
        let Some(skip) = section.and_then(|s| s.skip.as_ref()) else { continue };
        match skip_reason(skip, version) {
            Ok(Some(reason)) if label == "test" => return Some((Status::Skip, reason)),
            Ok(Some(reason)) => return Some((Status::Skip, format!("{label}: {reason}"))),
            Ok(None) => {}
            Err(e) => return Some((Status::Fail, format!("{label} skip: {e}"))),
        }
    }
    None
}

fn run_test(corpus: &Corpus, client: &Client, file: &TestFile, test: &Section, verbose: bool) -> Result<(), String> {
    let mut ctx = TestContext { client, specs: &corpus.specs, stash: Stash::default(), response: None, verbose };
    let mut result = match &file.setup {
        Some(setup) => ctx.run_steps("setup ", &setup.steps),
        None => Ok(()),
    };
    if result.is_ok() {
        result = ctx.run_steps("", &test.steps);
    }
    if let Some(teardown) = &file.teardown {
        let torn = ctx.run_steps("teardown ", &teardown.steps);
        result = result.and(torn);
    }
    result
}

/// One test's state: the stash and the last response.
struct TestContext<'a> {
    client: &'a Client,
    specs: &'a ApiSpecs,
    stash: Stash,
    response: Option<Response>,
    verbose: bool,
}

impl TestContext<'_> {
    fn run_steps(&mut self, label: &str, steps: &[Step]) -> Result<(), String> {
        for step in steps {
            self.run_step(&step.kind)
                .map_err(|why| format!("{label}step {} ({}): {why}", step.number, step.kind.describe()))?;
        }
        Ok(())
    }

    fn run_step(&mut self, step: &StepKind) -> Result<(), String> {
        match step {
            StepKind::Do(d) => self.run_do(d),
            StepKind::Match { path, expected } => {
                let expected = self.stash.substitute(expected)?;
                compare::check_match(self.actual(path)?.as_ref(), &expected)
            }
            StepKind::Length { path, expected } => {
                compare::check_length(self.actual(path)?.as_ref(), &self.stash.substitute(expected)?)
            }
            StepKind::Compare { op, path, expected } => {
                let expected = self.stash.substitute(expected)?;
                let actual = self.actual(path)?;
                let order = compare::compare(actual.as_ref(), &expected)?;
                let holds = match op {
                    CmpOp::Gt => order == Ordering::Greater,
                    CmpOp::Gte => order != Ordering::Less,
                    CmpOp::Lt => order == Ordering::Less,
                    CmpOp::Lte => order != Ordering::Greater,
                };
                let actual = compare::describe(actual.as_ref());
                if holds { Ok(()) } else { Err(format!("expected {} {}, got {actual}", op.name(), expected)) }
            }
            StepKind::IsTrue(path) => {
                let actual = self.actual(path)?;
                if compare::is_truthy(actual.as_ref()) {
                    Ok(())
                } else {
                    Err(format!("expected a true value, got {}", compare::describe(actual.as_ref())))
                }
            }
            StepKind::IsFalse(path) => {
                let actual = self.actual(path)?;
                if compare::is_truthy(actual.as_ref()) {
                    Err(format!("expected a false or missing value, got {}", compare::describe(actual.as_ref())))
                } else {
                    Ok(())
                }
            }
            StepKind::Set { path, name } => {
                let value = self.actual(path)?.unwrap_or(Value::Null);
                self.stash.set(name, value);
                Ok(())
            }
            StepKind::Contains { path, expected } => {
                compare::check_contains(self.actual(path)?.as_ref(), &self.stash.substitute(expected)?)
            }
            StepKind::Unsupported(what) => Err(format!("{what}: not supported by the runner")),
        }
    }

    /// The value a path names: a stashed value (`$body`, `$name`), or one in
    /// the last response.
    fn actual(&self, path: &str) -> Result<Option<Value>, String> {
        if let Some(name) = whole_reference(path) {
            return self.stash.resolve(&format!("${{{name}}}")).map(|v| v.filter(|v| !v.is_null()));
        }
        let response = self.response.as_ref().ok_or("no response to check: no `do` ran before")?;
        match response.root() {
            Some(root) => lookup(&root, path, &self.stash),
            None => Ok(None),
        }
    }

    fn run_do(&mut self, step: &DoStep) -> Result<(), String> {
        let args = match self.stash.substitute(&Value::Object(step.args.clone()))? {
            Value::Object(args) => args,
            _ => Map::new(),
        };
        let mut headers = Vec::new();
        for (name, value) in &step.headers {
            let value = self.stash.resolve(value)?.map_or_else(|| value.clone(), |v| value_text(&v));
            headers.push((name.clone(), value));
        }
        let catch = step.catch.as_deref().map(str::trim);
        let request = match self.specs.build(&step.api, &args, &headers) {
            Ok(request) => request,
            Err(BuildError::Param(_)) if catch == Some("param") => return Ok(()),
            Err(BuildError::Param(why)) => return Err(format!("the runner refuses the call: {why}")),
            Err(BuildError::UnknownApi(api)) => {
                return Err(format!(
                    "no spec for API [{api}]: the corpus has no api/{api}.json and the runner no built-in one"
                ));
            }
        };
        if catch == Some("param") {
            return Err(format!(
                "expected a client-side parameter error, but the arguments make a valid request: {} {}",
                request.method, request.path
            ));
        }
        let response = self.client.send(&request, self.verbose)?;
        let status = response.status;
        let is_error = status >= 400 && !(response.head && status == 404) && !request.ignore.contains(&status);
        let call = format!("{} {}", request.method, request.path);
        self.stash.set("body", response.body());
        let excerpt = response.excerpt();
        // The body as the server wrote it: parsed JSON would sort the keys,
        // and the regexes expect `type` before `reason`, as servers write them.
        let error_text = response.text.clone();
        self.response = Some(response);
        match catch {
            None if is_error => Err(format!("{call} answered {status}: {excerpt}")),
            None => Ok(()),
            Some(c) if !is_error => {
                Err(format!("expected an error (catch: {c}), but {call} answered {status}: {excerpt}"))
            }
            Some(c) => check_catch(c, status, &error_text).map_err(|why| format!("{call}: {why}; body: {excerpt}")),
        }
    }
}

/// Statuses of the named `catch` values.
const NAMED_CATCHES: [(&str, u16); 7] = [
    ("bad_request", 400),
    ("unauthorized", 401),
    ("forbidden", 403),
    ("missing", 404),
    ("request_timeout", 408),
    ("conflict", 409),
    ("unavailable", 503),
];

/// Whether an error response with `status` and `error_text` is the one
/// `catch` expects.
fn check_catch(catch: &str, status: u16, error_text: &str) -> Result<(), String> {
    if let Some((_, want)) = NAMED_CATCHES.iter().find(|(name, _)| *name == catch) {
        return if status == *want { Ok(()) } else { Err(format!("expected status {want} ({catch}), got {status}")) };
    }
    if catch == "request" {
        return if NAMED_CATCHES.iter().any(|(_, s)| *s == status) {
            Err(format!("expected an error status other than the named ones (catch: request), got {status}"))
        } else {
            Ok(())
        };
    }
    if let Some(pattern) = as_regex(catch) {
        return if regex_find(pattern, error_text, false)? {
            Ok(())
        } else {
            Err(format!("status {status}, but the error does not match /{pattern}/"))
        };
    }
    Err(format!("catch value [{catch}] is not supported by the runner"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn named_catches_want_their_status() {
        assert!(check_catch("missing", 404, "").is_ok());
        assert_eq!(check_catch("missing", 400, "").unwrap_err(), "expected status 404 (missing), got 400");
        assert!(check_catch("conflict", 409, "").is_ok());
        assert!(check_catch("bad_request", 400, "").is_ok());
        assert!(check_catch("unavailable", 503, "").is_ok());
    }

    #[test]
    fn catch_request_wants_an_unnamed_error_status() {
        assert!(check_catch("request", 500, "").is_ok());
        assert!(check_catch("request", 405, "").is_ok());
        assert!(check_catch("request", 400, "").is_err());
        assert!(check_catch("request", 404, "").is_err());
    }

    #[test]
    fn catch_regexes_search_the_error_text() {
        let text = r#"{"error":{"root_cause":[{"type":"action_request_validation_exception","reason":"Validation Failed: 1: id is missing for doc 0;"}]},"status":400}"#;
        assert!(check_catch("/action_request_validation_exception.+ id is missing/", 400, text).is_ok());
        assert!(check_catch("/index is missing/", 400, text).unwrap_err().contains("does not match"));
        assert!(check_catch("sometimes", 400, text).unwrap_err().contains("not supported"));
    }

    #[test]
    fn head_responses_are_booleans_and_text_is_not_a_document() {
        let head = |status| Response { status, head: true, text: String::new(), json: None };
        assert_eq!(head(200).body(), json!(true));
        assert_eq!(head(404).body(), json!(false));
        let text = Response { status: 200, head: false, text: "green open i1\n".into(), json: None };
        assert_eq!(text.body(), json!("green open i1\n"));
        assert_eq!(text.root(), None);
        let json = Response { status: 200, head: false, text: "{\"a\":1}".into(), json: Some(json!({"a": 1})) };
        assert_eq!(json.root(), Some(json!({"a": 1})));
    }

    #[test]
    fn outcome_lines_and_totals() {
        let outcome = |id: &str, status, reason: &str| Outcome { id: id.into(), status, reason: reason.into() };
        let summary = Summary {
            outcomes: vec![
                outcome("a/1.yml :: x", Status::Pass, ""),
                outcome("a/1.yml :: y", Status::Fail, "step 2 (match a): expected 1, got 2"),
                outcome("a/1.yml :: z", Status::Skip, "feature yaml not supported by runner"),
            ],
        };
        assert_eq!(summary.outcomes[0].line(), "PASS  a/1.yml :: x");
        assert_eq!(summary.outcomes[1].line(), "FAIL  a/1.yml :: y -- step 2 (match a): expected 1, got 2");
        assert_eq!(summary.total_line(), "1 passed, 1 failed, 1 skipped");
        let multi_line = outcome("a/1.yml :: w", Status::Fail, "got \"a  b\"\nand more\n");
        assert_eq!(multi_line.line(), "FAIL  a/1.yml :: w -- got \"a  b\"\\nand more");
    }
}

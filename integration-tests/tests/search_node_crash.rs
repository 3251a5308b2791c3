//! Crash safety of `imdb-search-node` under SIGKILL, as a black box over
//! HTTP. The indexes use `refresh_interval: -1`, so at the moment of the
//! crash every acknowledged write lives only in the shards' translogs: the
//! hard case for recovery.
//!
//! Contract checked, after each kill -9 and restart:
//! - every write the node acknowledged (a `_bulk` item with status 201 in a
//!   complete 200 answer) is there, with exactly the source sent;
//! - a write whose answer was lost may or may not be there, but one that is
//!   there is whole: its source is exactly the one sent, never torn or
//!   mixed with another; once seen after a restart it stays (a SIGKILL
//!   loses no file data, so what recovery found is on disk);
//! - `_count`, a full `_search` walk and `_mget` agree: no document twice,
//!   none the test never sent;
//! - the node takes new writes;
//! - deletes and partial `_update`s are recovered too, with `_version`
//!   counting on from where it was (second test).
//!
//! Needs `cargo build --workspace --bins` first, as `scripts/test.sh` does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use imdb_integration_tests::search_node::SearchNode;
use reqwest::blocking::Client;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

/// Concurrent bulk writers per round.
const WRITERS: usize = 3;
/// Documents per `_bulk` request: small, so the crash lands between and
/// inside many requests.
const BATCH: usize = 50;
/// How long the writers run at most before the kill: thousands of
/// documents even on a slow machine's debug build.
const KILL_AFTER: Duration = Duration::from_millis(1500);
/// Acknowledged documents (in a round) that bring the kill forward: the
/// check after it costs time in proportion, and a fast machine would
/// otherwise write tens of thousands.
const KILL_AT_ACKED: usize = 10_000;
/// A writer's hard bound, should the kill never reach it.
const WRITER_LIMIT: Duration = Duration::from_secs(60);
/// Ids per `_mget` request.
const MGET_CHUNK: usize = 500;
/// Hits per page of the `_search` walk: large (within Elasticsearch's
/// 10,000-hit window), since every sorted page visits the whole index.
const PAGE: usize = 5000;

fn client() -> Client {
    // Generous: a debug build fsyncing under three writers can be slow, and
    // a timeout would be counted as a lost answer, not a failure.
    Client::builder().timeout(Duration::from_secs(60)).build().expect("an HTTP client")
}

/// Sends a JSON request and returns the status and the parsed body.
fn call(http: &Client, method: reqwest::Method, url: &str, body: Option<Value>) -> Result<(u16, Value)> {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().with_context(|| format!("{method} {url}"))?;
    let status = response.status().as_u16();
    let text = response.text().with_context(|| format!("reading the answer to {method} {url}"))?;
    let value = serde_json::from_str(&text).with_context(|| format!("{method} {url} answered non-JSON: {text}"))?;
    Ok((status, value))
}

/// Like [`call`], but only a 200 or 201 is fine.
fn ok(http: &Client, method: reqwest::Method, url: &str, body: Option<Value>) -> Result<Value> {
    let (status, value) = call(http, method.clone(), url, body)?;
    ensure!(status == 200 || status == 201, "{method} {url} answered {status}: {value}");
    Ok(value)
}

fn create_index(http: &Client, url: &str, index: &str, properties: Value) -> Result<()> {
    let body = json!({
        "settings": {"number_of_shards": 2, "number_of_replicas": 0, "refresh_interval": "-1"},
        "mappings": {"properties": properties}
    });
    let answer = ok(http, reqwest::Method::PUT, &format!("{url}/{index}"), Some(body))?;
    ensure!(answer["acknowledged"] == true, "creating {index}: {answer}");
    Ok(())
}

/// The same JSON, keys in the same order: the node returns `_source` as it
/// was sent, as Elasticsearch does (`Value`'s `==` ignores key order).
fn same(got: &Value, sent: &Value) -> bool {
    serde_json::to_vec(got).ok() == serde_json::to_vec(sent).ok()
}

/// The source of one writer document: its id, where it came from, and a
/// payload of varying length (so a torn record cannot pass for a whole one)
/// with non-ASCII text (so encoding is checked too).
fn source_for(round: usize, thread: usize, seq: usize) -> (String, Value) {
    let id = format!("r{round}-t{thread}-{seq}");
    // A small LCG: deterministic lengths and words without a dependency.
    let mut state =
        (round as u64 * 1_000_003 + thread as u64 * 7919 + seq as u64).wrapping_mul(6364136223846793005) | 1;
    let words = ["café", "noir", "film", "crash", "translog", "replay", "δ", "shard", "kill"];
    let mut payload = format!("{id}:");
    let length = 10 + (state >> 33) % 60;
    for _ in 0..length {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        payload.push(' ');
        payload.push_str(words[((state >> 33) % words.len() as u64) as usize]);
    }
    let source = json!({"id": id, "round": round, "thread": thread, "seq": seq, "payload": payload});
    (id, source)
}

/// What the writers of a round share with the test.
#[derive(Debug, Default)]
struct Shared {
    /// Set after the kill: stop sending.
    stop: AtomicBool,
    /// Documents acknowledged so far in the round.
    acked: AtomicUsize,
}

/// What one writer did: every document it sent (acknowledged or not), the
/// ids the node acknowledged, answers that should never happen while the
/// node is up, and the error that ended it.
#[derive(Debug, Default)]
struct WriterLog {
    sent: Vec<(String, Value)>,
    acked: Vec<String>,
    anomalies: Vec<String>,
    ended_by: Option<String>,
}

/// Sends `_bulk` requests of [`BATCH`] new documents until `stop` is set or
/// a request fails below HTTP (the node died): that request's documents
/// count as unacknowledged.
fn writer(url: String, index: String, round: usize, thread: usize, shared: Arc<Shared>) -> WriterLog {
    let http = client();
    let mut log = WriterLog::default();
    let started = Instant::now();
    let mut seq = 0;
    while !shared.stop.load(Ordering::SeqCst) && started.elapsed() < WRITER_LIMIT {
        let docs: Vec<(String, Value)> = (seq..seq + BATCH).map(|n| source_for(round, thread, n)).collect();
        seq += BATCH;
        let mut body = String::new();
        for (id, source) in &docs {
            body.push_str(&json!({"index": {"_id": id}}).to_string());
            body.push('\n');
            body.push_str(&source.to_string());
            body.push('\n');
        }
        log.sent.extend(docs.iter().cloned());
        let answer = http
            .post(format!("{url}/{index}/_bulk"))
            .header(CONTENT_TYPE, "application/x-ndjson")
            .body(body)
            .send()
            .and_then(|r| {
                let status = r.status().as_u16();
                r.text().map(|text| (status, text))
            });
        let (status, text) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                log.ended_by = Some(e.to_string());
                break;
            }
        };
        match bulk_acks(status, &text, &docs) {
            Ok(acked) => {
                shared.acked.fetch_add(acked.len(), Ordering::SeqCst);
                log.acked.extend(acked);
            }
            Err(anomaly) => log.anomalies.push(anomaly),
        }
    }
    log
}

/// The acknowledged ids of one complete `_bulk` answer; anything but 201
/// for each item, in order, is an anomaly (the node was up to answer).
fn bulk_acks(status: u16, text: &str, docs: &[(String, Value)]) -> Result<Vec<String>, String> {
    if status != 200 {
        return Err(format!("_bulk answered {status}: {text}"));
    }
    let answer: Value = serde_json::from_str(text).map_err(|e| format!("_bulk answered non-JSON ({e}): {text}"))?;
    let items = answer["items"].as_array().ok_or_else(|| format!("_bulk answer without items: {text}"))?;
    if items.len() != docs.len() {
        return Err(format!("_bulk answered {} items for {} actions", items.len(), docs.len()));
    }
    let mut acked = Vec::new();
    let mut bad = Vec::new();
    for ((id, _), item) in docs.iter().zip(items) {
        let result = &item["index"];
        if result["_id"] == id.as_str() && result["status"] == 201 {
            acked.push(id.clone());
        } else {
            bad.push(format!("{id}: {item}"));
        }
    }
    if bad.is_empty() { Ok(acked) } else { Err(format!("_bulk items not created: {}", bad.join("; "))) }
}

/// What the test knows about the index across rounds.
#[derive(Debug, Default)]
struct Ledger {
    /// Every document ever sent, by id (ids are never reused).
    sent: BTreeMap<String, Value>,
    /// Ids that must be present: acknowledged, or seen after a restart.
    must: BTreeSet<String>,
    /// Acknowledged ids, for the report.
    acked: usize,
}

/// Runs the writers for [`KILL_AFTER`] or until [`KILL_AT_ACKED`]
/// documents are acknowledged, kills the node under them, and records what
/// was sent and acknowledged.
fn write_then_kill(node: &mut SearchNode, index: &str, round: usize, ledger: &mut Ledger) -> Result<()> {
    let shared = Arc::new(Shared::default());
    let handles: Vec<_> = (0..WRITERS)
        .map(|thread| {
            let (url, index, shared) = (node.url(), index.to_owned(), Arc::clone(&shared));
            std::thread::spawn(move || writer(url, index, round, thread, shared))
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < KILL_AFTER && shared.acked.load(Ordering::SeqCst) < KILL_AT_ACKED {
        std::thread::sleep(Duration::from_millis(5));
    }
    node.kill9()?;
    let killed_after = started.elapsed();
    // Set only after the kill: the writers are mid-stream when it lands.
    // Joined before the restart: no writer may reach the new process.
    shared.stop.store(true, Ordering::SeqCst);
    let mut anomalies = Vec::new();
    let mut round_acked = 0;
    for handle in handles {
        let log = handle.join().expect("a writer thread panicked");
        anomalies.extend(log.anomalies);
        round_acked += log.acked.len();
        ledger.acked += log.acked.len();
        ledger.must.extend(log.acked);
        ledger.sent.extend(log.sent);
        if let Some(error) = log.ended_by {
            println!("round {round}: a writer ended with: {error}");
        }
    }
    ensure!(anomalies.is_empty(), "the live node gave unexpected bulk answers:\n{}", anomalies.join("\n"));
    // Fewer would mean the test hardly exercised anything.
    ensure!(
        round_acked >= 300,
        "only {round_acked} documents acknowledged in round {round}; log:\n{}",
        node.log_tail(30)
    );
    println!(
        "round {round}: killed after {killed_after:?}, {round_acked} acknowledged, {} sent in all",
        ledger.sent.len()
    );
    Ok(())
}

/// Checks the recovered index against the ledger (see the module docs);
/// every document found becomes one that must stay.
fn verify(node: &SearchNode, index: &str, ledger: &mut Ledger) -> Result<()> {
    let http = client();
    let url = node.url();
    ok(&http, reqwest::Method::POST, &format!("{url}/{index}/_refresh"), None)?;

    // _mget over everything ever sent: acknowledged ones must be found,
    // found ones must be exact.
    let ids: Vec<&String> = ledger.sent.keys().collect();
    let mut found = BTreeSet::new();
    let (mut wrong, mut missing) = (Vec::new(), Vec::new());
    for chunk in ids.chunks(MGET_CHUNK) {
        let answer = ok(&http, reqwest::Method::POST, &format!("{url}/{index}/_mget"), Some(json!({"ids": chunk})))?;
        let docs = answer["docs"].as_array().context("_mget answer without docs")?;
        ensure!(docs.len() == chunk.len(), "_mget answered {} docs for {} ids", docs.len(), chunk.len());
        for (id, doc) in chunk.iter().zip(docs) {
            ensure!(doc["_id"] == id.as_str(), "_mget answered out of order: {} for {id}", doc["_id"]);
            if doc["found"] == true {
                if !same(&doc["_source"], &ledger.sent[*id]) {
                    wrong.push(format!(
                        "{id}: source {} differs from the one sent {}",
                        doc["_source"], ledger.sent[*id]
                    ));
                }
                found.insert((*id).clone());
            } else if ledger.must.contains(*id) {
                missing.push(format!("{id}: acknowledged (or seen before) but missing: {doc}"));
            }
        }
    }
    ensure!(
        wrong.is_empty() && missing.is_empty(),
        "after recovery {} documents are not as sent and {} of {} that must be there are missing; first ones:\n{}\nlog:\n{}",
        wrong.len(),
        missing.len(),
        ledger.must.len(),
        wrong.iter().chain(&missing).take(20).cloned().collect::<Vec<_>>().join("\n"),
        node.log_tail(30)
    );

    // _count: nothing but what _mget found (no duplicates, no strangers).
    let count = ok(&http, reqwest::Method::GET, &format!("{url}/{index}/_count"), None)?;
    ensure!(
        count["count"] == found.len(),
        "_count is {} but {} distinct sent ids were found",
        count["count"],
        found.len()
    );

    // The search side must hold the same documents, once each, whole.
    let walked = walk_search(&http, &url, index)?;
    let mut seen = BTreeSet::new();
    for (id, source) in &walked {
        ensure!(seen.insert(id.clone()), "{id} appears twice in _search");
        ensure!(found.contains(id), "_search has {id}, which _mget did not find (or the test never sent)");
        ensure!(same(source, &ledger.sent[id]), "{id}: _search source {source} differs from the one sent");
    }
    ensure!(seen.len() == found.len(), "_search walked {} documents, _mget found {}", seen.len(), found.len());

    let lost_answers = found.len() - found.intersection(&ledger.must).count();
    println!(
        "verified {} documents: {} acknowledged, {lost_answers} whose answer was lost but that were applied",
        found.len(),
        ledger.acked
    );
    ledger.must.extend(found);
    Ok(())
}

/// Every hit of the index, sorted on `id` and paged with `search_after`.
fn walk_search(http: &Client, url: &str, index: &str) -> Result<Vec<(String, Value)>> {
    let mut hits_all = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let mut body = json!({"size": PAGE, "sort": [{"id": "asc"}], "query": {"match_all": {}}});
        if let Some(after) = &after {
            body["search_after"] = after.clone();
        }
        let answer = ok(http, reqwest::Method::POST, &format!("{url}/{index}/_search"), Some(body))?;
        let hits = answer["hits"]["hits"].as_array().context("_search answer without hits")?;
        for hit in hits {
            let id = hit["_id"].as_str().context("a hit without _id")?;
            hits_all.push((id.to_owned(), hit["_source"].clone()));
        }
        match hits.last() {
            Some(last) if hits.len() == PAGE => after = Some(last["sort"].clone()),
            _ => return Ok(hits_all),
        }
    }
}

#[test]
fn acknowledged_bulk_writes_survive_kill_9_and_nothing_is_half_applied() -> Result<()> {
    let data = tempfile::tempdir()?;
    let mut node = SearchNode::start_in(data.path().join("node"))?;
    let http = client();
    let index = "crash";
    let properties = json!({
        "id": {"type": "keyword"},
        "round": {"type": "integer"},
        "thread": {"type": "integer"},
        "seq": {"type": "integer"},
        "payload": {"type": "text"}
    });
    create_index(&http, &node.url(), index, properties)?;

    let mut ledger = Ledger::default();
    for round in 0..2 {
        write_then_kill(&mut node, index, round, &mut ledger)?;
        let started = Instant::now();
        node.restart().context("restarting after kill -9")?;
        let restarted = started.elapsed();
        verify(&node, index, &mut ledger)?;
        println!("round {round}: restart took {restarted:?}, the checks {:?}", started.elapsed() - restarted);
    }

    // New writes after the last recovery, visible at once with refresh=true.
    let before = ok(&http, reqwest::Method::GET, &format!("{}/{index}/_count", node.url()), None)?["count"].clone();
    let docs: Vec<(String, Value)> = (0..10).map(|n| source_for(99, 0, n)).collect();
    let mut body = String::new();
    for (id, source) in &docs {
        let _ = writeln!(body, "{}\n{source}", json!({"index": {"_id": id}}));
    }
    let answer = http
        .post(format!("{}/{index}/_bulk?refresh=true", node.url()))
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .send()?;
    let status = answer.status().as_u16();
    let acked = bulk_acks(status, &answer.text()?, &docs).map_err(anyhow::Error::msg)?;
    ensure!(acked.len() == docs.len(), "after recovery only {} of {} writes were created", acked.len(), docs.len());
    let after = ok(&http, reqwest::Method::GET, &format!("{}/{index}/_count", node.url()), None)?["count"].clone();
    ensure!(
        after.as_u64() == before.as_u64().map(|n| n + docs.len() as u64),
        "_count went from {before} to {after} after {} new documents",
        docs.len()
    );
    Ok(())
}

/// The state of one document of the mixed test, as the test expects it.
#[derive(Debug, Clone)]
enum Expected {
    Present { source: Value, version: u64 },
    Deleted,
}

/// Returns the `_version` an acknowledged single-document write answered.
fn version_of(answer: &Value) -> Result<u64> {
    answer["_version"].as_u64().with_context(|| format!("no _version in {answer}"))
}

#[test]
fn deletes_and_partial_updates_survive_kill_9_with_their_versions() -> Result<()> {
    let mut node = SearchNode::start()?;
    let http = client();
    let url = node.url();
    let index = "mix";
    let properties = json!({
        "id": {"type": "keyword"},
        "status": {"type": "keyword"},
        "counter": {"type": "integer"},
        "title": {"type": "text"}
    });
    create_index(&http, &url, index, properties)?;

    let mut expected = BTreeMap::new();
    let mut body = String::new();
    for n in 0..200 {
        let id = format!("doc-{n}");
        let source = json!({"id": id, "status": "new", "counter": 0, "title": format!("title number {n}")});
        let _ = writeln!(body, "{}\n{source}", json!({"index": {"_id": id}}));
        expected.insert(id, Expected::Present { source, version: 1 });
    }
    let answer = http
        .post(format!("{url}/{index}/_bulk"))
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .send()?
        .json::<Value>()?;
    ensure!(answer["errors"] == false, "initial bulk failed: {answer}");

    // n % 5: 0 deleted, 1 updated once, 2 updated twice, 3 and 4 untouched.
    for n in 0..200 {
        let id = format!("doc-{n}");
        let updates = match n % 5 {
            0 => {
                let answer = ok(&http, reqwest::Method::DELETE, &format!("{url}/{index}/_doc/{id}"), None)?;
                ensure!(answer["result"] == "deleted" && version_of(&answer)? == 2, "deleting {id}: {answer}");
                expected.insert(id, Expected::Deleted);
                continue;
            }
            1 => 1,
            2 => 2,
            _ => continue,
        };
        for round in 1..=updates {
            let partial = json!({"doc": {"status": format!("updated-{round}"), "counter": round}});
            let answer = ok(&http, reqwest::Method::POST, &format!("{url}/{index}/_update/{id}"), Some(partial))?;
            ensure!(answer["result"] == "updated", "updating {id}: {answer}");
            let Some(Expected::Present { source, version }) = expected.get_mut(&id) else { bail!("{id} not present") };
            *version += 1;
            ensure!(version_of(&answer)? == *version, "update {round} of {id} answered {answer}");
            source["status"] = json!(format!("updated-{round}"));
            source["counter"] = json!(round);
        }
    }

    // No refresh: everything above lives in the translog only.
    node.kill9()?;
    node.restart().context("restarting after kill -9")?;

    // Realtime GET first (before any refresh), then the search side.
    check_mix(&http, &url, index, &expected).context("realtime GET after recovery")?;
    ok(&http, reqwest::Method::POST, &format!("{url}/{index}/_refresh"), None)?;
    check_mix(&http, &url, index, &expected).context("GET after recovery and refresh")?;
    let count = ok(&http, reqwest::Method::GET, &format!("{url}/{index}/_count"), None)?;
    ensure!(count["count"] == 160, "_count after recovery: {count}");
    for (status, want) in [("new", 80), ("updated-1", 40), ("updated-2", 40)] {
        let query = json!({"query": {"term": {"status": status}}});
        let answer = ok(&http, reqwest::Method::POST, &format!("{url}/{index}/_count"), Some(query))?;
        ensure!(answer["count"] == want, "status {status}: {answer}, expected {want}");
    }

    // Versions count on after recovery; a deleted document stays deleted.
    let partial = json!({"doc": {"status": "after-restart"}});
    let answer = ok(&http, reqwest::Method::POST, &format!("{url}/{index}/_update/doc-2"), Some(partial.clone()))?;
    ensure!(version_of(&answer)? == 4, "doc-2 had _version 3 before the crash; its next update answered {answer}");
    let (status, answer) = call(&http, reqwest::Method::POST, &format!("{url}/{index}/_update/doc-0"), Some(partial))?;
    ensure!(status == 404, "updating the deleted doc-0 answered {status}: {answer}");
    ensure!(answer["error"]["type"] == "document_missing_exception", "updating the deleted doc-0: {answer}");
    Ok(())
}

/// GETs every document of the mixed test and compares it with the
/// expectation: deleted ones 404, the others with their source and version.
fn check_mix(http: &Client, url: &str, index: &str, expected: &BTreeMap<String, Expected>) -> Result<()> {
    let mut problems = Vec::new();
    for (id, want) in expected {
        let (status, doc) = call(http, reqwest::Method::GET, &format!("{url}/{index}/_doc/{id}"), None)?;
        let got = match (status, doc["found"].as_bool()) {
            (200, Some(true)) => {
                Expected::Present { source: doc["_source"].clone(), version: doc["_version"].as_u64().unwrap_or(0) }
            }
            (404, Some(false)) => Expected::Deleted,
            _ => {
                problems.push(format!("{id}: GET answered {status}: {doc}"));
                continue;
            }
        };
        let equal = match (&got, want) {
            (Expected::Present { source, version }, Expected::Present { source: s, version: v }) => {
                same(source, s) && version == v
            }
            (Expected::Deleted, Expected::Deleted) => true,
            _ => false,
        };
        if !equal {
            problems.push(format!("{id}: expected {want:?}, got {got:?}"));
        }
    }
    ensure!(problems.is_empty(), "{} documents wrong:\n{}", problems.len(), problems.join("\n"));
    Ok(())
}

//! `imdb-api` as a real process over the real stack: Kafka, the search
//! node and the indexer, loaded with real data (the vega movies list, the
//! real IMDb rows of `../shared/data`) and generated titles as the crowd
//! they must stand out from.
//!
//! Checked: the relevance cases users judge the search by, filters, facets,
//! paging by cursor, title and person pages, suggestions, the error
//! contract (problem+json, 400 not 500 for any user input), metrics and
//! `X-Served-By`; without the stack: the rate limit and a cluster outage.
//!
//! The real-data test skips with a message when Kafka or the movies file
//! is missing, unless `IMDB_REQUIRE_KAFKA=1` / `IMDB_REQUIRE_PYCLIENT=1`
//! (set by scripts/test.sh) make that a failure.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test, with its line")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use imdb_ingest::Summary;
use imdb_ingest::generate::{GenerateSettings, generate};
use imdb_integration_tests::engine::TestEngine;
use imdb_integration_tests::kafka_load::{load_into_kafka, test_config};
use imdb_integration_tests::search_node::free_port;
use imdb_integration_tests::services::{ApiNode, Indexer, wait_for_counts};
use imdb_local_kafka::start_for_test;
use serde_json::Value;

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// GET `path` on `api`: status, content type, JSON body.
fn get(api: &ApiNode, path: &str) -> (u16, String, Value) {
    let r = http().get(format!("{}{path}", api.url())).send().unwrap();
    let status = r.status().as_u16();
    let kind = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let text = r.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, kind, body)
}

/// A 200 answer's body.
fn ok(api: &ApiNode, path: &str) -> Value {
    let (status, _, body) = get(api, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

fn titles(answer: &Value) -> Vec<String> {
    answer["hits"].as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap().to_owned()).collect()
}

fn position(list: &[String], title: &str) -> usize {
    list.iter().position(|t| t == title).unwrap_or_else(|| panic!("{title} not in {list:?}"))
}

fn load(brokers: &str, input: &Path) -> Summary {
    load_into_kafka(brokers.to_owned(), &test_config(input, false))
}

fn movies_json() -> Option<PathBuf> {
    let path = std::env::var_os("IMDB_MOVIES_JSON")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/data/movies.json"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    assert!(std::env::var_os("IMDB_REQUIRE_PYCLIENT").is_none(), "{} missing (scripts/setup.sh)", path.display());
    eprintln!("SKIPPED: {} not found (scripts/setup.sh fetches it)", path.display());
    None
}

/// The real IMDb rows of ../shared/data (40 well-known films with their
/// ratings), named as ingest expects, or `None` with a message.
fn shared_popular(dir: &Path) -> Option<()> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let basics = shared.join("title.basics.popular.tsv");
    if !basics.is_file() {
        eprintln!("SKIPPED: {} not found", basics.display());
        return None;
    }
    std::fs::copy(&basics, dir.join("title.basics.tsv")).unwrap();
    std::fs::copy(shared.join("title.ratings.popular.tsv"), dir.join("title.ratings.tsv")).unwrap();
    Some(())
}

/// A famous film known in English by another title, and an unknown short
/// whose own title is that English title: the relevance case of
/// alternative titles.
fn known_abroad(dir: &Path) {
    let basics = "tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\tendYear\truntimeMinutes\tgenres\n\
                  tt9900001\tmovie\tKaze no Tani\tKaze no Tani\t0\t1984\t\\N\t117\tAnimation,Fantasy\n\
                  tt9900002\tshort\tValley of the Wind\tValley of the Wind\t0\t2019\t\\N\t9\tShort\n";
    let ratings = "tconst\taverageRating\tnumVotes\ntt9900001\t8.1\t640000\ntt9900002\t7.1\t12\n";
    let akas = "titleId\tordering\ttitle\tregion\tlanguage\ttypes\tattributes\tisOriginalTitle\n\
                tt9900001\t1\tKaze no Tani\t\\N\t\\N\toriginal\t\\N\t1\n\
                tt9900001\t2\tValley of the Wind\tUS\t\\N\timdbDisplay\t\\N\t0\n";
    for (name, text) in [("title.basics.tsv", basics), ("title.ratings.tsv", ratings), ("title.akas.tsv", akas)] {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

#[test]
fn the_api_over_the_real_stack_finds_what_users_mean() {
    let Some(movies) = movies_json() else { return };
    let popular = tempfile::tempdir().unwrap();
    let Some(()) = shared_popular(popular.path()) else { return };
    let Some(broker) = start_for_test(1) else { return };
    let Some(node) = TestEngine::start() else { return };
    let brokers = broker.bootstrap_servers();
    let generated = tempfile::tempdir().unwrap();
    generate(&GenerateSettings { titles: 20_000, seed: 5, out: generated.path().to_path_buf() }).unwrap();
    let abroad = tempfile::tempdir().unwrap();
    known_abroad(abroad.path());
    let loads = [
        load(&brokers, generated.path()),
        load(&brokers, &movies),
        load(&brokers, popular.path()),
        load(&brokers, abroad.path()),
    ];
    let titles_total: u64 = loads.iter().map(|s| s.titles_published).sum();
    let people_total: u64 = loads.iter().map(|s| s.people_published).sum();
    let indexer = Indexer::start(&brokers, &node.urls(), "api-test", &[]);
    wait_for_counts(&node.url(), titles_total, people_total, Duration::from_secs(240));
    indexer.stop();
    // The API's first engine URL is a node that is not there: every call
    // must go on to a live one, and nothing below may notice.
    let dead = format!("http://127.0.0.1:{}", free_port().unwrap());
    let api = ApiNode::start(&format!("{dead},{}", node.urls()), "api-test-1", &[("IMDB_API_RATE_LIMIT", "0")]);

    relevance(&api);
    filters_facets_and_cursor_paging(&api);
    pages_suggestions_and_counts(&api, titles_total, people_total);
    errors_are_problems_never_500s(&api);
    operations(&api);
    fuzzing_finds_no_server_error(&api);
}

fn relevance(api: &ApiNode) {
    let godfather = titles(&ok(api, "/api/v1/search?q=godfather&facets=false"));
    assert_eq!(godfather[0], "The Godfather", "{godfather:?}");
    let (part2, part3) =
        (position(&godfather, "The Godfather: Part II"), position(&godfather, "The Godfather: Part III"));
    assert!(part2 < part3, "{godfather:?}");
    assert!(godfather[..part2].iter().all(|t| t == "The Godfather"), "exact titles first: {godfather:?}");

    let matrix = titles(&ok(api, "/api/v1/search?q=matrix&facets=false"));
    assert_eq!(matrix[0], "The Matrix", "{matrix:?}");

    let typo_answer = ok(api, "/api/v1/search?q=shawshenk+redemption&facets=false");
    let typo = titles(&typo_answer);
    assert_eq!(typo[0], "The Shawshank Redemption", "typo tolerance: {typo:?}");
    assert_eq!(typo_answer["fuzzy"], true, "found by the fuzzy pass");
    assert_eq!(ok(api, "/api/v1/search?q=shawshank+redemption&facets=false")["fuzzy"], false);
    let filtered_out = ok(api, "/api/v1/search?q=shawshank+redemption&year_from=2020&facets=false");
    assert_eq!(
        (filtered_out["total"].as_u64(), filtered_out["fuzzy"].as_bool()),
        (Some(0), Some(false)),
        "the filters, not the words, left it empty"
    );

    let typing = titles(&ok(api, "/api/v1/search?q=lord+of+the+ri&facets=false"));
    assert!(typing[0].starts_with("The Lord of the Rings"), "prefix of the last word: {typing:?}");

    let leon = ok(api, "/api/v1/search?q=leon&facets=false");
    assert!(titles(&leon).iter().any(|t| t == "Léon"), "accents folded: {:?}", titles(&leon));
    // Equally good matches by popularity: the 2001 film among the exact
    // "Amélie"s of the generated crowd; a famous film that only has the
    // word (vega's French title) above the unknown exact ones.
    let amelie = ok(api, "/api/v1/search?q=amelie&facets=false&size=50");
    let hits = amelie["hits"].as_array().unwrap();
    let top: Vec<(&Value, &Value)> = hits.iter().take(5).map(|h| (&h["id"], &h["votes"])).collect();
    assert_eq!(hits[0]["id"], "tt0211915", "the popular Amélie first: {top:?}");
    let famous = titles(&amelie).iter().position(|t| t.starts_with("Le Fabuleux destin"));
    let famous = famous.unwrap_or_else(|| panic!("the famous film on the first page: {:?}", titles(&amelie)));
    let unknown_exact = hits.iter().position(|h| h["title"] == "Amélie" && h["votes"].as_u64().unwrap_or(0) < 1000);
    assert!(unknown_exact.is_none_or(|u| famous < u), "famous partial above unknown exact: {:?}", titles(&amelie));
    let votes: Vec<u64> = hits
        .iter()
        .filter(|h| h["title"] == "Amélie" && h["id"] != "tt0211915")
        .map(|h| h["votes"].as_u64().unwrap_or(0))
        .collect();
    assert!(votes.is_sorted_by(|a, b| a >= b), "exact titles by votes: {votes:?}");
    // The query is a famous film's alternative title and an unknown short's own.
    let valley = ok(api, "/api/v1/search?q=valley+of+the+wind&facets=false");
    let ids: Vec<&str> = valley["hits"].as_array().unwrap().iter().filter_map(|h| h["id"].as_str()).collect();
    assert_eq!(&ids[..2], ["tt9900001", "tt9900002"], "known abroad by the query, then the exact short: {ids:?}");
    let accented = titles(&ok(api, "/api/v1/search?q=l%C3%A9on&facets=false"));
    assert!(accented.iter().any(|t| t == "Léon"), "both ways: {accented:?}");

    let director = ok(api, "/api/v1/search?q=francis+ford+coppola&facets=false");
    let hits = director["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    for hit in hits.iter().take(3) {
        let directors: Vec<&str> =
            hit["directors"].as_array().unwrap().iter().filter_map(|d| d["name"].as_str()).collect();
        assert!(directors.contains(&"Francis Ford Coppola"), "a director's films: {hit}");
    }
}

fn filters_facets_and_cursor_paging(api: &ApiNode) {
    let drama = ok(api, "/api/v1/search?genre=drama&year_from=1990&year_to=1999&rating_min=7&size=50");
    assert!(drama["total"].as_u64().unwrap() > 0);
    for hit in drama["hits"].as_array().unwrap() {
        assert!(hit["genres"].as_array().unwrap().iter().any(|g| g == "drama"), "{hit}");
        let year = hit["year"].as_u64().unwrap();
        assert!((1990..=1999).contains(&year), "{hit}");
        assert!(hit["rating"].as_f64().unwrap() >= 7.0, "{hit}");
    }
    let facets = &drama["facets"];
    let genre_total: u64 =
        facets["genres"].as_array().unwrap().iter().find(|g| g["value"] == "drama").unwrap()["count"].as_u64().unwrap();
    assert_eq!(genre_total, drama["total"].as_u64().unwrap(), "every hit is a drama");
    assert!(facets["decades"].as_array().unwrap().iter().all(|d| d["decade"] == 1990), "{facets}");
    assert!(!facets["types"].as_array().unwrap().is_empty());

    // Three pages by cursor: no title twice, votes never increasing.
    let mut seen = std::collections::HashSet::new();
    let mut last_votes = u64::MAX;
    let mut path = "/api/v1/search?sort=votes&size=10&facets=false".to_owned();
    for _ in 0..3 {
        let page = ok(api, &path);
        for hit in page["hits"].as_array().unwrap() {
            assert!(seen.insert(hit["id"].as_str().unwrap().to_owned()), "repeated across pages: {hit}");
            let votes = hit["votes"].as_u64().unwrap_or(0);
            assert!(votes <= last_votes);
            last_votes = votes;
        }
        let cursor = page["next_cursor"].as_str().expect("a next cursor");
        path = format!("/api/v1/search?sort=votes&size=10&facets=false&cursor={cursor}");
    }
    assert_eq!(seen.len(), 30);
}

fn pages_suggestions_and_counts(api: &ApiNode, titles_total: u64, people_total: u64) {
    let shawshank = ok(api, "/api/v1/titles/tt0111161");
    assert_eq!(shawshank["title"], "The Shawshank Redemption");
    assert_eq!(shawshank["year"], 1994);
    assert!(shawshank["votes"].as_u64().unwrap() > 1_000_000);
    let (status, kind, body) = get(api, "/api/v1/titles/tt0000000");
    assert_eq!((status, kind.as_str()), (404, "application/problem+json"), "{body}");

    let suggest = ok(api, "/api/v1/suggest?q=matr");
    assert_eq!(suggest["titles"][0]["title"], "The Matrix", "{suggest}");
    let votes: Vec<u64> =
        suggest["titles"].as_array().unwrap().iter().map(|t| t["votes"].as_u64().unwrap_or(0)).collect();
    assert!(votes.windows(2).all(|w| w[0] >= w[1]), "most popular first: {votes:?}");

    // A generated person (the real rows have no cast): search by name, then
    // their page with known-for titles.
    let name = (1..=100)
        .find_map(|n| {
            let (status, _, title) = get(api, &format!("/api/v1/titles/tt{n:07}"));
            (status == 200).then(|| title["cast"][0]["name"].as_str().map(str::to_owned)).flatten()
        })
        .expect("a generated title with a named cast member");
    let people = ok(api, &format!("/api/v1/people/search?q={}", name.replace(' ', "+")));
    let person = &people["hits"][0];
    assert_eq!(person["name"], name.as_str(), "{people}");
    let page = ok(api, &format!("/api/v1/people/{}", person["id"].as_str().unwrap()));
    assert_eq!(page["name"], name.as_str());
    assert!(page["known_for"].as_array().is_some());
    let prefix: String = name.chars().take(6).collect::<String>().replace(' ', "+");
    let people_suggest = ok(api, &format!("/api/v1/suggest?q={prefix}"));
    assert!(!people_suggest["people"].as_array().unwrap().is_empty(), "{people_suggest}");

    let stats = ok(api, "/api/v1/stats");
    assert_eq!(stats["titles"], titles_total);
    assert_eq!(stats["people"], people_total);
    let genres = ok(api, "/api/v1/genres");
    assert!(genres["genres"].as_array().unwrap().iter().any(|g| g["genre"] == "drama"));
}

fn errors_are_problems_never_500s(api: &ApiNode) {
    for (path, param) in [
        ("/api/v1/search?size=1000", "size"),
        ("/api/v1/search?page=0", "page"),
        ("/api/v1/search?page=60&size=20", "page"),
        ("/api/v1/search?gnre=drama", "gnre"),
        ("/api/v1/search?sort=random", "sort"),
        ("/api/v1/search?type=opera", "type"),
        ("/api/v1/search?year_from=2000&year_to=1990", "year_to"),
        ("/api/v1/search?rating_min=NaN", "rating_min"),
        ("/api/v1/search?cursor=forged", "cursor"),
        ("/api/v1/suggest", "q"),
        ("/api/v1/titles/..%2Fimdb-people", "tconst"),
        ("/api/v1/people/tt0111161", "nconst"),
    ] {
        let (status, kind, body) = get(api, path);
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(kind, "application/problem+json", "{path}");
        assert_eq!(body["invalid_params"][0]["name"], param, "{path}: {body}");
    }
    let long = "a".repeat(201);
    assert_eq!(get(api, &format!("/api/v1/search?q={long}")).0, 400);
    // Hostile text is only ever text: answered, never a 5xx.
    for q in ["%7B%22script%22%3A1%7D", "%2A%3F", "a%22b", "%5C", "AND+OR+NOT", "_all", "%E2%80%AE", "x~2%5E9"] {
        let (status, _, body) = get(api, &format!("/api/v1/search?q={q}"));
        assert!(status == 200 || status == 400, "q={q}: {status} {body}");
    }
    let (status, kind, _) = get(api, "/api/v1/nowhere");
    assert_eq!((status, kind.as_str()), (404, "application/problem+json"));
    let post = http().post(format!("{}/api/v1/search?q=x", api.url())).send().unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers().get("content-type").unwrap(), "application/problem+json");
}

fn operations(api: &ApiNode) {
    let r = http().get(format!("{}/api/v1/genres", api.url())).send().unwrap();
    assert_eq!(r.headers().get("x-served-by").unwrap(), api.name());
    assert_eq!(ok(api, "/readyz")["status"], "ready");
    let openapi = ok(api, "/api/v1/openapi.json");
    assert!(openapi["paths"]["/search"]["get"]["parameters"].as_array().unwrap().len() > 10);
    let metrics = http().get(format!("{}/metrics", api.url())).send().unwrap().text().unwrap();
    assert!(metrics.contains("imdb_api_requests_total{route=\"/api/v1/search\",status=\"200\"}"), "{metrics}");
    assert!(metrics.contains("imdb_api_requests_total{route=\"/api/v1/search\",status=\"400\"}"));
    assert!(metrics.contains("imdb_api_upstream_duration_seconds_count{call=\"search\",outcome=\"200\"}"));
    // The same search twice: the second from the cache.
    let first = http().get(format!("{}/api/v1/search?q=alien", api.url())).send().unwrap();
    let second = http().get(format!("{}/api/v1/search?q=alien", api.url())).send().unwrap();
    assert_eq!(first.headers().get("x-cache").unwrap(), "miss");
    assert_eq!(second.headers().get("x-cache").unwrap(), "hit");
}

/// Schemathesis (from PyPI, installed by scripts/setup.sh) generates
/// requests from the OpenAPI document, valid and invalid, and fails on any
/// 5xx.
fn fuzzing_finds_no_server_error(api: &ApiNode) {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/venv/bin/schemathesis");
    if !bin.is_file() {
        assert!(std::env::var_os("IMDB_REQUIRE_PYCLIENT").is_none(), "{} missing (scripts/setup.sh)", bin.display());
        eprintln!("SKIPPED fuzzing: {} not found (scripts/setup.sh installs it)", bin.display());
        return;
    }
    let output = std::process::Command::new(&bin)
        .args(["run", &format!("{}/api/v1/openapi.json", api.url())])
        .args(["--url", &format!("{}/api/v1", api.url())])
        .args(["--checks", "not_a_server_error", "--max-examples", "40", "--seed", "7", "--workers", "2"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "schemathesis found server errors:\n{report}\n{}", api.log_tail());
    assert!(report.contains("passed"), "schemathesis ran no test:\n{report}");
}

#[test]
fn a_client_over_its_rate_gets_429_with_retry_after() {
    let Some(node) = TestEngine::start() else { return };
    let api = ApiNode::start(&node.urls(), "api-rate", &[("IMDB_API_RATE_LIMIT", "1"), ("IMDB_API_RATE_BURST", "2")]);
    let statuses: Vec<u16> =
        (0..3).map(|_| http().get(format!("{}/api/v1/genres", api.url())).send().unwrap().status().as_u16()).collect();
    assert_ne!(statuses[0], 429);
    assert_ne!(statuses[1], 429);
    let limited = http().get(format!("{}/api/v1/genres", api.url())).send().unwrap();
    assert_eq!(limited.status(), 429, "{statuses:?}");
    assert!(limited.headers().get("retry-after").is_some());
    // Probes are never limited.
    assert_eq!(http().get(format!("{}/healthz", api.url())).send().unwrap().status(), 200);
}

#[test]
fn without_a_cluster_the_node_is_alive_but_not_ready() {
    let dead = format!("http://127.0.0.1:{}", free_port().unwrap());
    let mut api = ApiNode::start(&dead, "api-alone", &[("IMDB_API_UPSTREAM_TIMEOUT", "2s")]);
    assert_eq!(get(&api, "/healthz").0, 200);
    let (status, kind, body) = get(&api, "/readyz");
    assert_eq!((status, kind.as_str()), (503, "application/problem+json"), "{body}");
    let (status, _, body) = get(&api, "/api/v1/search?q=matrix");
    assert_eq!(status, 503, "{body}");
    assert!(!body.to_string().contains("127.0.0.1"), "cluster details stay in the log: {body}");
    api.stop();
}

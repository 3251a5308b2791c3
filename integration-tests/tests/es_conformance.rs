//! The Elasticsearch REST YAML conformance suite (`../shared/es-rest-tests`)
//! against a real `imdb-search-node`, as a ratchet: every test named in
//! `es-conformance/expected-pass.txt` must pass, and no name in that list or
//! in `es-conformance/skip.txt` may be missing from the corpus. Tests that do
//! not pass yet only print their reason. Prints one line per test and the
//! totals (shown with `--nocapture`, or when it fails).
//!
//! Skips with a message when the corpus is absent (`IMDB_ES_REST_TESTS`
//! names another folder). Needs `cargo build --workspace --bins` first, as
//! `scripts/test.sh` does.

use imdb_integration_tests::es_yaml::{self, Client, Corpus, RunOptions, Status, TestList};
use imdb_integration_tests::search_node::SearchNode;

#[test]
fn the_tests_expected_to_pass_pass() {
    let dir = std::env::var_os("IMDB_ES_REST_TESTS").map_or_else(es_yaml::default_corpus_dir, Into::into);
    if !dir.join("test").is_dir() {
        eprintln!("SKIPPED: no Elasticsearch REST test corpus at {} (../shared/es-rest-tests)", dir.display());
        return;
    }
    let corpus = Corpus::load(&dir).unwrap();
    let lists = es_yaml::lists_dir();
    let skips = TestList::load(&lists.join("skip.txt")).unwrap();
    let expected = TestList::load(&lists.join("expected-pass.txt")).unwrap();

    let mut problems = skips.unknown_entries(&corpus);
    problems.extend(expected.unknown_entries(&corpus));
    let skipped = skips.ids(&corpus);
    let expected_ids = expected.ids(&corpus);
    problems.extend(
        expected_ids
            .iter()
            .filter(|id| skipped.contains(id))
            .map(|id| format!("{id}: both skipped and expected to pass")),
    );
    assert!(problems.is_empty(), "the conformance lists do not fit the corpus:\n{}", problems.join("\n"));

    let node = SearchNode::start().expect("starting imdb-search-node");
    let client = Client::connect(&node.url()).expect("connecting to imdb-search-node");
    let summary =
        es_yaml::run(&corpus, &client, &skips, &RunOptions::default(), |outcome| println!("{}", outcome.line()));
    // Not cargo's closing-line shape on purpose: this is the suite's count,
    // not this test binary's.
    println!("ES conformance of imdb-search-node: {}", summary.total_line());

    let passed = summary.ids(Status::Pass);
    let newly: Vec<&String> = passed.iter().filter(|id| !expected_ids.contains(id)).collect();
    if !newly.is_empty() {
        println!(
            "{} tests pass that expected-pass.txt does not list yet; add them with\n  \
             target/debug/es-conformance --write-expected integration-tests/es-conformance/expected-pass.txt",
            newly.len()
        );
    }
    let regressions: Vec<String> = summary
        .outcomes
        .iter()
        .filter(|o| o.status != Status::Pass && expected_ids.contains(&o.id))
        .map(imdb_integration_tests::es_yaml::Outcome::line)
        .collect();
    assert!(
        regressions.is_empty(),
        "{} tests of es-conformance/expected-pass.txt no longer pass:\n{}\nnode log tail:\n{}",
        regressions.len(),
        regressions.join("\n"),
        node.log_tail(20)
    );
}

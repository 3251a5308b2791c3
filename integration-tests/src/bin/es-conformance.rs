//! `es-conformance`: runs the Elasticsearch REST YAML conformance tests of
//! `../shared/es-rest-tests` against a search node and prints one line per
//! test (`PASS|FAIL|SKIP  <api>/<file>.yml :: <test name>`, with the reason
//! after ` -- `) and, last, `N passed, N failed, N skipped`.
//!
//! Exit status: 0 when no test failed (or the expected-pass list was
//! written), 1 when some failed, 2 when the run could not happen.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use imdb_integration_tests::es_yaml::{self, Client, Corpus, RunOptions, Status, TestList, lists};
use imdb_integration_tests::search_node::SearchNode;

/// Runs the Elasticsearch REST YAML conformance tests against a search
/// node. Every flag can also be set through the environment variable named
/// in its help.
#[derive(Debug, Parser)]
#[command(name = "es-conformance")]
struct Cli {
    /// Server to test, e.g. http://127.0.0.1:9200. EVERY INDEX AND TEMPLATE ON
    /// IT IS DELETED between tests. Default: start the workspace's
    /// imdb-search-node on a free port with a temporary data folder.
    #[arg(long, env = "IMDB_ES_CONFORMANCE_URL")]
    url: Option<String>,
    /// The corpus folder, holding test/ and api/.
    #[arg(long, env = "IMDB_ES_REST_TESTS", default_value_os_t = es_yaml::default_corpus_dir())]
    tests: PathBuf,
    /// Run only the tests whose `<api>/<file>.yml :: <test name>` contains this.
    #[arg(long, env = "IMDB_ES_CONFORMANCE_FILTER")]
    filter: Option<String>,
    /// Tests not to run, one `<api>/<file>.yml :: <test name>  # reason` a line.
    #[arg(long, env = "IMDB_ES_CONFORMANCE_SKIP_LIST", default_value_os_t = es_yaml::lists_dir().join("skip.txt"))]
    skip_list: PathBuf,
    /// Print every request and response.
    #[arg(long, short, env = "IMDB_ES_CONFORMANCE_VERBOSE")]
    verbose: bool,
    /// Write the passing tests to this file: the expected-pass ratchet
    /// (integration-tests/es-conformance/expected-pass.txt). Needs a full run.
    #[arg(long, env = "IMDB_ES_CONFORMANCE_WRITE_EXPECTED", conflicts_with = "filter")]
    write_expected: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("es-conformance: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let corpus = Corpus::load(&cli.tests).with_context(|| format!("reading the corpus at {}", cli.tests.display()))?;
    let skips = TestList::load(&cli.skip_list)?;
    let unknown = skips.unknown_entries(&corpus);
    if !unknown.is_empty() {
        bail!("the skip list names tests the corpus does not have:\n{}", unknown.join("\n"));
    }
    // Keep the node alive for the whole run; dropping it stops the process.
    let (_node, url) = if let Some(url) = cli.url {
        (None, url)
    } else {
        let node = SearchNode::start().context("starting imdb-search-node")?;
        let url = node.url();
        if cli.verbose {
            eprintln!("started imdb-search-node at {url}, log: {}", node.log_path().display());
        }
        (Some(node), url)
    };
    let client = Client::connect(&url).with_context(|| format!("connecting to {url}"))?;
    eprintln!("server at {url}: version {}", client.version);
    let options = RunOptions { filter: cli.filter, verbose: cli.verbose };
    let summary = es_yaml::run(&corpus, &client, &skips, &options, |outcome| println!("{}", outcome.line()));
    if let Some(path) = &cli.write_expected {
        let passed = summary.ids(Status::Pass);
        lists::write_expected(path, &passed)?;
        eprintln!("wrote {} passing tests to {}", passed.len(), path.display());
    }
    println!("{}", summary.total_line());
    let failed = summary.count(Status::Fail) > 0;
    Ok(if failed && cli.write_expected.is_none() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

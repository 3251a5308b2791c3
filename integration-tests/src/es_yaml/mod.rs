//! An Elasticsearch REST YAML conformance runner: the upstream test files
//! (`test/<api>/<file>.yml`, format in the corpus's `FORMAT.md`) run against
//! a live server, with the API specs (`api/<api>.json`) saying how each
//! `do: <api>` becomes an HTTP request.
//!
//! Contract:
//! - [`Corpus::load`] reads a corpus folder; YAML or a spec that cannot be
//!   read is an error naming the file, while a step the runner does not
//!   know only fails the tests that reach it.
//! - [`run`] runs every test (or those whose id contains a filter) in file
//!   order and reports each as it ends: `PASS`, `FAIL` with the first
//!   failing step and why, or `SKIP` with the reason (the skip list, a
//!   `skip` section on version or runner features). Each test gets a fresh
//!   stash, runs the file's `setup`, its steps and the `teardown` (even
//!   after a failure), then the server is cleaned: every index (and so
//!   alias) and every template deleted.
//! - The outcome of one test never stops the run; only a server that
//!   cannot be reached at all is an error, at [`Client::connect`].
//!
//! What it leaves out is listed in `integration-tests/es-conformance/README.md`.

pub mod api;
pub mod compare;
pub mod lists;
pub mod model;
pub mod runner;
pub mod skip;
pub mod stash;

use std::path::{Path, PathBuf};

pub use lists::TestList;
pub use model::TestFile;
pub use runner::{Client, Outcome, RunOptions, Status, Summary, run};

use crate::{Error, workspace_root};
use api::ApiSpecs;

/// The corpus beside the repository: `<workspace root>/../shared/es-rest-tests`.
pub fn default_corpus_dir() -> PathBuf {
    workspace_root().join("../shared/es-rest-tests")
}

/// The skip list and the ratchet of tests known to pass, in this crate.
pub fn lists_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("es-conformance")
}

/// The test files and API specs of a corpus folder.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The folder (holding `test/` and `api/`).
    pub root: PathBuf,
    /// Every `test/<api>/<file>.yml`, sorted by name.
    pub files: Vec<TestFile>,
    /// The API specs (and the runner's built-in ones).
    pub specs: ApiSpecs,
}

impl Corpus {
    /// Reads `root/test/*/*.yml` and `root/api/*.json`.
    pub fn load(root: &Path) -> Result<Corpus, Error> {
        let specs = ApiSpecs::load(&root.join("api"))?;
        let test_dir = root.join("test");
        let mut names = Vec::new();
        for api in read_dir_sorted(&test_dir)? {
            if !api.is_dir() {
                continue;
            }
            for file in read_dir_sorted(&api)? {
                if file.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                    let rel = file.strip_prefix(&test_dir).expect("under test/").to_string_lossy().replace('\\', "/");
                    names.push((rel, file));
                }
            }
        }
        if names.is_empty() {
            return Err(Error::corpus(&test_dir, "no test files (test/<api>/<file>.yml)"));
        }
        let files = names.iter().map(|(rel, path)| model::parse_file(path, rel)).collect::<Result<_, _>>()?;
        Ok(Corpus { root: root.to_path_buf(), files, specs })
    }

    /// Every test's id, `<api>/<file>.yml :: <test name>`, in run order.
    pub fn test_ids(&self) -> Vec<String> {
        self.files.iter().flat_map(|f| f.tests.iter().map(move |t| f.test_id(t))).collect()
    }

    /// The file named `<api>/<file>.yml`.
    pub fn file(&self, name: &str) -> Option<&TestFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(Error::io(format!("listing {}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    Ok(paths)
}

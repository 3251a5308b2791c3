//! The skip list and the expected-pass ratchet: text files naming tests.
//!
//! Contract: one entry a line, `<api>/<file>.yml :: <test name>` for a test
//! or `<api>/<file>.yml` for every test of a file, optionally followed by
//! `# reason` (a `#` after whitespace; test names hold no `#`). Blank lines
//! and lines starting with `#` are comments. [`TestList::unknown_entries`]
//! names the entries the corpus does not have, so that a renamed or removed
//! test cannot leave a stale line behind unnoticed.

use std::path::{Path, PathBuf};

use super::Corpus;
use super::model::test_id;
use crate::Error;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number, for messages.
    pub line: usize,
    /// `<api>/<file>.yml`.
    pub file: String,
    /// The test's name; `None`: the whole file.
    pub test: Option<String>,
    /// The text after `#`, or empty.
    pub reason: String,
}

/// A list of tests read from a file.
#[derive(Debug, Clone, Default)]
pub struct TestList {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// The entries in file order.
    pub entries: Vec<Entry>,
}

impl TestList {
    /// Reads a list file.
    pub fn load(path: &Path) -> Result<TestList, Error> {
        let text = std::fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))?;
        TestList::parse(&text, path)
    }

    /// Parses the text of a list file.
    pub fn parse(text: &str, path: &Path) -> Result<TestList, Error> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, reason) =
                match line.char_indices().find(|&(j, c)| c == '#' && line[..j].ends_with(char::is_whitespace)) {
                    Some((j, _)) => (line[..j].trim(), line[j + 1..].trim()),
                    None => (line, ""),
                };
            let (file, test) = match name.split_once(" :: ") {
                Some((file, test)) => (file.trim(), Some(test.trim().to_owned())),
                None => (name, None),
            };
            let extension = std::path::Path::new(file).extension().and_then(|e| e.to_str());
            if !extension.is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml")) {
                return Err(Error::corpus(
                    path,
                    format!("line {}: expected `<api>/<file>.yml :: <test name>`, found {raw:?}", i + 1),
                ));
            }
            entries.push(Entry { line: i + 1, file: file.to_owned(), test, reason: reason.to_owned() });
        }
        Ok(TestList { path: path.to_path_buf(), entries })
    }

    /// The entry covering a test, if any.
    pub fn entry_for(&self, file: &str, test: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.file == file && e.test.as_deref().is_none_or(|t| t == test))
    }

    /// Whether the list covers the test with this id.
    pub fn contains_id(&self, corpus: &Corpus, id: &str) -> bool {
        self.ids(corpus).iter().any(|i| i == id)
    }

    /// The ids of every test the list covers (whole files expanded), in
    /// corpus order; entries the corpus lacks are left out.
    pub fn ids(&self, corpus: &Corpus) -> Vec<String> {
        corpus
            .files
            .iter()
            .flat_map(|f| f.tests.iter().map(move |t| (f, t)))
            .filter(|(f, t)| self.entry_for(&f.name, &t.name).is_some())
            .map(|(f, t)| f.test_id(t))
            .collect()
    }

    /// One message per entry naming a file or test the corpus lacks.
    pub fn unknown_entries(&self, corpus: &Corpus) -> Vec<String> {
        let mut unknown = Vec::new();
        for entry in &self.entries {
            let where_ = format!("{}:{}", self.path.display(), entry.line);
            match (corpus.file(&entry.file), &entry.test) {
                (None, _) => unknown.push(format!("{where_}: no test file {}", entry.file)),
                (Some(file), Some(test)) if !file.tests.iter().any(|t| &t.name == test) => {
                    unknown.push(format!("{where_}: no test {}", test_id(&entry.file, test)));
                }
                _ => {}
            }
        }
        unknown
    }
}

/// Writes the expected-pass list: a header saying what it is, then `ids`.
pub fn write_expected(path: &Path, ids: &[String]) -> Result<(), Error> {
    let mut text = String::from(
        "# Tests of ../shared/es-rest-tests known to pass against imdb-search-node: a ratchet.\n\
         # tests/es_conformance.rs fails when one of them stops passing. Regenerate it after\n\
         # making more tests pass (from the workspace root):\n\
         #   cargo build --workspace --bins\n\
         #   target/debug/es-conformance --write-expected integration-tests/es-conformance/expected-pass.txt\n",
    );
    for id in ids {
        text.push_str(id);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(Error::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::es_yaml::api::ApiSpecs;
    use crate::es_yaml::model::parse_text;

    fn corpus() -> Corpus {
        let a = parse_text("\"one\":\n  - do: { info: {} }\n\"two\":\n  - do: { info: {} }\n", "info/10_basic.yml")
            .unwrap();
        let b = parse_text("\"three\":\n  - do: { info: {} }\n", "get/10_basic.yml").unwrap();
        Corpus { root: PathBuf::from("/c"), files: vec![a, b], specs: ApiSpecs::default() }
    }

    #[test]
    fn entries_comments_and_whole_files() {
        let text = "# header\n\ninfo/10_basic.yml :: one  # needs documents\nget/10_basic.yml\n";
        let list = TestList::parse(text, Path::new("skip.txt")).unwrap();
        assert_eq!(list.entries.len(), 2);
        assert_eq!(
            list.entries[0],
            Entry {
                line: 3,
                file: "info/10_basic.yml".into(),
                test: Some("one".into()),
                reason: "needs documents".into()
            }
        );
        assert_eq!(list.entry_for("info/10_basic.yml", "one").unwrap().reason, "needs documents");
        assert!(list.entry_for("info/10_basic.yml", "two").is_none());
        assert!(list.entry_for("get/10_basic.yml", "three").is_some());
        let c = corpus();
        assert_eq!(list.ids(&c), ["info/10_basic.yml :: one", "get/10_basic.yml :: three"]);
        assert!(list.contains_id(&c, "get/10_basic.yml :: three"));
        assert!(list.unknown_entries(&c).is_empty());
    }

    #[test]
    fn names_the_corpus_lacks_are_reported() {
        let text = "info/10_basic.yml :: gone\nnope/1.yml :: x\n";
        let list = TestList::parse(text, Path::new("expected-pass.txt")).unwrap();
        let unknown = list.unknown_entries(&corpus());
        assert_eq!(
            unknown,
            ["expected-pass.txt:1: no test info/10_basic.yml :: gone", "expected-pass.txt:2: no test file nope/1.yml"]
        );
    }

    #[test]
    fn a_line_that_names_no_file_is_an_error() {
        assert!(TestList::parse("just words\n", Path::new("skip.txt")).is_err());
    }

    #[test]
    fn the_written_list_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("expected-pass.txt");
        let ids = vec!["info/10_basic.yml :: one".to_owned(), "get/10_basic.yml :: three".to_owned()];
        write_expected(&path, &ids).unwrap();
        assert_eq!(TestList::load(&path).unwrap().ids(&corpus()), ids);
    }
}

//! A fuzzy term whose first characters must match exactly (`fuzziness`
//! with `prefix_length`), as one automaton: the Levenshtein automaton of
//! the term, walked only while the term's prefix holds. The dictionary walk
//! leaves every branch that leaves the prefix, so terms outside it are never
//! visited; and nothing is built per search beyond the Levenshtein DFA
//! (a regular expression for the prefix meant a DFA construction for every
//! token, field and index searched).

use std::sync::Arc;

use tantivy::Term;
use tantivy::query::{AutomatonWeight, DfaWrapper, EnableScoring, FuzzyTermQuery, Query, Weight};
use tantivy::schema::Field;
use tantivy_fst::Automaton;

use crate::error::EsError;

/// Terms within `distance` edits of a term that start with its first
/// `prefix_length` characters. Matching documents score a constant, as
/// tantivy's fuzzy term query does.
#[derive(Debug, Clone)]
pub(crate) struct PrefixedFuzzyQuery {
    field: Field,
    automaton: Arc<Prefixed>,
}

impl PrefixedFuzzyQuery {
    /// The query for `term` (a text term); `prefix_length` in characters.
    pub(crate) fn new(term: &Term, distance: u8, transpositions: bool, prefix_length: usize) -> Result<Self, EsError> {
        let value = term.value();
        let text = value.as_str().ok_or_else(|| EsError::illegal_argument("a fuzzy term must be text"))?;
        let prefix: Vec<u8> = text.chars().take(prefix_length).collect::<String>().into_bytes();
        let dfa = FuzzyTermQuery::new(term.clone(), distance, transpositions)
            .automaton()
            .map_err(|e| EsError::illegal_argument(e.to_string()))?;
        Ok(PrefixedFuzzyQuery { field: term.field(), automaton: Arc::new(Prefixed { dfa, prefix }) })
    }
}

impl Query for PrefixedFuzzyQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AutomatonWeight::<Prefixed>::new(self.field, Arc::clone(&self.automaton))))
    }
}

/// The Levenshtein automaton of a term, accepting only bytes that continue
/// `prefix` until it is complete.
struct Prefixed {
    dfa: DfaWrapper,
    prefix: Vec<u8>,
}

impl std::fmt::Debug for Prefixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefixed").field("prefix", &String::from_utf8_lossy(&self.prefix)).finish()
    }
}

/// Where a walk is: the Levenshtein state and how many prefix bytes were
/// read (`None`: a byte left the prefix, nothing below can match).
#[derive(Debug, Clone, Copy)]
struct State {
    dfa: u32,
    read: Option<usize>,
}

impl Automaton for Prefixed {
    type State = State;

    fn start(&self) -> State {
        State { dfa: self.dfa.start(), read: Some(0) }
    }

    fn is_match(&self, state: &State) -> bool {
        state.read.is_some_and(|n| n >= self.prefix.len()) && self.dfa.is_match(&state.dfa)
    }

    fn can_match(&self, state: &State) -> bool {
        state.read.is_some() && self.dfa.can_match(&state.dfa)
    }

    fn accept(&self, state: &State, byte: u8) -> State {
        let read = match state.read {
            Some(n) if n < self.prefix.len() => (self.prefix[n] == byte).then_some(n + 1),
            other => other,
        };
        State { dfa: self.dfa.accept(&state.dfa, byte), read }
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::Count;
    use tantivy::schema::{STRING, Schema};
    use tantivy::{Index, IndexWriter, TantivyDocument};

    use super::*;

    fn count(words: &[&str], query: &dyn Query) -> usize {
        let mut schema = Schema::builder();
        let field = schema.add_text_field("w", STRING);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for w in words {
            let mut doc = TantivyDocument::default();
            doc.add_text(field, w);
            writer.add_document(doc).unwrap();
        }
        writer.commit().unwrap();
        index.reader().unwrap().searcher().search(query, &Count).unwrap()
    }

    fn query(word: &str, distance: u8, prefix: usize) -> PrefixedFuzzyQuery {
        // The field is the first of the test schema.
        PrefixedFuzzyQuery::new(&Term::from_field_text(Field::from_field_id(0), word), distance, true, prefix).unwrap()
    }

    #[test]
    fn typos_match_only_after_the_exact_prefix() {
        let words = ["godfather", "godfaher", "godfahter", "podfather", "gdofather", "go", "godfathers"];
        // One edit, the first letter kept: the word itself, a deletion, two
        // transpositions (one right after the `g`), an insertion.
        assert_eq!(count(&words, &query("godfather", 1, 1)), 5);
        // No prefix: the first letter may be wrong too (podfather).
        assert_eq!(count(&words, &query("godfather", 1, 0)), 6);
        // Three exact letters rule out the swap right after the `g`.
        assert_eq!(count(&words, &query("godfather", 1, 3)), 4);
        // A typo in the prefix itself finds only its own spelling.
        assert_eq!(count(&words, &query("gdofather", 1, 3)), 1);
    }

    #[test]
    fn a_prefix_counts_characters_not_bytes() {
        let words = ["éclair", "eclair", "éclairs", "ëclair"];
        // The prefix is `é` (two bytes in UTF-8), whole.
        assert_eq!(count(&words, &query("éclair", 1, 1)), 2);
    }
}

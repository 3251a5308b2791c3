//! Elasticsearch index and alias names.
//!
//! Every enriched title lives in exactly one index, chosen by its primary
//! genre, and the title alias spans them all: so a search on the alias never
//! returns a title twice. Genres outside IMDb's vocabulary, and titles with
//! no genre, go to the fallback index, so hostile input cannot create indexes.

use crate::genre::is_known_genre;
use crate::topics::RawSource;

/// The prefix of every index name unless configured otherwise.
pub const DEFAULT_INDEX_PREFIX: &str = "imdb";

/// Suffix of the index for titles without a known genre.
pub const FALLBACK_GENRE: &str = "other";

/// Index names under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexNames {
    prefix: String,
}

impl Default for IndexNames {
    fn default() -> Self {
        IndexNames { prefix: DEFAULT_INDEX_PREFIX.to_owned() }
    }
}

impl IndexNames {
    /// Names under `prefix` (lower-case letters, digits and `-`, as
    /// Elasticsearch index names allow).
    pub fn new(prefix: &str) -> Option<IndexNames> {
        let legal = !prefix.is_empty()
            && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !prefix.starts_with('-');
        legal.then(|| IndexNames { prefix: prefix.to_owned() })
    }

    /// The alias over every title index: the one name the API searches.
    pub fn titles_alias(&self) -> String {
        format!("{}-titles", self.prefix)
    }

    /// The pattern matching every title index (for index templates).
    pub fn titles_pattern(&self) -> String {
        format!("{}-titles-*", self.prefix)
    }

    /// The index of a title whose primary genre is `genre` (a slug).
    pub fn title_index(&self, primary_genre: Option<&str>) -> String {
        let genre = primary_genre.filter(|g| is_known_genre(g)).unwrap_or(FALLBACK_GENRE);
        format!("{}-titles-{genre}", self.prefix)
    }

    /// The index of person documents.
    pub fn people_index(&self) -> String {
        format!("{}-people", self.prefix)
    }

    /// The raw index of one source file (`imdb-raw-title-basics`).
    pub fn raw_index(&self, source: RawSource) -> String {
        format!("{}-raw-{}", self.prefix, source.file_stem().replace('.', "-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genre::KNOWN_GENRES;

    #[test]
    fn titles_route_by_known_primary_genre() {
        let names = IndexNames::default();
        assert_eq!(names.title_index(Some("sci-fi")), "imdb-titles-sci-fi");
        assert_eq!(names.title_index(Some("space-opera")), "imdb-titles-other");
        assert_eq!(names.title_index(None), "imdb-titles-other");
        assert_eq!(names.titles_alias(), "imdb-titles");
    }

    #[test]
    fn every_index_name_is_legal_and_matches_the_template_pattern() {
        let names = IndexNames::new("test-1").unwrap();
        let pattern = names.titles_pattern();
        let stem = pattern.trim_end_matches('*');
        for genre in KNOWN_GENRES.iter().map(|g| Some(*g)).chain([None]) {
            let index = names.title_index(genre);
            assert!(index.starts_with(stem), "{index}");
            assert!(index.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            assert_ne!(index, names.titles_alias());
        }
        assert_eq!(names.raw_index(RawSource::TitleBasics), "test-1-raw-title-basics");
    }

    #[test]
    fn illegal_prefixes_are_refused() {
        for prefix in ["", "IMDB", "a b", "-x", "a*"] {
            assert!(IndexNames::new(prefix).is_none(), "{prefix}");
        }
    }
}

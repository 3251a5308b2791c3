//! The documents' field names: the keys of [`TitleDoc`](crate::TitleDoc)
//! and [`PersonDoc`](crate::PersonDoc) as serialised, which are also the
//! search engine's field names. The indexer's index templates map them, the
//! API's queries filter, sort and aggregate on them and read them back.
//!
//! Contract (tested below): each module's `ALL` lists every key its
//! document serialises when fully populated, nested keys as dotted paths
//! (`cast.name`), and nothing else. The index templates are `dynamic:
//! false`, so a field the templates do not map is kept in `_source` but
//! never indexed; the indexer's tests check every path of `ALL` against
//! its templates. A renamed struct field fails one of the two.
//!
//! Sub-fields (`primary_title.keyword`) are the templates' multi-fields:
//! other views of the same value, analysed differently. Their names are
//! here too because queries use them.

/// The keys of a title document.
pub mod title {
    /// The IMDb id.
    pub const TCONST: &str = "tconst";
    /// `movie`, `tvSeries`, ...
    pub const TITLE_TYPE: &str = "title_type";
    /// The title as shown.
    pub const PRIMARY_TITLE: &str = "primary_title";
    /// The original-language title.
    pub const ORIGINAL_TITLE: &str = "original_title";
    /// Adult content.
    pub const IS_ADULT: &str = "is_adult";
    /// Release year, or first year of a series.
    pub const START_YEAR: &str = "start_year";
    /// Last year of a series.
    pub const END_YEAR: &str = "end_year";
    /// Full release date.
    pub const RELEASE_DATE: &str = "release_date";
    /// Runtime in minutes.
    pub const RUNTIME_MINUTES: &str = "runtime_minutes";
    /// Genre slugs.
    pub const GENRES: &str = "genres";
    /// IMDb rating.
    pub const AVERAGE_RATING: &str = "average_rating";
    /// IMDb votes.
    pub const NUM_VOTES: &str = "num_votes";
    /// Directors (`nconst`, `name`).
    pub const DIRECTORS: &str = "directors";
    /// Writers (`nconst`, `name`).
    pub const WRITERS: &str = "writers";
    /// Top-billed cast.
    pub const CAST: &str = "cast";
    /// Alternative titles.
    pub const AKAS: &str = "akas";
    /// Series, season and number of an episode.
    pub const EPISODE: &str = "episode";
    /// MPAA rating.
    pub const MPAA_RATING: &str = "mpaa_rating";
    /// Distributor.
    pub const DISTRIBUTOR: &str = "distributor";

    /// The title, folded, as one keyword: exact match and alphabetical sort.
    pub const PRIMARY_TITLE_KEYWORD: &str = "primary_title.keyword";
    /// The title with English stemming.
    pub const PRIMARY_TITLE_ENGLISH: &str = "primary_title.english";
    /// Edge n-grams of the title's words: as-you-type search.
    pub const PRIMARY_TITLE_AUTOCOMPLETE: &str = "primary_title.autocomplete";
    /// The original title, folded, as one keyword.
    pub const ORIGINAL_TITLE_KEYWORD: &str = "original_title.keyword";
    /// An alternative title's text.
    pub const AKAS_TITLE: &str = "akas.title";
    /// An alternative title, folded, as one keyword: exact match.
    pub const AKAS_TITLE_KEYWORD: &str = "akas.title.keyword";

    /// Every leaf of a fully populated title document, nested ones dotted.
    pub const ALL: [&str; 30] = [
        TCONST,
        TITLE_TYPE,
        PRIMARY_TITLE,
        ORIGINAL_TITLE,
        IS_ADULT,
        START_YEAR,
        END_YEAR,
        RELEASE_DATE,
        RUNTIME_MINUTES,
        GENRES,
        AVERAGE_RATING,
        NUM_VOTES,
        "directors.nconst",
        "directors.name",
        "writers.nconst",
        "writers.name",
        "cast.nconst",
        "cast.name",
        "cast.category",
        "cast.characters",
        "cast.ordering",
        AKAS_TITLE,
        "akas.region",
        "akas.language",
        "akas.is_original",
        "episode.parent_tconst",
        "episode.season",
        "episode.episode",
        MPAA_RATING,
        DISTRIBUTOR,
    ];
}

/// The keys of a person reference inside a title (directors, writers,
/// cast members).
pub mod person_ref {
    /// The person's IMDb id.
    pub const NCONST: &str = "nconst";
    /// The person's name.
    pub const NAME: &str = "name";
    /// A cast member's category (`actor`, `actress`, `self`).
    pub const CATEGORY: &str = "category";
    /// A cast member's characters.
    pub const CHARACTERS: &str = "characters";
}

/// The keys of a person document.
pub mod person {
    /// The IMDb id.
    pub const NCONST: &str = "nconst";
    /// The name.
    pub const PRIMARY_NAME: &str = "primary_name";
    /// Year of birth.
    pub const BIRTH_YEAR: &str = "birth_year";
    /// Year of death.
    pub const DEATH_YEAR: &str = "death_year";
    /// Professions.
    pub const PROFESSIONS: &str = "professions";
    /// Known-for titles.
    pub const KNOWN_FOR: &str = "known_for";
    /// Votes of the known-for titles added up: a person's popularity.
    pub const KNOWN_FOR_VOTES: &str = "known_for_votes";

    /// The name, folded, as one keyword.
    pub const PRIMARY_NAME_KEYWORD: &str = "primary_name.keyword";
    /// Edge n-grams of the name's words: as-you-type search.
    pub const PRIMARY_NAME_AUTOCOMPLETE: &str = "primary_name.autocomplete";

    /// Every leaf of a fully populated person document, nested ones dotted.
    pub const ALL: [&str; 11] = [
        NCONST,
        PRIMARY_NAME,
        BIRTH_YEAR,
        DEATH_YEAR,
        PROFESSIONS,
        "known_for.tconst",
        "known_for.title",
        "known_for.start_year",
        "known_for.title_type",
        "known_for.num_votes",
        KNOWN_FOR_VOTES,
    ];
}

/// The keys of a known-for title inside a person document.
pub mod known_for {
    /// The title's IMDb id.
    pub const TCONST: &str = "tconst";
    /// Its primary title.
    pub const TITLE: &str = "title";
    /// Its year.
    pub const START_YEAR: &str = "start_year";
    /// Its type.
    pub const TITLE_TYPE: &str = "title_type";
    /// Its votes.
    pub const NUM_VOTES: &str = "num_votes";
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::{Aka, CastMember, EpisodeInfo, KnownFor, PersonDoc, PersonRef, TitleDoc};

    /// The leaf paths of a document serialised to JSON: nested objects (and
    /// arrays of them) as dotted paths, arrays of scalars as their own leaf.
    fn leaf_paths(value: &serde_json::Value) -> std::collections::BTreeSet<String> {
        fn walk(prefix: &str, value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    for (key, v) in map {
                        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                        walk(&path, v, out);
                    }
                }
                serde_json::Value::Array(items) if items.iter().any(serde_json::Value::is_object) => {
                    for item in items {
                        walk(prefix, item, out);
                    }
                }
                _ => {
                    out.insert(prefix.to_owned());
                }
            }
        }
        let mut out = std::collections::BTreeSet::new();
        walk("", value, &mut out);
        out
    }

    /// Every field set: what the check below sees is every key there is.
    fn full_title() -> TitleDoc {
        let person = PersonRef { nconst: Some("nm1".into()), name: Some("A Name".into()) };
        TitleDoc {
            tconst: "tt1".into(),
            title_type: Some("movie".into()),
            primary_title: "T".into(),
            original_title: Some("O".into()),
            is_adult: true,
            start_year: Some(1999),
            end_year: Some(2001),
            release_date: Some("1999-01-02".into()),
            runtime_minutes: Some(90),
            genres: vec!["drama".into()],
            average_rating: Some(7.5),
            num_votes: Some(10),
            directors: vec![person.clone()],
            writers: vec![person],
            cast: vec![CastMember {
                nconst: "nm2".into(),
                name: Some("B".into()),
                category: "actor".into(),
                characters: vec!["C".into()],
                ordering: 1,
            }],
            akas: vec![Aka {
                title: "A".into(),
                region: Some("US".into()),
                language: Some("en".into()),
                is_original: true,
            }],
            episode: Some(EpisodeInfo { parent_tconst: "tt0".into(), season: Some(1), episode: Some(2) }),
            mpaa_rating: Some("R".into()),
            distributor: Some("D".into()),
        }
    }

    fn full_person() -> PersonDoc {
        PersonDoc {
            nconst: "nm1".into(),
            primary_name: "P".into(),
            birth_year: Some(1900),
            death_year: Some(1980),
            professions: vec!["actor".into()],
            known_for: vec![KnownFor {
                tconst: "tt1".into(),
                title: Some("T".into()),
                start_year: Some(1950),
                title_type: Some("movie".into()),
                num_votes: Some(5),
            }],
            known_for_votes: Some(5),
        }
    }

    fn set(all: &[&str]) -> BTreeSet<String> {
        all.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn all_is_every_key_of_a_full_title() {
        let json = serde_json::to_value(full_title()).unwrap();
        assert_eq!(leaf_paths(&json), set(&title::ALL));
    }

    #[test]
    fn all_is_every_key_of_a_full_person() {
        let json = serde_json::to_value(full_person()).unwrap();
        assert_eq!(leaf_paths(&json), set(&person::ALL));
    }

    #[test]
    fn nested_names_agree_with_the_paths() {
        for key in [person_ref::NCONST, person_ref::NAME] {
            assert!(title::ALL.contains(&format!("{}.{key}", title::DIRECTORS).as_str()));
            assert!(title::ALL.contains(&format!("{}.{key}", title::WRITERS).as_str()));
        }
        for key in [person_ref::CATEGORY, person_ref::CHARACTERS] {
            assert!(title::ALL.contains(&format!("{}.{key}", title::CAST).as_str()));
        }
        for key in [known_for::TCONST, known_for::TITLE, known_for::START_YEAR, known_for::TITLE_TYPE] {
            assert!(person::ALL.contains(&format!("{}.{key}", person::KNOWN_FOR).as_str()));
        }
        assert!(person::ALL.contains(&format!("{}.{}", person::KNOWN_FOR, known_for::NUM_VOTES).as_str()));
    }

    #[test]
    fn sub_fields_hang_off_a_key() {
        let subs = [
            (title::PRIMARY_TITLE_KEYWORD, title::PRIMARY_TITLE),
            (title::PRIMARY_TITLE_ENGLISH, title::PRIMARY_TITLE),
            (title::PRIMARY_TITLE_AUTOCOMPLETE, title::PRIMARY_TITLE),
            (title::ORIGINAL_TITLE_KEYWORD, title::ORIGINAL_TITLE),
            (title::AKAS_TITLE_KEYWORD, title::AKAS_TITLE),
            (person::PRIMARY_NAME_KEYWORD, person::PRIMARY_NAME),
            (person::PRIMARY_NAME_AUTOCOMPLETE, person::PRIMARY_NAME),
        ];
        for (sub, parent) in subs {
            assert!(sub.starts_with(&format!("{parent}.")), "{sub} under {parent}");
        }
    }
}

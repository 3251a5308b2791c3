//! The documents that travel on the enrichment topics and are indexed.
//!
//! Field names are `snake_case` and stable: they are the Elasticsearch field
//! names too. Absent values are left out of the JSON (not `null`), which keeps
//! messages small; deserialising fills them back with their defaults.

use serde::{Deserialize, Serialize};

/// A title (film, series, episode, ...) joined from every IMDb file that
/// describes it, or normalised from a JSON record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TitleDoc {
    /// The IMDb id (`tt0111161`); for JSON records without one, an id derived
    /// from title and year (see ingest's JSON profile), starting with `x`.
    pub tconst: String,
    /// `movie`, `short`, `tvSeries`, `tvEpisode`, ... as IMDb spells them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_type: Option<String>,
    /// The title as shown.
    pub primary_title: String,
    /// The title in its original language, when it differs or is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_title: Option<String>,
    /// Adult content.
    pub is_adult: bool,
    /// Release year, or the first year of a series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_year: Option<u16>,
    /// Last year of a series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_year: Option<u16>,
    /// Full release date (`YYYY-MM-DD`) when the source has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    /// Runtime in minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_minutes: Option<u32>,
    /// Normalised genre slugs, primary genre first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub genres: Vec<String>,
    /// IMDb user rating, 1.0 to 10.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_rating: Option<f32>,
    /// Number of IMDb votes behind the rating: the popularity signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_votes: Option<u64>,
    /// Directors, in credit order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub directors: Vec<PersonRef>,
    /// Writers, in credit order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writers: Vec<PersonRef>,
    /// Top-billed cast (actors, actresses, self), in billing order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cast: Vec<CastMember>,
    /// Alternative titles (regional, working, original).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub akas: Vec<Aka>,
    /// For an episode: its series, season and number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episode: Option<EpisodeInfo>,
    /// MPAA rating, from JSON sources that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mpaa_rating: Option<String>,
    /// Distributor, from JSON sources that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distributor: Option<String>,
}

/// IMDb's title types, as `title.basics` spells them (`titleType`).
pub const TITLE_TYPES: [&str; 11] = [
    "movie",
    "short",
    "tvSeries",
    "tvEpisode",
    "tvMovie",
    "tvMiniSeries",
    "tvSpecial",
    "tvShort",
    "video",
    "videoGame",
    "tvPilot",
];

/// A person credited on a title.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PersonRef {
    /// The IMDb id, when the source has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nconst: Option<String>,
    /// The name; `None` when the id did not resolve (names can be missing
    /// from name.basics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One top-billed cast member.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CastMember {
    /// The IMDb id.
    pub nconst: String,
    /// The name, when it resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `actor`, `actress` or `self`.
    pub category: String,
    /// The characters played.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub characters: Vec<String>,
    /// Billing position (1 = top).
    pub ordering: u32,
}

/// An alternative title.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Aka {
    /// The title text.
    pub title: String,
    /// Region code (`US`, `FR`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Language code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The original-language title.
    pub is_original: bool,
}

/// Where an episode sits in its series.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EpisodeInfo {
    /// The series' `tconst`.
    pub parent_tconst: String,
    /// Season number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub season: Option<u32>,
    /// Episode number within the season.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episode: Option<u32>,
}

/// A person joined with the titles they are known for.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PersonDoc {
    /// The IMDb id (`nm0000151`).
    pub nconst: String,
    /// The name.
    pub primary_name: String,
    /// Year of birth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_year: Option<u16>,
    /// Year of death.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub death_year: Option<u16>,
    /// Professions, most important first (`actor`, `director`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub professions: Vec<String>,
    /// The titles they are known for, with what is known of each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub known_for: Vec<KnownFor>,
    /// The votes of their known-for titles added up: how popular their work
    /// is, which ranks people in search and suggestions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_for_votes: Option<u64>,
}

/// A title a person is known for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KnownFor {
    /// The IMDb id.
    pub tconst: String,
    /// Its primary title, when the id resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_year: Option<u16>,
    /// Its type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_type: Option<String>,
    /// Its number of votes, when rated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_votes: Option<u64>,
}

/// A record that could not be accepted, with why and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeadLetter {
    /// The stage that rejected it (`ingest`, `indexer`).
    pub stage: String,
    /// The file, or `topic/partition`, it came from.
    pub source: String,
    /// Line number (1-based) in the source file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Byte offset of the record in the (decompressed) source, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
    /// Kafka offset, for records rejected after consumption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka_offset: Option<i64>,
    /// Why it was rejected, for a person to read.
    pub reason: String,
    /// The record itself (invalid UTF-8 replaced), possibly truncated.
    pub record: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_fields_are_omitted_and_come_back_as_defaults() {
        let doc = TitleDoc { tconst: "tt0000001".into(), primary_title: "Carmencita".into(), ..Default::default() };
        let json = serde_json::to_string(&doc).unwrap();
        assert_eq!(json, r#"{"tconst":"tt0000001","primary_title":"Carmencita","is_adult":false}"#);
        let back: TitleDoc = serde_json::from_str(&json).unwrap();
        assert_eq!(back, doc);
    }
}

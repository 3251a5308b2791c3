//! Kafka topics: names, partition counts and what each message's key is.
//!
//! Raw topics carry the source rows unchanged, one topic per source file.
//! A raw message is a *batch*: newline-delimited JSON objects (Logstash's
//! `json_lines` codec), all of whose keys hash to the message's partition, so
//! a row always lands in the partition its id selects while the broker sees
//! hundreds of rows per message instead of one. Enrichment topics carry one
//! document per message, keyed by its IMDb id, so a consumer can index each
//! with the id as document id and a replay overwrites instead of duplicating.

/// A topic with its fixed properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    /// The topic name.
    pub name: &'static str,
    /// The number of partitions ingest creates it with.
    pub partitions: i32,
    /// What the message key holds.
    pub key: &'static str,
}

/// Partition count of every data topic: a few per core of a small consumer
/// group, so that several indexers can share the work.
pub const DATA_PARTITIONS: i32 = 6;

/// Enriched title documents ([`crate::TitleDoc`]), keyed by `tconst`.
pub const TITLES: Topic = Topic { name: "imdb.enriched.titles", partitions: DATA_PARTITIONS, key: "tconst" };

/// Enriched person documents ([`crate::PersonDoc`]), keyed by `nconst`.
pub const PEOPLE: Topic = Topic { name: "imdb.enriched.people", partitions: DATA_PARTITIONS, key: "nconst" };

/// Records ingest could not accept ([`crate::DeadLetter`]), keyed by source
/// file. One partition keeps them in the order they were found.
pub const INGEST_DEAD_LETTER: Topic = Topic { name: "imdb.dlq.ingest", partitions: 1, key: "source file" };

/// Documents the indexer could not index ([`crate::DeadLetter`] with the
/// search engine's reason and the source topic, partition and offset),
/// keyed by the document id.
pub const INDEXER_DEAD_LETTER: Topic = Topic { name: "imdb.dlq.indexer", partitions: 1, key: "document id" };

/// `bootstrap.servers` of the one-machine stack: the three brokers the
/// local launcher starts (`imdb-local-kafka start`), all named so that a
/// client still finds the cluster while one of them is down.
pub const LOCAL_BOOTSTRAP: &str = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094";

/// How a topic is replicated: copies of each partition, and how many of
/// them must hold a write before the broker acknowledges it to an
/// `acks=all` producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replication {
    /// `replication.factor`.
    pub factor: i32,
    /// `min.insync.replicas`.
    pub min_insync: i32,
}

impl Replication {
    /// The project's policy on a cluster of `brokers` brokers: three copies
    /// where there are three brokers or more, with two in sync, so that one
    /// broker can fail (or restart) while writes go on and no acknowledged
    /// write lives on one disk only; fewer brokers give what they can.
    pub fn for_brokers(brokers: usize) -> Replication {
        let factor = brokers.clamp(1, 3) as i32;
        Replication { factor, min_insync: (factor - 1).max(1) }
    }

    /// An explicit factor, with the policy's minimum in sync for it.
    pub fn with_factor(factor: i32) -> Replication {
        Replication { factor, min_insync: (factor - 1).clamp(1, 2) }
    }
}

/// The source of raw records: one per IMDb file, plus JSON inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RawSource {
    /// `title.basics.tsv`
    TitleBasics,
    /// `title.ratings.tsv`
    TitleRatings,
    /// `title.crew.tsv`
    TitleCrew,
    /// `title.principals.tsv`
    TitlePrincipals,
    /// `title.akas.tsv`
    TitleAkas,
    /// `title.episode.tsv`
    TitleEpisode,
    /// `name.basics.tsv`
    NameBasics,
    /// A JSON array or NDJSON file of title records.
    Json,
}

impl RawSource {
    /// Every source, in the order ingest reads them.
    pub const ALL: [RawSource; 8] = [
        RawSource::TitleBasics,
        RawSource::TitleRatings,
        RawSource::TitleCrew,
        RawSource::TitlePrincipals,
        RawSource::TitleAkas,
        RawSource::TitleEpisode,
        RawSource::NameBasics,
        RawSource::Json,
    ];

    /// The IMDb file name without extension (`title.basics`), or `json`.
    pub const fn file_stem(self) -> &'static str {
        match self {
            RawSource::TitleBasics => "title.basics",
            RawSource::TitleRatings => "title.ratings",
            RawSource::TitleCrew => "title.crew",
            RawSource::TitlePrincipals => "title.principals",
            RawSource::TitleAkas => "title.akas",
            RawSource::TitleEpisode => "title.episode",
            RawSource::NameBasics => "name.basics",
            RawSource::Json => "json",
        }
    }

    /// The source whose file stem is `stem`.
    pub fn from_file_stem(stem: &str) -> Option<RawSource> {
        RawSource::ALL.into_iter().find(|s| s.file_stem() == stem)
    }

    /// The raw topic: batches of this source's rows, partitioned by key.
    pub const fn topic(self) -> Topic {
        let name = match self {
            RawSource::TitleBasics => "imdb.raw.title.basics",
            RawSource::TitleRatings => "imdb.raw.title.ratings",
            RawSource::TitleCrew => "imdb.raw.title.crew",
            RawSource::TitlePrincipals => "imdb.raw.title.principals",
            RawSource::TitleAkas => "imdb.raw.title.akas",
            RawSource::TitleEpisode => "imdb.raw.title.episode",
            RawSource::NameBasics => "imdb.raw.name.basics",
            RawSource::Json => "imdb.raw.json",
        };
        Topic { name, partitions: DATA_PARTITIONS, key: self.key_column() }
    }

    /// The columns of the IMDb file, in file order (empty for JSON, whose
    /// records keep their own fields).
    pub const fn columns(self) -> &'static [&'static str] {
        match self {
            RawSource::TitleBasics => &[
                "tconst",
                "titleType",
                "primaryTitle",
                "originalTitle",
                "isAdult",
                "startYear",
                "endYear",
                "runtimeMinutes",
                "genres",
            ],
            RawSource::TitleRatings => &["tconst", "averageRating", "numVotes"],
            RawSource::TitleCrew => &["tconst", "directors", "writers"],
            RawSource::TitlePrincipals => &["tconst", "ordering", "nconst", "category", "job", "characters"],
            RawSource::TitleAkas => {
                &["titleId", "ordering", "title", "region", "language", "types", "attributes", "isOriginalTitle"]
            }
            RawSource::TitleEpisode => &["tconst", "parentTconst", "seasonNumber", "episodeNumber"],
            RawSource::NameBasics => {
                &["nconst", "primaryName", "birthYear", "deathYear", "primaryProfession", "knownForTitles"]
            }
            RawSource::Json => &[],
        }
    }

    /// The column whose value keys and partitions each row (always the
    /// first column of an IMDb file); for JSON, the derived title id.
    pub const fn key_column(self) -> &'static str {
        match self {
            RawSource::TitleAkas => "titleId",
            RawSource::NameBasics => "nconst",
            RawSource::Json => "id",
            _ => "tconst",
        }
    }

    /// The columns whose values, joined with `-`, identify a row: what a
    /// consumer uses as document id so that a replay is idempotent.
    pub const fn doc_id_columns(self) -> &'static [&'static str] {
        match self {
            RawSource::TitlePrincipals => &["tconst", "ordering"],
            RawSource::TitleAkas => &["titleId", "ordering"],
            RawSource::TitleBasics | RawSource::TitleRatings | RawSource::TitleCrew | RawSource::TitleEpisode => {
                &["tconst"]
            }
            RawSource::NameBasics => &["nconst"],
            RawSource::Json => &["id"],
        }
    }
}

/// Every topic ingest writes, in a stable order.
pub fn all_topics() -> Vec<Topic> {
    let mut topics: Vec<Topic> = RawSource::ALL.iter().map(|s| s.topic()).collect();
    topics.extend([TITLES, PEOPLE, INGEST_DEAD_LETTER]);
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_unique_and_kafka_legal() {
        let topics = all_topics();
        let mut names: Vec<_> = topics.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), topics.len());
        for name in names {
            assert!(name.len() < 250);
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "{name}");
        }
    }

    #[test]
    fn replication_survives_one_broker_down_where_there_are_three() {
        assert_eq!(Replication::for_brokers(0), Replication { factor: 1, min_insync: 1 });
        assert_eq!(Replication::for_brokers(1), Replication { factor: 1, min_insync: 1 });
        assert_eq!(Replication::for_brokers(2), Replication { factor: 2, min_insync: 1 });
        assert_eq!(Replication::for_brokers(3), Replication { factor: 3, min_insync: 2 });
        assert_eq!(Replication::for_brokers(9), Replication { factor: 3, min_insync: 2 });
        for factor in 1..=5 {
            let r = Replication::with_factor(factor);
            assert!(r.min_insync >= 1 && r.min_insync <= r.factor);
            // One replica may be lost without refusing writes, once there are two.
            assert!(factor == 1 || r.min_insync < r.factor, "{r:?}");
        }
        assert_eq!(LOCAL_BOOTSTRAP.split(',').count(), 3);
    }

    #[test]
    fn file_stems_round_trip_and_keys_are_columns() {
        for source in RawSource::ALL {
            assert_eq!(RawSource::from_file_stem(source.file_stem()), Some(source));
            if source != RawSource::Json {
                assert_eq!(source.columns()[0], source.key_column());
                for column in source.doc_id_columns() {
                    assert!(source.columns().contains(column));
                }
            }
        }
    }
}

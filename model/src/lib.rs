//! The shared model of imdb-search.
//!
//! Every process of the pipeline (ingest, indexer, api, search-node clients)
//! agrees on what travels between them through this crate alone: the document
//! types, the Kafka topic names with their partition counts and keys, the
//! partitioning function, the Elasticsearch index names and the genre
//! vocabulary, and the typed sizes and durations every command line reads. It
//! depends on `serde` and nothing else, so that any crate can use it without
//! pulling in a runtime.

pub mod docs;
pub mod fields;
pub mod genre;
pub mod ids;
pub mod index;
pub mod partition;
pub mod topics;
pub mod units;

pub use docs::{Aka, CastMember, DeadLetter, EpisodeInfo, KnownFor, PersonDoc, PersonRef, TITLE_TYPES, TitleDoc};
pub use genre::{normalise_genre, normalise_genres};
pub use ids::{IdKind, ImdbId};
pub use partition::partition_for_key;
pub use topics::{RawSource, Topic};

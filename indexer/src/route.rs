//! From a Kafka message of an enrichment topic to a bulk action: which
//! index, which document id, which source.
//!
//! Contract: a title goes to exactly one index, chosen by its first genre
//! (`<prefix>-titles-<genre>`, the fallback index without a known genre);
//! a person to the people index. The document id is the IMDb id, so a
//! replay overwrites instead of duplicating (the pipeline keeps each
//! partition's messages in order, so a newer version is never overwritten by
//! an older one). The source is sent as it
//! came: the search engine's mapping is the judge of its fields, and what it
//! rejects goes to the dead-letter topic. A message that is not a JSON
//! object with an id is rejected here, with its reason.

use imdb_model::index::IndexNames;
use imdb_model::topics::{PEOPLE, TITLES};
use serde_json::Value;

use crate::offsets::Partition;

/// A document ready for a bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// Target index.
    pub index: String,
    /// Document id (the IMDb id).
    pub id: String,
    /// The source JSON text, as received.
    pub source: String,
    /// Where it came from.
    pub partition: Partition,
    /// Its offset.
    pub offset: i64,
}

/// A message that cannot become a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Why.
    pub reason: String,
    /// The payload as text (lossy for invalid UTF-8).
    pub record: String,
    /// Where it came from.
    pub partition: Partition,
    /// Its offset.
    pub offset: i64,
    /// Its key, if any.
    pub key: Option<String>,
}

/// Routes one message.
pub fn route(
    names: &IndexNames,
    partition: &Partition,
    offset: i64,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
) -> Result<Routed, Rejected> {
    let reject = |reason: String| Rejected {
        reason,
        record: payload.map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default(),
        partition: partition.clone(),
        offset,
        key: key.map(|k| String::from_utf8_lossy(k).into_owned()),
    };
    let Some(payload) = payload else { return Err(reject("message has no payload".into())) };
    let text = std::str::from_utf8(payload).map_err(|e| reject(format!("payload is not UTF-8: {e}")))?;
    let doc: Value = serde_json::from_str(text).map_err(|e| reject(format!("payload is not JSON: {e}")))?;
    let Value::Object(fields) = &doc else { return Err(reject("payload is not a JSON object".into())) };
    let (id_field, index) = match partition.0.as_str() {
        t if t == TITLES.name => {
            let genre = fields.get("genres").and_then(Value::as_array).and_then(|g| g.first()).and_then(Value::as_str);
            ("tconst", names.title_index(genre))
        }
        t if t == PEOPLE.name => ("nconst", names.people_index()),
        other => return Err(reject(format!("no route for topic {other}"))),
    };
    let id = match fields.get(id_field) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 512 => s.clone(),
        _ => return Err(reject(format!("document has no [{id_field}] string"))),
    };
    Ok(Routed { index, id, source: text.to_owned(), partition: partition.clone(), offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(offset: i64, payload: &str) -> Result<Routed, Rejected> {
        route(&IndexNames::default(), &(TITLES.name.into(), 2), offset, Some(b"k"), Some(payload.as_bytes()))
    }

    #[test]
    fn titles_go_to_their_first_genre_and_keep_their_source() {
        let r = titles(7, r#"{"tconst":"tt0113277","primary_title":"Heat","genres":["action","crime"]}"#).unwrap();
        assert_eq!((r.index.as_str(), r.id.as_str(), r.offset), ("imdb-titles-action", "tt0113277", 7));
        assert!(r.source.contains("\"Heat\""));
        assert_eq!(titles(1, r#"{"tconst":"tt1","genres":["space-opera"]}"#).unwrap().index, "imdb-titles-other");
        assert_eq!(titles(1, r#"{"tconst":"tt1"}"#).unwrap().index, "imdb-titles-other");
        let p = route(&IndexNames::default(), &(PEOPLE.name.into(), 0), 3, None, Some(br#"{"nconst":"nm1"}"#)).unwrap();
        assert_eq!(p.index, "imdb-people");
    }

    #[test]
    fn unusable_messages_are_rejected_with_a_reason() {
        assert!(titles(1, "not json").unwrap_err().reason.contains("not JSON"));
        assert!(titles(1, "[1]").unwrap_err().reason.contains("not a JSON object"));
        assert!(titles(1, r#"{"tconst":5}"#).unwrap_err().reason.contains("[tconst]"));
        let bad = route(&IndexNames::default(), &(TITLES.name.into(), 0), 9, None, Some(&[0xff, 0xfe])).unwrap_err();
        assert!(bad.reason.contains("UTF-8") && bad.offset == 9);
        assert!(route(&IndexNames::default(), &(TITLES.name.into(), 0), 9, None, None).is_err());
    }
}

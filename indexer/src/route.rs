//! From a Kafka message of an enrichment topic to a bulk action: which
//! index, which document id, which source.
//!
//! Contract: a title goes to exactly one index, chosen by its first genre
//! (`<prefix>-titles-<genre>`, the fallback index without a known genre);
//! a person to the people index. The document id is the IMDb id, so a
//! replay overwrites instead of duplicating (the pipeline keeps each
//! partition's messages in order, so a newer version is never overwritten by
//! an older one). The source is sent as it came, once it reads as the
//! model's document ([`TitleDoc`], [`PersonDoc`]): what the API reads back
//! is that type, so a document of other types (a `null` list, a year as
//! text, a float vote count) would fail every search that finds it; it is
//! rejected here instead, with serde's reason. Beyond types, the search
//! engine's mapping is the judge of the fields, and what it rejects goes to
//! the dead-letter topic. A message that is not a JSON object with an id is
//! rejected here, with its reason.

use imdb_model::fields;
use imdb_model::index::IndexNames;
use imdb_model::topics::{PEOPLE, TITLES};
use imdb_model::{PersonDoc, RawSource, TitleDoc};
use serde_json::Value;

use crate::offsets::PartitionId;

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
    pub partition: PartitionId,
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
    pub partition: PartitionId,
    /// Its offset.
    pub offset: i64,
    /// Its key, if any.
    pub key: Option<String>,
}

/// Routes one message: one document for an enrichment topic, one per row
/// for a raw topic (a batch of JSON lines, the raw indexes' route that
/// Logstash takes in production; ids are the row's IMDb key columns joined
/// by `-`, as in `logstash/`).
pub fn route(
    names: &IndexNames,
    partition: &PartitionId,
    offset: i64,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
) -> Vec<Result<Routed, Rejected>> {
    let reject = |reason: String, record: Option<&[u8]>| Rejected {
        reason,
        record: record.map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default(),
        partition: partition.clone(),
        offset,
        key: key.map(|k| String::from_utf8_lossy(k).into_owned()),
    };
    let Some(payload) = payload else { return vec![Err(reject("message has no payload".into(), None))] };
    let text = match std::str::from_utf8(payload) {
        Ok(t) => t,
        Err(e) => return vec![Err(reject(format!("payload is not UTF-8: {e}"), Some(payload)))],
    };
    if let Some(source) = RawSource::ALL.into_iter().find(|s| s.topic().name == partition.topic) {
        let index = names.raw_index(source);
        return text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                parse(line)
                    .and_then(|doc| one(&index, source.doc_id_columns(), &doc, line, partition, offset))
                    .map_err(|why| reject(why, Some(line.as_bytes())))
            })
            .collect();
    }
    // Enrichment documents are read once, as the model's type: the index
    // and the id come from it, and the check that the API can read it back
    // costs no second parse.
    let routed = match partition.topic.as_str() {
        t if t == TITLES.name => document::<TitleDoc>(text, "title").and_then(|doc| {
            let index = names.title_index(doc.genres.first().map(String::as_str));
            routed(index, &doc.tconst, fields::title::TCONST, text, partition, offset)
        }),
        t if t == PEOPLE.name => document::<PersonDoc>(text, "person")
            .and_then(|doc| routed(names.people_index(), &doc.nconst, fields::person::NCONST, text, partition, offset)),
        other => Err(format!("no route for topic {other}")),
    };
    vec![routed.map_err(|why| reject(why, Some(payload)))]
}

/// `text` as a `T` (the API reads it back as one). On failure, what is
/// wrong with the message as a whole first (not JSON, not an object),
/// else the field serde stopped at.
fn document<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let why = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        // Trailing characters: the whole-message parse below names them.
        Ok(doc) if de.end().is_ok() => return Ok(doc),
        Ok(_) => String::new(),
        Err(e) => format!("not a {what} document of the model: [{}]: {}", e.path(), e.inner()),
    };
    Err(match parse(text) {
        Err(not_json) => not_json,
        Ok(v) if !v.is_object() => "payload is not a JSON object".into(),
        Ok(_) => why,
    })
}

/// A document of `index` with the IMDb id `id` (from `column`); the source
/// is sent as the text it came in.
fn routed(
    index: String,
    id: &str,
    column: &str,
    text: &str,
    partition: &PartitionId,
    offset: i64,
) -> Result<Routed, String> {
    if id.is_empty() {
        return Err(format!("document has no [{column}] string"));
    }
    if id.len() > 512 {
        return Err("document id over 512 bytes".into());
    }
    Ok(Routed { index, id: id.to_owned(), source: text.to_owned(), partition: partition.clone(), offset })
}

fn parse(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("payload is not JSON: {e}"))
}

/// One JSON object into a document of `index`, its id from `id_columns`;
/// the source is sent as the text it came in.
fn one(
    index: &str,
    id_columns: &[&str],
    doc: &Value,
    text: &str,
    partition: &PartitionId,
    offset: i64,
) -> Result<Routed, String> {
    let Value::Object(fields) = doc else { return Err("payload is not a JSON object".into()) };
    let mut parts = Vec::with_capacity(id_columns.len());
    for column in id_columns {
        match fields.get(*column) {
            Some(Value::String(s)) if !s.is_empty() => parts.push(s.as_str()),
            _ => return Err(format!("document has no [{column}] string")),
        }
    }
    let id = parts.join("-");
    if id.len() > 512 {
        return Err("document id over 512 bytes".into());
    }
    Ok(Routed { index: index.to_owned(), id, source: text.to_owned(), partition: partition.clone(), offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_of_other_types_than_the_model_are_rejected_with_the_reason() {
        assert!(titles(1, r#"{"tconst":"tt1","primary_title":"A","genres":["drama"],"start_year":1999}"#).is_ok());
        for bad in [
            r#"{"tconst":"tt1","primary_title":"A","genres":null}"#,
            r#"{"tconst":"tt1","primary_title":"A","start_year":"1999"}"#,
            r#"{"tconst":"tt1","primary_title":"A","cast":[{"nconst":"nm1","ordering":-1}]}"#,
            r#"{"tconst":"tt1","primary_title":"A","num_votes":1500.5}"#,
            r#"{"tconst":"tt1","primary_title":"A","genres":"drama"}"#,
        ] {
            let e = titles(1, bad).unwrap_err();
            assert!(e.reason.starts_with("not a title document of the model: ["), "{bad}: {}", e.reason);
        }
    }

    #[test]
    fn the_reason_names_the_field() {
        let e = titles(1, r#"{"tconst":"tt1","primary_title":"A","start_year":"1999"}"#).unwrap_err();
        assert!(e.reason.contains("[start_year]"), "{}", e.reason);
        let e =
            titles(1, r#"{"tconst":"tt1","primary_title":"A","cast":[{"nconst":"nm1","ordering":-1}]}"#).unwrap_err();
        assert!(e.reason.contains("[cast[0].ordering]"), "{}", e.reason);
    }

    fn titles(offset: i64, payload: &str) -> Result<Routed, Rejected> {
        route(&IndexNames::default(), &PartitionId::new(TITLES.name, 2), offset, Some(b"k"), Some(payload.as_bytes()))
            .remove(0)
    }

    #[test]
    fn titles_go_to_their_first_genre_and_keep_their_source() {
        let r = titles(7, r#"{"tconst":"tt0113277","primary_title":"Heat","genres":["action","crime"]}"#).unwrap();
        assert_eq!((r.index.as_str(), r.id.as_str(), r.offset), ("imdb-titles-action", "tt0113277", 7));
        assert!(r.source.contains("\"Heat\""));
        assert_eq!(titles(1, r#"{"tconst":"tt1","genres":["space-opera"]}"#).unwrap().index, "imdb-titles-other");
        assert_eq!(titles(1, r#"{"tconst":"tt1"}"#).unwrap().index, "imdb-titles-other");
        let p = route(&IndexNames::default(), &PartitionId::new(PEOPLE.name, 0), 3, None, Some(br#"{"nconst":"nm1"}"#))
            .remove(0)
            .unwrap();
        assert_eq!(p.index, "imdb-people");
    }

    #[test]
    fn unusable_messages_are_rejected_with_a_reason() {
        assert!(titles(1, "not json").unwrap_err().reason.contains("not JSON"));
        assert!(titles(1, "[1]").unwrap_err().reason.contains("not a JSON object"));
        assert!(titles(1, r#"{"tconst":5}"#).unwrap_err().reason.contains("[tconst]"));
        let bad = route(&IndexNames::default(), &PartitionId::new(TITLES.name, 0), 9, None, Some(&[0xff, 0xfe]))
            .remove(0)
            .unwrap_err();
        assert!(bad.reason.contains("UTF-8") && bad.offset == 9);
        assert!(route(&IndexNames::default(), &PartitionId::new(TITLES.name, 0), 9, None, None).remove(0).is_err());
    }

    #[test]
    fn raw_messages_become_one_document_per_row() {
        let topic = RawSource::TitlePrincipals.topic().name;
        let batch = "{\"tconst\":\"tt1\",\"ordering\":\"1\",\"nconst\":\"nm1\"}\n{\"tconst\":\"tt1\",\"ordering\":\"2\"}\n{\"tconst\":\"tt2\"}\n";
        let routed =
            route(&IndexNames::default(), &PartitionId::new(topic, 4), 11, Some(b"tt1"), Some(batch.as_bytes()));
        assert_eq!(routed.len(), 3);
        let first = routed[0].as_ref().unwrap();
        assert_eq!((first.index.as_str(), first.id.as_str(), first.offset), ("imdb-raw-title-principals", "tt1-1", 11));
        assert_eq!(routed[1].as_ref().unwrap().id, "tt1-2");
        assert!(
            routed[2].as_ref().unwrap_err().reason.contains("[ordering]"),
            "a row without its key is rejected alone"
        );
    }
}

//! From cluster answers to the API's JSON: hits as flat title and person
//! objects with the API's own field names (`id`, `title`, `year`,
//! `rating`, `votes`, ...), facets as `{value, count}` lists. Clients never
//! see index names, scores' internals or the cluster's field layout.
//!
//! Hits arrive as the model's documents ([`TitleDoc`], [`PersonDoc`]):
//! the field names the indexer wrote are the struct's, so nothing here
//! spells a cluster field name except through [`imdb_model::fields`].

use std::collections::HashMap;

use imdb_model::fields::title as field;
use imdb_model::{CastMember, PersonDoc, PersonRef, TitleDoc};
use serde_json::{Map, Value, json};

use crate::cluster::{Bucket, Buckets, Hit, SearchAnswer};

/// Top-billed cast members shown in a search hit.
pub const HIT_CAST: usize = 5;

/// A rating as the indexer wrote it: `f32` has the value's shortest
/// decimal form (`8.1`); widened to `f64` as is, it would show its binary
/// error (`8.100000381469727`).
fn decimal(value: f32) -> Value {
    value.to_string().parse::<f64>().map_or(Value::Null, |v| json!(v))
}

fn person_ref(p: &PersonRef) -> Value {
    json!({"id": p.nconst, "name": p.name})
}

fn cast_member(c: &CastMember) -> Value {
    json!({"id": c.nconst, "name": c.name, "category": c.category, "characters": c.characters})
}

/// A title search hit; `full` adds writers, the whole cast, alternative
/// titles and episode details (the title page).
pub fn title(doc: &TitleDoc, highlight: &HashMap<String, Vec<String>>, full: bool) -> Value {
    let cast: Vec<Value> = doc.cast.iter().take(if full { usize::MAX } else { HIT_CAST }).map(cast_member).collect();
    let mut hit = json!({
        "id": doc.tconst,
        "title": doc.primary_title,
        "original_title": doc.original_title.as_ref().unwrap_or(&doc.primary_title),
        "type": doc.title_type,
        "year": doc.start_year,
        "end_year": doc.end_year,
        "genres": doc.genres,
        "rating": doc.average_rating.map_or(Value::Null, decimal),
        "votes": doc.num_votes,
        "runtime": doc.runtime_minutes,
        "adult": doc.is_adult,
        "directors": doc.directors.iter().map(person_ref).collect::<Vec<_>>(),
    });
    if full {
        hit["writers"] = json!(doc.writers.iter().map(person_ref).collect::<Vec<_>>());
        hit["akas"] = json!(doc.akas);
        hit["cast"] = json!(cast);
        let extras = [
            ("episode", doc.episode.as_ref().map(|e| json!(e))),
            ("release_date", doc.release_date.as_ref().map(|d| json!(d))),
            ("mpaa_rating", doc.mpaa_rating.as_ref().map(|r| json!(r))),
            ("distributor", doc.distributor.as_ref().map(|d| json!(d))),
        ];
        for (key, value) in extras {
            if let Some(v) = value {
                hit[key] = v;
            }
        }
    } else {
        hit["top_cast"] = json!(cast);
    }
    let mut marked = Map::new();
    for (field, key) in [(field::PRIMARY_TITLE, "title"), (field::ORIGINAL_TITLE, "original_title")] {
        if let Some(text) = highlight.get(field).and_then(|f| f.first()) {
            marked.insert(key.to_owned(), json!(text));
        }
    }
    if !marked.is_empty() {
        hit["highlight"] = Value::Object(marked);
    }
    hit
}

/// A title as a suggestion: just enough to show and link it.
pub fn title_suggestion(doc: &TitleDoc) -> Value {
    json!({"id": doc.tconst, "title": doc.primary_title, "year": doc.start_year, "type": doc.title_type, "votes": doc.num_votes})
}

/// A person hit or page.
pub fn person(doc: &PersonDoc) -> Value {
    let known_for: Vec<Value> = doc
        .known_for
        .iter()
        .map(|k| json!({"id": k.tconst, "title": k.title, "year": k.start_year, "type": k.title_type, "votes": k.num_votes}))
        .collect();
    json!({
        "id": doc.nconst,
        "name": doc.primary_name,
        "birth_year": doc.birth_year,
        "death_year": doc.death_year,
        "professions": doc.professions,
        "known_for": known_for,
        "known_for_votes": doc.known_for_votes,
    })
}

/// A person as a suggestion.
pub fn person_suggestion(doc: &PersonDoc) -> Value {
    json!({"id": doc.nconst, "name": doc.primary_name, "professions": doc.professions, "birth_year": doc.birth_year})
}

/// The hits of a search answer, each turned by `f`.
pub fn hits<T, A>(answer: &SearchAnswer<T, A>, f: impl Fn(&Hit<T>) -> Value) -> Vec<Value> {
    answer.hits.hits.iter().map(f).collect()
}

/// A bucket list as `[{key: ..., "count": n}]`.
pub fn buckets(aggregation: &Buckets, key: &str) -> Vec<Value> {
    aggregation.buckets.iter().map(|b: &Bucket| json!({key: b.key, "count": b.doc_count})).collect()
}

/// The facets of a title search.
#[derive(Debug, Default, serde::Deserialize)]
pub struct FacetAggs {
    /// By genre.
    #[serde(default)]
    pub genres: Buckets,
    /// By title type.
    #[serde(default)]
    pub types: Buckets,
    /// By decade (a histogram: float keys).
    #[serde(default)]
    pub decades: Buckets,
    /// By rating range.
    #[serde(default)]
    pub ratings: Buckets,
}

/// Facets from the aggregations of a title search.
pub fn facets(aggs: &FacetAggs) -> Value {
    let decades: Vec<Value> = aggs
        .decades
        .buckets
        .iter()
        .map(|b| json!({"decade": b.key.as_f64().map(whole), "count": b.doc_count}))
        .collect();
    json!({
        "genres": buckets(&aggs.genres, "value"),
        "types": buckets(&aggs.types, "value"),
        "decades": decades,
        "ratings": buckets(&aggs.ratings, "range"),
    })
}

/// A histogram key or metric that is a year or a count, as an integer (the
/// cluster answers them as floats).
#[allow(clippy::cast_possible_truncation, reason = "years and counts fit i64; the value is rounded first")]
pub fn whole(value: f64) -> i64 {
    value.round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> TitleDoc {
        serde_json::from_value(json!({
            "tconst": "tt0068646", "title_type": "movie", "primary_title": "The Godfather", "is_adult": false,
            "start_year": 1972, "runtime_minutes": 175, "genres": ["crime", "drama"], "average_rating": 8.1,
            "num_votes": 2000000, "directors": [{"nconst": "nm0000338", "name": "Francis Ford Coppola"}],
            "cast": (1..=8).map(|i| json!({"nconst": format!("nm{i}"), "name": format!("Actor {i}"), "category": "actor", "ordering": i})).collect::<Vec<_>>(),
            "akas": [{"title": "Il padrino", "region": "IT", "is_original": false}]
        }))
        .unwrap()
    }

    #[test]
    fn a_hit_is_flat_with_top_cast_and_highlight() {
        let highlight = HashMap::from([("primary_title".to_owned(), vec!["The <em>Godfather</em>".to_owned()])]);
        let hit = title(&source(), &highlight, false);
        assert_eq!(hit["id"], "tt0068646");
        assert_eq!(hit["title"], "The Godfather");
        assert_eq!(hit["original_title"], "The Godfather", "defaults to the title");
        assert_eq!(hit["year"], 1972);
        assert_eq!(hit["votes"], 2000000);
        assert_eq!(hit["directors"][0]["name"], "Francis Ford Coppola");
        assert_eq!(hit["top_cast"].as_array().unwrap().len(), HIT_CAST);
        assert_eq!(hit["highlight"]["title"], "The <em>Godfather</em>");
        assert!(hit.get("akas").is_none());
        assert_eq!(hit["rating"].to_string(), "8.1", "as written, not as f32 widened");
    }

    #[test]
    fn the_title_page_has_everything() {
        let page = title(&source(), &HashMap::new(), true);
        assert_eq!(page["cast"].as_array().unwrap().len(), 8);
        assert!(page.get("top_cast").is_none());
        assert_eq!(page["akas"][0]["title"], "Il padrino");
    }

    #[test]
    fn facets_are_value_count_lists() {
        let aggs: FacetAggs = serde_json::from_value(json!({
            "genres": {"buckets": [{"key": "drama", "doc_count": 5}]},
            "types": {"buckets": [{"key": "movie", "doc_count": 4}]},
            "decades": {"buckets": [{"key": 1990.0, "doc_count": 3}]},
            "ratings": {"buckets": [{"key": "8-10", "doc_count": 2}]}
        }))
        .unwrap();
        let f = facets(&aggs);
        assert_eq!(f["genres"], json!([{"value": "drama", "count": 5}]));
        assert_eq!(f["decades"], json!([{"decade": 1990, "count": 3}]));
        assert_eq!(f["ratings"], json!([{"range": "8-10", "count": 2}]));
    }
}

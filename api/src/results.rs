//! From cluster answers to the API's JSON: hits as flat title and person
//! objects with the API's own field names (`id`, `title`, `year`,
//! `rating`, `votes`, ...), facets as `{value, count}` lists. Clients never
//! see index names, scores' internals or the cluster's field layout.

use serde_json::{Map, Value, json};

/// Top-billed cast members shown in a search hit.
pub const HIT_CAST: usize = 5;

fn person_ref(p: &Value) -> Value {
    json!({"id": p["nconst"], "name": p["name"]})
}

/// A title search hit; `full` adds writers, the whole cast, alternative
/// titles and episode details (the title page).
pub fn title(source: &Value, highlight: Option<&Value>, full: bool) -> Value {
    let people = |key: &str| -> Vec<Value> {
        source[key].as_array().map(|a| a.iter().map(person_ref).collect()).unwrap_or_default()
    };
    let cast: Vec<Value> = source["cast"]
        .as_array()
        .map(|a| {
            a.iter()
                .take(if full { usize::MAX } else { HIT_CAST })
                .map(|c| {
                    json!({"id": c["nconst"], "name": c["name"], "category": c["category"],
                           "characters": c.get("characters").cloned().unwrap_or_else(|| json!([]))})
                })
                .collect()
        })
        .unwrap_or_default();
    let mut hit = json!({
        "id": source["tconst"],
        "title": source["primary_title"],
        "original_title": source.get("original_title").cloned().unwrap_or_else(|| source["primary_title"].clone()),
        "type": source["title_type"],
        "year": source["start_year"],
        "end_year": source["end_year"],
        "genres": source.get("genres").cloned().unwrap_or_else(|| json!([])),
        "rating": source["average_rating"],
        "votes": source["num_votes"],
        "runtime": source["runtime_minutes"],
        "adult": source["is_adult"].as_bool().unwrap_or(false),
        "directors": people("directors"),
        "top_cast": cast,
    });
    if full {
        hit["writers"] = json!(people("writers"));
        hit["akas"] = source.get("akas").cloned().unwrap_or_else(|| json!([]));
        for key in ["episode", "release_date", "mpaa_rating", "distributor"] {
            if let Some(v) = source.get(key) {
                hit[key] = v.clone();
            }
        }
        hit["cast"] = hit["top_cast"].take();
        hit.as_object_mut().expect("object").remove("top_cast");
    }
    if let Some(h) = highlight.and_then(Value::as_object) {
        let mut out = Map::new();
        for (field, key) in [("primary_title", "title"), ("original_title", "original_title")] {
            if let Some(text) = h.get(field).and_then(|f| f[0].as_str()) {
                out.insert(key.to_owned(), json!(text));
            }
        }
        if !out.is_empty() {
            hit["highlight"] = Value::Object(out);
        }
    }
    hit
}

/// A person hit or page.
pub fn person(source: &Value) -> Value {
    let known_for: Vec<Value> = source["known_for"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|k| {
                    json!({"id": k["tconst"], "title": k["title"], "year": k["start_year"], "type": k["title_type"],
                           "votes": k["num_votes"]})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": source["nconst"],
        "name": source["primary_name"],
        "birth_year": source["birth_year"],
        "death_year": source["death_year"],
        "professions": source.get("professions").cloned().unwrap_or_else(|| json!([])),
        "known_for": known_for,
        "known_for_votes": source["known_for_votes"],
    })
}

/// The hits of a search answer, each turned by `f(source, highlight)`.
pub fn hits(answer: &Value, f: impl Fn(&Value, Option<&Value>) -> Value) -> Vec<Value> {
    answer["hits"]["hits"]
        .as_array()
        .map(|a| a.iter().map(|h| f(&h["_source"], h.get("highlight"))).collect())
        .unwrap_or_default()
}

/// The total hit count and whether it is exact.
pub fn total(answer: &Value) -> (u64, bool) {
    let t = &answer["hits"]["total"];
    (t["value"].as_u64().unwrap_or(0), t["relation"].as_str() != Some("gte"))
}

/// The last hit's sort values (for the next cursor).
pub fn last_sort(answer: &Value) -> Option<Vec<Value>> {
    answer["hits"]["hits"].as_array()?.last()?["sort"].as_array().cloned()
}

/// Facets from the aggregations of a title search.
pub fn facets(aggs: &Value) -> Value {
    let buckets = |name: &str, key: &str| -> Vec<Value> {
        aggs[name]["buckets"]
            .as_array()
            .map(|a| a.iter().map(|b| json!({key: b["key"], "count": b["doc_count"]})).collect())
            .unwrap_or_default()
    };
    let decades: Vec<Value> = aggs["decades"]["buckets"]
        .as_array()
        .map(|a| {
            a.iter().map(|b| json!({"decade": b["key"].as_f64().map(|k| k as i64), "count": b["doc_count"]})).collect()
        })
        .unwrap_or_default();
    json!({
        "genres": buckets("genres", "value"),
        "types": buckets("types", "value"),
        "decades": decades,
        "ratings": buckets("ratings", "range"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Value {
        json!({
            "tconst": "tt0068646", "title_type": "movie", "primary_title": "The Godfather", "is_adult": false,
            "start_year": 1972, "runtime_minutes": 175, "genres": ["crime", "drama"], "average_rating": 9.2,
            "num_votes": 2000000, "directors": [{"nconst": "nm0000338", "name": "Francis Ford Coppola"}],
            "cast": (1..=8).map(|i| json!({"nconst": format!("nm{i}"), "name": format!("Actor {i}"), "category": "actor", "ordering": i})).collect::<Vec<_>>(),
            "akas": [{"title": "Il padrino", "region": "IT", "is_original": false}]
        })
    }

    #[test]
    fn a_hit_is_flat_with_top_cast_and_highlight() {
        let hit = title(&source(), Some(&json!({"primary_title": ["The <em>Godfather</em>"]})), false);
        assert_eq!(hit["id"], "tt0068646");
        assert_eq!(hit["title"], "The Godfather");
        assert_eq!(hit["original_title"], "The Godfather", "defaults to the title");
        assert_eq!(hit["year"], 1972);
        assert_eq!(hit["votes"], 2000000);
        assert_eq!(hit["directors"][0]["name"], "Francis Ford Coppola");
        assert_eq!(hit["top_cast"].as_array().unwrap().len(), HIT_CAST);
        assert_eq!(hit["highlight"]["title"], "The <em>Godfather</em>");
        assert!(hit.get("akas").is_none());
    }

    #[test]
    fn the_title_page_has_everything() {
        let page = title(&source(), None, true);
        assert_eq!(page["cast"].as_array().unwrap().len(), 8);
        assert!(page.get("top_cast").is_none());
        assert_eq!(page["akas"][0]["title"], "Il padrino");
    }

    #[test]
    fn facets_are_value_count_lists() {
        let aggs = json!({
            "genres": {"buckets": [{"key": "drama", "doc_count": 5}]},
            "types": {"buckets": [{"key": "movie", "doc_count": 4}]},
            "decades": {"buckets": [{"key": 1990.0, "doc_count": 3}]},
            "ratings": {"buckets": [{"key": "8-10", "doc_count": 2}]}
        });
        let f = facets(&aggs);
        assert_eq!(f["genres"], json!([{"value": "drama", "count": 5}]));
        assert_eq!(f["decades"], json!([{"decade": 1990, "count": 3}]));
        assert_eq!(f["ratings"], json!([{"range": "8-10", "count": 2}]));
    }
}

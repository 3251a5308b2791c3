//! The `/api/v1` handlers. Each reads its parameters into typed values
//! (`params.rs`, `query.rs`), makes one cluster round trip (two searches
//! go as one `_msearch`), and shapes the answer (`results.rs`). Errors are
//! `ApiError`s, turned into problem+json in one place (`error.rs`).
//!
//! Successful answers of the read-only search endpoints go through the
//! response cache; the key is the route and the parsed, sorted parameters
//! (the same parse the handler validated),
//! so `?a=1&b=2` and `?b=2&a=1` share an entry.

use std::time::Instant;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use imdb_model::fields::title as field;
use imdb_model::{PersonDoc, TitleDoc};

use crate::State;
use crate::cluster::{Buckets, Metric, SearchAnswer, Unread};
use crate::error::ApiError;
use crate::params::{self, Query};
use crate::query::{self, TitleSearch};
use crate::results::{self, FacetAggs};
use crate::upstream::msearch_item;

type Answer = Result<HttpResponse, ApiError>;

/// Longest `/suggest` text: completions are for what is being typed.
pub const MAX_SUGGEST_CHARS: usize = 100;

/// A JSON 200 from cached or fresh bytes.
fn json_bytes(body: Bytes, cache_hit: bool) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "public, max-age=5"))
        .insert_header(("X-Cache", if cache_hit { "hit" } else { "miss" }))
        .body(body)
}

/// Serves from the cache, or computes, stores and serves.
async fn cached<F>(state: &State, req: &HttpRequest, query: &Query, compute: F) -> Answer
where
    F: Future<Output = Result<Value, ApiError>>,
{
    let key = format!("{}?{}", req.path(), query.canonical());
    if let Some(body) = state.cache.get(&key) {
        state.metrics.cache_hits.inc();
        return Ok(json_bytes(body, true));
    }
    state.metrics.cache_misses.inc();
    let body = Bytes::from(compute.await?.to_string());
    state.cache.put(key, body.clone());
    Ok(json_bytes(body, false))
}

/// `GET /api/v1/search`: titles by text and filters, with facets.
pub async fn search(state: web::Data<State>, req: HttpRequest) -> Answer {
    let query = Query::parse(req.query_string(), &TitleSearch::PARAMS)?;
    let search = TitleSearch::from_query(&query)?;
    cached(&state, &req, &query, async {
        let started = Instant::now();
        let alias = state.names.titles_alias();
        // Exact words first; only a search that finds nothing pays for
        // typo tolerance (see query.rs).
        let mut answer: SearchAnswer<TitleDoc, FacetAggs> =
            state.upstream.search(&alias, search.body(false), true).await?;
        let mut fuzzy = false;
        if search.text.is_some() && answer.total().0 == 0 {
            // Nothing: the words, or only the filters? With filters, a count
            // of the words alone (cheap) tells; typos are looked for only
            // when the words match nothing.
            let words_match = search.has_filters() && state.upstream.count(&alias, search.words_query()).await? > 0;
            if !words_match {
                answer = state.upstream.search(&alias, search.body(true), true).await?;
                fuzzy = true;
            }
        }
        let hits = results::hits(&answer, |h| results::title(&h.source, &h.highlight, false));
        let (total, exact) = answer.total();
        let offset = if search.cursor.is_some() { None } else { Some(u64::from((search.page - 1) * search.size)) };
        let more = hits.len() == search.size as usize && offset.is_none_or(|o| o + (hits.len() as u64) < total);
        let next_cursor = more.then(|| answer.last_sort().map(|s| search.next_cursor(s))).flatten();
        let mut out = json!({
            "total": total,
            "total_exact": exact,
            "page": if search.cursor.is_some() { Value::Null } else { json!(search.page) },
            "size": search.size,
            "took_ms": started.elapsed().as_millis() as u64,
            "fuzzy": fuzzy,
            "hits": hits,
            "next_cursor": next_cursor,
        });
        if search.facets {
            out["facets"] = results::facets(&answer.aggregations);
        }
        Ok(out)
    })
    .await
}

/// `GET /api/v1/suggest`: titles and people whose names start with `q`.
pub async fn suggest(state: web::Data<State>, req: HttpRequest) -> Answer {
    let query = Query::parse(req.query_string(), &["q", "size"])?;
    if query.one("q")?.is_some_and(|q| q.chars().count() > MAX_SUGGEST_CHARS) {
        return Err(ApiError::invalid("q", format!("longer than {MAX_SUGGEST_CHARS} characters")));
    }
    let text = query.text("q")?.ok_or_else(|| ApiError::invalid("q", "required: the characters typed so far"))?;
    let size = query.int("size", 1, 20)?.unwrap_or(8) as u32;
    cached(&state, &req, &query, async {
        let started = Instant::now();
        let titles = state.names.titles_alias();
        let people = state.names.people_index();
        let answers = state
            .upstream
            .msearch(vec![
                (titles.as_str(), query::suggest_titles(&text, size)),
                (people.as_str(), query::suggest_people(&text, size)),
            ])
            .await?;
        let mut answers = answers.into_iter();
        let titles: SearchAnswer<TitleDoc> = msearch_item(answers.next().unwrap_or_default())?;
        let people: SearchAnswer<PersonDoc> = msearch_item(answers.next().unwrap_or_default())?;
        Ok(json!({
            "took_ms": started.elapsed().as_millis() as u64,
            "titles": results::hits(&titles, |h| results::title_suggestion(&h.source)),
            "people": results::hits(&people, |h| results::person_suggestion(&h.source)),
        }))
    })
    .await
}

/// `GET /api/v1/titles/{tconst}`: the whole title.
pub async fn title(state: web::Data<State>, req: HttpRequest, path: web::Path<String>) -> Answer {
    let query = Query::parse(req.query_string(), &[])?;
    let id = params::imdb_id("tconst", &path, "tt")?;
    cached(&state, &req, &query, async {
        // The alias spans the genre indexes, so look the id up by query.
        let body = json!({"size": 1, "query": {"ids": {"values": [id]}}});
        let answer: SearchAnswer<TitleDoc> = state.upstream.search(&state.names.titles_alias(), body, false).await?;
        let hit = results::hits(&answer, |h| results::title(&h.source, &h.highlight, true)).pop();
        hit.ok_or_else(|| ApiError::NotFound(format!("no title {id}")))
    })
    .await
}

/// `GET /api/v1/people/search`: people by name.
pub async fn people_search(state: web::Data<State>, req: HttpRequest) -> Answer {
    let query = Query::parse(req.query_string(), &["q", "profession", "page", "size"])?;
    let text = query.text("q")?.ok_or_else(|| ApiError::invalid("q", "required: a name or part of one"))?;
    let profession = query.one("profession")?.map(profession).transpose()?;
    let (page, size) = query.paging(20)?;
    cached(&state, &req, &query, async {
        let started = Instant::now();
        let body = query::people_search(&text, profession.as_deref(), (page - 1) * size, size);
        let answer: SearchAnswer<PersonDoc> = state.upstream.search(&state.names.people_index(), body, false).await?;
        let (total, exact) = answer.total();
        Ok(json!({
            "total": total, "total_exact": exact, "page": page, "size": size,
            "took_ms": started.elapsed().as_millis() as u64,
            "hits": results::hits(&answer, |h| results::person(&h.source)),
        }))
    })
    .await
}

/// A profession filter value: IMDb's spelling (`actor`, `director`, `writer`, ...).
fn profession(value: &str) -> Result<String, ApiError> {
    let ok = (1..=40).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid("profession", "lower-case letters and `_` only, as IMDb spells it (e.g. director)"))
    }
}

/// `GET /api/v1/people/{nconst}`: a person with their known-for titles.
pub async fn person(state: web::Data<State>, req: HttpRequest, path: web::Path<String>) -> Answer {
    let query = Query::parse(req.query_string(), &[])?;
    let id = params::imdb_id("nconst", &path, "nm")?;
    cached(&state, &req, &query, async {
        let source: PersonDoc = state
            .upstream
            .get(&state.names.people_index(), &id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no person {id}")))?;
        let mut person = results::person(&source);
        // Fill in what the title index knows (rating, votes, genres).
        let ids: Vec<Value> =
            person["known_for"].as_array().map(|a| a.iter().map(|k| k["id"].clone()).collect()).unwrap_or_default();
        if !ids.is_empty() {
            let body = json!({"size": ids.len(), "query": {"ids": {"values": ids}}});
            let answer: SearchAnswer<TitleDoc> =
                state.upstream.search(&state.names.titles_alias(), body, false).await?;
            let found = results::hits(&answer, |h| results::title(&h.source, &h.highlight, false));
            for k in person["known_for"].as_array_mut().into_iter().flatten() {
                if let Some(t) = found.iter().find(|t| t["id"] == k["id"]) {
                    *k = t.clone();
                }
            }
        }
        Ok(person)
    })
    .await
}

/// `GET /api/v1/genres`: every genre with its number of titles.
pub async fn genres(state: web::Data<State>, req: HttpRequest) -> Answer {
    let query = Query::parse(req.query_string(), &[])?;
    cached(&state, &req, &query, async {
        let body = json!({"size": 0, "track_total_hits": true,
                          "aggs": {"genres": {"terms": {"field": field::GENRES, "size": 100}}}});
        let answer: SearchAnswer<Unread, GenreAggs> =
            state.upstream.search(&state.names.titles_alias(), body, false).await?;
        Ok(json!({"genres": results::buckets(&answer.aggregations.genres, "genre")}))
    })
    .await
}

/// `GET /api/v1/stats`: what is indexed.
pub async fn stats(state: web::Data<State>, req: HttpRequest) -> Answer {
    let query = Query::parse(req.query_string(), &[])?;
    cached(&state, &req, &query, async {
        let body = json!({"size": 0, "track_total_hits": true, "aggs": {
            "types": {"terms": {"field": field::TITLE_TYPE, "size": 20}},
            "genres": {"cardinality": {"field": field::GENRES}},
            "rating": {"avg": {"field": field::AVERAGE_RATING}},
            "votes": {"sum": {"field": field::NUM_VOTES}},
            "first_year": {"min": {"field": field::START_YEAR}},
            "last_year": {"max": {"field": field::START_YEAR}}
        }});
        let titles: SearchAnswer<Unread, StatsAggs> =
            state.upstream.search(&state.names.titles_alias(), body, false).await?;
        let people = match state.upstream.count(&state.names.people_index(), None).await {
            Ok(n) => n,
            Err(ApiError::NoIndex) => 0,
            Err(e) => return Err(e),
        };
        let a = &titles.aggregations;
        Ok(json!({
            "titles": titles.total().0,
            "people": people,
            "genres": a.genres.value.map(results::whole),
            "types": results::buckets(&a.types, "type"),
            "average_rating": a.rating.value,
            "total_votes": a.votes.value.map(results::whole),
            "first_year": a.first_year.value.map(results::whole),
            "last_year": a.last_year.value.map(results::whole),
        }))
    })
    .await
}

/// The aggregations of `/genres`.
#[derive(Debug, Default, serde::Deserialize)]
struct GenreAggs {
    #[serde(default)]
    genres: Buckets,
}

/// The aggregations of `/stats`.
#[derive(Debug, Default, serde::Deserialize)]
struct StatsAggs {
    #[serde(default)]
    types: Buckets,
    #[serde(default)]
    genres: Metric,
    #[serde(default)]
    rating: Metric,
    #[serde(default)]
    votes: Metric,
    #[serde(default)]
    first_year: Metric,
    #[serde(default)]
    last_year: Metric,
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the cluster answers and is not red.
pub async fn readyz(state: web::Data<State>) -> Answer {
    let status = state.upstream.health().await?;
    if status == "red" {
        return Err(ApiError::ClusterRed);
    }
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "cluster": status})))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

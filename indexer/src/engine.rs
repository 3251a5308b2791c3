//! The search engine as the indexer sees it: Elasticsearch's REST API
//! (a real cluster in production, imdb-search-node on one machine).
//!
//! Contract: [`Engine::bulk`] sends documents with their IMDb ids and reads
//! the typed answer ([`crate::bulk`]) item by item: indexed, to be retried
//! or rejected for its content. A request that fails as a whole (connection
//! refused, 408, 429, 5xx) is an error to retry; a 400 for the whole request
//! is a bug here and rejects every item with the engine's answer. An answer
//! that is not the API's JSON is [`IndexerError::Malformed`], not a
//! transient failure.
//!
//! Nodes: the engine is one or more node URLs. Requests go to one node
//! after the other (round robin); a node that cannot be reached (refused,
//! timed out) is skipped for that request, which goes to the next one, so
//! a dead node of a cluster costs a retry, not an outage. Only when no
//! node answers is the request an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

pub use crate::bulk::Outcome;
use crate::bulk::{BulkResponse, outcome};
use crate::error::{IndexerError, transient};
use crate::route::Routed;

/// `GET /_cluster/health`, the part read here.
#[derive(Debug, Deserialize)]
struct Health {
    number_of_data_nodes: Option<u64>,
}

/// A search answer's hits, where they are.
#[derive(Debug, Deserialize)]
struct SearchAnswer {
    hits: Hits,
}

#[derive(Debug, Deserialize)]
struct Hits {
    hits: Vec<Hit>,
}

#[derive(Debug, Deserialize)]
struct Hit {
    #[serde(rename = "_index")]
    index: String,
    #[serde(rename = "_id")]
    id: String,
}

fn parse<'a, T: Deserialize<'a>>(what: &'static str, text: &'a str) -> Result<T, IndexerError> {
    serde_json::from_str(text).map_err(|source| IndexerError::Malformed { what, source })
}

/// A blocking client of the search engine.
#[derive(Debug, Clone)]
pub struct Engine {
    http: reqwest::blocking::Client,
    bases: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
}

impl Engine {
    /// A client of the engine at `urls`: one node URL
    /// (`http://127.0.0.1:9200`) or several, comma-separated.
    pub fn new(urls: &str, timeout: Duration) -> Result<Engine, IndexerError> {
        let bases: Vec<String> =
            urls.split(',').map(|u| u.trim().trim_end_matches('/').to_owned()).filter(|u| !u.is_empty()).collect();
        if bases.is_empty() {
            return Err(IndexerError::BadSetting("no search engine URL".into()));
        }
        let http = reqwest::blocking::Client::builder().timeout(timeout).build().map_err(IndexerError::Client)?;
        Ok(Engine { http, bases: Arc::new(bases), next: Arc::new(AtomicUsize::new(0)) })
    }

    /// How many data nodes the cluster has (`GET /_cluster/health`).
    pub fn data_nodes(&self) -> Result<u64, IndexerError> {
        let (status, body) = self.send(reqwest::Method::GET, "/_cluster/health", "application/json", String::new())?;
        if status != 200 {
            return Err(IndexerError::Refused { what: "cluster health".into(), status, body });
        }
        let health: Health = parse("cluster health", &body)?;
        Ok(health.number_of_data_nodes.unwrap_or(1))
    }

    /// Sends a request with a body of `content_type`; the status and the
    /// answer's text.
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        mut body: String,
    ) -> Result<(u16, String), IndexerError> {
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let nodes = self.bases.len();
        let mut attempt = 0;
        loop {
            let base = &self.bases[(first + attempt) % nodes];
            attempt += 1;
            let last = attempt >= nodes;
            let unreachable = |source| IndexerError::Unreachable { node: base.clone(), source };
            let response = match self
                .http
                .request(method.clone(), format!("{base}{path}"))
                .header("content-type", content_type)
                .body(if last { std::mem::take(&mut body) } else { body.clone() })
                .send()
            {
                Ok(response) => response,
                Err(source) if last => return Err(unreachable(source)),
                // Not reached (or no answer in time): the next node.
                Err(source) => {
                    tracing::debug!(node = %base, error = %imdb_telemetry::logging::ErrorChain(&source), "node unreachable; trying the next");
                    continue;
                }
            };
            let status = response.status().as_u16();
            let text = response.text().map_err(unreachable)?;
            return Ok((status, text));
        }
    }

    fn put(&self, path: &str, body: &Value) -> Result<(u16, String), IndexerError> {
        self.send(reqwest::Method::PUT, path, "application/json", body.to_string())
    }

    /// Installs an index template (replacing one of the same name).
    pub fn put_template(&self, name: &str, template: &Value) -> Result<(), IndexerError> {
        let (status, body) = self.put(&format!("/_index_template/{name}"), template)?;
        if status >= 300 {
            return Err(IndexerError::Refused { what: format!("index template {name}"), status, body });
        }
        Ok(())
    }

    /// Puts `template`'s mappings on the existing indexes of `target` (an
    /// index or pattern), so that fields a newer indexer maps also exist in
    /// indexes created before it; none existing yet is fine.
    pub fn update_mappings(&self, target: &str, template: &Value) -> Result<(), IndexerError> {
        let mappings = &template["template"]["mappings"];
        let (status, body) = self.put(&format!("/{target}/_mapping"), mappings)?;
        if status >= 300 && status != 404 {
            return Err(IndexerError::Refused { what: format!("mappings of {target}"), status, body });
        }
        Ok(())
    }

    /// Where documents with these ids are now, under `target` (an index,
    /// alias or pattern): (index, id) pairs. A target that does not exist
    /// yet holds nothing.
    pub fn locate(&self, target: &str, ids: &[&str]) -> Result<Vec<(String, String)>, IndexerError> {
        let body = json!({"size": ids.len(), "_source": false, "query": {"ids": {"values": ids}}});
        let (status, text) =
            self.send(reqwest::Method::POST, &format!("/{target}/_search"), "application/json", body.to_string())?;
        if status == 404 {
            return Ok(Vec::new());
        }
        if status >= 300 {
            let body = truncate(&text).to_owned();
            return Err(IndexerError::Refused { what: "search for existing copies".into(), status, body });
        }
        let answer: SearchAnswer = parse("search for existing copies", &text)?;
        Ok(answer.hits.hits.into_iter().map(|h| (h.index, h.id)).collect())
    }

    /// Deletes documents by (index, id); a document already gone is fine.
    pub fn delete(&self, docs: &[(String, String)]) -> Result<(), IndexerError> {
        let mut body = String::new();
        for (index, id) in docs {
            body.push_str(&json!({"delete": {"_index": index, "_id": id}}).to_string());
            body.push('\n');
        }
        let what = "deleting stale copies";
        let (status, text) = self.send(reqwest::Method::POST, "/_bulk", "application/x-ndjson", body)?;
        if status >= 300 {
            return Err(IndexerError::Refused { what: what.into(), status, body: truncate(&text).to_owned() });
        }
        let answer: BulkResponse = parse(what, &text)?;
        if answer.items.len() != docs.len() {
            return Err(IndexerError::ItemCount { sent: docs.len(), answered: answer.items.len() });
        }
        if let Some(failed) =
            answer.items.iter().map(crate::bulk::BulkItem::result).find(|r| r.status >= 300 && r.status != 404)
        {
            return Err(IndexerError::Refused {
                what: format!("deleting the stale copy {}", failed.id.as_deref().unwrap_or("?")),
                status: failed.status,
                body: truncate(&text).to_owned(),
            });
        }
        Ok(())
    }

    /// Sends one bulk request; one outcome per document, in order.
    pub fn bulk(&self, docs: &[&Routed]) -> Result<Vec<Outcome>, IndexerError> {
        let mut body = String::with_capacity(docs.iter().map(|d| d.source.len() + 96).sum());
        for doc in docs {
            body.push_str(&json!({"index": {"_index": doc.index, "_id": doc.id}}).to_string());
            body.push('\n');
            body.push_str(doc.source.trim_end());
            body.push('\n');
        }
        let (status, text) = self.send(reqwest::Method::POST, "/_bulk", "application/x-ndjson", body)?;
        if transient(status) {
            return Err(IndexerError::Refused { what: "bulk".into(), status, body: truncate(&text).to_owned() });
        }
        if status >= 300 {
            let reason = format!("bulk request refused ({status}): {}", truncate(&text));
            return Ok(docs.iter().map(|_| Outcome::Rejected(reason.clone())).collect());
        }
        let answer: BulkResponse = parse("bulk", &text)?;
        if answer.items.len() != docs.len() {
            return Err(IndexerError::ItemCount { sent: docs.len(), answered: answer.items.len() });
        }
        Ok(answer.items.iter().map(outcome).collect())
    }
}

fn truncate(text: &str) -> &str {
    let end = text.char_indices().nth(500).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// The title analysis: folding (lower-case, elided French articles off:
/// `d'Amélie` is found by `amelie` on every engine; accents off) for
/// matching, edge n-grams of the folded words for as-you-type search.
fn title_analysis() -> Value {
    json!({
        "filter": {"autocomplete_grams": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20}},
        "analyzer": {
            "folding": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "elision", "asciifolding"]},
            "autocomplete": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "elision", "asciifolding", "autocomplete_grams"]}
        },
        "normalizer": {"folding": {"type": "custom", "filter": ["lowercase", "asciifolding"]}}
    })
}

fn name_field() -> Value {
    json!({"type": "text", "analyzer": "folding", "fields": {"keyword": {"type": "keyword", "normalizer": "folding", "ignore_above": 256}}})
}

/// The index template of the per-genre title indexes: exact (keyword),
/// folded, stemmed (english) and edge-n-gram forms of the titles, keywords
/// for facets, numbers for ranges and popularity; the alias over them all.
/// Keys are [`imdb_model::fields`]' names (sub-fields by their last part).
pub fn titles_template(pattern: &str, alias: &str, shards: u32, replicas: u32) -> Value {
    use imdb_model::fields::{person_ref, title};
    let person = json!({"properties": {person_ref::NCONST: {"type": "keyword"}, person_ref::NAME: name_field()}});
    let properties = json!({
        title::TCONST: {"type": "keyword"},
        title::TITLE_TYPE: {"type": "keyword"},
        title::PRIMARY_TITLE: {
            "type": "text",
            "analyzer": "folding",
            "fields": {
                sub_field(title::PRIMARY_TITLE_ENGLISH): {"type": "text", "analyzer": "english"},
                sub_field(title::PRIMARY_TITLE_KEYWORD): {"type": "keyword", "normalizer": "folding", "ignore_above": 512},
                sub_field(title::PRIMARY_TITLE_AUTOCOMPLETE): {"type": "text", "analyzer": "autocomplete", "search_analyzer": "folding"}
            }
        },
        title::ORIGINAL_TITLE: {
            "type": "text",
            "analyzer": "folding",
            "fields": {sub_field(title::ORIGINAL_TITLE_KEYWORD): {"type": "keyword", "normalizer": "folding", "ignore_above": 512}}
        },
        title::IS_ADULT: {"type": "boolean"},
        title::START_YEAR: {"type": "short"},
        title::END_YEAR: {"type": "short"},
        title::RELEASE_DATE: {"type": "date", "format": "strict_date_optional_time||yyyy-MM-dd||yyyy-MM||yyyy"},
        title::RUNTIME_MINUTES: {"type": "integer"},
        title::GENRES: {"type": "keyword"},
        title::AVERAGE_RATING: {"type": "float"},
        title::NUM_VOTES: {"type": "long"},
        title::DIRECTORS: person,
        title::WRITERS: person,
        title::CAST: {"properties": {
            person_ref::NCONST: {"type": "keyword"},
            person_ref::NAME: name_field(),
            person_ref::CATEGORY: {"type": "keyword"},
            person_ref::CHARACTERS: {"type": "text", "analyzer": "folding"},
            "ordering": {"type": "short"}
        }},
        title::AKAS: {"properties": {
            sub_field(title::AKAS_TITLE): {
                "type": "text",
                "analyzer": "folding",
                "fields": {sub_field(title::AKAS_TITLE_KEYWORD): {"type": "keyword", "normalizer": "folding", "ignore_above": 512}}
            },
            "region": {"type": "keyword"},
            "language": {"type": "keyword"},
            "is_original": {"type": "boolean"}
        }},
        title::EPISODE: {"properties": {
            "parent_tconst": {"type": "keyword"},
            "season": {"type": "integer"},
            "episode": {"type": "integer"}
        }},
        title::MPAA_RATING: {"type": "keyword"},
        title::DISTRIBUTOR: {"type": "keyword"}
    });
    template(pattern, shards, replicas, properties, json!({alias: {}}))
}

/// The index template of the people index.
pub fn people_template(index: &str, shards: u32, replicas: u32) -> Value {
    use imdb_model::fields::{known_for, person};
    let properties = json!({
        person::NCONST: {"type": "keyword"},
        person::PRIMARY_NAME: {
            "type": "text",
            "analyzer": "folding",
            "fields": {
                sub_field(person::PRIMARY_NAME_KEYWORD): {"type": "keyword", "normalizer": "folding", "ignore_above": 256},
                sub_field(person::PRIMARY_NAME_AUTOCOMPLETE): {"type": "text", "analyzer": "autocomplete", "search_analyzer": "folding"}
            }
        },
        person::BIRTH_YEAR: {"type": "short"},
        person::DEATH_YEAR: {"type": "short"},
        person::PROFESSIONS: {"type": "keyword"},
        person::KNOWN_FOR: {"properties": {
            known_for::TCONST: {"type": "keyword"},
            known_for::TITLE: {"type": "text", "analyzer": "folding"},
            known_for::START_YEAR: {"type": "short"},
            known_for::TITLE_TYPE: {"type": "keyword"},
            known_for::NUM_VOTES: {"type": "long"}
        }},
        person::KNOWN_FOR_VOTES: {"type": "long"}
    });
    template(index, shards, replicas, properties, json!({}))
}

/// The last part of a dotted field path: the key of a sub-field
/// (`primary_title.keyword` → `keyword`) or of an object's field.
fn sub_field(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// An index template for `pattern`: the title analyzers, mapped fields only
/// (`dynamic: false`: an unexpected field is kept in `_source`, not indexed),
/// and `aliases` for every index it creates.
fn template(pattern: &str, shards: u32, replicas: u32, properties: Value, aliases: Value) -> Value {
    json!({
        "index_patterns": [pattern],
        "priority": 100,
        "template": {
            "settings": {"number_of_shards": shards, "number_of_replicas": replicas, "analysis": title_analysis()},
            "mappings": {"dynamic": false, "properties": properties},
            "aliases": aliases
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path a template maps: objects' fields through `properties`,
    /// multi-fields through `fields`, dotted.
    fn mapped_paths(properties: &Value) -> Vec<String> {
        fn walk(prefix: &str, properties: &Value, out: &mut Vec<String>) {
            for (key, mapping) in properties.as_object().into_iter().flatten() {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                if let Some(inner) = mapping.get("properties") {
                    walk(&path, inner, out);
                    continue;
                }
                out.push(path.clone());
                walk(&path, mapping.get("fields").unwrap_or(&Value::Null), out);
            }
        }
        let mut out = Vec::new();
        walk("", properties, &mut out);
        out
    }

    /// The templates are `dynamic: false`: a field of the documents they do
    /// not map would be kept in `_source` and silently never indexed.
    #[test]
    fn templates_map_every_field_of_the_documents() {
        use imdb_model::fields::{person, title};
        let titles = titles_template("imdb-titles-*", "imdb-titles", 1, 0);
        assert_eq!(titles["template"]["mappings"]["dynamic"], false);
        let mapped = mapped_paths(&titles["template"]["mappings"]["properties"]);
        for path in title::ALL {
            assert!(mapped.iter().any(|m| m == path), "title field {path} is not mapped");
        }
        for sub in [
            title::PRIMARY_TITLE_KEYWORD,
            title::PRIMARY_TITLE_ENGLISH,
            title::PRIMARY_TITLE_AUTOCOMPLETE,
            title::ORIGINAL_TITLE_KEYWORD,
            title::AKAS_TITLE_KEYWORD,
        ] {
            assert!(mapped.iter().any(|m| m == sub), "title sub-field {sub} is not mapped");
        }
        let people = people_template("imdb-people", 1, 0);
        assert_eq!(people["template"]["mappings"]["dynamic"], false);
        let mapped = mapped_paths(&people["template"]["mappings"]["properties"]);
        for path in person::ALL.into_iter().chain([person::PRIMARY_NAME_KEYWORD, person::PRIMARY_NAME_AUTOCOMPLETE]) {
            assert!(mapped.iter().any(|m| m == path), "person field {path} is not mapped");
        }
    }

    #[test]
    fn the_walk_sees_a_missing_field() {
        let mapped = mapped_paths(&json!({"a": {"type": "keyword"}, "b": {"properties": {"c": {"type": "long"}}}}));
        assert_eq!(mapped, ["a", "b.c"]);
    }

    #[test]
    fn templates_name_their_pattern_and_alias() {
        let t = titles_template("imdb-titles-*", "imdb-titles", 2, 0);
        assert_eq!(t["index_patterns"][0], "imdb-titles-*");
        assert!(t["template"]["aliases"]["imdb-titles"].is_object());
        assert_eq!(t["template"]["settings"]["number_of_shards"], 2);
        assert_eq!(people_template("imdb-people", 1, 1)["index_patterns"][0], "imdb-people");
    }
}

//! The official Rust client (`elasticsearch` 8.x from crates.io) against a
//! real `imdb-search-node`: the project's API will talk to its search
//! engine through this client, so the node must speak what the client sends
//! (its headers, NDJSON bulk bodies, URL shapes) and answer what it parses.
//!
//! Contract checked: `info` (an 8.x version and the product header 8.x
//! clients insist on), index creation with a mapping (and the error shape
//! of a second creation), `bulk`, `indices.refresh`, `search` with a match
//! query and a terms aggregation, `count`, `get` and `delete`.
//!
//! The client is async: the node handle (blocking HTTP) lives outside the
//! runtime, which runs only the client calls. Needs
//! `cargo build --workspace --bins` first, as `scripts/test.sh` does.

use anyhow::{Context, Result, ensure};
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::Transport;
use elasticsearch::indices::{IndicesCreateParts, IndicesRefreshParts};
use elasticsearch::{
    BulkOperation, BulkOperations, BulkParts, CountParts, DeleteParts, Elasticsearch, GetParts, SearchParts,
};
use imdb_integration_tests::search_node::SearchNode;
use serde_json::{Value, json};

const INDEX: &str = "movies";

/// The documents: ids and sources; three have "space" in the title.
fn movies() -> Vec<(&'static str, Value)> {
    vec![
        ("tt1", json!({"title": "Space Odyssey", "genres": ["Sci-Fi", "Adventure"], "year": 1968, "rating": 8.3})),
        ("tt2", json!({"title": "Lost in Space", "genres": ["Sci-Fi", "Family"], "year": 1998, "rating": 5.2})),
        ("tt3", json!({"title": "The Space Between Us", "genres": ["Romance", "Sci-Fi"], "year": 2017, "rating": 6.4})),
        ("tt4", json!({"title": "Casablanca", "genres": ["Romance", "Drama"], "year": 1942, "rating": 8.5})),
        ("tt5", json!({"title": "Heat", "genres": ["Crime", "Drama"], "year": 1995, "rating": 8.3})),
        ("tt6", json!({"title": "Alien", "genres": ["Horror", "Sci-Fi"], "year": 1979, "rating": 8.5})),
    ]
}

/// Status and JSON body of a client answer; a non-JSON body is an error
/// naming the call.
async fn answer(what: &str, response: Response) -> Result<(u16, Value)> {
    let status = response.status_code().as_u16();
    let text = response.text().await.with_context(|| format!("{what}: reading the body"))?;
    let body = serde_json::from_str(&text).with_context(|| format!("{what}: answered non-JSON ({status}): {text}"))?;
    Ok((status, body))
}

/// Like [`answer`], but only a 2xx status is fine.
async fn success(what: &str, response: Response) -> Result<Value> {
    let (status, body) = answer(what, response).await?;
    ensure!((200..300).contains(&status), "{what}: answered {status}: {body}");
    Ok(body)
}

#[test]
fn the_official_rust_client_indexes_searches_counts_gets_and_deletes() -> Result<()> {
    let node = SearchNode::start()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(exercise(&node.url())).map_err(|e| e.context(format!("node log:\n{}", node.log_tail(30))))
}

async fn exercise(url: &str) -> Result<()> {
    let client = Elasticsearch::new(Transport::single_node(url)?);

    // info: the header is checked here because this client, unlike the
    // Python and Java ones, does not check it itself.
    let response = client.info().send().await?;
    let product = response.headers().get("x-elastic-product").and_then(|v| v.to_str().ok()).map(str::to_owned);
    ensure!(product.as_deref() == Some("Elasticsearch"), "info: X-Elastic-Product is {product:?}");
    let info = success("info", response).await?;
    let version = info["version"]["number"].as_str().context("info without version.number")?;
    ensure!(version.starts_with("8."), "info: version {version} is not 8.x");

    let mapping = json!({
        "settings": {"number_of_shards": 2, "number_of_replicas": 0},
        "mappings": {"properties": {
            "title": {"type": "text"},
            "genres": {"type": "keyword"},
            "year": {"type": "integer"},
            "rating": {"type": "float"}
        }}
    });
    let created = success(
        "create",
        client.indices().create(IndicesCreateParts::Index(INDEX)).body(mapping.clone()).send().await?,
    )
    .await?;
    ensure!(created["acknowledged"] == true && created["index"] == INDEX, "create: {created}");
    // A second creation fails in the shape the client parses as an exception.
    let again = client.indices().create(IndicesCreateParts::Index(INDEX)).body(mapping).send().await?;
    ensure!(again.status_code().as_u16() == 400, "creating {INDEX} twice answered {}", again.status_code());
    let exception = again.exception().await?.context("no exception for a second create")?;
    ensure!(
        exception.error().ty() == Some("resource_already_exists_exception"),
        "second create: error type {:?}",
        exception.error().ty()
    );

    let mut ops = BulkOperations::new();
    for (id, source) in movies() {
        ops.push(BulkOperation::index(source).id(id))?;
    }
    let bulk = success("bulk", client.bulk(BulkParts::Index(INDEX)).body(vec![ops]).send().await?).await?;
    ensure!(bulk["errors"] == false, "bulk: {bulk}");
    let items = bulk["items"].as_array().context("bulk without items")?;
    let ids: Vec<&str> = items.iter().filter_map(|i| i["index"]["_id"].as_str()).collect();
    let want: Vec<&str> = movies().iter().map(|(id, _)| *id).collect();
    ensure!(ids == want, "bulk: items {ids:?}, expected {want:?} in order");
    ensure!(items.iter().all(|i| i["index"]["status"] == 201 && i["index"]["result"] == "created"), "bulk: {bulk}");

    let refreshed =
        success("refresh", client.indices().refresh(IndicesRefreshParts::Index(&[INDEX])).send().await?).await?;
    ensure!(refreshed["_shards"]["failed"] == 0, "refresh: {refreshed}");

    let query = json!({
        "query": {"match": {"title": "space"}},
        "aggs": {"genres": {"terms": {"field": "genres"}}},
        "size": 10
    });
    let found = success("search", client.search(SearchParts::Index(&[INDEX])).body(query).send().await?).await?;
    ensure!(found["hits"]["total"]["value"] == 3, "search: {found}");
    let mut hit_ids: Vec<&str> = found["hits"]["hits"]
        .as_array()
        .context("search without hits")?
        .iter()
        .filter_map(|h| h["_id"].as_str())
        .collect();
    hit_ids.sort_unstable();
    ensure!(hit_ids == ["tt1", "tt2", "tt3"], "search: hits {hit_ids:?}");
    let buckets: Vec<(String, u64)> = found["aggregations"]["genres"]["buckets"]
        .as_array()
        .context("search without genres buckets")?
        .iter()
        .map(|b| (b["key"].as_str().unwrap_or_default().to_owned(), b["doc_count"].as_u64().unwrap_or(0)))
        .collect();
    // Ordered by count, then key: Sci-Fi in all three, then one each.
    let expected: Vec<(String, u64)> =
        [("Sci-Fi", 3), ("Adventure", 1), ("Family", 1), ("Romance", 1)].map(|(k, n)| (k.to_owned(), n)).into();
    ensure!(buckets == expected, "search: genres buckets {buckets:?}");

    let count = success("count", client.count(CountParts::Index(&[INDEX])).send().await?).await?;
    ensure!(count["count"] == 6, "count: {count}");
    let drama = json!({"query": {"term": {"genres": "Drama"}}});
    let count = success("count drama", client.count(CountParts::Index(&[INDEX])).body(drama).send().await?).await?;
    ensure!(count["count"] == 2, "count of Drama: {count}");

    let got = success("get", client.get(GetParts::IndexId(INDEX, "tt4")).send().await?).await?;
    ensure!(got["found"] == true && got["_version"] == 1, "get: {got}");
    ensure!(got["_source"] == movies()[3].1, "get: source {}", got["_source"]);

    let deleted = success("delete", client.delete(DeleteParts::IndexId(INDEX, "tt4")).send().await?).await?;
    ensure!(deleted["result"] == "deleted" && deleted["_version"] == 2, "delete: {deleted}");
    let (status, gone) = answer("get deleted", client.get(GetParts::IndexId(INDEX, "tt4")).send().await?).await?;
    ensure!(status == 404 && gone["found"] == false, "get after delete answered {status}: {gone}");
    success("refresh", client.indices().refresh(IndicesRefreshParts::Index(&[INDEX])).send().await?).await?;
    let count = success("count", client.count(CountParts::Index(&[INDEX])).send().await?).await?;
    ensure!(count["count"] == 5, "count after delete: {count}");
    Ok(())
}

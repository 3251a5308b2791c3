"""The official Python Elasticsearch client (8.x) against imdb-search-node.

Usage: es_client_check.py URL

Contract: creates the index `py-titles` on the node at URL, bulk-loads
1,000 generated documents with `helpers.bulk`, and checks `info`, index
creation (and the client's error for a second one), `search` (match query,
bool filter, sort, terms aggregation), `count` and `get` against answers
computed here from the same documents; then deep paging in the index
`py-scan` (3 shards, 4,000 documents): `helpers.scan` serves every document
once from its scroll's snapshot (documents written meanwhile are not
seen), in order with `preserve_order`; a cleared scroll is a 404; a point
in time pages with `search_after` over its snapshot. Prints one `ok` line and exits 0;
on the first mismatch prints what differed and exits 1. Run by
integration-tests/tests/es_python_client.rs with the venv that
scripts/setup.sh makes.
"""

import sys
from collections import Counter

import elasticsearch
from elasticsearch import Elasticsearch, helpers

INDEX = "py-titles"
DOCS = 1000
WORDS = ["night", "day", "city", "river", "love", "war", "ghost", "summer", "last", "dark", "king", "road"]
GENRES = ["Drama", "Comedy", "Action", "Horror", "Romance", "Thriller", "Documentary", "Western"]


class Mismatch(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def generate():
    """Deterministic documents: titles of 2-4 words, 1-3 genres, a year."""
    docs = []
    for n in range(DOCS):
        words = [WORDS[(n * 7 + k * 5) % len(WORDS)] for k in range(2 + n % 3)]
        genres = sorted({GENRES[(n + k * 3) % len(GENRES)] for k in range(1 + n % 3)})
        docs.append(
            {
                "id": f"tt{n:07d}",
                "title": "The " + " ".join(w.capitalize() for w in words),
                "genres": genres,
                "year": 1950 + (n * 13) % 70,
                "rating": round(1 + (n % 90) / 10, 1),
            }
        )
    return docs


def expected_search(docs):
    """What the bool query below must match, in its sort order, and its
    genre buckets (count descending, then key, as Elasticsearch orders)."""
    hits = [
        d
        for d in docs
        if "night" in d["title"].lower().split() and "Drama" in d["genres"] and d["year"] >= 1980
    ]
    hits.sort(key=lambda d: (-d["year"], d["id"]))
    counts = Counter(g for d in hits for g in d["genres"])
    buckets = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return hits, buckets


def run(url):
    es = Elasticsearch(url, request_timeout=60)

    # The client itself refuses a server without the product header.
    info = es.info()
    check(str(info["version"]["number"]).startswith("8."), f"info: version {info['version']} is not 8.x")

    mappings = {
        "properties": {
            "id": {"type": "keyword"},
            "title": {"type": "text"},
            "genres": {"type": "keyword"},
            "year": {"type": "integer"},
            "rating": {"type": "float"},
        }
    }
    created = es.indices.create(index=INDEX, settings={"number_of_shards": 2}, mappings=mappings)
    check(created.get("acknowledged") is True, f"create: {created}")
    try:
        es.indices.create(index=INDEX, mappings=mappings)
        raise Mismatch("creating the index twice succeeded")
    except elasticsearch.BadRequestError as e:
        check(e.error == "resource_already_exists_exception", f"second create: error {e.error!r}: {e}")

    docs = generate()
    actions = ({"_index": INDEX, "_id": d["id"], "_source": d} for d in docs)
    indexed, errors = helpers.bulk(es, actions, chunk_size=200, raise_on_error=False)
    check(indexed == DOCS and not errors, f"bulk: {indexed} indexed, errors: {errors[:3]}")

    refreshed = es.indices.refresh(index=INDEX)
    check(refreshed["_shards"]["failed"] == 0, f"refresh: {refreshed}")

    want_hits, want_buckets = expected_search(docs)
    check(0 < len(want_hits) < 200, f"the generated data gives {len(want_hits)} hits; the test needs some")
    res = es.search(
        index=INDEX,
        query={
            "bool": {
                "must": [{"match": {"title": "night"}}],
                "filter": [{"term": {"genres": "Drama"}}, {"range": {"year": {"gte": 1980}}}],
            }
        },
        aggs={"genres": {"terms": {"field": "genres", "size": 20}}},
        sort=[{"year": "desc"}, {"id": "asc"}],
        size=200,
    )
    total = res["hits"]["total"]
    check(total == {"value": len(want_hits), "relation": "eq"}, f"search: total {total}, expected {len(want_hits)}")
    got_ids = [h["_id"] for h in res["hits"]["hits"]]
    want_ids = [d["id"] for d in want_hits]
    check(got_ids == want_ids, f"search: hits {got_ids[:10]}..., expected {want_ids[:10]}...")
    first = res["hits"]["hits"][0]
    check(first["_source"] == want_hits[0], f"search: source {first['_source']}, expected {want_hits[0]}")
    agg = res["aggregations"]["genres"]
    got_buckets = [(b["key"], b["doc_count"]) for b in agg["buckets"]]
    check(got_buckets == want_buckets, f"search: buckets {got_buckets}, expected {want_buckets}")
    check(agg.get("sum_other_doc_count") == 0, f"search: sum_other_doc_count {agg.get('sum_other_doc_count')}")

    count = es.count(index=INDEX)["count"]
    check(count == DOCS, f"count: {count}, expected {DOCS}")
    comedies = sum(1 for d in docs if "Comedy" in d["genres"])
    count = es.count(index=INDEX, query={"term": {"genres": "Comedy"}})["count"]
    check(count == comedies, f"count of Comedy: {count}, expected {comedies}")

    doc = es.get(index=INDEX, id=docs[123]["id"])
    check(doc["found"] and doc["_source"] == docs[123], f"get: {doc}")
    try:
        es.get(index=INDEX, id="no-such-id")
        raise Mismatch("get of a missing id succeeded")
    except elasticsearch.NotFoundError:
        pass

    scanned = deep_paging(es)
    return f"{DOCS} docs, {len(want_hits)} hits, {len(want_buckets)} genre buckets, {scanned}"


SCAN_INDEX = "py-scan"
SCAN_DOCS = 4000


def load_scan_docs(es, start, stop):
    actions = ({"_index": SCAN_INDEX, "_id": f"s{n}", "_source": {"n": n, "even": n % 2 == 0}} for n in range(start, stop))
    indexed, errors = helpers.bulk(es, actions, chunk_size=500, raise_on_error=False)
    check(indexed == stop - start and not errors, f"bulk into {SCAN_INDEX}: {indexed} indexed, errors: {errors[:3]}")
    es.indices.refresh(index=SCAN_INDEX)


def deep_paging(es):
    """helpers.scan (scroll) and a point in time over a few thousand documents."""
    es.indices.create(
        index=SCAN_INDEX,
        settings={"number_of_shards": 3},
        mappings={"properties": {"n": {"type": "integer"}, "even": {"type": "boolean"}}},
    )
    load_scan_docs(es, 0, SCAN_DOCS)

    # Every document once; the ones written after the first page are not seen.
    seen = Counter()
    for i, hit in enumerate(helpers.scan(es, index=SCAN_INDEX, size=300, scroll="1m")):
        seen[hit["_id"]] += 1
        if i == 0:
            load_scan_docs(es, SCAN_DOCS, SCAN_DOCS + 100)
    twice = [k for k, c in seen.items() if c > 1]
    check(not twice, f"scan served {len(twice)} documents more than once: {twice[:5]}")
    want = {f"s{n}" for n in range(SCAN_DOCS)}
    check(set(seen) == want, f"scan: {len(set(seen) - want)} unexpected, {len(want - set(seen))} missing")

    # preserve_order keeps the query's sort across pages.
    ordered = [
        h["_source"]["n"]
        for h in helpers.scan(
            es,
            index=SCAN_INDEX,
            query={"query": {"term": {"even": True}}, "sort": [{"n": "desc"}]},
            preserve_order=True,
            size=250,
        )
    ]
    want_even = sorted((n for n in range(SCAN_DOCS + 100) if n % 2 == 0), reverse=True)
    check(ordered == want_even, f"scan with preserve_order: {len(ordered)} hits, first {ordered[:5]}")

    # A cleared scroll is gone.
    first = es.search(index=SCAN_INDEX, scroll="1m", size=10)
    scroll_id = first["_scroll_id"]
    check(len(first["hits"]["hits"]) == 10, f"scroll: first page of {len(first['hits']['hits'])}")
    page = es.scroll(scroll_id=scroll_id, scroll="1m")
    check(len(page["hits"]["hits"]) == 10, f"scroll: second page of {len(page['hits']['hits'])}")
    cleared = es.clear_scroll(scroll_id=scroll_id)
    check(cleared["succeeded"] and cleared["num_freed"] == 1, f"clear_scroll: {cleared}")
    try:
        es.scroll(scroll_id=scroll_id, scroll="1m")
        raise Mismatch("a cleared scroll answered")
    except elasticsearch.NotFoundError as e:
        check(e.error == "search_context_missing_exception", f"cleared scroll: error {e.error!r}")

    # A point in time: search_after over its snapshot, in sort order.
    pit = es.open_point_in_time(index=SCAN_INDEX, keep_alive="1m")["id"]
    load_scan_docs(es, SCAN_DOCS + 100, SCAN_DOCS + 200)
    paged, after = [], None
    while True:
        extra = {"search_after": after} if after else {}
        res = es.search(pit={"id": pit, "keep_alive": "1m"}, sort=[{"n": "asc"}], size=700, **extra)
        hits = res["hits"]["hits"]
        if not hits:
            break
        paged.extend(h["_source"]["n"] for h in hits)
        after = hits[-1]["sort"]
    check(paged == list(range(SCAN_DOCS + 100)), f"point in time: {len(paged)} hits, first {paged[:5]}")
    closed = es.close_point_in_time(id=pit)
    check(closed["succeeded"] and closed["num_freed"] == 1, f"close_point_in_time: {closed}")
    return f"scan of {len(seen)}, point in time of {len(paged)}"


def main():
    if len(sys.argv) != 2:
        print("usage: es_client_check.py URL", file=sys.stderr)
        return 2
    try:
        summary = run(sys.argv[1])
    except Mismatch as e:
        print(f"es_client_check: MISMATCH: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # the client's own errors: name them plainly
        print(f"es_client_check: ERROR: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"es_client_check: ok with elasticsearch-py {elasticsearch.__versionstr__}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

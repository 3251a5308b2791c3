#!/usr/bin/env python3
"""Search engine benchmark: bulk indexing throughput, then query latency, of imdb-search-node and, side by side, of
a single OpenSearch node, on the same machine, data and queries.

Generates `--docs` title documents (deterministic, `random.Random(42)`, kept in `bench/.data/`), then `--runs` times,
for each `--shards` count and each of `--engines` (interleaved, so machine drift hits every variant alike), against a
fresh engine (bench/engines.py: one `imdb-search-node` process, or a 1-node OpenSearch 2.19.6 cluster from
`imdb-local-opensearch` with an `--opensearch-heap` heap), the same plain-HTTP requests (standard library):
  load     `_bulk` batches of `--batch` documents from `--clients` threads into one index (the same settings and
           mapping on both engines; replicas 0, refresh_interval 30s), then `_refresh`: timed from the first
           request until everything is searchable
  check    `_cat/indices` docs.count == docs, and `_count` of four filters against the counts the generator kept
  queries  `--query-clients` threads run each kind for `--query-seconds` (after `--warmup-seconds`): match,
           bool+filters, aggregations, function_score; every response is checked (status, hits, filters honoured,
           scores in order, aggregation buckets); each kind cycles through a pool of 2,000 queries, sent with
           `request_cache=false` so that no engine answers a repeat from a cache

and prints medians as Markdown tables ready for bench/RESULTS.md, with date, machine and command: per engine, bulk
documents/s and MB/s, bulk p50/p99, store size, the engine process's peak RSS (VmHWM; OpenSearch: its JVM) and peak
anonymous memory; per query kind requests/s, p50, p99; the CPU busy in the engine, in this client and in the rest of
the machine beside each figure (a run skewed by other work shows); with both engines, the ratio search-node /
OpenSearch of documents/s and requests/s. Every run starts the same copies of the binaries, taken when the session
starts.

Run from the repository root after `cargo build --release --workspace --bins` (and scripts/setup.sh, which installs
OpenSearch's jars):
  python3 bench/search_node.py --docs 1000000 --runs 1
  python3 bench/search_node.py --docs 100000 --runs 3 --shards 1,2
  python3 bench/search_node.py --docs 1000000 --engines search-node,opensearch --runs 1
Python 3 standard library only.
"""
import argparse
import datetime
import http.client
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time

from common import DATA, BenchError, build_info, copy_bins, disk_mib, machine, proc_cpu, status_mib
from engines import ENGINES, start_engine
from title_docs import GENRES, SMALL, dataset

INDEX = "bench-titles"
KINDS = ["match", "bool+filters", "aggregations", "function_score"]

# --- the index ---------------------------------------------------------------------------------------------------

def bulk_bodies(lines, batch):
    bodies = []
    for start in range(0, len(lines), batch):
        parts = []
        for i in range(start, min(start + batch, len(lines))):
            parts.append(b'{"index":{"_id":"tt%07d"}}\n' % (i + 1))
            parts.append(lines[i])
            parts.append(b"\n")
        bodies.append((min(batch, len(lines) - start), b"".join(parts)))
    return bodies


MAPPING = {
    "dynamic": "strict",
    "properties": {
        "tconst": {"type": "keyword"},
        "title_type": {"type": "keyword"},
        "primary_title": {"type": "text", "analyzer": "folded", "fields": {
            "english": {"type": "text", "analyzer": "english"},
            "keyword": {"type": "keyword", "ignore_above": 256}}},
        "original_title": {"type": "text", "analyzer": "folded", "fields": {
            "english": {"type": "text", "analyzer": "english"}}},
        "is_adult": {"type": "boolean"},
        "start_year": {"type": "short"},
        "end_year": {"type": "short"},
        "runtime_minutes": {"type": "integer"},
        "genres": {"type": "keyword"},
        "average_rating": {"type": "float"},
        "num_votes": {"type": "long"},
        "directors": {"properties": {"nconst": {"type": "keyword"}, "name": {"type": "text", "analyzer": "folded"}}},
        "cast": {"properties": {
            "nconst": {"type": "keyword"}, "name": {"type": "text", "analyzer": "folded"},
            "category": {"type": "keyword"}, "characters": {"type": "text"}, "ordering": {"type": "short"}}},
    },
}


def index_body(shards):
    return {"settings": {"index": {"number_of_shards": shards, "number_of_replicas": 0, "refresh_interval": "30s"},
                         "analysis": {"analyzer": {"folded": {"type": "custom", "tokenizer": "standard",
                                                              "filter": ["lowercase", "asciifolding"]}}}},
            "mappings": MAPPING}


# --- queries -------------------------------------------------------------------------------------------------------

def query_text(rng, titles):
    """1-3 consecutive words of an indexed title (so every text query has hits), not only small words."""
    while True:
        words = titles[rng.randrange(len(titles))].replace(":", "").split()
        n = min(len(words), rng.choices((1, 2, 3), (45, 40, 15))[0])
        start = rng.randrange(len(words) - n + 1)
        picked = words[start:start + n]
        if any(w.lower() not in SMALL for w in picked):
            return " ".join(picked)


def make_query(kind, rng, titles):
    """(body, expectation) of one request of a kind."""
    text = query_text(rng, titles)
    if kind == "match":
        return {"query": {"match": {"primary_title": {"query": text, "operator": "or"}}}}, {}
    if kind == "bool+filters":
        genres = rng.sample([g for g in GENRES if g != "adult"], rng.choice((1, 2)))
        year = rng.randrange(1900, 2020)
        votes = rng.choice((0, 10, 100, 1000))
        body = {"query": {"bool": {"must": [{"match": {"primary_title": text}}], "filter": [
            {"terms": {"genres": genres}}, {"range": {"start_year": {"gte": year, "lte": year + 25}}},
            {"range": {"num_votes": {"gte": votes}}}]}}}
        return body, {"genres": set(genres), "years": (year, year + 25), "votes": votes}
    if kind == "aggregations":
        return {"size": 0, "query": {"match": {"primary_title": text}}, "aggs": {
            "genres": {"terms": {"field": "genres", "size": 10}},
            "decades": {"histogram": {"field": "start_year", "interval": 10}},
            "ratings": {"range": {"field": "average_rating",
                                  "ranges": [{"to": 5}, {"from": 5, "to": 7}, {"from": 7, "to": 8.5}, {"from": 8.5}]}},
            "avg_votes": {"avg": {"field": "num_votes"}}}}, {}
    return {"query": {"function_score": {
        "query": {"multi_match": {"query": text, "fields": ["primary_title^3", "primary_title.english",
                                                            "original_title"]}},
        "field_value_factor": {"field": "num_votes", "modifier": "log1p", "missing": 1},
        "boost_mode": "multiply"}}}, {}


def check_response(kind, expect, res):
    """Why a search response is wrong, or None. Returns (problem, total hits)."""
    hits = res.get("hits", {})
    total = hits.get("total", {}).get("value", 0)
    docs = hits.get("hits", [])
    if kind != "aggregations" and total > 0 and not docs:
        return "hits.total > 0 but no hits", total
    if kind in ("match", "function_score", "aggregations") and total == 0:
        return "no hits for words of an indexed title", total
    scores = [h.get("_score") or 0 for h in docs]
    if kind != "aggregations" and scores != sorted(scores, reverse=True):
        return f"hits not in score order: {scores}", total
    if kind == "bool+filters":
        for h in docs:
            s = h["_source"]
            if not (expect["genres"] & set(s["genres"]) and expect["years"][0] <= s["start_year"] <= expect["years"][1]
                    and s.get("num_votes", -1) >= expect["votes"]):
                return f"hit {h['_id']} does not pass the filters {expect}: {s}", total
    if kind == "aggregations":
        aggs = res.get("aggregations", {})
        if not aggs.get("genres", {}).get("buckets") or not aggs.get("decades", {}).get("buckets"):
            return f"empty terms or histogram buckets: {str(aggs)[:300]}", total
        if len(aggs.get("ratings", {}).get("buckets", [])) != 4 or "value" not in aggs.get("avg_votes", {}):
            return f"range or avg missing: {str(aggs)[:300]}", total
        exact = hits.get("total", {}).get("relation") == "eq"
        if exact and sum(b["doc_count"] for b in aggs["decades"]["buckets"]) != total:
            return "decade buckets do not add up to hits.total", total  # every document has a start_year
    return None, total


# --- the server and its clients ------------------------------------------------------------------------------------

class Client:
    """One keep-alive HTTP connection; no retries, so a dropped connection fails the run."""

    def __init__(self, port, timeout=1800):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None, content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.conn.request(method, path, body, {"Content-Type": content_type} if body is not None else {})
        res = self.conn.getresponse()
        return res.status, res.read()

    def json(self, method, path, body=None):
        status, data = self.request(method, path, body)
        if status != 200:
            raise BenchError(f"{method} {path}: HTTP {status}: {data[:1000].decode(errors='replace')}")
        return json.loads(data)

    def close(self):
        self.conn.close()


class Server:
    """A fresh engine for one run (bench/engines.py: one imdb-search-node process, or a 1-node OpenSearch cluster),
    with what this benchmark reads of it, summed over its processes: CPU seconds, /proc sizes (VmRSS, VmHWM) and
    RssAnon sampled every half second (the heap, without the index files mapped into memory)."""

    def __init__(self, engine, bins, run_dir, heap):
        self.engine = start_engine(engine, bins, run_dir, heap, nodes=1)
        self.name, self.port, self.pids = engine, self.engine.port, self.engine.pids()
        self.max_anon = 0.0
        self.sampling = True
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        while self.sampling and self.engine.alive():
            self.max_anon = max(self.max_anon, self.status_mib("RssAnon"))
            time.sleep(0.5)

    def cpu_seconds(self):
        """User and system CPU time of the engine's processes so far."""
        return sum(proc_cpu(pid) or 0.0 for pid in self.pids)

    def status_mib(self, key):
        """A /proc/<pid>/status size (VmRSS, VmHWM, RssAnon) in MiB, summed over the processes (0 once gone)."""
        return sum(status_mib(pid, key) or 0.0 for pid in self.pids)

    def disk_mib(self):
        """What the engine's data folders hold on disk (indexes, translogs, its own state)."""
        return disk_mib(*self.engine.data_dirs())

    def alive(self):
        return self.engine.alive()

    def stop(self):
        """A clean stop (SIGTERM; the search node commits and must exit 0), else BenchError or CalledProcessError."""
        self.sampling = False
        self.engine.stop()


class CpuMeter:
    """CPU cores busy from now until read(): the node's (/proc/<pid>/stat), this client process's (getrusage), and
    everything else on the machine (/proc/stat less those two): other work skews the figures."""

    def __init__(self, server):
        self.server, self.start = server, time.monotonic()
        self.node, self.client, self.machine = server.cpu_seconds(), self.own(), self.busy()

    @staticmethod
    def own():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def busy():
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:]]
        return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait

    def read(self):
        """(node, client, other) cores."""
        elapsed = time.monotonic() - self.start
        node, client = self.server.cpu_seconds() - self.node, self.own() - self.client
        other = max(0.0, self.busy() - self.machine - node - client)
        return node / elapsed, client / elapsed, other / elapsed


def quantile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def load(server, bodies, clients):
    """Sends every bulk body from `clients` threads, then `_refresh`. Returns the timings."""
    lock = threading.Lock()
    state = {"next": 0, "docs": 0, "bytes": 0, "running": clients}
    all_done = threading.Event()  # set by the last worker to finish, so the end is not a polling interval late
    latencies, errors = [], []

    def worker():
        client = Client(server.port)
        try:
            while not errors:
                with lock:
                    if state["next"] >= len(bodies):
                        return
                    n, body = bodies[state["next"]]
                    state["next"] += 1
                t0 = time.perf_counter()
                status, data = client.request("POST", f"/{INDEX}/_bulk", body, "application/x-ndjson")
                elapsed = time.perf_counter() - t0
                if status != 200:
                    raise BenchError(f"_bulk: HTTP {status}: {data[:1000].decode(errors='replace')}")
                res = json.loads(data)
                if res.get("errors") is not False or len(res.get("items", [])) != n:
                    bad = [i for i in res.get("items", []) if next(iter(i.values())).get("status", 0) >= 300]
                    raise BenchError(f"_bulk: errors={res.get('errors')}, {len(res.get('items', []))} items for "
                                     f"{n} documents, {len(bad)} failed; first: {json.dumps(bad[:3])[:1500]}")
                with lock:
                    latencies.append(elapsed)
                    state["docs"] += n
                    state["bytes"] += len(body)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            client.close()
            with lock:
                state["running"] -= 1
                if state["running"] == 0:
                    all_done.set()

    start = time.monotonic()
    meter = CpuMeter(server)
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    while not all_done.wait(10):
        elapsed = time.monotonic() - start
        print(f"  load: {state['docs']:,} docs in {elapsed:.0f} s ({state['docs'] / elapsed:,.0f}/s), "
              f"server RSS {server.status_mib('VmRSS'):,.0f} MiB", file=sys.stderr, flush=True)
    if errors:
        raise errors[0] if isinstance(errors[0], BenchError) else BenchError(f"_bulk failed: {errors[0]!r}")
    bulk_end = time.monotonic()
    client = Client(server.port)
    res = client.json("POST", f"/{INDEX}/_refresh")
    end = time.monotonic()
    node_cpu, client_cpu, other_cpu = meter.read()
    client.close()
    if res.get("_shards", {}).get("failed", 1) != 0:
        raise BenchError(f"_refresh: {res}")
    seconds = end - start
    return {"seconds": seconds, "docs_s": state["docs"] / seconds, "mb_s": state["bytes"] / seconds / 1e6,
            "bulk_seconds": bulk_end - start, "refresh_seconds": end - bulk_end,
            "bulk_p50": statistics.median(latencies) * 1e3, "bulk_p99": quantile(latencies, 0.99) * 1e3,
            "node_cpu": node_cpu, "client_cpu": client_cpu, "other_cpu": other_cpu}


COUNT_CHECKS = {"genre_drama": {"term": {"genres": "drama"}},
                "years_1990s": {"range": {"start_year": {"gte": 1990, "lte": 1999}}},
                "votes_1000": {"range": {"num_votes": {"gte": 1000}}},
                "movies": {"term": {"title_type": "movie"}}}


def parse_size(text):
    """`_cat` sizes (`812.4mb`) in MiB."""
    units = {"b": 1 / 2 ** 20, "kb": 1 / 1024, "mb": 1, "gb": 1024, "tb": 2 ** 20}
    number = text.rstrip("bkmgt")
    return float(number) * units[text[len(number):]]


def check_index(server, meta):
    """docs.count is every document and four filters count what the generator counted."""
    client = Client(server.port)
    rows = client.json("GET", f"/_cat/indices/{INDEX}?format=json")
    count, size = int(rows[0]["docs.count"]), rows[0]["store.size"]
    if count != meta["docs"]:
        raise BenchError(f"_cat/indices docs.count is {count:,}, expected {meta['docs']:,}")
    for name, query in COUNT_CHECKS.items():
        got = client.json("POST", f"/{INDEX}/_count", {"query": query})["count"]
        if got != meta["counts"][name]:
            raise BenchError(f"_count {json.dumps(query)} is {got:,}, the generator counted {meta['counts'][name]:,}")
    client.close()
    return count, size


def query_pools(titles, size=2000):
    """Per kind, `size` encoded request bodies with what to check; the same in every run."""
    pools = {}
    for k, kind in enumerate(KINDS):
        rng = random.Random(1000 + k)
        pools[kind] = [(json.dumps(b).encode(), e) for b, e in (make_query(kind, rng, titles) for _ in range(size))]
    return pools


AGREEMENT = 200  # queries of each kind whose hits.total the engines are compared on


def hit_totals(server, pools):
    """hits.total of the first AGREEMENT queries of each kind, one at a time: the engines should agree (reported)."""
    client = Client(server.port)
    totals = {kind: [client.json("POST", f"/{INDEX}/_search", body)["hits"]["total"]["value"]
                     for body, _ in pools[kind][:AGREEMENT]] for kind in KINDS}
    client.close()
    return totals


def run_queries(server, kind, pool, clients, warmup, seconds):
    """Closed loop: each thread sends its next query as soon as the last one is answered. Requests started in the
    `seconds` after the warm-up are measured."""
    begin = time.monotonic() + warmup
    until = begin + seconds
    latencies, totals, errors = [], [], []

    def worker(k):
        client = Client(server.port)
        mine, hits = [], []
        i = k
        try:
            while not errors:
                started = time.monotonic()
                if started >= until:
                    break
                body, expect = pool[i % len(pool)]
                i += clients
                t0 = time.perf_counter()
                # Uncached: the pool repeats, and OpenSearch would answer a repeated `size: 0` request (the
                # aggregations) from its shard request cache; search-node has none.
                status, data = client.request("POST", f"/{INDEX}/_search?request_cache=false", body)
                elapsed = time.perf_counter() - t0
                if status != 200:
                    raise BenchError(f"{kind}: HTTP {status} for {body[:500].decode()}: "
                                     f"{data[:1000].decode(errors='replace')}")
                problem, total = check_response(kind, expect, json.loads(data))
                if problem:
                    raise BenchError(f"{kind}: {problem}; request {body.decode()[:500]}")
                if started >= begin:
                    mine.append(elapsed)
                    hits.append(total)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e if isinstance(e, BenchError) else BenchError(f"{kind}: {e!r}"))
        finally:
            client.close()
            latencies.extend(mine)
            totals.extend(hits)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, begin - time.monotonic()))
    meter = CpuMeter(server)
    time.sleep(max(0.0, until - time.monotonic()))
    node_cpu, client_cpu, other_cpu = meter.read()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    if not latencies:
        raise BenchError(f"{kind}: no request completed in {seconds} s")
    return {"requests": len(latencies), "rps": len(latencies) / seconds, "p50": statistics.median(latencies) * 1e3,
            "p99": quantile(latencies, 0.99) * 1e3, "hits": statistics.median(totals), "node_cpu": node_cpu,
            "client_cpu": client_cpu, "other_cpu": other_cpu}


def one_run(label, engine, shards, bins, bodies, meta, pools, args):
    """Load, check and query one fresh engine; its results. Any failure ends the session (see failed())."""
    run_dir = os.path.join(DATA, f"search-node-run-{os.getpid()}-{label}")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    server = None
    try:
        server = Server(engine, bins, run_dir, args.opensearch_heap)
        client = Client(server.port)
        client.json("PUT", f"/{INDEX}", index_body(shards))
        client.close()
        result = load(server, bodies, args.clients)
        result["count"], result["store"] = check_index(server, meta)
        result["disk"] = server.disk_mib()
        result["rss_load"], result["anon_load"] = server.status_mib("VmHWM"), server.max_anon
        print(f"  {label}: {result['docs_s']:,.0f} docs/s over {result['seconds']:.1f} s (refresh "
              f"{result['refresh_seconds']:.1f} s), bulk p50 {result['bulk_p50']:.0f} ms p99 "
              f"{result['bulk_p99']:.0f} ms, docs.count {result['count']:,}, store.size {result['store']} (on disk "
              f"{result['disk']:,.0f} MiB), peak RSS {result['rss_load']:,.0f} MiB (anon {result['anon_load']:,.0f}), "
              f"CPU {engine} {result['node_cpu']:.2f} client {result['client_cpu']:.2f} other "
              f"{result['other_cpu']:.2f}", file=sys.stderr, flush=True)
        result["totals"] = hit_totals(server, pools)
        result["queries"] = {}
        for kind in KINDS:
            q = run_queries(server, kind, pools[kind], args.query_clients, args.warmup_seconds, args.query_seconds)
            result["queries"][kind] = q
            print(f"  {label} {kind}: {q['requests']:,} requests, {q['rps']:,.1f}/s, p50 {q['p50']:.1f} ms, "
                  f"p99 {q['p99']:.1f} ms, median hits {q['hits']:,.0f}, CPU {engine} {q['node_cpu']:.2f} client "
                  f"{q['client_cpu']:.2f} other {q['other_cpu']:.2f}", file=sys.stderr, flush=True)
        result["rss_all"] = server.status_mib("VmHWM")
        result["anon"] = server.max_anon
        server.engine.sample()  # fails the run if a process exited
        problems = server.engine.problems()
        server.stop()
    except (BenchError, OSError, http.client.HTTPException, subprocess.CalledProcessError) as e:
        failed(label, e, run_dir, server, bins)
    except BaseException:
        # Interrupted, or a bug: an OpenSearch node is not this script's child and would outlive it.
        if server:
            server.engine.kill()
        raise
    for line in problems[:10]:
        print(f"  {engine} log: {line}", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(run_dir)
    return result


def failed(label, error, run_dir, server, bins):
    """Reports a failed run (the error, the command, the engine's state and log tails), stops the engine and exits 1,
    keeping the run folder."""
    state = "-" if server is None else "running" if server.alive() else "exited"
    print(f"\nFAILED ({label}): {error}\ncommand: {' '.join(sys.argv)}\nengine: {state}; data and logs kept in "
          f"{run_dir}", file=sys.stderr)
    if server:
        server.engine.kill()
        print(server.engine.log_tails(), file=sys.stderr)
    elif os.path.isdir(os.path.join(run_dir, "opensearch")):  # OpenSearch failed to start: stop what did
        subprocess.run([bins["imdb-local-opensearch"], "stop", "--data",
                        os.path.join(run_dir, "opensearch")], check=False)
    sys.exit(1)


# --- report --------------------------------------------------------------------------------------------------------

ENGINE_NAMES = {"search-node": "imdb-search-node", "opensearch": "OpenSearch"}


def ratio_cells(engines, shard_list, engine, shards, value):
    """The ratio columns of a row: against the engine's first shard count (with several), and search-node over
    OpenSearch at the same shard count (with both engines; on the search-node row)."""
    cells = ""
    if len(shard_list) > 1:
        cells += f" {value(engine, shards) / value(engine, shard_list[0]):.2f} |"
    if len(engines) > 1:
        cells += (f" {value('search-node', shards) / value('opensearch', shards):.2f} |" if engine == "search-node"
                  else " |")
    return cells


def ratio_headers(engines, shard_list, what):
    return ((f" {what} vs {shard_list[0]} shard{'s' if shard_list[0] > 1 else ''} |" if len(shard_list) > 1 else "")
            + (f" {what} search-node / OpenSearch |" if len(engines) > 1 else ""))


def report_header(args, engines, ndjson_bytes, build):
    names = " and ".join(ENGINE_NAMES[e] for e in engines)
    print(f"\n## {names}: bulk indexing and query latency ({datetime.date.today()})\n")
    print(f"- Machine: {machine()}; {build}.")
    print(f"- Command: `cargo build --release --workspace --bins && python3 bench/search_node.py "
          f"{' '.join(sys.argv[1:])}`")
    shape = "; ".join({"search-node": "one `imdb-search-node` process",
                       "opensearch": f"one OpenSearch 2.19.6 node (`imdb-local-opensearch start --nodes 1 --heap "
                                     f"{args.opensearch_heap}`), its JVM started fresh"}[e] for e in engines)
    print(f"- Engines, fresh per run, variants interleaved: {shape}. The same HTTP requests (standard library) to "
          f"each.")
    print(f"- Data: {args.docs:,} generated titles (seed 42), {ndjson_bytes / 1e6:,.0f} MB of bulk NDJSON; one index, "
          f"the same settings and mapping on every engine, replicas 0, refresh_interval 30s; `_bulk` of {args.batch} "
          f"documents from {args.clients} client threads. Queries: {args.query_clients} client threads, "
          f"{args.query_seconds:g} s per kind after {args.warmup_seconds:g} s of warm-up. Clients (Python) and engine "
          f"share the machine; CPU columns are cores busy (other: the rest of the machine); peak RSS is the engine "
          f"process's VmHWM (OpenSearch: its JVM). Medians of {args.runs} run{'s' if args.runs > 1 else ''}.\n")


def report(args, engines, shard_list, results, pools, ndjson_bytes, build):
    report_header(args, engines, ndjson_bytes, build)
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    cols = 18 + (len(shard_list) > 1) + (len(engines) > 1)
    print("| docs | engine | shards | seconds | docs/s | MB/s | bulk p50 ms | bulk p99 ms | refresh s | docs.count "
          "| store MiB | disk MiB | peak RSS MiB (load) | peak anon MiB (load) | peak RSS MiB (all) | engine CPU "
          "| client CPU | other CPU |" + ratio_headers(engines, shard_list, "docs/s"))
    print("|---:|---|" + "---:|" * (cols - 2))
    docs_s = lambda e, s: med(results[(e, s)], "docs_s")  # noqa: E731
    for shards in shard_list:
        for engine in engines:
            rs = results[(engine, shards)]
            store = statistics.median(parse_size(r["store"]) for r in rs)
            print(f"| {args.docs:,} | {engine} | {shards} | {med(rs, 'seconds'):.1f} | {med(rs, 'docs_s'):,.0f} | "
                  f"{med(rs, 'mb_s'):.1f} | {med(rs, 'bulk_p50'):,.0f} | {med(rs, 'bulk_p99'):,.0f} | "
                  f"{med(rs, 'refresh_seconds'):.1f} | {rs[0]['count']:,} | {store:,.0f} | {med(rs, 'disk'):,.0f} | "
                  f"{med(rs, 'rss_load'):,.0f} | {med(rs, 'anon_load'):,.0f} | {med(rs, 'rss_all'):,.0f} | "
                  f"{med(rs, 'node_cpu'):.2f} | {med(rs, 'client_cpu'):.2f} | {med(rs, 'other_cpu'):.2f} |"
                  + ratio_cells(engines, shard_list, engine, shards, docs_s))
    cols = 12 + (len(shard_list) > 1) + (len(engines) > 1)
    print("\n| docs | engine | shards | query | requests | req/s | p50 ms | p99 ms | median hits | engine CPU "
          "| client CPU | other CPU |" + ratio_headers(engines, shard_list, "req/s"))
    print("|---:|---|---:|---|" + "---:|" * (cols - 4))
    for kind in KINDS:
        rps = lambda e, s: statistics.median(r["queries"][kind]["rps"] for r in results[(e, s)])  # noqa: E731
        for shards in shard_list:
            for engine in engines:
                qs = [r["queries"][kind] for r in results[(engine, shards)]]
                print(f"| {args.docs:,} | {engine} | {shards} | {kind} | {med(qs, 'requests'):,.0f} | "
                      f"{med(qs, 'rps'):,.1f} | {med(qs, 'p50'):.1f} | {med(qs, 'p99'):.1f} | {med(qs, 'hits'):,.0f} | "
                      f"{med(qs, 'node_cpu'):.2f} | {med(qs, 'client_cpu'):.2f} | {med(qs, 'other_cpu'):.2f} |"
                      + ratio_cells(engines, shard_list, engine, shards, rps))
    if len(engines) > 1:
        report_agreement(shard_list, results, pools)


def report_agreement(shard_list, results, pools):
    """Whether both engines count the same hits for the same queries (first run of each shard count)."""
    print(f"\nThe same queries, the same answers? hits.total (counted up to 10,000) of the first {AGREEMENT} queries "
          f"of each kind, asked one at a time after the check, search-node against OpenSearch (first run):\n")
    for shards in shard_list:
        a, b = results[("search-node", shards)][0]["totals"], results[("opensearch", shards)][0]["totals"]
        for kind in KINDS:
            differ = [i for i, (x, y) in enumerate(zip(a[kind], b[kind])) if x != y]
            line = (f"- {shards} shard{'s' if shards > 1 else ''}, {kind}: {AGREEMENT - len(differ)} of {AGREEMENT} "
                    f"equal")
            if differ:
                i = differ[0]
                line += (f"; e.g. {a[kind][i]:,} against {b[kind][i]:,} for `{pools[kind][i][0].decode()}`")
            print(line)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=1000000, help="title documents to index")
    p.add_argument("--runs", type=int, default=1, help="repetitions; medians are reported")
    p.add_argument("--engines", default="search-node", help=f"comma-separated engines compared side by side: "
                   f"{', '.join(ENGINES)} (OpenSearch: one node)")
    p.add_argument("--shards", default="1", help="comma-separated shard counts, compared side by side")
    p.add_argument("--batch", type=int, default=1000, help="documents per _bulk request")
    p.add_argument("--clients", type=int, default=2, help="concurrent _bulk client threads")
    p.add_argument("--query-clients", type=int, default=4, help="concurrent search client threads")
    p.add_argument("--query-seconds", type=float, default=20, help="measured seconds per query kind")
    p.add_argument("--warmup-seconds", type=float, default=None, help="unmeasured seconds before each query kind "
                   "(default 2, or 10 when OpenSearch is compared: its JIT compiles the search paths under load)")
    p.add_argument("--opensearch-heap", default="1GiB", help="heap of the OpenSearch node")
    p.add_argument("--keep", action="store_true", help="keep the engines' data folders and logs in bench/.data/")
    args = p.parse_args()
    engines = args.engines.split(",")
    if not engines or any(e not in ENGINES for e in engines) or len(set(engines)) != len(engines):
        sys.exit(f"--engines: comma-separated {', '.join(ENGINES)}, not {args.engines}")
    if args.warmup_seconds is None:
        args.warmup_seconds = 10.0 if "opensearch" in engines else 2.0
    shard_list = [int(s) for s in args.shards.split(",")]
    build = build_info(("imdb-search-node",), ("search-node",))
    names = ["imdb-search-node"] + (["imdb-local-opensearch"] if "opensearch" in engines else [])
    # Every run uses these copies: a rebuild of target/ during the session cannot mix two binaries.
    bin_dir, bins = copy_bins("search-node", names)
    lines, meta = dataset(args.docs)
    bodies = bulk_bodies(lines, args.batch)
    del lines
    pools = query_pools(meta["titles"])
    results = {(e, s): [] for e in engines for s in shard_list}
    try:
        for run in range(args.runs):
            for shards in shard_list:  # interleaved, so drift hits every variant alike
                for engine in engines:
                    print(f"run {run + 1}/{args.runs}, {engine}, {shards} shard(s)", file=sys.stderr, flush=True)
                    results[(engine, shards)].append(one_run(f"{engine}-s{shards}-r{run + 1}", engine, shards, bins,
                                                             bodies, meta, pools, args))
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    report(args, engines, shard_list, results, pools, sum(len(b) for _, b in bodies), build)


if __name__ == "__main__":
    main()

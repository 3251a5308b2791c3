#!/usr/bin/env python3
"""imdb-api benchmark: search and suggestion latency and throughput, through the load balancer and direct.

Needs a populated search cluster: run `scripts/run-local.sh` first (100k generated titles and the vega movies in
the search node at --es-url). The script starts its own processes against that cluster, all with the per-client
rate limit off (every request comes from this machine): two `imdb-api` nodes behind HAProxy (the repository's
deploy/haproxy/haproxy.cfg), and a third node with the response cache off. Variants, interleaved per run:
  lb         HAProxy -> two nodes (cache on, the local stack's shape)
  direct     one node, cache on
  no-cache   one node, cache off: every request reaches the cluster
For each variant and each request kind, `--clients` threads (default 4) send requests back to back for `--seconds`
(default 15) after a 2 s warm-up. Request kinds:
  search     /api/v1/search?q=... with words of indexed titles (1-3 words, sometimes a typo), facets on
  filtered   the same plus genre, year range and rating_min
  suggest    /api/v1/suggest?q=<first 2-6 letters of a title>
Queries come from a pool of 2,000 drawn once (seeded) from the indexed titles, so repeats (and cache hits) happen
as they would with users; every answer must be 200 with the expected shape. Reports medians over runs of
requests/s, p50 and p99 latency (ms), the cache hit ratio (from X-Cache) and the CPU cores used by the API
processes, HAProxy and the search node (pid from .local/search-node.pid when present).

Run from the repository root after `cargo build --release --workspace --bins` and `scripts/run-local.sh`:
  python3 bench/api.py --runs 3
Python 3 standard library only; helpers in bench/common.py.
"""
import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import threading
import time
import urllib.parse

from common import BIN, DATA, ROOT, BenchError, Process, build_info, free_port, machine, proc_cpu

HAPROXY = "/usr/sbin/haproxy"
KINDS = ("search", "filtered", "suggest")
VARIANTS = ("lb", "direct", "no-cache")


def get(port, path, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        res = conn.getresponse()
        return res.status, res.getheader("x-cache"), res.read()
    finally:
        conn.close()


def wait_ready(port, what):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if get(port, "/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"{what} on port {port} did not answer /healthz")


def start_api(name, api_bin, es_url, run_dir, extra):
    """An `imdb-api` node over the engine URLs `es_url` (comma-separated), rate limit off, on a free port."""
    port = free_port()
    env = dict(os.environ, IMDB_API_LISTEN=f"127.0.0.1:{port}", IMDB_ES_URL=es_url, IMDB_API_NODE_NAME=name,
               IMDB_API_RATE_LIMIT="0", RUST_LOG="warn", **extra)
    p = Process(name, [api_bin], os.path.join(run_dir, f"{name}.log"), env)
    p.port = port
    wait_ready(port, name)
    return p


def start_lb(run_dir, a, b):
    """HAProxy with the repository's configuration in front of API nodes `a` and `b`, on a free port."""
    port = free_port()
    lb = Process("haproxy", [HAPROXY, "-db", "-f", os.path.join(ROOT, "deploy", "haproxy", "haproxy.cfg")],
                 os.path.join(run_dir, "haproxy.log"),
                 dict(os.environ, IMDB_LB_BIND=f"127.0.0.1:{port}", IMDB_API_1=f"127.0.0.1:{a.port}",
                      IMDB_API_2=f"127.0.0.1:{b.port}"))
    lb.port = port
    wait_ready(port, "haproxy")
    return lb


def measure(port, pools, clients, seconds, api_pids, engine_pids, label="", warmup=2.0):
    """Each request kind in turn on `port`, after `warmup` seconds of it: requests/s, p50, p99, cache hits, CPU cores
    of the API processes and of the engine's nodes over the kind's span."""
    results = {}
    for k in KINDS:
        cpu0 = {pid: proc_cpu(pid) for pid in api_pids + engine_pids}
        t0 = time.monotonic()
        r = load(port, pools[k], clients, seconds, k, warmup)
        span = time.monotonic() - t0
        r["api_cpu"] = sum(proc_cpu(pid) - cpu0[pid] for pid in api_pids) / span
        r["node_cpu"] = sum(proc_cpu(pid) - cpu0[pid] for pid in engine_pids) / span if engine_pids else float("nan")
        results[k] = r
        print(f"  {label}{k:8}: {r['rps']:7.0f} req/s p50 {r['p50']:6.1f} ms p99 {r['p99']:6.1f} ms cache hits "
              f"{r['hit']:.0%}", file=sys.stderr, flush=True)
    return results


def query_pool(port, rng):
    """Titles of the index (most voted first pages and some random pages), turned into request paths."""
    titles = []
    for sort in ("votes", "rating", "year", "title"):
        for page in range(1, 6):
            status, _, body = get(port, f"/api/v1/search?sort={sort}&size=100&page={page}&facets=false")
            if status != 200:
                raise BenchError(f"sampling titles: HTTP {status}: {body[:300]!r}")
            titles += [h["title"] for h in json.loads(body)["hits"] if h.get("title")]
    if not titles:
        raise BenchError("the cluster holds no titles: run scripts/run-local.sh first")
    genres = [g["genre"] for g in json.loads(get(port, "/api/v1/genres")[2])["genres"]]
    pools = {k: [] for k in KINDS}
    for _ in range(2000):
        words = [w for w in titles[rng.randrange(len(titles))].split() if any(c.isalnum() for c in w)]
        if not words:
            continue
        n = rng.randint(1, min(3, len(words)))
        start = rng.randrange(len(words) - n + 1)
        text = " ".join(words[start:start + n])
        if rng.random() < 0.2 and len(text) > 5:  # a typo: two letters swapped
            i = rng.randrange(1, len(text) - 2)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        q = urllib.parse.quote_plus(text)
        pools["search"].append(f"/api/v1/search?q={q}")
        year = rng.randrange(1930, 2020)
        pools["filtered"].append(f"/api/v1/search?q={q}&genre={rng.choice(genres)}&year_from={year}"
                                 f"&year_to={year + 20}&rating_min={rng.choice((5, 6, 7))}")
        prefix = words[0][:rng.randint(2, 6)]
        pools["suggest"].append(f"/api/v1/suggest?q={urllib.parse.quote_plus(prefix)}")
    return pools


def load(port, paths, clients, seconds, kind, warmup=2.0):
    lat, hits, stop_at = [], [0, 0], [None]
    lock = threading.Lock()
    errors = []

    def worker(seed):
        rng = random.Random(seed)
        mine, my_hits = [], [0, 0]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            now = time.monotonic()
            if stop_at[0] is not None and now >= stop_at[0]:
                break
            path = rng.choice(paths)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                res = conn.getresponse()
                body = res.read()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                errors.append(f"{path}: {e!r}")
                continue
            took = time.perf_counter() - t0
            if res.status != 200:
                errors.append(f"{path}: HTTP {res.status}: {body[:200]!r}")
                continue
            answer = json.loads(body)
            if ("hits" not in answer) if kind != "suggest" else ("titles" not in answer):
                errors.append(f"{path}: unexpected answer {body[:200]!r}")
            if stop_at[0] is not None:  # measuring
                mine.append(took)
                my_hits[res.getheader("x-cache") == "hit"] += 1
        conn.close()
        with lock:
            lat.extend(mine)
            hits[0] += my_hits[0]
            hits[1] += my_hits[1]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(warmup)  # not measured: caches, and a JVM engine's JIT
    started = time.monotonic()
    stop_at[0] = started + seconds
    for t in threads:
        t.join()
    if errors:
        raise BenchError(f"{len(errors)} failed requests, e.g. {errors[:3]}")
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3  # noqa: E731
    return {"n": len(lat), "rps": len(lat) / seconds, "p50": q(0.50), "p99": q(0.99),
            "hit": hits[1] / max(1, sum(hits))}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--es-url", default="http://127.0.0.1:9200", help="the populated search cluster")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seconds", type=float, default=15)
    args = p.parse_args()
    for n in ("imdb-api",):
        if not os.access(os.path.join(BIN, n), os.X_OK):
            sys.exit(f"{n} not found in {BIN}: run `cargo build --release --workspace --bins` first")
    if not os.access(HAPROXY, os.X_OK):
        sys.exit(f"{HAPROXY} not found: run scripts/setup.sh first")
    build = build_info(("imdb-api",), ("api", "model"))
    run_dir = os.path.join(DATA, f"api-run-{os.getpid()}")
    os.makedirs(run_dir, exist_ok=True)
    shutil.copy2(os.path.join(BIN, "imdb-api"), os.path.join(run_dir, "imdb-api"))
    node_pid = None
    try:
        with open(os.path.join(ROOT, ".local", "search-node.pid")) as f:
            node_pid = int(f.read().strip())
    except (OSError, ValueError):
        pass
    procs = []
    api_bin = os.path.join(run_dir, "imdb-api")
    try:
        a = start_api("bench-api-1", api_bin, args.es_url, run_dir, {})
        b = start_api("bench-api-2", api_bin, args.es_url, run_dir, {})
        c = start_api("bench-api-nocache", api_bin, args.es_url, run_dir, {"IMDB_API_CACHE_ENTRIES": "0"})
        procs = [a, b, c]
        lb = start_lb(run_dir, a, b)
        procs.append(lb)
        pools = query_pool(c.port, random.Random(42))
        ports = {"lb": lb.port, "direct": a.port, "no-cache": c.port}
        api_pids = {"lb": [a.pid, b.pid, lb.pid], "direct": [a.pid], "no-cache": [c.pid]}
        results = {(v, k): [] for v in VARIANTS for k in KINDS}
        for run in range(args.runs):
            for v in VARIANTS:  # interleaved, so drift hits every variant alike
                cells = measure(ports[v], pools, args.clients, args.seconds, api_pids[v],
                                [node_pid] if node_pid else [], f"run {run + 1} {v:8} ")
                for k in KINDS:
                    results[(v, k)].append(cells[k])
    except (BenchError, OSError) as e:
        print(f"\nFAILED: {e}\nlogs in {run_dir}", file=sys.stderr)
        for proc in procs:
            proc.stop()
        sys.exit(1)
    for proc in procs:
        proc.stop()
    shutil.rmtree(run_dir, ignore_errors=True)
    med = lambda rs, key: statistics.median(r[key] for r in rs)  # noqa: E731
    print(f"\n## imdb-api: search latency and throughput ({datetime.date.today()})\n")
    print(f"- Machine: {machine()}; {build}.")
    print(f"- Command: `scripts/run-local.sh && python3 bench/api.py {' '.join(sys.argv[1:])}`")
    print(f"- Cluster: the local stack's search node at {args.es_url}; {args.clients} client threads back to back "
          f"for {args.seconds:g} s per cell after a 2 s warm-up; queries from a seeded pool of 2,000 drawn from the "
          f"indexed titles. Medians of {args.runs} runs. Clients, HAProxy, the API nodes and the search node share "
          f"the machine.\n")
    print("| variant | request | req/s | p50 ms | p99 ms | cache hits | API CPU | node CPU | req/s vs no-cache |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for v in VARIANTS:
        for k in KINDS:
            rs = results[(v, k)]
            base = med(results[("no-cache", k)], "rps")
            print(f"| {v} | {k} | {med(rs, 'rps'):,.0f} | {med(rs, 'p50'):.1f} | {med(rs, 'p99'):.1f} | "
                  f"{med(rs, 'hit'):.0%} | {med(rs, 'api_cpu'):.2f} | {med(rs, 'node_cpu'):.2f} | "
                  f"{med(rs, 'rps') / base:.2f} |")


if __name__ == "__main__":
    main()

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

Also the API load of bench/indexer.py's API phase: `measure` (the closed loop above, with the API nodes' metrics read
around each window), `open_loop` (the kinds in turn at a fixed rate, latency from each request's due time: no
coordinated omission) and `api_metrics`/`time_split` (per route, the mean request time in the API, the engine calls'
time per request and the difference, from `imdb_api_request_duration_seconds` and
`imdb_api_upstream_duration_seconds`).

Run from the repository root after `cargo build --release --workspace --bins` and `scripts/run-local.sh`:
  python3 bench/api.py --runs 3
Python 3 standard library only; helpers in bench/common.py.
"""
import argparse
import collections
import datetime
import http.client
import json
import math
import os
import queue
import random
import re
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


def measure(port, pools, clients, seconds, api_pids, engine_pids, label="", warmup=2.0, snapshot=None):
    """Each request kind in turn on `port`, after `warmup` seconds of it: requests/s, p50, p99, mean, cache hits, CPU
    cores of the API processes and of the engine's nodes over the kind's span; with `snapshot` (a function reading
    the API nodes' metrics), its readings at the start and the end of the measured window, as `window`."""
    results = {}
    for k in KINDS:
        cpu0 = {pid: proc_cpu(pid) for pid in api_pids + engine_pids}
        t0 = time.monotonic()
        r = load(port, pools[k], clients, seconds, k, warmup, snapshot)
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


def problem(kind, status, body):
    """Why an answer is wrong, or None."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    answer = json.loads(body)
    if ("hits" not in answer) if kind != "suggest" else ("titles" not in answer):
        return f"unexpected answer {body[:200]!r}"
    return None


def load(port, paths, clients, seconds, kind, warmup=2.0, snapshot=None):
    """Closed loop: `clients` threads each send the next request when the last is answered."""
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
            why = problem(kind, res.status, body)
            if why:
                errors.append(f"{path}: {why}")
                continue
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
    before = snapshot() if snapshot else None
    started = time.monotonic()
    stop_at[0] = started + seconds
    for t in threads:
        t.join()
    window = (before, snapshot()) if snapshot else None
    if errors:
        raise BenchError(f"{len(errors)} failed requests, e.g. {errors[:3]}")
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3  # noqa: E731
    return {"n": len(lat), "rps": len(lat) / seconds, "p50": q(0.50), "p99": q(0.99),
            "mean": statistics.fmean(lat) * 1e3, "hit": hits[1] / max(1, sum(hits)), "window": window}


# --- open loop: requests at fixed times ---------------------------------------------------------------------------

SENDERS = 50  # sender threads of the open loop: a slow answer holds one, never the schedule
DRAIN = 60  # seconds after the schedule's end to wait for the backlog; what is not sent by then is dropped


def open_loop(port, pools, rate, seconds, warmup=2.0, snapshot=None):
    """Open loop: `rate` requests per second for `warmup` + `seconds`, the kinds in turn (search, filtered, suggest,
    search, ...), request i due at start + i / rate. A dispatcher hands each request to a pool of SENDERS threads at
    its due time, so a slow answer does not delay the next send; latency runs from the due time (waiting for a free
    sender included: no coordinated omission). Requests due after the warm-up are measured; an answer other than 200
    is counted as an error (an overloaded API answers 503/504), a 200 of the wrong shape fails the run. Returns
    open_stats(); with `snapshot`, its readings at the start and the end of the measured window, as `window`."""
    rng = random.Random(7)
    warm, total = round(warmup * rate), round((warmup + seconds) * rate)
    plan = [(KINDS[i % len(KINDS)], rng.choice(pools[KINDS[i % len(KINDS)]])) for i in range(total)]
    done = [None] * total  # (due, lag, finished, status) per request answered; status 0: no answer
    fatal, give_up, todo = [], threading.Event(), queue.Queue()
    start = time.monotonic() + 0.5
    senders = [threading.Thread(target=sender, args=(port, plan, todo, done, fatal, give_up))
               for _ in range(SENDERS)]
    for t in senders:
        t.start()
    window = {}

    def mark():  # the window's first reading, on its own thread so that the dispatcher keeps time
        time.sleep(max(0.0, start + warm / rate - time.monotonic()))
        try:
            window["before"] = snapshot() if snapshot else None
        except (BenchError, OSError, http.client.HTTPException) as e:
            fatal.append(f"reading the API nodes' metrics: {e!r}")

    marker = threading.Thread(target=mark)
    marker.start()
    for i in range(total):  # the dispatcher: sleeps until each due time
        due = start + i / rate
        time.sleep(max(0.0, due - time.monotonic()))
        todo.put((i, due))
    for _ in senders:
        todo.put(None)
    deadline = start + total / rate + DRAIN
    for t in senders + [marker]:
        t.join(max(0.0, deadline - time.monotonic()))
    give_up.set()  # the senders skip what is still queued: dropped
    for t in senders + [marker]:
        t.join()
    if fatal:
        raise BenchError(f"open loop: {len(fatal)} failures, e.g. {fatal[:3]}")
    window["after"] = snapshot() if snapshot else None
    return {**open_stats(plan, done, warm, start + warm / rate, seconds), "rate": rate,
            "window": (window.get("before"), window.get("after"))}


def sender(port, plan, todo, done, fatal, give_up):
    """One sender of the open loop: takes due requests off `todo` and sends them on its keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while (item := todo.get()) is not None:
        i, due = item
        if give_up.is_set():
            continue  # dropped: counted by open_stats
        kind, path = plan[i]
        sent = time.monotonic()
        try:
            conn.request("GET", path)
            res = conn.getresponse()
            status, body = res.status, res.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, body = 0, b""
        finished = time.monotonic()
        if status == 200 and problem(kind, status, body):
            fatal.append(f"{path}: {problem(kind, status, body)}")
        done[i] = (due, sent - due, finished, status)
    conn.close()


def open_stats(plan, done, warm, begin, seconds):
    """The open loop's figures per kind and for the mix ("mix"), over the requests due after the warm-up: answered
    with a 200 (`n`), with anything else (`errors`, and `statuses`: each status's count, 0 for no answer), `dropped`
    (never sent); p50, p99 and max latency (ms) over the 200s and the dropped (as infinite: they never came), mean over
    the 200s; the achieved rate: 200s over the time from the window's start to the last answer (or the schedule's
    end); `lag_p99`: due time to send, the client's own delay plus, once every sender is busy, the wait for one."""
    measured = [(plan[i][0], d) for i, d in enumerate(done) if i >= warm]
    answered = [d for _, d in measured if d is not None]
    if not any(d[3] == 200 for d in answered):
        raise BenchError(f"open loop: no request answered with 200 ({len(answered)} answered)")
    span = max(begin + seconds, max(d[2] for d in answered)) - begin
    q = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))]  # noqa: E731
    out = {}
    for kind in KINDS + ("mix",):
        mine = [d for k, d in measured if kind in ("mix", k)]
        ok = [(d[2] - d[0]) * 1e3 for d in mine if d and d[3] == 200]
        bad = [d[3] for d in mine if d and d[3] != 200]
        dropped = sum(1 for d in mine if d is None)
        lat = sorted(ok) + [math.inf] * dropped or [math.nan]
        lag = sorted(d[1] * 1e3 for d in mine if d) or [math.nan]
        out[kind] = {"n": len(ok), "errors": len(bad), "statuses": dict(collections.Counter(bad)),
                     "dropped": dropped, "achieved": len(ok) / span, "p50": q(lat, 0.5), "p99": q(lat, 0.99),
                     "max": lat[-1], "mean": statistics.fmean(ok) if ok else math.nan, "lag_p99": q(lag, 0.99)}
    return out


# --- where the API's time goes: its own metrics --------------------------------------------------------------------

# The engine calls each measured route makes (api/src/routes.rs): a search is one `search` call, a second
# (typo-tolerant) one when its words find nothing, a `count` first when filters are why; a suggestion is one
# `msearch` (titles and people). Calls carry no route label, so a window's calls go to the route that makes them.
ROUTE_CALLS = {"/api/v1/search": ("search", "count"), "/api/v1/suggest": ("msearch",)}
ROUTE = {"search": "/api/v1/search", "filtered": "/api/v1/search", "suggest": "/api/v1/suggest"}
SERIES = re.compile(r'^(imdb_api_(?:request|upstream)_duration_seconds)_(sum|count)\{([^}]*)\} (\S+)$')


def api_metrics(ports):
    """The API nodes' request and engine-call time histograms (`imdb_api_request_duration_seconds` by route,
    `imdb_api_upstream_duration_seconds` by call and outcome), sums and counts added over the nodes `ports`:
    {("request", route, "sum"|"count") or ("upstream", call, "sum"|"count"): value}."""
    out = {}
    for port in ports:
        status, _, body = get(port, "/metrics", timeout=10)
        if status != 200:
            raise BenchError(f"GET /metrics on port {port}: HTTP {status}")
        for line in body.decode().splitlines():
            m = SERIES.match(line)
            if m:
                labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3)))
                key = ("request", labels["route"]) if "request" in m.group(1) else ("upstream", labels["call"])
                out[key + (m.group(2),)] = out.get(key + (m.group(2),), 0.0) + float(m.group(4))
    return out


def time_split(window, route):
    """Over a window (two api_metrics readings), for `route`: requests the API nodes served, their mean time in the
    API (ms), engine calls per request, the engine calls' time per request (ms, the round trips to the engine) and the
    difference: the API's own time per request (parsing, building the query, reading the answer, JSON, waiting for
    a worker)."""
    before, after = window
    delta = lambda *key: after.get(key, 0.0) - before.get(key, 0.0)  # noqa: E731
    n = delta("request", route, "count")
    if n <= 0:
        return None
    request = delta("request", route, "sum") / n * 1e3
    upstream = sum(delta("upstream", c, "sum") for c in ROUTE_CALLS[route]) / n * 1e3
    calls = sum(delta("upstream", c, "count") for c in ROUTE_CALLS[route]) / n
    return {"requests": n, "request_ms": request, "calls": calls, "upstream_ms": upstream, "own_ms": request - upstream}


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

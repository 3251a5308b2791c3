#!/usr/bin/env python3
"""A/B of imdb-search-node builds on the same indexed data, through the API: engine CPU per request.

For a change to the engine's query path, the question is what each request costs the engine; throughput on this
2-core machine (shared by the clients, the API and the engine, and with neighbours on the host) moves 10% between
identical runs, CPU time per request much less. Each binary in turn, `--rounds` times, is started on the same engine
folder (one kept by `bench/indexer.py --keep`, e.g. bench/.data/e2e-run-*-t1000000-v0-r1/node); one `imdb-api` node
(cache off, rate limit off) in front; the query pool of `bench/api.py` (seed 42: search with facets, filtered search,
suggestions). Per kind: the first 100 paths unmeasured (warm page cache and columns), then the first `--requests`
paths from `--clients` threads; engine CPU (utime + stime) over them divided by their number, and requests/s.
Every answer must be a 200. Reports medians over rounds and the ratio to the first binary.

Run from the repository root after `cargo build --release --workspace --bins` (for imdb-api), e.g.:
  python3 bench/engine_ab.py --data bench/.data/e2e-run-1234-t1000000-v0-r1/node --bins /tmp/old,/tmp/new
Python 3 standard library only; helpers in bench/common.py and bench/api.py.
"""
import argparse
import datetime
import http.client
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time

from api import KINDS, query_pool, start_api
from common import BIN, DATA, BenchError, free_port, machine, proc_cpu


def start_engine(binary, data, port, log):
    proc = subprocess.Popen([binary, "--listen", f"127.0.0.1:{port}", "--data", data], stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/_cluster/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise BenchError(f"{binary} exited with {proc.returncode} on start")
    raise BenchError(f"{binary} not answering after 120 s")


def send_all(port, paths, clients):
    """Each path once, from `clients` threads; every answer must be a 200. Seconds taken."""
    todo, errors, lock = list(reversed(paths)), [], threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not todo or errors:
                    return
                path = todo.pop()
            conn.request("GET", path)
            res = conn.getresponse()
            res.read()
            if res.status != 200:
                with lock:
                    errors.append(f"{path}: HTTP {res.status}")

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise BenchError(f"failed requests: {errors[:3]}")
    return time.monotonic() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="an engine folder holding the indexer's indexes (kept by "
                   "bench/indexer.py --keep)")
    p.add_argument("--bins", required=True, help="comma-separated imdb-search-node binaries; ratios are against "
                   "the first")
    p.add_argument("--rounds", type=int, default=3, help="times each binary is measured, interleaved")
    p.add_argument("--requests", type=int, default=600, help="measured requests per kind and round")
    p.add_argument("--clients", type=int, default=2, help="client threads")
    args = p.parse_args()
    bins = args.bins.split(",")
    for b in bins:
        if not os.access(b, os.X_OK):
            sys.exit(f"{b}: not an executable")
    os.makedirs(DATA, exist_ok=True)
    run_dir = os.path.join(DATA, f"engine-ab-{os.getpid()}")
    os.makedirs(run_dir)
    # Copies: a rebuild meanwhile cannot swap a binary under the run.
    copies = []
    for i, b in enumerate(bins):
        copies.append(os.path.join(run_dir, f"engine-{i}"))
        shutil.copy2(b, copies[-1])
    api_bin = os.path.join(run_dir, "imdb-api")
    shutil.copy2(os.path.join(BIN, "imdb-api"), api_bin)
    port = free_port()
    log = open(os.path.join(run_dir, "engines.log"), "ab")
    engine = start_engine(copies[0], args.data, port, log)
    api = start_api("ab-api", api_bin, f"http://127.0.0.1:{port}", run_dir, {"IMDB_API_CACHE_ENTRIES": "0"})
    pools = query_pool(api.port, random.Random(42))
    cpu = {(b, k): [] for b in bins for k in KINDS}
    rate = {(b, k): [] for b in bins for k in KINDS}
    try:
        for r in range(args.rounds):
            for b, copy in zip(bins, copies):
                engine.terminate()
                engine.wait(60)
                engine = start_engine(copy, args.data, port, log)
                for k in KINDS:
                    paths = pools[k][:args.requests]
                    send_all(api.port, pools[k][:100], args.clients)
                    c0 = proc_cpu(engine.pid)
                    took = send_all(api.port, paths, args.clients)
                    cpu[b, k].append((proc_cpu(engine.pid) - c0) / len(paths) * 1e3)
                    rate[b, k].append(len(paths) / took)
                    print(f"  round {r + 1} {b} {k:8}: {cpu[b, k][-1]:6.2f} ms engine CPU per request, "
                          f"{rate[b, k][-1]:6.1f} req/s", file=sys.stderr, flush=True)
    finally:
        engine.terminate()
        engine.wait(60)
        api.stop()
    print(f"\n## imdb-search-node builds A/B: engine CPU per API request ({datetime.date.today()})\n")
    print(f"- Machine: {machine()}.")
    print(f"- Command: `python3 bench/engine_ab.py --data {args.data} --bins {args.bins} "
          f"--rounds {args.rounds} --requests {args.requests} --clients {args.clients}`")
    print(f"- Each binary started in turn on that folder, {args.rounds} rounds; one `imdb-api` node (cache off) in "
          f"front; `bench/api.py`'s query pool (seed 42), the first {args.requests} requests of each kind from "
          f"{args.clients} clients after 100 unmeasured. Medians of the rounds.\n")
    print("| request | binary | engine CPU ms per request (rounds) | median | vs first | req/s (median) |")
    print("|---|---|---|---:|---:|---:|")
    for k in KINDS:
        base = statistics.median(cpu[bins[0], k])
        for b in bins:
            m = statistics.median(cpu[b, k])
            runs = ", ".join(f"{x:.2f}" for x in cpu[b, k])
            print(f"| {k} | `{b}` | {runs} | {m:.2f} | {m / base:.2f}x | {statistics.median(rate[b, k]):.1f} |")


if __name__ == "__main__":
    main()

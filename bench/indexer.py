#!/usr/bin/env python3
"""End-to-end benchmark: IMDb files to searchable documents through a 3-broker Kafka cluster, exact, into one engine
or two side by side, then the API through HAProxy on what was indexed: closed loop, open loop at a fixed rate, and
where the API's time goes.

Generates each dataset once (`imdb-ingest generate --titles N --seed 42`, in `bench/.data/gen-N`, the folder
bench/ingest.py uses), then per size in `--titles`, `--runs` times, for each variant (`--engines` x `--workers` x
`--batch-docs`, interleaved so machine drift hits every variant alike), on a fresh 3-node Kafka cluster
(`imdb-local-kafka start`: Kafka 4.4.0, KRaft, three replicas, two in sync) and a fresh engine (bench/engines.py:
one imdb-search-node, or an OpenSearch cluster of `--opensearch-nodes` nodes (3, or 1) from `imdb-local-opensearch`,
all its URLs to the indexer):
  pipeline (default)  `imdb-indexer` starts (defaults but the variant's flags), then `imdb-ingest load` (raw rows and
                      documents, or `--no-raw`); timed from the indexer's start until `_count` of `imdb-titles` and
                      `imdb-people` (after `_refresh`) equal the documents ingest published
  backlog (--backlog) `imdb-ingest load` first (timed apart), then the indexer works off the full topics; timed from
                      the indexer's start
  exact               the enrichment topics hold exactly one message per document published, the indexes as many
                      documents as were published (ids are unique, so exactly those), nothing dead-lettered; an
                      OpenSearch cluster must then be green (every replica copied)
  api (--api-seconds) two `imdb-api` nodes (cache off) behind HAProxy on the indexed engine: search, filtered search
                      and suggestions, `--api-clients` threads back to back, each kind for S seconds (bench/api.py's
                      load); then with `--api-rate R` the three kinds in turn at R requests/s for S seconds, open loop
                      (latency from each request's due time); the API nodes' /metrics read around every window
  stop                SIGTERM to the indexer and API processes (each must exit 0), the engine stopped cleanly,
                      `imdb-local-kafka stop`

and prints medians as Markdown tables ready for bench/RESULTS.md, with date, machine, build and command: documents/s
end to end, ingest records/s, bulk latency p50/p99 estimated from the `imdb_indexer_bulk_duration_seconds` buckets,
peak RSS (VmHWM) and CPU cores busy over the timed window of ingest, the indexer, each engine node and each broker;
the API's requests/s, p50 and p99 (closed loop); p50, p99, max and the achieved rate per kind and for the mix (open
loop); per route the mean request time in the API, the engine calls' time per request and the difference, the API's
own time (from `imdb_api_request_duration_seconds` and `imdb_api_upstream_duration_seconds`). Every run starts the
same copies of the binaries, taken when the session starts.

Run from the repository root after `cargo build --release --workspace --bins` (and scripts/setup.sh: OpenSearch's
jars, HAProxy):
  python3 bench/indexer.py --titles 1000000 --runs 1
  python3 bench/indexer.py --titles 100000 --runs 3 --backlog --workers 2,4   # the indexer alone, two worker counts
  python3 bench/indexer.py --titles 100000,1000000 --engines search-node,opensearch --opensearch-nodes 1 \
      --api-seconds 20 --api-rate 100
Python 3 standard library only.
"""
import argparse
import datetime
import functools
import http.client
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import random
import time

from api import (DRAIN, KINDS, ROUTE, ROUTE_CALLS, SENDERS, api_metrics, measure, open_loop, query_pool, start_api,
                 start_lb, time_split)
from common import (BenchError, Cluster, Process, build_info, copy_bins, dataset, fail, finish_run, free_port,
                    disk_mib, histogram_quantile, http_request, machine, machine_cpu, parse_metrics, proc_cpu, run_folder,
                    sample_alive, stop_cleanly, tail, topic_messages)
from engines import ENGINES, start_engine

OPEN_WARMUP = 2.0  # seconds of the open loop at its rate before it is measured (the closed loop warmed up just before)


# --- one run ---------------------------------------------------------------------------------------------------------

def start_ingest(bins, data, run_dir, cluster, args):
    summary_path = os.path.join(run_dir, "load.json")
    cmd = [bins["imdb-ingest"], "load", "--input", data, "--brokers", cluster.bootstrap, "--quiet", "--summary-json",
           summary_path] + (["--no-raw"] if args.no_raw else [])
    return Process("imdb-ingest", cmd, os.path.join(run_dir, "ingest.log")), summary_path


def ingest_summary(ingest, summary_path):
    code = ingest.proc.wait()
    ingest.log.close()
    if code != 0:
        raise BenchError(f"imdb-ingest load exited with {code}:\n{tail(ingest.log_path)}")
    with open(summary_path) as f:
        summary = json.load(f)
    if summary["messages_failed"] or summary["messages_unconfirmed"]:
        raise BenchError(f"imdb-ingest load: {summary['messages_failed']} messages failed")
    return summary


def one_run(label, bins, data, variant, args):
    engine_name, workers, batch = variant
    run_dir, kafka_dir = run_folder("e2e", label)
    engine = indexer = ingest = cluster = None
    apis = []
    result = {}
    try:
        cluster = Cluster(bins["imdb-local-kafka"], kafka_dir, nodes=3)
        engine = start_engine(engine_name, bins, run_dir, args.opensearch_heap, args.opensearch_nodes)
        result["shape"] = engine.shape
        summary = None
        if args.backlog:
            start = time.monotonic()
            ingest, summary_path = start_ingest(bins, data, run_dir, cluster, args)
            summary = ingest_summary(ingest, summary_path)
            result["ingest_seconds"] = time.monotonic() - start
            print(f"  {label}: loaded in {result['ingest_seconds']:.1f} s", file=sys.stderr, flush=True)

        metrics_port = free_port()
        env = dict(os.environ, IMDB_BROKERS=cluster.bootstrap, IMDB_ES_URL=engine.urls,
                   IMDB_INDEXER_METRICS_LISTEN=f"127.0.0.1:{metrics_port}")
        cmd = [bins["imdb-indexer"]]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        if batch is not None:
            cmd += ["--batch-docs", str(batch)]
        cpu0 = {"engine": engine.cpu(), "brokers": cluster.cpu(), "machine": machine_cpu()}
        start = time.monotonic()
        indexer = Process("imdb-indexer", cmd, os.path.join(run_dir, "indexer.log"), env)
        if not args.backlog:
            ingest, summary_path = start_ingest(bins, data, run_dir, cluster, args)
        first_doc, metrics, last_refresh, last_progress, last_indexed = None, {}, 0.0, start, -1
        counts, docs = (0, 0), None
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            sample_alive(indexer)
            engine.sample()
            if summary is None:
                ingest.sample()
            if summary is None and ingest.proc.poll() is not None:
                summary = ingest_summary(ingest, summary_path)
                result["ingest_seconds"] = now - start
                print(f"  {label}: ingest done after {now - start:.1f} s", file=sys.stderr, flush=True)
            try:
                status, text = http_request(metrics_port, "GET", "/metrics", timeout=5)
                if status == 200:  # else keep the last good reading
                    metrics = parse_metrics(text.decode())
            except (OSError, http.client.HTTPException):
                pass
            indexed = metrics.get("imdb_indexer_docs_indexed_total", 0)
            if indexed and first_doc is None:
                first_doc = now
            if indexed != last_indexed:
                last_indexed, last_progress = indexed, now
            if metrics.get("imdb_indexer_docs_dead_lettered_total", 0):
                raise BenchError(f"{metrics['imdb_indexer_docs_dead_lettered_total']:.0f} documents dead-lettered")
            if summary is not None:
                titles, people = summary["titles_published"], summary["people_published"]
                docs = titles + people
                # Refreshing costs the engine work: refresh only once the indexer says it is done, or every 10 s in
                # case its counter and the engine disagree.
                if indexed >= docs or now - last_refresh >= 10:
                    last_refresh = now
                    engine.refresh()
                    counts = (engine.count("imdb-titles"), engine.count("imdb-people"))
                    if counts == (titles, people):
                        end = time.monotonic()
                        break
                    if counts[0] > titles or counts[1] > people:
                        raise BenchError(f"counts {counts} exceed the documents published ({titles}, {people})")
            if now - last_progress > args.stall_seconds:
                raise BenchError(f"no progress for {args.stall_seconds:g} s: docs indexed {indexed:,.0f}, counts "
                                 f"titles {counts[0]:,} people {counts[1]:,}")
        seconds = end - start
        brokers_cpu = [b - a for a, b in zip(cpu0["brokers"], cluster.cpu())]
        engine_cpu = [b - a for a, b in zip(cpu0["engine"], engine.cpu())]
        cpu = {"indexer": proc_cpu(indexer.pid), "machine": machine_cpu() - cpu0["machine"]}
        indexer.sample()
        engine.sample()
        engine.settle()
        result.update(disk_engine=disk_mib(*engine.data_dirs()), disk_kafka=disk_mib(kafka_dir))
        metrics = parse_metrics(http_request(metrics_port, "GET", "/metrics", timeout=5)[1].decode())
        # Exact in Kafka too: one message per document published in the enrichment topics.
        messages = topic_messages(bins["imdb-ingest"], cluster.bootstrap)
        if (messages["imdb.enriched.titles"], messages["imdb.enriched.people"]) != (titles, people):
            raise BenchError(f"topics hold {messages['imdb.enriched.titles']:,} titles and "
                             f"{messages['imdb.enriched.people']:,} people for {titles:,} and {people:,} published")
        buckets = metrics["imdb_indexer_bulk_duration_seconds_bucket"]
        ingest_cpu = 0.0 if args.backlog else ingest.cpu
        result.update(
            titles=titles, people=people, docs=docs, records=summary["records_read"],
            records_s=summary["records_read"] / result["ingest_seconds"],
            seconds=seconds, docs_s=docs / seconds, first_doc_seconds=end - first_doc,
            bulk_p50=histogram_quantile(buckets, 0.5) * 1e3, bulk_p99=histogram_quantile(buckets, 0.99) * 1e3,
            bulks=metrics["imdb_indexer_bulk_duration_seconds_count"],
            retried=metrics["imdb_indexer_docs_retried_total"], dead=metrics["imdb_indexer_docs_dead_lettered_total"],
            ingest_cpu=ingest_cpu / seconds, indexer_cpu=cpu["indexer"] / seconds,
            engine_cpu=[c / seconds for c in engine_cpu], broker_cpu=[c / seconds for c in brokers_cpu],
            other_cpu=max(0.0, cpu["machine"] - cpu["indexer"] - sum(engine_cpu) - sum(brokers_cpu) - ingest_cpu)
            / seconds,
            ingest_rss=0.0 if args.backlog else ingest.hwm, indexer_rss=indexer.hwm, engine_rss=engine.rss(),
            broker_rss=cluster.rss())
        print(f"  {label}: {docs:,} docs searchable {seconds:.1f} s after the start ({result['docs_s']:,.0f} docs/s), "
              f"exact; ingest {result['records_s']:,.0f} records/s; {result['bulks']:,.0f} bulks p50 "
              f"{result['bulk_p50']:.0f} ms p99 {result['bulk_p99']:.0f} ms, retried {result['retried']:,.0f}; peak "
              f"RSS ingest {result['ingest_rss']:,.0f} indexer {indexer.hwm:,.0f} {engine.name} "
              f"{', '.join(f'{r:,.0f}' for r in result['engine_rss'])} brokers "
              f"{', '.join(f'{r:,.0f}' for r in result['broker_rss'])} MiB; CPU ingest {result['ingest_cpu']:.2f} "
              f"indexer {result['indexer_cpu']:.2f} {engine.name} "
              f"{', '.join(f'{c:.2f}' for c in result['engine_cpu'])} brokers "
              f"{', '.join(f'{c:.2f}' for c in result['broker_cpu'])}; disk {engine.name} {result['disk_engine']:,.0f} "
              f"MiB, Kafka {result['disk_kafka']:,.0f} MiB", file=sys.stderr, flush=True)
        stop_cleanly(indexer)
        if args.api_seconds > 0:
            result["api"] = api_phase(bins, run_dir, engine, apis, args, label)
            apis[2].stop()  # HAProxy: SIGTERM is its hard stop, so no exit status to check
            stop_cleanly(*apis[:2])
        engine.stop()
    except (BenchError, OSError, subprocess.CalledProcessError, http.client.HTTPException, KeyError, ValueError,
            TypeError) as e:
        if engine:
            print(f"\n{engine.log_tails()}", file=sys.stderr)
            engine.kill()
        fail(label, e, run_dir, (ingest, indexer, *apis), cluster)
    except BaseException:
        # Interrupted, or a bug: stop every process before leaving (the brokers and OpenSearch nodes are not this
        # script's children and would outlive it).
        for p in (ingest, indexer, *apis):
            if p and p.alive():
                p.proc.kill()
        if cluster:
            cluster.stop(check=False)
        if engine:
            engine.kill()
        raise
    finish_run(cluster, run_dir, args.keep)
    return result


def wait_quiet(pids, below=0.05, span=40.0, step=5.0, limit=900.0):
    """Waits until the engine's processes together have used under `below` cores in every `step` of the last `span`
    seconds, at most `limit` seconds; the seconds waited. A load leaves merges to do: search-node merges a shard once
    nothing was written to it for 30 s (so `span` is longer), OpenSearch merges in the background. Measuring the API
    during those merges measures the merges."""
    t0 = time.monotonic()
    quiet_since = t0
    while time.monotonic() - t0 < limit and time.monotonic() - quiet_since < span:
        before = sum(proc_cpu(p) or 0 for p in pids)
        time.sleep(step)
        if (sum(proc_cpu(p) or 0 for p in pids) - before) / step >= below:
            quiet_since = time.monotonic()
    return time.monotonic() - t0


def api_phase(bins, run_dir, engine, apis, args, label):
    """On the indexed engine: two API nodes (response cache off, rate limit off, every engine URL) behind HAProxy;
    each request kind closed-loop for --api-seconds, then (with --api-rate) the mix open-loop at that rate for as
    long; the API nodes' metrics read around each measured window."""
    quiet = wait_quiet(engine.pids())
    print(f"  {label} engine quiet after {quiet:.0f} s (its merges done)", file=sys.stderr, flush=True)
    uncached = {"IMDB_API_CACHE_ENTRIES": "0"}
    apis.append(start_api("bench-api-1", bins["imdb-api"], engine.urls, run_dir, uncached))
    apis.append(start_api("bench-api-2", bins["imdb-api"], engine.urls, run_dir, uncached))
    apis.append(start_lb(run_dir, apis[0], apis[1]))
    pools = query_pool(apis[2].port, random.Random(42))
    snapshot = functools.partial(api_metrics, [apis[0].port, apis[1].port])
    api_pids = [p.pid for p in apis]
    result = {"closed": measure(apis[2].port, pools, args.api_clients, args.api_seconds, api_pids, engine.pids(),
                                f"{label} API ", args.api_warmup, snapshot)}
    for k, r in result["closed"].items():
        r["split"] = time_split(r.pop("window"), ROUTE[k])
    result["open"] = {}
    for rate in args.api_rate:
        cpu0 = [proc_cpu(pid) for pid in api_pids + engine.pids()]
        t0 = time.monotonic()
        r = open_loop(apis[2].port, pools, rate, args.api_seconds, OPEN_WARMUP, snapshot)
        cores = [(proc_cpu(pid) - c) / (time.monotonic() - t0) for pid, c in zip(api_pids + engine.pids(), cpu0)]
        r["api_cpu"], r["engine_cpu"] = sum(cores[:len(api_pids)]), sum(cores[len(api_pids):])
        window = r.pop("window")
        r["split"] = {route: time_split(window, route) for route in ROUTE_CALLS}
        result["open"][rate] = r
        for k in KINDS + ("mix",):
            c = r[k]
            print(f"  {label} API open loop {rate:g}/s {k:8}: {c['achieved']:6.1f} req/s p50 {ms(c['p50'])} ms p99 "
                  f"{ms(c['p99'])} ms max {ms(c['max'])} ms, wait to send p99 {ms(c['lag_p99'])} ms, errors "
                  f"{c['errors']} {c['statuses'] or ''}, dropped {c['dropped']}", file=sys.stderr, flush=True)
    return result


# --- report ----------------------------------------------------------------------------------------------------------

def name(variant):
    engine, workers, batch = variant
    return (f"{engine}, {workers if workers is not None else 'default'} workers, "
            f"batch {batch if batch is not None else 'default'}")


def report(args, sizes, variants, results, build):
    ratio = len(variants) > 1
    first = variants[0]
    medl = lambda rs, k: [statistics.median(r[k][i] for r in rs) for i in range(len(rs[0][k]))]  # noqa: E731
    joined = lambda xs, f: " / ".join(f.format(x) for x in xs)  # noqa: E731
    mode = "backlog: ingest first, then the indexer" if args.backlog else "pipeline: ingest and the indexer together"
    engines = sorted({v[0] for v in variants}, key=ENGINES.index)
    print(f"\n## End to end: IMDb files to searchable through 3 Kafka brokers into {' and '.join(engines)} ({mode}, "
          f"{datetime.date.today()})\n")
    print(f"- Machine: {machine()}; {build}.")
    command = f"python3 bench/indexer.py {' '.join(sys.argv[1:])}"
    print(f"- Command: `cargo build --release --workspace --bins && {command}`")
    shape = {v[0]: rs[0]["shape"] for (_, v), rs in results.items()}
    shapes = "; ".join(f"{e}: {shape[e]}" for e in engines)
    print(f"- Data: `imdb-ingest generate --titles N --seed 42`, "
          f"{'documents only (`--no-raw`)' if args.no_raw else 'raw rows and documents'}. Fresh per run: a 3-node "
          f"Kafka cluster (Kafka 4.4.0, KRaft, 512 MiB heaps; topics with 3 replicas, min.insync.replicas 2; "
          f"producers acks=all) and the engine ({shapes}). "
          + ("Ingest ran first (not in the time); the time runs from the indexer's start. " if args.backlog else
             "The indexer starts, then ingest; the time runs from then until every document is searchable. ")
          + "Every run exact: the enrichment topics hold one message per document published and the indexes "
          f"exactly the documents published. Indexer defaults but the flags shown (2 workers, 1000 docs per bulk). "
          f"Ingest, indexer, engine, brokers and this script share the machine; CPU columns are cores busy over the "
          f"timed window; disk is what the engine's data folders and the three brokers' folders hold once every document "
          f"is searchable. Medians of {args.runs} run{'s' if args.runs > 1 else ''}, variants interleaved.\n")
    print("| titles | engine | workers | batch docs | docs | seconds | docs/s | ingest records/s | ingest s | "
          "bulk p50 ms | bulk p99 ms | retried | disk MiB: engine / Kafka | "
          "peak RSS MiB: ingest / indexer / engine nodes / brokers | "
          "CPU: ingest / indexer / "
          "engine nodes / brokers / other |" + (f" docs/s vs {name(first)} |" if ratio else ""))
    print("|---:|---|---:|---:|---:|" + "---:|" * (10 + ratio))
    for size in sizes:
        base = med(results[(size, first)], "docs_s")
        for v in variants:
            rs = results[(size, v)]
            print(f"| {size:,} | {v[0]} | {v[1] if v[1] is not None else '2 (default)'} | "
                  f"{v[2] if v[2] is not None else '1000 (default)'} | {rs[0]['docs']:,} | {med(rs, 'seconds'):.1f} | "
                  f"{med(rs, 'docs_s'):,.0f} | {med(rs, 'records_s'):,.0f} | {med(rs, 'ingest_seconds'):.1f} | "
                  f"{med(rs, 'bulk_p50'):,.0f} | {med(rs, 'bulk_p99'):,.0f} | {max(r['retried'] for r in rs):,.0f} | "
                  f"{med(rs, 'disk_engine'):,.0f} / {med(rs, 'disk_kafka'):,.0f} | "
                  f"{med(rs, 'ingest_rss'):,.0f} / {med(rs, 'indexer_rss'):,.0f} / "
                  f"{joined(medl(rs, 'engine_rss'), '{:,.0f}')} / {joined(medl(rs, 'broker_rss'), '{:,.0f}')} | "
                  f"{med(rs, 'ingest_cpu'):.2f} / {med(rs, 'indexer_cpu'):.2f} / "
                  f"{joined(medl(rs, 'engine_cpu'), '{:.2f}')} / {joined(medl(rs, 'broker_cpu'), '{:.2f}')} / "
                  f"{med(rs, 'other_cpu'):.2f} |" + (f" {med(rs, 'docs_s') / base:.2f} |" if ratio else ""))
    if args.api_seconds > 0:
        report_api(args, sizes, variants, results)


def report_api(args, sizes, variants, results):
    print("\n### imdb-api through HAProxy on the indexed engine\n")
    print(f"- Right after each run above, on its engine: two `imdb-api` nodes (response cache off, rate limit off, "
          f"every engine URL) behind HAProxy (`deploy/haproxy/haproxy.cfg`); queries from a seeded pool of 2,000 drawn "
          f"from the indexed titles (as `bench/api.py`: search with facets, search with filters, suggestions). Every "
          f"answer must be a 200 of the right shape. Closed loop: {args.api_clients} client threads back to back for "
          f"{args.api_seconds:g} s per request kind after a {args.api_warmup:g} s warm-up of it. CPU: cores busy in "
          f"the two API nodes and HAProxy, and in the engine's nodes together.\n")
    many = len(variants) > 1
    label = lambda v: v[0] if len({(w, b) for _, w, b in variants}) == 1 else name(v)  # noqa: E731
    print("| titles | engine | request | req/s | p50 ms | p99 ms | API CPU | engine CPU |"
          + (f" req/s vs {label(variants[0])} |" if many else ""))
    print("|---:|---|---|---:|---:|---:|---:|---:|" + ("---:|" if many else ""))
    for size in sizes:
        for k in KINDS:
            base = med([r["api"]["closed"][k] for r in results[(size, variants[0])]], "rps")
            for v in variants:
                rs = [r["api"]["closed"][k] for r in results[(size, v)]]
                print(f"| {size:,} | {label(v)} | {k} | {med(rs, 'rps'):,.0f} | {med(rs, 'p50'):.1f} | "
                      f"{med(rs, 'p99'):.1f} | {med(rs, 'api_cpu'):.2f} | {med(rs, 'node_cpu'):.2f} |"
                      + (f" {med(rs, 'rps') / base:.2f} |" if many else ""))
    if args.api_rate:
        report_open_loop(args, sizes, variants, results, label)
    report_split(args, sizes, variants, results, label)


def med(rs, key):
    return statistics.median(r[key] for r in rs)


def ms(x):
    """A latency in ms for the tables: infinite is a request dropped (never sent), NaN none at all."""
    return "dropped" if x == math.inf else "-" if math.isnan(x) else f"{x:,.1f}"


def ratio_of(a, b):
    return "-" if math.isnan(a / b if b else math.nan) or math.isinf(a) or math.isinf(b) else f"{a / b:.2f}"


def report_open_loop(args, sizes, variants, results, label):
    many = len(variants) > 1
    print(f"\nOpen loop: {' and '.join(f'{r:g}' for r in args.api_rate)} requests/s for {args.api_seconds:g} s (after "
          f"{OPEN_WARMUP:g} s at that rate, not measured), the three kinds in turn; request i is due at start + i / "
          f"rate and handed then to one of {SENDERS} sender threads, so a slow answer never delays the next; latency "
          f"from the due time (no coordinated omission), over the 200 answers and the dropped requests (never sent "
          f"within {DRAIN} s of the schedule's end: the system fell behind; counted as infinite). Achieved: 200 "
          f"answers over the time from the window's start to the last answer. Errors: answers other than 200 (an "
          f"overloaded API answers 503/504) or none. Wait to send: due time to send (this script's own delay, and "
          f"once every sender is busy the wait for one). CPU over the whole open loop, on the mix row.\n")
    print("| titles | engine | rate asked | request | achieved req/s | 200s | errors | dropped | p50 ms | p99 ms "
          "| max ms | wait to send p99 ms | API CPU | engine CPU |"
          + (f" p50 vs {label(variants[0])} | p99 vs {label(variants[0])} |" if many else ""))
    print("|---:|---|---:|---|" + "---:|" * (10 + 2 * many))
    for size in sizes:
        for rate in args.api_rate:
            for k in KINDS + ("mix",):
                base = [r["api"]["open"][rate][k] for r in results[(size, variants[0])]]
                for v in variants:
                    runs = [r["api"]["open"][rate] for r in results[(size, v)]]
                    rs = [o[k] for o in runs]
                    cpu = f"{med(runs, 'api_cpu'):.2f} | {med(runs, 'engine_cpu'):.2f}" if k == "mix" else "- | -"
                    print(f"| {size:,} | {label(v)} | {rate:g} | {k} | {med(rs, 'achieved'):,.1f} | "
                          f"{med(rs, 'n'):,.0f} | {max(r['errors'] for r in rs):,} | {max(r['dropped'] for r in rs):,} "
                          f"| {ms(med(rs, 'p50'))} | {ms(med(rs, 'p99'))} | {ms(med(rs, 'max'))} | "
                          f"{ms(med(rs, 'lag_p99'))} | {cpu} |"
                          + (f" {ratio_of(med(rs, 'p50'), med(base, 'p50'))} | "
                             f"{ratio_of(med(rs, 'p99'), med(base, 'p99'))} |" if many else ""))


def report_split(args, sizes, variants, results, label):
    print("\nWhere the API's time goes, from the API nodes' own metrics (`imdb_api_request_duration_seconds` by "
          "route, `imdb_api_upstream_duration_seconds` by engine call), read on both nodes before and after each "
          "measured window: per request, its mean time in the API, the engine calls it made (`search`, and `count` "
          "when a filtered search found nothing, for `/api/v1/search`; `msearch` for `/api/v1/suggest`) and their "
          "time (the round trips to the engine), and the difference: the API's own time (parsing, building the "
          "query, reading the answer, JSON, waiting for a worker). Client mean: the mean latency this script saw "
          "(HAProxy and the client on top; in the open loop from the due time). Means in ms, medians over runs.\n")
    print("| titles | load | request | route | engine | API requests | client mean | API mean | engine calls per "
          "request | engine time | API's own time |")
    print("|---:|---|---|---|---|" + "---:|" * 6)
    rows = [("closed", k, ROUTE[k], lambda api, k=k: (api["closed"][k]["split"], api["closed"][k]["mean"]))
            for k in KINDS]
    rows += [(f"open {rate:g}/s", " + ".join(k for k in KINDS if ROUTE[k] == route), route,
              lambda api, rate=rate, route=route: (api["open"][rate]["split"][route],
                                                   client_mean(api["open"][rate], route)))
             for rate in args.api_rate for route in ROUTE_CALLS]
    for size in sizes:
        for load, kinds, route, cell in rows:
            for v in variants:
                cells = [cell(r["api"]) for r in results[(size, v)]]
                splits = [s for s, _ in cells if s]
                if not splits:
                    continue
                print(f"| {size:,} | {load} | {kinds} | `{route}` | {label(v)} | {med(splits, 'requests'):,.0f} | "
                      f"{ms(statistics.median(m for _, m in cells))} | {med(splits, 'request_ms'):.1f} | "
                      f"{med(splits, 'calls'):.2f} | {med(splits, 'upstream_ms'):.1f} | {med(splits, 'own_ms'):.1f} |")


def client_mean(open_result, route):
    """The client's mean latency over the kinds served by `route`, weighted by their requests."""
    kinds = [open_result[k] for k in KINDS if ROUTE[k] == route]
    return sum(k["mean"] * k["n"] for k in kinds) / max(1, sum(k["n"] for k in kinds))


def int_list(text):
    return [int(x) for x in text.split(",")] if text else [None]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--titles", default="1000000", help="comma-separated title counts to generate (people: 1.25 per "
                   "title), measured in turn")
    p.add_argument("--runs", type=int, default=1, help="repetitions; medians are reported")
    p.add_argument("--engines", default="search-node", help=f"comma-separated engines compared side by side: "
                   f"{', '.join(ENGINES)}")
    p.add_argument("--workers", default="", help="comma-separated `imdb-indexer --workers` values compared side by "
                   "side (default: the indexer's default)")
    p.add_argument("--batch-docs", default="", help="comma-separated `imdb-indexer --batch-docs` values compared side "
                   "by side (default: the indexer's default)")
    p.add_argument("--backlog", action="store_true", help="load everything first, then time the indexer alone")
    p.add_argument("--no-raw", action="store_true", help="ingest publishes documents only, no raw rows")
    p.add_argument("--api-seconds", type=float, default=0, help="after each run, measure the API through HAProxy on "
                   "the indexed engine for this long per request kind (0: not)")
    p.add_argument("--api-warmup", type=float, default=10, help="seconds of each request kind before it is measured "
                   "(OpenSearch's JIT compiles its search paths under load)")
    p.add_argument("--api-clients", type=int, default=4, help="client threads of the API measurement")
    p.add_argument("--api-rate", default="", help="after the closed loop, the request kinds in turn at this fixed "
                   "rate (requests/s) for --api-seconds, open loop; comma-separated rates run in turn (default: none)")
    p.add_argument("--opensearch-nodes", type=int, default=3, choices=(1, 3), help="nodes of the OpenSearch cluster "
                   "(1: replicas 0; 3: one replica per shard)")
    p.add_argument("--opensearch-heap", default="1GiB", help="heap of each OpenSearch node")
    p.add_argument("--stall-seconds", type=float, default=300, help="fail when nothing is indexed for this long")
    p.add_argument("--keep", action="store_true", help="keep the run folders (cluster, engine, logs) in bench/.data/")
    args = p.parse_args()
    args.api_rate = [float(r) for r in args.api_rate.split(",")] if args.api_rate else []
    if args.api_rate and args.api_seconds <= 0:
        sys.exit("--api-rate needs --api-seconds")
    engines = args.engines.split(",")
    if any(e not in ENGINES for e in engines):
        sys.exit(f"--engines: {', '.join(ENGINES)}, not {args.engines}")
    sizes = [int(x) for x in args.titles.split(",")]
    variants = list(itertools.product(engines, int_list(args.workers), int_list(args.batch_docs)))
    names = ["imdb-indexer", "imdb-search-node", "imdb-ingest", "imdb-local-kafka", "imdb-api"]
    if "opensearch" in engines:
        names.append("imdb-local-opensearch")
    build = build_info(("imdb-indexer", "imdb-search-node", "imdb-ingest"),
                       ("indexer", "search-node", "ingest", "model", "api"))
    bin_dir, bins = copy_bins("e2e", names)
    results = {(s, v): [] for s in sizes for v in variants}
    try:
        for size in sizes:
            data = dataset(bins["imdb-ingest"], size)
            for run in range(args.runs):
                for k, v in enumerate(variants):  # interleaved, so drift hits every variant alike
                    print(f"{size:,} titles, run {run + 1}/{args.runs}, {name(v)}", file=sys.stderr, flush=True)
                    results[(size, v)].append(one_run(f"t{size}-v{k}-r{run + 1}", bins, data, v, args))
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    report(args, sizes, variants, results, build)


if __name__ == "__main__":
    main()

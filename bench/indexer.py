#!/usr/bin/env python3
"""imdb-indexer benchmark: end-to-end indexing throughput, Kafka to searchable.

Generates the dataset once (`imdb-ingest generate --titles N --seed 42`, in `bench/.data/gen-N`, the folder
bench/ingest.py uses), then `--runs` times, for each variant (`--workers` x `--batch-docs`, interleaved so machine
drift hits every variant alike), on a fresh Tansu broker and a fresh imdb-search-node:
  load     `imdb-ingest load --no-raw` puts the title and person documents into Kafka (timed, not the measure)
  index    `imdb-indexer` starts (instance bench-1, defaults but the variant's flags); timed from its start
           until `_count` of `imdb-titles` and `imdb-people` (after `_refresh`) equal the documents published,
           and from the first indexed document (first nonzero `imdb_indexer_docs_indexed_total`) to the same end
  stop     SIGTERM to the indexer (must exit 0), SIGTERM to the node (must exit 0), `imdb-local-broker stop`

and prints medians as a Markdown table ready for bench/RESULTS.md, with date, machine, build and command: docs/s,
bulk latency p50/p99 estimated from the `imdb_indexer_bulk_duration_seconds` buckets, retried and dead-lettered
documents (dead letters fail the run), peak RSS (VmHWM) of the indexer and the node, and CPU cores busy in the
indexer, the node, the broker and the rest of the machine. Every run starts the same copies of the indexer and node
binaries, taken when the session starts.

Run from the repository root after `cargo build --release --workspace --bins`:
  python3 bench/indexer.py --titles 1000000 --runs 1
  python3 bench/indexer.py --titles 100000 --runs 3 --workers 2,4      # quick, two worker counts side by side
Python 3 standard library only.
"""
import argparse
import datetime
import http.client
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import (BIN, DATA, BenchError, build_info, Process, copy_bins, count, fail, finish_run, free_port,
                    histogram_quantile, http_request, machine, machine_cpu, parse_metrics, proc_cpu, run_folder,
                    sample_alive, start_broker, start_node)



# --- one run ---------------------------------------------------------------------------------------------------------

def one_run(label, bins, data, variant, args):
    workers, batch = variant
    run_dir, broker_dir, broker_port = run_folder("indexer", label)
    node = indexer = None
    broker_started = False
    result = {}
    try:
        broker_started = True  # from here on, stop it on failure
        broker_pid = start_broker(bins["imdb-local-broker"], broker_dir, broker_port, args.storage)
        node = start_node(bins["imdb-search-node"], run_dir)

        # Load: documents only (the indexer does not read the raw topics).
        summary_path = os.path.join(run_dir, "load.json")
        start = time.monotonic()
        load = subprocess.run([bins["imdb-ingest"], "load", "--input", data, "--brokers", f"127.0.0.1:{broker_port}",
                               "--quiet", "--no-raw", "--summary-json", summary_path], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        result["load_seconds"] = time.monotonic() - start
        if load.returncode != 0:
            raise BenchError(f"imdb-ingest load exited with {load.returncode}:\n{load.stderr.decode()[-3000:]}")
        with open(summary_path) as f:
            summary = json.load(f)
        if summary["messages_failed"]:
            raise BenchError(f"imdb-ingest load: {summary['messages_failed']} messages not acknowledged")
        titles, people = summary["titles_published"], summary["people_published"]
        result.update(titles=titles, people=people, docs=titles + people)
        print(f"  {label}: loaded {titles:,} titles and {people:,} people in {result['load_seconds']:.1f} s",
              file=sys.stderr, flush=True)

        # Index: from the indexer's start until both counts are exact after a refresh.
        metrics_port = free_port()
        env = dict(os.environ, IMDB_BROKERS=f"127.0.0.1:{broker_port}", IMDB_ES_URL=f"http://127.0.0.1:{node.port}",
                   IMDB_INDEXER_INSTANCE_ID="bench-1", IMDB_INDEXER_METRICS_LISTEN=f"127.0.0.1:{metrics_port}")
        cmd = [bins["imdb-indexer"]]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        if batch is not None:
            cmd += ["--batch-docs", str(batch)]
        cpu0 = {"node": proc_cpu(node.pid), "broker": proc_cpu(broker_pid), "machine": machine_cpu()}
        start = time.monotonic()
        indexer = Process("imdb-indexer", cmd, os.path.join(run_dir, "indexer.log"), env)
        first_doc, metrics, last_refresh, last_progress, last_indexed = None, {}, 0.0, start, -1
        counts = (0, 0)
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            sample_alive(indexer, node)
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
            # Refreshing costs the node work: refresh only once the indexer says it is done, or every 10 s in case
            # its counter and the node disagree.
            if indexed >= result["docs"] or now - last_refresh >= 10:
                last_refresh = now
                status, body = http_request(node.port, "POST", "/_refresh")
                if status != 200:
                    raise BenchError(f"POST /_refresh: HTTP {status}: {body[:500].decode(errors='replace')}")
                counts = (count(node.port, "imdb-titles"), count(node.port, "imdb-people"))
                if counts == (titles, people):
                    end = time.monotonic()
                    break
                if counts[0] > titles or counts[1] > people:
                    raise BenchError(f"counts {counts} exceed the documents published ({titles}, {people})")
            # Tansu's memory engine drops messages (a fetch from an offset
            # inside a record batch returns the next batch), so there the
            # counts may never be exact: the run also ends when the indexer
            # has consumed everything (no lag) and indexed nothing for 15 s,
            # and the documents missing are reported.
            if (args.storage == "memory" and indexed and now - last_progress > 15
                    and metrics.get("imdb_indexer_consumer_lag{*}", 1) == 0
                    and not metrics.get("imdb_indexer_in_flight_requests", 1)):
                http_request(node.port, "POST", "/_refresh")
                counts = (count(node.port, "imdb-titles"), count(node.port, "imdb-people"))
                end = last_progress
                break
            if now - last_progress > args.stall_seconds:
                raise BenchError(f"no progress for {args.stall_seconds:g} s: docs indexed {indexed:,.0f} of "
                                 f"{result['docs']:,}, counts titles {counts[0]:,} people {counts[1]:,}")
        seconds = end - start
        result["lost"] = titles + people - counts[0] - counts[1] - int(metrics.get("imdb_indexer_docs_dead_lettered_total", 0))
        cpu = {"indexer": proc_cpu(indexer.pid), "node": proc_cpu(node.pid) - cpu0["node"],
               "broker": (proc_cpu(broker_pid) or 0) - (cpu0["broker"] or 0), "machine": machine_cpu() - cpu0["machine"]}
        indexer.sample()
        node.sample()
        metrics = parse_metrics(http_request(metrics_port, "GET", "/metrics", timeout=5)[1].decode())
        buckets = metrics["imdb_indexer_bulk_duration_seconds_bucket"]
        result.update(
            # Rates count the documents that arrived (all of them unless the broker lost some).
            seconds=seconds, docs_s=(result["docs"] - result["lost"]) / seconds, first_doc_seconds=end - first_doc,
            docs_s_first=(result["docs"] - result["lost"]) / (end - first_doc), startup_seconds=first_doc - start,
            bulk_p50=histogram_quantile(buckets, 0.5) * 1e3, bulk_p99=histogram_quantile(buckets, 0.99) * 1e3,
            bulks=metrics["imdb_indexer_bulk_duration_seconds_count"],
            consumed=metrics["imdb_indexer_messages_consumed_total"],
            indexed=metrics["imdb_indexer_docs_indexed_total"],
            retried=metrics["imdb_indexer_docs_retried_total"],
            dead=metrics["imdb_indexer_docs_dead_lettered_total"],
            indexer_cpu=cpu["indexer"] / seconds, node_cpu=cpu["node"] / seconds, broker_cpu=cpu["broker"] / seconds,
            other_cpu=max(0.0, cpu["machine"] - cpu["indexer"] - cpu["node"] - cpu["broker"]) / seconds,
            indexer_rss=indexer.hwm, node_rss=node.hwm)
        if result["dead"]:
            raise BenchError(f"{result['dead']:.0f} documents dead-lettered")
        print(f"  {label}: {result['docs']:,} docs searchable {seconds:.1f} s after the indexer's start "
              f"({result['docs_s']:,.0f} docs/s; first document after {result['startup_seconds']:.1f} s), "
              f"{result['bulks']:,.0f} bulks p50 {result['bulk_p50']:.0f} ms p99 {result['bulk_p99']:.0f} ms, "
              f"consumed {result['consumed']:,.0f}, indexed {result['indexed']:,.0f}, lost by the broker "
              f"{result['lost']:,}, retried {result['retried']:,.0f}, "
              f"dead-lettered {result['dead']:,.0f}; peak RSS indexer {indexer.hwm:,.0f} MiB node {node.hwm:,.0f} "
              f"MiB; CPU indexer {result['indexer_cpu']:.2f} node {result['node_cpu']:.2f} broker "
              f"{result['broker_cpu']:.2f} other {result['other_cpu']:.2f}", file=sys.stderr, flush=True)

        code = indexer.stop()
        if code != 0:
            raise BenchError(f"imdb-indexer exited with {code} on SIGTERM (None: killed after 60 s)")
        code = node.stop()
        if code != 0:
            raise BenchError(f"imdb-search-node exited with {code} on SIGTERM (None: killed after 60 s)")
    except (BenchError, OSError, subprocess.CalledProcessError, http.client.HTTPException, KeyError) as e:
        fail(label, e, run_dir, (indexer, node), bins["imdb-local-broker"], broker_dir if broker_started else None)
    finish_run(bins["imdb-local-broker"], broker_dir, run_dir, args.keep)
    return result


# --- report ----------------------------------------------------------------------------------------------------------

def dataset(titles):
    out = os.path.join(DATA, f"gen-{titles}")
    if not os.path.exists(os.path.join(out, "name.basics.tsv.gz")):
        print(f"generating {titles:,} titles into {out}", file=sys.stderr, flush=True)
        subprocess.run([os.path.join(BIN, "imdb-ingest"), "generate", "--titles", str(titles), "--seed", "42",
                        "--out", out], check=True, stdout=subprocess.DEVNULL)
    return out


def name(variant):
    workers, batch = variant
    return f"{workers if workers is not None else 'default'} workers, batch {batch if batch is not None else 'default'}"


def report(args, variants, results, build):
    ratio = len(variants) > 1
    first = variants[0]
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    load = statistics.median(r["load_seconds"] for v in variants for r in results[v])
    print(f"\n## imdb-indexer: end-to-end indexing throughput ({datetime.date.today()})\n")
    print(f"- Machine: {machine()}; {build}.")
    print(f"- Command: `cargo build --release --workspace --bins && python3 bench/indexer.py "
          f"{' '.join(sys.argv[1:])}`")
    print(f"- Data: `imdb-ingest generate --titles {args.titles} --seed 42`, loaded with `--no-raw` into a fresh Tansu "
          f"broker ({args.storage} storage; median load {load:.1f} s, not counted) before the indexer starts. "
          f"Search node fresh per run, the indexer's templates (1 shard, 0 replicas). Indexer defaults but the "
          f"flags shown (defaults: 2 workers, 1000 docs per bulk). The script, indexer, node and broker share the "
          f"machine; CPU columns are cores busy over the indexing time. Medians of {args.runs} "
          f"run{'s' if args.runs > 1 else ''}.\n")
    print("| titles | workers | batch docs | docs | seconds | docs/s | from 1st doc s | docs/s from 1st doc | bulks | "
          "bulk p50 ms | bulk p99 ms | retried | dead-lettered | lost by the broker | indexer peak RSS MiB | node peak RSS MiB | "
          "indexer CPU | node CPU | broker CPU | other CPU |" + (f" docs/s vs {name(first)} |" if ratio else ""))
    print("|---:|---:|---:|---:|" + "---:|" * (16 + ratio))
    base = med(results[first], "docs_s")
    for v in variants:
        rs = results[v]
        print(f"| {args.titles:,} | {v[0] if v[0] is not None else '2 (default)'} | "
              f"{v[1] if v[1] is not None else '1000 (default)'} | {rs[0]['docs']:,} | {med(rs, 'seconds'):.1f} | "
              f"{med(rs, 'docs_s'):,.0f} | {med(rs, 'first_doc_seconds'):.1f} | {med(rs, 'docs_s_first'):,.0f} | "
              f"{med(rs, 'bulks'):,.0f} | {med(rs, 'bulk_p50'):,.0f} | {med(rs, 'bulk_p99'):,.0f} | "
              f"{max(r['retried'] for r in rs):,.0f} | {max(r['dead'] for r in rs):,.0f} | "
              f"{max(r['lost'] for r in rs):,} | "
              f"{med(rs, 'indexer_rss'):,.0f} | {med(rs, 'node_rss'):,.0f} | {med(rs, 'indexer_cpu'):.2f} | "
              f"{med(rs, 'node_cpu'):.2f} | {med(rs, 'broker_cpu'):.2f} | {med(rs, 'other_cpu'):.2f} |"
              + (f" {med(rs, 'docs_s') / base:.2f} |" if ratio else ""))


def int_list(text):
    return [int(x) for x in text.split(",")] if text else [None]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--titles", type=int, default=1000000, help="titles to generate (people: 1.25 per title)")
    p.add_argument("--runs", type=int, default=1, help="repetitions; medians are reported")
    p.add_argument("--workers", default="", help="comma-separated `imdb-indexer --workers` values compared side by "
                   "side (default: the indexer's default)")
    p.add_argument("--batch-docs", default="", help="comma-separated `imdb-indexer --batch-docs` values compared side "
                   "by side (default: the indexer's default)")
    p.add_argument("--storage", default="sqlite", choices=("sqlite", "memory"), help="the broker's storage engine")
    p.add_argument("--stall-seconds", type=float, default=300, help="fail when nothing is indexed for this long")
    p.add_argument("--keep", action="store_true", help="keep the run folders (broker, node, logs) in bench/.data/")
    args = p.parse_args()
    variants = list(itertools.product(int_list(args.workers), int_list(args.batch_docs)))
    build = build_info(("imdb-indexer", "imdb-search-node", "imdb-ingest"), ("indexer", "search-node", "ingest", "model"))
    bin_dir, bins = copy_bins("indexer", ("imdb-indexer", "imdb-search-node", "imdb-ingest", "imdb-local-broker"))
    data = dataset(args.titles)
    results = {v: [] for v in variants}
    try:
        for run in range(args.runs):
            for k, v in enumerate(variants):  # interleaved, so drift hits every variant alike
                print(f"run {run + 1}/{args.runs}, {name(v)}", file=sys.stderr, flush=True)
                results[v].append(one_run(f"v{k}-r{run + 1}", bins, data, v, args))
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    report(args, variants, results, build)


if __name__ == "__main__":
    main()

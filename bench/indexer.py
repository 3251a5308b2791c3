#!/usr/bin/env python3
"""End-to-end benchmark: IMDb files to searchable documents through a 3-broker Kafka cluster, exact.

Generates the dataset once (`imdb-ingest generate --titles N --seed 42`, in `bench/.data/gen-N`, the folder
bench/ingest.py uses), then `--runs` times, for each variant (`--workers` x `--batch-docs`, interleaved so machine
drift hits every variant alike), on a fresh 3-node Kafka cluster (`imdb-local-kafka start`: Kafka 4.4.0, KRaft, three
replicas, two in sync) and a fresh imdb-search-node:
  pipeline (default)  `imdb-indexer` starts (defaults but the variant's flags), then `imdb-ingest load` (raw rows and
                      documents, or `--no-raw`); timed from ingest's start until `_count` of `imdb-titles` and
                      `imdb-people` (after `_refresh`) equal the documents ingest published
  backlog (--backlog) `imdb-ingest load` first (timed apart), then the indexer works off the full topics; timed from
                      the indexer's start
  exact               the enrichment topics hold exactly one message per document published, the indexes as many
                      documents as were published (ids are unique, so exactly those), nothing dead-lettered
  stop                SIGTERM to the indexer (must exit 0), SIGTERM to the node (must exit 0), `imdb-local-kafka stop`

and prints medians as a Markdown table ready for bench/RESULTS.md, with date, machine, build and command: documents/s
end to end, ingest records/s, bulk latency p50/p99 estimated from the `imdb_indexer_bulk_duration_seconds` buckets,
peak RSS (VmHWM) and CPU cores busy over the timed window of ingest, the indexer, the node and each broker. Every run
starts the same copies of the binaries, taken when the session starts.

Run from the repository root after `cargo build --release --workspace --bins`:
  python3 bench/indexer.py --titles 1000000 --runs 1
  python3 bench/indexer.py --titles 100000 --runs 3 --backlog --workers 2,4   # the indexer alone, two worker counts
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

from common import (BenchError, Cluster, Process, build_info, copy_bins, count, dataset, fail, finish_run, free_port,
                    histogram_quantile, http_request, machine, machine_cpu, parse_metrics, proc_cpu, run_folder,
                    sample_alive, start_node, stop_cleanly, tail, topic_messages)



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
    workers, batch = variant
    run_dir, kafka_dir = run_folder("e2e", label)
    node = indexer = ingest = cluster = None
    result = {}
    try:
        cluster = Cluster(bins["imdb-local-kafka"], kafka_dir, nodes=3)
        node = start_node(bins["imdb-search-node"], run_dir)
        summary = None
        if args.backlog:
            start = time.monotonic()
            ingest, summary_path = start_ingest(bins, data, run_dir, cluster, args)
            summary = ingest_summary(ingest, summary_path)
            result["ingest_seconds"] = time.monotonic() - start
            print(f"  {label}: loaded in {result['ingest_seconds']:.1f} s", file=sys.stderr, flush=True)

        metrics_port = free_port()
        env = dict(os.environ, IMDB_BROKERS=cluster.bootstrap, IMDB_ES_URL=f"http://127.0.0.1:{node.port}",
                   IMDB_INDEXER_METRICS_LISTEN=f"127.0.0.1:{metrics_port}")
        cmd = [bins["imdb-indexer"]]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        if batch is not None:
            cmd += ["--batch-docs", str(batch)]
        cpu0 = {"node": proc_cpu(node.pid), "brokers": cluster.cpu(), "machine": machine_cpu()}
        start = time.monotonic()
        indexer = Process("imdb-indexer", cmd, os.path.join(run_dir, "indexer.log"), env)
        if not args.backlog:
            ingest, summary_path = start_ingest(bins, data, run_dir, cluster, args)
        first_doc, metrics, last_refresh, last_progress, last_indexed = None, {}, 0.0, start, -1
        counts, docs = (0, 0), None
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            sample_alive(indexer, node)
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
                # Refreshing costs the node work: refresh only once the indexer says it is done, or every 10 s in
                # case its counter and the node disagree.
                if indexed >= docs or now - last_refresh >= 10:
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
            if now - last_progress > args.stall_seconds:
                raise BenchError(f"no progress for {args.stall_seconds:g} s: docs indexed {indexed:,.0f}, counts "
                                 f"titles {counts[0]:,} people {counts[1]:,}")
        seconds = end - start
        brokers_cpu = [b - a for a, b in zip(cpu0["brokers"], cluster.cpu())]
        cpu = {"indexer": proc_cpu(indexer.pid), "node": proc_cpu(node.pid) - cpu0["node"],
               "machine": machine_cpu() - cpu0["machine"]}
        indexer.sample()
        node.sample()
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
            ingest_cpu=ingest_cpu / seconds, indexer_cpu=cpu["indexer"] / seconds, node_cpu=cpu["node"] / seconds,
            broker_cpu=[c / seconds for c in brokers_cpu],
            other_cpu=max(0.0, cpu["machine"] - cpu["indexer"] - cpu["node"] - sum(brokers_cpu) - ingest_cpu) / seconds,
            ingest_rss=0.0 if args.backlog else ingest.hwm, indexer_rss=indexer.hwm, node_rss=node.hwm,
            broker_rss=cluster.rss())
        print(f"  {label}: {docs:,} docs searchable {seconds:.1f} s after the start ({result['docs_s']:,.0f} docs/s), "
              f"exact; ingest {result['records_s']:,.0f} records/s; {result['bulks']:,.0f} bulks p50 "
              f"{result['bulk_p50']:.0f} ms p99 {result['bulk_p99']:.0f} ms, retried {result['retried']:,.0f}; peak "
              f"RSS ingest {result['ingest_rss']:,.0f} indexer {indexer.hwm:,.0f} node {node.hwm:,.0f} brokers "
              f"{', '.join(f'{r:,.0f}' for r in result['broker_rss'])} MiB; CPU ingest {result['ingest_cpu']:.2f} "
              f"indexer {result['indexer_cpu']:.2f} node {result['node_cpu']:.2f} brokers "
              f"{', '.join(f'{c:.2f}' for c in result['broker_cpu'])}", file=sys.stderr, flush=True)
        stop_cleanly(indexer, node)
    except (BenchError, OSError, subprocess.CalledProcessError, http.client.HTTPException, KeyError, ValueError,
            TypeError) as e:
        fail(label, e, run_dir, (ingest, indexer, node), cluster)
    except BaseException:
        # Interrupted, or a bug: the brokers are not this script's children, stop them before leaving.
        if cluster:
            cluster.stop(check=False)
        raise
    finish_run(cluster, run_dir, args.keep)
    return result


# --- report ----------------------------------------------------------------------------------------------------------

def name(variant):
    workers, batch = variant
    return f"{workers if workers is not None else 'default'} workers, batch {batch if batch is not None else 'default'}"


def report(args, variants, results, build):
    ratio = len(variants) > 1
    first = variants[0]
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    medl = lambda rs, k: [statistics.median(r[k][i] for r in rs) for i in range(len(rs[0][k]))]  # noqa: E731
    mode = "backlog: ingest first, then the indexer" if args.backlog else "pipeline: ingest and the indexer together"
    print(f"\n## End to end: IMDb files to searchable through 3 Kafka brokers ({mode}, {datetime.date.today()})\n")
    print(f"- Machine: {machine()}; {build}.")
    print(f"- Command: `cargo build --release --workspace --bins && python3 bench/indexer.py "
          f"{' '.join(sys.argv[1:])}`")
    print(f"- Data: `imdb-ingest generate --titles {args.titles} --seed 42`, "
          f"{'documents only (`--no-raw`)' if args.no_raw else 'raw rows and documents'}. Fresh per run: a 3-node "
          f"Kafka cluster (Kafka 4.4.0, KRaft, 512 MiB heaps; topics with 3 replicas, min.insync.replicas 2; "
          f"producers acks=all) and a search node (the indexer's templates: 1 shard, 0 replicas). "
          + ("Ingest ran first (not in the time); the time runs from the indexer's start. " if args.backlog else
             "The indexer starts, then ingest; the time runs from then until every document is searchable. ")
          + "Every run exact: the enrichment topics hold one message per document published and the indexes "
          f"exactly the documents published. Indexer defaults but the flags shown (2 workers, 1000 docs per bulk). "
          f"Ingest, indexer, node, brokers and this script share the machine; CPU columns are cores busy over the "
          f"timed window. Medians of {args.runs} run{'s' if args.runs > 1 else ''}.\n")
    print("| titles | workers | batch docs | docs | seconds | docs/s | ingest records/s | ingest s | bulk p50 ms | "
          "bulk p99 ms | retried | peak RSS MiB: ingest / indexer / node / brokers | CPU: ingest / indexer / node / "
          "brokers / other |" + (f" docs/s vs {name(first)} |" if ratio else ""))
    print("|---:|---:|---:|---:|" + "---:|" * (9 + ratio))
    base = med(results[first], "docs_s")
    for v in variants:
        rs = results[v]
        brss = " / ".join(f"{x:,.0f}" for x in medl(rs, "broker_rss"))
        bcpu = " / ".join(f"{x:.2f}" for x in medl(rs, "broker_cpu"))
        print(f"| {args.titles:,} | {v[0] if v[0] is not None else '2 (default)'} | "
              f"{v[1] if v[1] is not None else '1000 (default)'} | {rs[0]['docs']:,} | {med(rs, 'seconds'):.1f} | "
              f"{med(rs, 'docs_s'):,.0f} | {med(rs, 'records_s'):,.0f} | {med(rs, 'ingest_seconds'):.1f} | "
              f"{med(rs, 'bulk_p50'):,.0f} | {med(rs, 'bulk_p99'):,.0f} | {max(r['retried'] for r in rs):,.0f} | "
              f"{med(rs, 'ingest_rss'):,.0f} / {med(rs, 'indexer_rss'):,.0f} / {med(rs, 'node_rss'):,.0f} / {brss} | "
              f"{med(rs, 'ingest_cpu'):.2f} / {med(rs, 'indexer_cpu'):.2f} / {med(rs, 'node_cpu'):.2f} / {bcpu} / "
              f"{med(rs, 'other_cpu'):.2f} |" + (f" {med(rs, 'docs_s') / base:.2f} |" if ratio else ""))


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
    p.add_argument("--backlog", action="store_true", help="load everything first, then time the indexer alone")
    p.add_argument("--no-raw", action="store_true", help="ingest publishes documents only, no raw rows")
    p.add_argument("--stall-seconds", type=float, default=300, help="fail when nothing is indexed for this long")
    p.add_argument("--keep", action="store_true", help="keep the run folders (cluster, node, logs) in bench/.data/")
    args = p.parse_args()
    variants = list(itertools.product(int_list(args.workers), int_list(args.batch_docs)))
    build = build_info(("imdb-indexer", "imdb-search-node", "imdb-ingest"), ("indexer", "search-node", "ingest", "model"))
    bin_dir, bins = copy_bins("e2e", ("imdb-indexer", "imdb-search-node", "imdb-ingest", "imdb-local-kafka"))
    data = dataset(bins["imdb-ingest"], args.titles)
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

#!/usr/bin/env python3
"""imdb-indexer benchmark: freshness, the time from producing a title to Kafka until it is searchable.

For each run and each variant (`--rates` x `--linger`, interleaved so machine drift hits every variant alike), on a
fresh 3-node Kafka cluster (`imdb-local-kafka start`: KRaft, three replicas, two in sync), a fresh imdb-search-node
and a fresh imdb-indexer (defaults but the variant's `--linger`):
  probe    `freshness-probe` (integration-tests) produces titles at the variant's rate for `--duration`, each with a new
           id, and polls the node's `imdb-titles` alias every 20 ms with an `ids` query for the ones not seen yet;
           the first `--warmup` s (60) are not measured: they create the genre indexes, and the brokers' JVMs
           compile their hot paths; CPU figures count from its end too
  stop     SIGTERM to the indexer (must exit 0), SIGTERM to the node (must exit 0), `imdb-local-kafka stop`

and prints medians over runs as a Markdown table ready for bench/RESULTS.md, with date, machine, build and command:
produce-to-searchable p50/p90/p99/max (ms), documents measured and missing (missing fails the run), peak RSS (VmHWM)
of the indexer, the node and the busiest broker, and CPU cores busy in the indexer, node and brokers. The node refreshes every second (its
default, as Elasticsearch's), so that second bounds freshness from below on average by half of it.

Run from the repository root after `cargo build --release --workspace --bins`:
  python3 bench/freshness.py --rates 100,1000 --runs 3
  python3 bench/freshness.py --rates 500 --linger 500ms,50ms --runs 3    # the indexer's batch linger side by side
Python 3 standard library only; helpers in bench/common.py.
"""
import argparse
import datetime
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import (BenchError, Cluster, Process, build_info, copy_bins, fail, finish_run, free_port, machine, proc_cpu,
                    run_folder, sample_alive, start_node, stop_cleanly, tail)


def one_run(label, bins, rate, linger, args):
    run_dir, kafka_dir = run_folder("freshness", label)
    node = indexer = cluster = None
    try:
        cluster = Cluster(bins["imdb-local-kafka"], kafka_dir, nodes=3)
        node = start_node(bins["imdb-search-node"], run_dir)
        env = dict(os.environ, IMDB_BROKERS=cluster.bootstrap, IMDB_ES_URL=f"http://127.0.0.1:{node.port}",
                   IMDB_INDEXER_METRICS_LISTEN=f"127.0.0.1:{free_port()}")
        cmd = [bins["imdb-indexer"]] + (["--linger", linger] if linger else [])
        indexer = Process("imdb-indexer", cmd, os.path.join(run_dir, "indexer.log"), env)
        probe_log = open(os.path.join(run_dir, "probe.log"), "wb")
        probe = subprocess.Popen([bins["freshness-probe"], "--brokers", cluster.bootstrap, "--es-url",
                                  f"http://127.0.0.1:{node.port}", "--rate", str(rate), "--duration",
                                  f"{args.duration:g}s", "--warmup", f"{args.warmup:g}s"], stdout=subprocess.PIPE,
                                 stderr=probe_log)
        # CPU counts from the end of the warm-up, as the latencies do: the
        # brokers' JVMs compile their hot paths in their first minute of load.
        warmup_end = time.monotonic() + args.warmup
        cpu0 = None
        while probe.poll() is None:
            time.sleep(0.25)
            sample_alive(indexer, node)
            if cpu0 is None and time.monotonic() >= warmup_end:
                start = time.monotonic()
                cpu0 = {"indexer": proc_cpu(indexer.pid), "node": proc_cpu(node.pid), "brokers": sum(cluster.cpu())}
        if cpu0 is None:
            raise BenchError("the probe ended before its warm-up did")
        out = probe.stdout.read().decode()
        probe_log.close()
        if probe.returncode != 0:
            raise BenchError(f"freshness-probe exited with {probe.returncode}: {out}\n"
                             f"{tail(os.path.join(run_dir, 'probe.log'))}")
        result = json.loads(out)
        seconds = time.monotonic() - start
        result.update(indexer_cpu=(proc_cpu(indexer.pid) - cpu0["indexer"]) / seconds,
                      node_cpu=(proc_cpu(node.pid) - cpu0["node"]) / seconds,
                      broker_cpu=(sum(cluster.cpu()) - cpu0["brokers"]) / seconds)
        indexer.sample()
        node.sample()
        result.update(indexer_rss=indexer.hwm, node_rss=node.hwm, broker_rss=max(cluster.rss()))
        print(f"  {label}: {result['measured']:,} titles at {rate}/s: p50 {result['p50_ms']:.0f} ms, p90 "
              f"{result['p90_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms, max {result['max_ms']:.0f} ms; peak RSS "
              f"indexer {indexer.hwm:,.0f} MiB node {node.hwm:,.0f} MiB; CPU indexer {result['indexer_cpu']:.2f} "
              f"node {result['node_cpu']:.2f} brokers {result['broker_cpu']:.2f}", file=sys.stderr, flush=True)
        stop_cleanly(indexer, node)
    except (BenchError, OSError, ValueError, subprocess.CalledProcessError) as e:
        fail(label, e, run_dir, (indexer, node), cluster)
    except BaseException:
        # Interrupted, or a bug: the brokers are not this script's children, stop them before leaving.
        if cluster:
            cluster.stop(check=False)
        raise
    finish_run(cluster, run_dir, args.keep)
    return result


def report(args, variants, results, build):
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    print(f"\n## imdb-indexer: freshness, produce to searchable ({datetime.date.today()})\n")
    print(f"- Machine: {machine()}; {build}.")
    print(f"- Command: `cargo build --release --workspace --bins && python3 bench/freshness.py "
          f"{' '.join(sys.argv[1:])}`")
    print(f"- Fresh 3-node Kafka cluster (Kafka 4.4.0, KRaft, 3 replicas, min.insync.replicas 2, acks=all), search "
          f"node and indexer per run; titles produced at a "
          f"steady rate for {args.duration:g} s (first {args.warmup:g} s not measured: index creation, the brokers' JIT), visibility polled every 20 ms through the "
          f"`imdb-titles` alias. The node refreshes every 1 s (default). Indexer defaults (2 workers, 1000 docs or "
          f"5 MiB per bulk, linger 500ms) but the linger shown. Medians of {args.runs} run"
          f"{'s' if args.runs > 1 else ''}; p99 and max are each run's.\n")
    print("| rate docs/s | indexer linger | measured | missing | p50 ms | p90 ms | p99 ms | max ms | "
          "indexer peak RSS MiB | node peak RSS MiB | broker peak RSS MiB | indexer CPU | node CPU | brokers' CPU |")
    print("|---:|---:|" + "---:|" * 12)
    for v in variants:
        rs = results[v]
        print(f"| {v[0]:,} | {v[1] or '500ms (default)'} | {med(rs, 'measured'):,.0f} | "
              f"{max(r['missing'] for r in rs)} | {med(rs, 'p50_ms'):,.0f} | {med(rs, 'p90_ms'):,.0f} | "
              f"{med(rs, 'p99_ms'):,.0f} | {med(rs, 'max_ms'):,.0f} | {med(rs, 'indexer_rss'):,.0f} | "
              f"{med(rs, 'node_rss'):,.0f} | {med(rs, 'broker_rss'):,.0f} | {med(rs, 'indexer_cpu'):.2f} | "
              f"{med(rs, 'node_cpu'):.2f} | "
              f"{med(rs, 'broker_cpu'):.2f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", default="200,1000", help="comma-separated titles per second, compared side by side")
    p.add_argument("--linger", default="", help="comma-separated `imdb-indexer --linger` values compared side by "
                   "side (default: the indexer's default)")
    p.add_argument("--duration", type=float, default=120, help="seconds of producing per run, warm-up included")
    p.add_argument("--warmup", type=float, default=60, help="seconds at the start of each run not measured (the "
                   "genre indexes are created, the brokers' JVMs compile their hot paths)")
    p.add_argument("--runs", type=int, default=1, help="repetitions; medians are reported")
    p.add_argument("--keep", action="store_true", help="keep the run folders (cluster, node, logs) in bench/.data/")
    args = p.parse_args()
    rates = [int(x) for x in args.rates.split(",")]
    lingers = args.linger.split(",") if args.linger else [None]
    variants = list(itertools.product(rates, lingers))
    build = build_info(("imdb-indexer", "imdb-search-node", "freshness-probe"),
                       ("indexer", "search-node", "model", "integration-tests"))
    bin_dir, bins = copy_bins("freshness", ("imdb-indexer", "imdb-search-node", "imdb-local-kafka", "freshness-probe"))
    results = {v: [] for v in variants}
    try:
        for run in range(args.runs):
            for k, v in enumerate(variants):  # interleaved, so drift hits every variant alike
                print(f"run {run + 1}/{args.runs}, {v[0]} docs/s, linger {v[1] or 'default'}", file=sys.stderr,
                      flush=True)
                results[v].append(one_run(f"v{k}-r{run + 1}", bins, v[0], v[1], args))
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    report(args, variants, results, build)


if __name__ == "__main__":
    main()

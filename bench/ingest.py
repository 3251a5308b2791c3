#!/usr/bin/env python3
"""Ingest throughput benchmark: the parse-only ceiling, real loads into a 3-broker Kafka cluster, and a bare producer
on the same cluster, side by side in one session.

For each dataset size (`imdb-ingest generate --titles N --seed 42`, in bench/.data/gen-N), `--runs` times each,
interleaved so drift hits every mode alike:
  dry     `imdb-ingest load --dry-run`: read, parse, join, serialise; no Kafka (the ceiling ingest's own work sets)
  kafka   `imdb-ingest load` into a fresh 3-node KRaft cluster (`imdb-local-kafka start`: three replicas, two in
          sync, acks=all, idempotent), raw rows and documents
  bare    right after, on the same cluster: `bare-producer` sends as many messages to copies of each topic, cycling
          through a sample of the real ones, with ingest's own producer and defaults and no parsing: the ceiling
          the cluster sets

and prints medians as a Markdown table: records/s (raw rows read; for bare, the records ingest read divided by the
bare producer's time, i.e. the rate if ingest cost nothing), messages/s, MB/s of message keys and values (for kafka estimated at
the bare producer's mean message size), seconds, peak RSS of the ingest process and of the busiest broker so far,
CPU cores busy in the brokers (for bare over its whole process, sampling included), and each mode against dry and kafka against
bare. Every load is checked: no message unacknowledged.

Run from the repository root after `cargo build --release --workspace --bins`:
  python3 bench/ingest.py --sizes 100000,1000000 --runs 3
Python 3 standard library only.
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import DATA, BenchError, Cluster, build_info, copy_bins, dataset, machine, run_folder


def run_measured(cmd, cluster=None):
    """Runs cmd; returns (seconds, its peak RSS MiB, its stdout, each broker's CPU seconds during the run)."""
    cpu0 = cluster.cpu() if cluster else []
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise BenchError(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(cmd)}\n"
                         f"{stderr.decode(errors='replace')[-3000:]}")
    cpu = [b - a for a, b in zip(cpu0, cluster.cpu())] if cluster else []
    return elapsed, usage.ru_maxrss / 1024, stdout, cpu


def load_cmd(bins, data, summary):
    return [bins["imdb-ingest"], "load", "--input", data, "--quiet", "--summary-json", summary]


def dry_run(bins, data):
    summary = os.path.join(DATA, f"ingest-dry-{os.getpid()}.json")
    seconds, rss, _, _ = run_measured(load_cmd(bins, data, summary) + ["--dry-run"])
    with open(summary) as f:
        s = json.load(f)
    os.unlink(summary)
    return {"seconds": seconds, "records": s["records_read"], "records_s": s["records_read"] / seconds,
            "messages": s["messages_sent"], "messages_s": s["messages_sent"] / seconds, "rss": rss}


def kafka_runs(label, bins, data, args):
    """One fresh cluster: ingest, then the bare producer. Returns both results."""
    run_dir, kafka_dir = run_folder("ingest", label)
    cluster = Cluster(bins["imdb-local-kafka"], kafka_dir, nodes=3)
    try:
        summary = os.path.join(run_dir, "load.json")
        seconds, rss, _, cpu = run_measured(load_cmd(bins, data, summary) + ["--brokers", cluster.bootstrap], cluster)
        with open(summary) as f:
            s = json.load(f)
        if s["messages_failed"] or s["messages_unconfirmed"]:
            raise BenchError(f"ingest: {s['messages_failed']} failed, {s['messages_unconfirmed']} unconfirmed")
        kafka = {"seconds": seconds, "records": s["records_read"], "records_s": s["records_read"] / seconds,
                 "messages": s["messages_sent"], "messages_s": s["messages_sent"] / seconds, "rss": rss,
                 "broker_cpu": sum(cpu) / seconds, "brokers_rss": max(cluster.rss())}
        bseconds, brss, out, bcpu = run_measured([bins["bare-producer"], "--brokers", cluster.bootstrap], cluster)
        b = json.loads(out)
        if b["failed"]:
            raise BenchError(f"bare producer: {b['failed']} messages not acknowledged")
        # Estimated: ingest's messages at the bare producer's mean size (the same mix of topics).
        kafka["mb_s"] = b["bytes"] / b["messages"] * s["messages_sent"] / seconds / 1e6
        # The brokers' CPU over the whole bare-producer process (its sampling included): the window /proc gives.
        bare = {"seconds": b["seconds"], "records": s["records_read"], "records_s": s["records_read"] / b["seconds"],
                "messages": b["messages"], "messages_s": b["messages_per_second"], "mb_s": b["mb_per_second"],
                "rss": brss, "broker_cpu": sum(bcpu) / bseconds}
        brokers_rss = cluster.rss()
        bare["brokers_rss"] = max(brokers_rss)
        print(f"  {label}: ingest {kafka['records_s']:,.0f} records/s, {kafka['messages_s']:,.0f} messages/s in "
              f"{seconds:.1f} s; bare {bare['messages_s']:,.0f} messages/s ({bare['mb_s']:.1f} MB/s) in "
              f"{b['seconds']:.1f} s; broker peak RSS {', '.join(f'{r:.0f}' for r in brokers_rss)} MiB",
              file=sys.stderr, flush=True)
    except (BenchError, OSError, subprocess.CalledProcessError, KeyError, ValueError) as e:
        print(f"\nFAILED ({label}): {e}\n{cluster.log_tails()}\nkept in {run_dir}", file=sys.stderr)
        cluster.stop(check=False)
        sys.exit(1)
    cluster.stop()
    if not args.keep:
        shutil.rmtree(run_dir)
    return kafka, bare


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100000,1000000", help="comma-separated title counts")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--keep", action="store_true", help="keep the run folders (cluster data, logs) in bench/.data/")
    args = p.parse_args()
    build = build_info(("imdb-ingest",), ("ingest", "model", "local-kafka"))
    bin_dir, bins = copy_bins("ingest", ("imdb-ingest", "imdb-local-kafka", "bare-producer"))
    rows = []
    try:
        for titles in [int(t) for t in args.sizes.split(",")]:
            data = dataset(bins["imdb-ingest"], titles)
            results = {"dry": [], "kafka": [], "bare": []}
            for run in range(args.runs):
                print(f"{titles:,} titles, run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
                results["dry"].append(dry_run(bins, data))
                kafka, bare = kafka_runs(f"{titles}-r{run + 1}", bins, data, args)
                results["kafka"].append(kafka)
                results["bare"].append(bare)
            rows.append((titles, results))
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)

    print(f"\n## imdb-ingest: throughput into a 3-broker Kafka cluster ({datetime.date.today()})\n")
    print(f"- Machine: {machine()}; {build}.")
    print(f"- Command: `cargo build --release --workspace --bins && python3 bench/ingest.py {' '.join(sys.argv[1:])}`")
    print("- Cluster: `imdb-local-kafka start --nodes 3` (Kafka 4.4.0, KRaft, 512 MiB heap each), fresh per run; "
          "topics with 3 replicas and min.insync.replicas 2; producer acks=all, idempotent, lz4, 100 ms linger (ingest's defaults). "
          "Ingest, the brokers and this script share the machine. bare: `bare-producer`, ingest's producer sending "
          "the same number of messages per topic from a 20,000-message sample of each (records/s for bare: the "
          f"records ingest read over the bare producer's time). Medians of {args.runs} runs.\n")
    print("| titles | mode | records | messages | seconds | records/s | messages/s | MB/s | ingest peak RSS MiB | "
          "broker peak RSS MiB | brokers' CPU | vs dry | vs bare |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for titles, results in rows:
        med = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], (int, float))}
               for m, rs in results.items()}
        for mode in ("dry", "kafka", "bare"):
            m = med[mode]
            mb = f"{m['mb_s']:.1f}" if "mb_s" in m else "-"
            brss = f"{m['brokers_rss']:.0f}" if "brokers_rss" in m else "-"
            bcpu = f"{m['broker_cpu']:.2f}" if "broker_cpu" in m else "-"
            rss = f"{m['rss']:.0f}" if mode != "bare" else "-"
            vs_bare = f"{m['records_s'] / med['bare']['records_s']:.2f}" if mode == "kafka" else "-"
            print(f"| {titles:,} | {mode} | {m['records']:,.0f} | {m['messages']:,.0f} | {m['seconds']:.1f} | "
                  f"{m['records_s']:,.0f} | {m['messages_s']:,.0f} | {mb} | {rss} | {brss} | {bcpu} | "
                  f"{m['records_s'] / med['dry']['records_s']:.2f} | {vs_bare} |", flush=True)


if __name__ == "__main__":
    main()

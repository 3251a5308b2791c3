#!/usr/bin/env python3
"""Ingest throughput benchmark: parse-only ceiling beside real loads.

For each dataset size, runs side by side in one session, `--runs` times each:
  dry      imdb-ingest load --dry-run        (read, parse, join, serialise; no Kafka)
  sqlite   load into a fresh Tansu broker with SQLite storage (durable; the local default)
  memory   load into a fresh Tansu broker with memory storage (not durable), if --memory

and prints medians: records/s, MB/s of decompressed records, documents/s,
seconds, and the ingest process's peak RSS, as a Markdown table.

Run from the repository root after `cargo build --release --workspace --bins`:
  python3 bench/ingest.py --sizes 100000,1000000 --runs 3
Python 3 standard library only.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
DATA = os.path.join(ROOT, "bench", ".data")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_measured(cmd):
    """Runs cmd, returns (seconds, peak RSS in MiB)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024


def dataset(titles):
    out = os.path.join(DATA, f"gen-{titles}")
    if not os.path.exists(os.path.join(out, "name.basics.tsv.gz")):
        subprocess.run([os.path.join(BIN, "imdb-ingest"), "generate", "--titles", str(titles), "--seed", "42",
                        "--out", out], check=True, stdout=subprocess.DEVNULL)
    return out


def one_run(mode, data):
    summary = tempfile.mktemp(suffix=".json")
    cmd = [os.path.join(BIN, "imdb-ingest"), "load", "--input", data, "--quiet", "--summary-json", summary]
    broker_dir = None
    if mode == "dry":
        cmd.append("--dry-run")
    else:
        broker_dir = tempfile.mkdtemp(prefix="bench-tansu-")
        port = free_port()
        subprocess.run([os.path.join(BIN, "imdb-local-broker"), "start", "--data", broker_dir, "--port", str(port),
                        "--storage", mode], check=True, stdout=subprocess.DEVNULL)
        cmd += ["--brokers", f"127.0.0.1:{port}"]
    try:
        seconds, rss = run_measured(cmd)
    finally:
        if broker_dir:
            subprocess.run([os.path.join(BIN, "imdb-local-broker"), "stop", "--data", broker_dir],
                           stdout=subprocess.DEVNULL)
            shutil.rmtree(broker_dir, ignore_errors=True)
    with open(summary) as f:
        s = json.load(f)
    os.unlink(summary)
    docs = s["titles_published"] + s["people_published"]
    return {"seconds": seconds, "records_s": s["records_read"] / seconds,
            "mb_s": s["record_bytes"] / seconds / 1e6, "docs_s": docs / seconds, "rss": rss,
            "records": s["records_read"], "docs": docs, "failed": s["messages_failed"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100000,1000000", help="comma-separated title counts")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--memory", action="store_true", help="also load into Tansu's memory engine")
    args = p.parse_args()
    modes = ["dry", "sqlite"] + (["memory"] if args.memory else [])
    print("| titles | mode | records | docs | seconds | records/s | MB/s | docs/s | peak RSS MiB | vs dry |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for titles in [int(t) for t in args.sizes.split(",")]:
        data = dataset(titles)
        results = {m: [] for m in modes}
        for _ in range(args.runs):
            for mode in modes:  # interleaved, so drift hits every mode alike
                results[mode].append(one_run(mode, data))
        dry = statistics.median(r["records_s"] for r in results["dry"])
        for mode in modes:
            rs = results[mode]
            med = {k: statistics.median(r[k] for r in rs) for k in ("seconds", "records_s", "mb_s", "docs_s", "rss")}
            print(f"| {titles:,} | {mode} | {rs[0]['records']:,} | {rs[0]['docs']:,} | {med['seconds']:.1f} | "
                  f"{med['records_s']:,.0f} | {med['mb_s']:.1f} | {med['docs_s']:,.0f} | {med['rss']:.0f} | "
                  f"{med['records_s'] / dry:.2f} |", flush=True)
            assert all(r["failed"] == 0 for r in rs)


if __name__ == "__main__":
    main()

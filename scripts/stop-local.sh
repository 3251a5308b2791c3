#!/usr/bin/env bash
# Stops the local stack started by scripts/run-local.sh, front to back: the
# load balancer and API nodes, then the indexer (waiting for it to finish its
# bulks and commit its offsets, which needs the broker and the search engine),
# then the search node or OpenSearch cluster, and the Kafka cluster last.
set -euo pipefail
cd "$(dirname "$0")/.."

# SIGTERM, then wait (up to $2 seconds) for the process to be gone.
stop() {
  local pidfile=".local/$1.pid" wait="${2:-10}"
  [ -f "$pidfile" ] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 $((wait * 10))); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$pidfile"
}

stop haproxy
stop api-1
stop api-2
# The indexer drains for up to its drain timeout (20 s by default).
stop indexer 30
# The node finishes requests and commits, leaving nothing to replay.
stop search-node 30
# Or the OpenSearch cluster: every node closes cleanly.
if [ -x target/release/imdb-local-opensearch ] && [ -f .local/opensearch/cluster.properties ]; then
  target/release/imdb-local-opensearch stop --data .local/opensearch
fi
# Every broker's controlled shutdown at once, then the processes are gone.
if [ -x target/release/imdb-local-kafka ]; then
  target/release/imdb-local-kafka stop --data .local/kafka
fi

#!/usr/bin/env bash
# Stops the local stack started by scripts/run-local.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x target/release/imdb-local-broker ]; then
  target/release/imdb-local-broker stop --data .local/kafka
elif [ -f .local/kafka/tansu.pid ]; then
  kill "$(cat .local/kafka/tansu.pid)" && rm -f .local/kafka/tansu.pid
fi
# The load balancer first, then the API nodes (SIGTERM: requests finish).
for name in haproxy api-1 api-2; do
  if [ -f ".local/$name.pid" ]; then
    kill "$(cat ".local/$name.pid")" 2>/dev/null || true
    rm -f ".local/$name.pid"
  fi
done
if [ -f .local/indexer.pid ]; then
  # SIGTERM: the indexer finishes its bulks and commits its offsets.
  kill "$(cat .local/indexer.pid)" 2>/dev/null || true
  rm -f .local/indexer.pid
fi
if [ -f .local/search-node.pid ]; then
  # SIGTERM: the node finishes requests and commits, leaving nothing to replay.
  kill "$(cat .local/search-node.pid)" 2>/dev/null || true
  rm -f .local/search-node.pid
fi

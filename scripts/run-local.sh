#!/usr/bin/env bash
# The main job: the whole pipeline on one machine, on embedded defaults.
#
#   scripts/run-local.sh                 # 100k generated titles + movies.json
#   scripts/run-local.sh --input DIR     # your IMDb files (dir of .tsv[.gz])
#
# Starts a durable local Kafka broker (Tansu, SQLite storage in
# .local/kafka, port 19092) unless one already answers, loads the data with
# imdb-ingest, and lists the topics. The broker keeps running afterwards;
# stop it with scripts/stop-local.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

input=""
titles="${IMDB_TITLES:-100000}"
while [ $# -gt 0 ]; do
  case "$1" in
    --input) input="$2"; shift 2 ;;
    --titles) titles="$2"; shift 2 ;;
    *) echo "usage: $0 [--input DIR] [--titles N]" >&2; exit 2 ;;
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

"$bin/imdb-ingest" load --input "$input"
if [ -s .local/data/movies.json ]; then
  "$bin/imdb-ingest" load --input .local/data/movies.json
fi
"$bin/imdb-ingest" topics
cat <<EOT

The topics above are in the local broker at $IMDB_BROKERS (data in .local/kafka).
  look at documents:  $bin/imdb-ingest read --topic imdb.enriched.titles --limit 3
  dead letters:       $bin/imdb-ingest read --topic imdb.dlq.ingest
  stop the broker:    scripts/stop-local.sh
EOT

#!/usr/bin/env bash
# The main job: the whole pipeline on one machine, on embedded defaults.
#
#   scripts/run-local.sh                 # 100k generated titles + movies.json
#   scripts/run-local.sh --input DIR     # your IMDb files (dir of .tsv[.gz])
#   scripts/run-local.sh --reload        # load again what this broker already has
#   scripts/run-local.sh --engine opensearch   # a 3-node OpenSearch cluster instead
#
# Starts a local Apache Kafka cluster (3 KRaft nodes from Maven Central's
# jars, data in .local/kafka, brokers on 19092-19094; topics with three
# replicas, two in sync) and the search engine unless they already answer:
# the search node (imdb-search-node, data in .local/search-node, port 9200;
# the default) or, with --engine opensearch, a 3-node OpenSearch cluster
# (imdb-local-opensearch, data in .local/opensearch, ports 9200-9202). Loads the data
# with imdb-ingest, lists the topics, starts the indexer, which moves the
# title and person documents into per-genre indexes, and two API nodes
# (ports 8081, 8082) behind HAProxy at http://127.0.0.1:8080. All keep
# running afterwards; stop them with scripts/stop-local.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

input=""
reload=""
titles="${IMDB_TITLES:-100000}"
engine="${IMDB_ENGINE:-search-node}"
while [ $# -gt 0 ]; do
  case "$1" in
    --input) input="$2"; shift 2 ;;
    --titles) titles="$2"; shift 2 ;;
    --reload) reload=1; shift ;;
    --engine) engine="$2"; shift 2 ;;
    *) echo "usage: $0 [--input DIR] [--titles N] [--reload] [--engine search-node|opensearch]" >&2; exit 2 ;;
  esac
done
case "$engine" in
  search-node | opensearch) ;;
  *) echo "--engine: search-node or opensearch, not $engine" >&2; exit 2 ;;
esac
# One engine at a time on port 9200: the one that runs decides.
if [ -s .local/engine ] && [ "$(cat .local/engine)" != "$engine" ] \
  && curl -fsS "http://127.0.0.1:${IMDB_SEARCH_PORT:-9200}/" >/dev/null 2>&1; then
  echo "the stack runs on $(cat .local/engine); stop it first (scripts/stop-local.sh)" >&2
  exit 2
fi

scripts/setup.sh
cargo build --release --workspace --bins
bin=target/release
kafka_port="${IMDB_KAFKA_PORT:-19092}"
export IMDB_BROKERS="127.0.0.1:$kafka_port,127.0.0.1:$((kafka_port + 1)),127.0.0.1:$((kafka_port + 2))"

# Formats the nodes the first time; a node that runs is kept, one that
# died is started again on its data.
"$bin/imdb-local-kafka" start --data .local/kafka --nodes 3 --port "$kafka_port"

# The search engine of the one-machine stack, Elasticsearch-compatible.
search_port="${IMDB_SEARCH_PORT:-9200}"
search_url="http://127.0.0.1:$search_port"
mkdir -p .local
echo "$engine" >.local/engine
if [ "$engine" = opensearch ]; then
  # Three nodes, one replica per shard (the indexer's templates see three
  # data nodes); every node URL goes to the indexer and the API.
  "$bin/imdb-local-opensearch" start --data .local/opensearch --nodes 3 --port "$search_port"
  search_urls="$search_url,http://127.0.0.1:$((search_port + 1)),http://127.0.0.1:$((search_port + 2))"
  search_data=.local/opensearch
elif curl -fsS "$search_url/" >/dev/null 2>&1; then
  echo "search node already answers at $search_url"
else
  nohup "$bin/imdb-search-node" --listen "127.0.0.1:$search_port" --data .local/search-node \
    >>.local/search-node.log 2>&1 &
  echo $! >.local/search-node.pid
  for _ in $(seq 1 100); do
    curl -fsS "$search_url/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "$search_url/" >/dev/null || { echo "search node did not start; see .local/search-node.log" >&2; exit 1; }
  echo "search node started at $search_url (log: .local/search-node.log)"
fi
search_urls="${search_urls:-$search_url}"
search_data="${search_data:-.local/search-node}"
# The indexer's consumer group is per engine: its committed offsets say
# what that engine already holds.
if [ "$engine" = opensearch ]; then group=imdb-indexer-opensearch; else group=imdb-indexer; fi

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

# The indexer: from the enrichment topics into the search node. Static
# membership lets a restart take its partitions back at once instead of
# after the session timeout (see docs/local-kafka.md).
if [ -f .local/indexer.pid ] && kill -0 "$(cat .local/indexer.pid)" 2>/dev/null; then
  echo "indexer already running (pid $(cat .local/indexer.pid))"
else
  IMDB_ES_URL="$search_urls" IMDB_INDEXER_GROUP="$group" IMDB_INDEXER_INSTANCE_ID=local-1 \
    nohup "$bin/imdb-indexer" >>.local/indexer.log 2>&1 &
  echo $! >.local/indexer.pid
  echo "indexer started (log: .local/indexer.log, metrics: http://127.0.0.1:9464/metrics)"
fi
# Two stateless API nodes and the load balancer in front of them: the one
# address for apps and people.
start_api() {
  local n="$1" port="$2"
  if [ -f ".local/api-$n.pid" ] && kill -0 "$(cat ".local/api-$n.pid")" 2>/dev/null; then
    echo "api node $n already running (pid $(cat ".local/api-$n.pid"))"
    return
  fi
  IMDB_ES_URL="$search_urls" IMDB_API_LISTEN="127.0.0.1:$port" IMDB_API_NODE_NAME="api-$n" \
    nohup "$bin/imdb-api" >>".local/api-$n.log" 2>&1 &
  echo $! >".local/api-$n.pid"
}
start_api 1 "${IMDB_API_PORT_1:-8081}"
start_api 2 "${IMDB_API_PORT_2:-8082}"
# Each node must answer: behind the balancer one dead node would go unseen.
for port in "${IMDB_API_PORT_1:-8081}" "${IMDB_API_PORT_2:-8082}"; do
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "API node on port $port did not start; see .local/api-*.log" >&2; exit 1; }
done
api_url="http://127.0.0.1:${IMDB_LB_PORT:-8080}"
if [ -f .local/haproxy.pid ] && kill -0 "$(cat .local/haproxy.pid)" 2>/dev/null; then
  echo "load balancer already running (pid $(cat .local/haproxy.pid))"
else
  IMDB_LB_BIND="127.0.0.1:${IMDB_LB_PORT:-8080}" IMDB_API_1="127.0.0.1:${IMDB_API_PORT_1:-8081}" \
    IMDB_API_2="127.0.0.1:${IMDB_API_PORT_2:-8082}" \
    nohup /usr/sbin/haproxy -db -f deploy/haproxy/haproxy.cfg >>.local/haproxy.log 2>&1 &
  echo $! >.local/haproxy.pid
fi
for _ in $(seq 1 100); do
  curl -fsS "$api_url/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$api_url/healthz" >/dev/null || { echo "the API did not start; see .local/api-*.log" >&2; exit 1; }

cat <<EOT

The topics above are in the local Kafka cluster at $IMDB_BROKERS (data in .local/kafka).
  the brokers:        $bin/imdb-local-kafka status      (logs: .local/kafka/node-*/logs/server.log)
  look at documents:  $bin/imdb-ingest read --topic imdb.enriched.titles --limit 3
  dead letters:       $bin/imdb-ingest read --topic imdb.dlq.ingest
The indexer moves the documents into $engine at $search_urls (data in $search_data):
  titles indexed:     curl -s '$search_url/imdb-titles/_count'
  a search:           curl -s '$search_url/imdb-titles/_search?q=primary_title:love&size=3&pretty'
  cluster health:     curl -s '$search_url/_cluster/health?pretty'
  indexes:            curl -s '$search_url/_cat/indices?v'
The API (two nodes behind HAProxy) at $api_url:
  search:             curl -s '$api_url/api/v1/search?q=godfather&size=3'
  as you type:        curl -s '$api_url/api/v1/suggest?q=matr'
  a title:            curl -s '$api_url/api/v1/titles/tt0000001'
  described:          $api_url/api/v1/openapi.json    metrics: $api_url/metrics
  stop everything:    scripts/stop-local.sh
EOT

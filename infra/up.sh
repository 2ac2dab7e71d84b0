#!/usr/bin/env bash
# Start the whole stack: Docker Compose when a Docker engine is reachable, otherwise natively
# (Kafka, MongoDB and the three services as local processes, state in $RUN_DIR, default .run/).
# Idempotent: only what is not running is started. INFRA=docker|native forces the choice.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATIVE=$ROOT/infra/native
cd "$ROOT"

endpoints() {
  local logs=$1 kafka=$2 mongo=$3
  echo
  printf '%-28s %s\n' \
    "command GraphQL" "http://127.0.0.1:${COMMAND_PORT:-8001}/graphql" \
    "query GraphQL (HTTP + ws)" "http://127.0.0.1:${QUERY_PORT:-8002}/graphql, ws://127.0.0.1:${QUERY_PORT:-8002}/graphql" \
    "projector health/metrics" "http://127.0.0.1:${PROJECTOR_PORT:-8003}" \
    "Kafka${kafka:+ ($kafka)}" "127.0.0.1:${KAFKA_PORT:-9092}" \
    "MongoDB${mongo:+ ($mongo)}" "mongodb://127.0.0.1:${MONGO_PORT:-27017}/?replicaSet=rs0" \
    "logs" "$logs"
}

if [[ $("$ROOT/infra/mode.sh") == docker ]]; then
  docker compose up -d --build --wait
  endpoints "docker compose logs -f (make logs)" "" ""
  exit
fi

"$NATIVE/uv.sh" sync --frozen --quiet
"$NATIVE/kafka.sh" start
"$NATIVE/mongo.sh" start
"$NATIVE/services.sh" start
run_dir=${RUN_DIR:-$ROOT/.run}
endpoints "$run_dir/logs/{kafka,mongo,command,projector,query}.log (make logs)" \
  "$("$NATIVE/kafka.sh" version)" "$("$NATIVE/mongo.sh" version)"

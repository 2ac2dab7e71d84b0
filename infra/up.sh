#!/usr/bin/env bash
# Start the whole stack: Docker Compose when a Docker engine is reachable, otherwise natively
# (Kafka, MongoDB and the three services as local processes, state in $RUN_DIR, default .run/).
# Idempotent: only what is not running is started. INFRA=docker|native forces the choice.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NATIVE=$ROOT/infra/native
cd "$ROOT"

# Docker first, before anything needs Python: there the host needs only sh and Docker, and this
# part of the script must run on the bash 3.2 of macOS.
mode=$("$ROOT/infra/mode.sh")
if [[ $mode == docker ]]; then
  exec "$ROOT/infra/compose.sh" up
fi

run_dir=${RUN_DIR:-$ROOT/.run}
mkdir -p "$run_dir"

# The command endpoint verifies bearer tokens. Unless JWT_SECRET or JWT_PUBLIC_KEY is set, the
# development stack signs with a secret generated once into $run_dir/dev-secret, and every
# `make up` writes a fresh 30-day token for the subject "developer" to $run_dir/dev-token
# (shared/dev_credentials.py, as in the Docker image; no secret is generated in production mode).
dev_credentials() {
  "$ROOT/.venv/bin/python" -m shared.dev_credentials mint "$run_dir" >/dev/null
  if [[ -z ${JWT_SECRET:-}${JWT_PUBLIC_KEY:-} ]]; then
    JWT_SECRET=$(<"$run_dir/dev-secret")
    export JWT_SECRET
  fi
}

token_help() {
  echo
  if [[ -s $run_dir/dev-token && -z ${JWT_PUBLIC_KEY:-} ]]; then
    echo "Mutations need a bearer token; a development one (subject \"developer\", 30 days) is in"
    echo "  $run_dir/dev-token"
    echo "e.g.  curl -H \"Authorization: Bearer \$(cat $run_dir/dev-token)\" -H 'content-type: application/json' \\"
    echo "        -d '{\"query\":\"{ ping }\"}' http://127.0.0.1:${COMMAND_PORT:-8001}/graphql"
  else
    echo "Mutations need a bearer token signed by the key in JWT_PUBLIC_KEY (RS256)."
  fi
}

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

"$NATIVE/uv.sh" sync --frozen --quiet --compile-bytecode
"$ROOT/.venv/bin/python" -m compileall -q -j 0 "$ROOT/shared" "$ROOT/services" >/dev/null
dev_credentials

# STACK=cluster: three Kafka nodes, a three-member replica set and two instances of each service
# (infra/native/cluster.sh); the default is the single-node stack below.
case ${STACK:-single} in
  cluster)
    "$NATIVE/cluster.sh" up
    token_help
    exit
    ;;
  single) ;;
  *)
    echo "error: STACK must be single or cluster (got '$STACK')" >&2
    exit 2
    ;;
esac

"$NATIVE/kafka.sh" start
"$NATIVE/mongo.sh" start
"$NATIVE/services.sh" start
endpoints "$run_dir/logs/{kafka,mongo,command,projector,query}.log (make logs)" \
  "$("$NATIVE/kafka.sh" version)" "$("$NATIVE/mongo.sh" version)"
token_help

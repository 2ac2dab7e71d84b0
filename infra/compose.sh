#!/bin/sh
# The Docker side of `make up`, `make down`, `make logs`, `make clean` and `make rebuild`
# (docker-compose.yml).
# Usage: compose.sh {up|down|logs|clean|rebuild}
#
# Needs nothing on the host but a POSIX shell and Docker with Compose v2 (infra/mode.sh checks
# them): no Python, no uv, no openssl. The development token is minted inside the image (the
# one-shot service `credentials`) and copied out to $RUN_DIR/dev-token.
#
# Env: STACK (single | cluster), COMMAND_INSTANCES (1-3, single node), COMPOSE_WAIT_TIMEOUT
# (seconds `up` waits for every service to be healthy, 300), RUN_DIR (<repo>/.run), the ports
# COMMAND_PORT, QUERY_PORT, PROJECTOR_PORT, KAFKA_PORT, MONGO_PORT (single node; the cluster's
# are fixed), and every setting of shared/settings.py, which docker-compose.yml passes through.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUN_DIR=${RUN_DIR:-$ROOT/.run}
WAIT_TIMEOUT=${COMPOSE_WAIT_TIMEOUT:-300}
STACK=${STACK:-single}
# The most command instances the single node has services for (command, command-2, command-3).
MAX_COMMAND_INSTANCES=3
CLUSTER_SERVICES="cluster-command-1 cluster-command-2 cluster-query-1 cluster-query-2 cluster-projector-1 cluster-projector-2"

die() {
  echo "error: $*" >&2
  exit 1
}

# image_version NAME: the version of image NAME pinned in docker-compose.yml (NAME:VERSION@sha256)
image_version() {
  sed -n "s|.*[ &]$1:\([0-9][0-9.]*\)@sha256:.*|\1|p" docker-compose.yml | head -n 1
}

# JWT_PUBLIC_KEY given as a path: the file is mounted into the containers as the secret
# jwt-public-key (docker-compose.yml), and the services read it from there.
public_key_file() {
  case ${JWT_PUBLIC_KEY:-} in
    '' | *-----BEGIN*) return 0 ;;
  esac
  if [ ! -f "$JWT_PUBLIC_KEY" ] || [ ! -r "$JWT_PUBLIC_KEY" ]; then
    die "JWT_PUBLIC_KEY is neither a PEM key nor a readable file: $JWT_PUBLIC_KEY"
  fi
  JWT_PUBLIC_KEY_FILE=$(cd "$(dirname "$JWT_PUBLIC_KEY")" && pwd)/$(basename "$JWT_PUBLIC_KEY")
  # A Linux bind mount keeps the file's owner and mode, and the services run as uid 10001.
  if [ "$(uname -s)" = Linux ] && [ -z "$(find "$JWT_PUBLIC_KEY_FILE" -prune -perm -0004)" ]; then
    die "the services (uid 10001) cannot read $JWT_PUBLIC_KEY_FILE: it is a public key, so 'chmod a+r' it"
  fi
  JWT_PUBLIC_KEY=/run/secrets/jwt-public-key
  export JWT_PUBLIC_KEY JWT_PUBLIC_KEY_FILE
}

# Sets PROFILES (the --profile options), SERVICES (what `up` names; empty: the default ones) and
# FIRST_COMMAND (the service the development token is read from) for STACK / COMMAND_INSTANCES.
select_stack() {
  PROFILES=""
  SERVICES=""
  case $STACK in
    single)
      n=${COMMAND_INSTANCES:-1}
      case $n in '' | *[!0-9]*) n=0 ;; esac
      if [ "$n" -lt 1 ] || [ "$n" -gt "$MAX_COMMAND_INSTANCES" ]; then
        die "COMMAND_INSTANCES must be 1 to $MAX_COMMAND_INSTANCES in Docker mode (services command, command-2, command-3 of docker-compose.yml), got '${COMMAND_INSTANCES:-}'"
      fi
      k=2
      while [ "$k" -le "$n" ]; do
        PROFILES="$PROFILES --profile command-$k"
        k=$((k + 1))
      done
      FIRST_COMMAND="command"
      ;;
    cluster)
      case ${COMMAND_INSTANCES:-2} in
        2) ;;
        *) die "STACK=cluster runs two command instances; COMMAND_INSTANCES=$COMMAND_INSTANCES does not apply" ;;
      esac
      PROFILES="--profile cluster"
      SERVICES=$CLUSTER_SERVICES
      FIRST_COMMAND=cluster-command-1
      ;;
    *) die "STACK must be single or cluster (got '$STACK')" ;;
  esac
}

# The single node and the cluster publish the same ports: refuse to start one over the other.
refuse_other_stack() {
  running=$(docker compose --profile '*' ps --services --status running 2>/dev/null) || return 0
  for service in $running; do
    case $STACK:$service in
      single:cluster-*) die "the cluster is running (STACK=cluster): 'make down' first" ;;
      cluster:kafka | cluster:mongo | cluster:command* | cluster:query | cluster:projector)
        die "the single-node stack is running: 'make down' first" ;;
    esac
  done
}

endpoints() {
  kafka="Apache Kafka $(image_version apache/kafka)"
  mongo="MongoDB $(image_version mongo)"
  echo
  if [ "$STACK" = cluster ]; then
    printf '%-28s %s\n' \
      "command GraphQL" "http://127.0.0.1:8001/graphql, http://127.0.0.1:8011/graphql" \
      "query GraphQL (HTTP + ws)" "http://127.0.0.1:8002/graphql, http://127.0.0.1:8022/graphql (ws:// too)" \
      "projector health/metrics" "http://127.0.0.1:8003, http://127.0.0.1:8033" \
      "Kafka ($kafka, 3 nodes)" "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094" \
      "MongoDB ($mongo, rs0)" "mongodb://cluster-mongo-1:27017,cluster-mongo-2:27018,cluster-mongo-3:27019/?replicaSet=rs0" \
      "" "(from the host: '127.0.0.1 cluster-mongo-1 cluster-mongo-2 cluster-mongo-3' in /etc/hosts)" \
      "logs" "make logs (docker compose logs -f)"
    return
  fi
  commands="http://127.0.0.1:${COMMAND_PORT:-8001}/graphql"
  k=2
  while [ "$k" -le "${COMMAND_INSTANCES:-1}" ]; do
    commands="$commands, http://127.0.0.1:$((8010 + k - 1))/graphql"
    k=$((k + 1))
  done
  printf '%-28s %s\n' \
    "command GraphQL" "$commands" \
    "query GraphQL (HTTP + ws)" "http://127.0.0.1:${QUERY_PORT:-8002}/graphql, ws://127.0.0.1:${QUERY_PORT:-8002}/graphql" \
    "projector health/metrics" "http://127.0.0.1:${PROJECTOR_PORT:-8003}" \
    "Kafka ($kafka)" "127.0.0.1:${KAFKA_PORT:-9092}" \
    "MongoDB ($mongo)" "mongodb://127.0.0.1:${MONGO_PORT:-27017}/?replicaSet=rs0" \
    "logs" "make logs (docker compose logs -f)"
}

# Copies the development token out of the `credentials` volume, or says where tokens come from.
token() {
  echo
  if [ -n "${JWT_PUBLIC_KEY:-}" ]; then
    rm -f "$RUN_DIR/dev-token"
    echo "Mutations need a bearer token signed by the key in JWT_PUBLIC_KEY (RS256)."
    return
  fi
  mkdir -p "$RUN_DIR"
  # shellcheck disable=SC2086 # PROFILES is a list of options
  if (umask 077 && docker compose $PROFILES exec -T "$FIRST_COMMAND" cat /credentials/dev-token \
    >"$RUN_DIR/dev-token.new") && [ -s "$RUN_DIR/dev-token.new" ]; then
    mv "$RUN_DIR/dev-token.new" "$RUN_DIR/dev-token"
  else
    rm -f "$RUN_DIR/dev-token.new"
    die "could not read the development token: docker compose exec $FIRST_COMMAND cat /credentials/dev-token"
  fi
  echo "Mutations need a bearer token; a development one (subject \"developer\", 30 days) is in"
  echo "  $RUN_DIR/dev-token"
  echo "e.g.  curl -H \"Authorization: Bearer \$(cat $RUN_DIR/dev-token)\" -H 'content-type: application/json' \\"
  echo "        -d '{\"query\":\"{ ping }\"}' http://127.0.0.1:${COMMAND_PORT:-8001}/graphql"
}

up() {
  select_stack
  public_key_file
  refuse_other_stack
  # shellcheck disable=SC2086 # PROFILES and SERVICES are lists
  if ! docker compose $PROFILES up --detach --build --wait --wait-timeout "$WAIT_TIMEOUT" $SERVICES; then
    docker compose --profile '*' ps --all >&2 || true
    die "not every service became healthy within $WAIT_TIMEOUT s (COMPOSE_WAIT_TIMEOUT): see 'docker compose logs SERVICE' (make logs)"
  fi
  endpoints
  token
}

# `make rebuild` in a container of the projector's image and environment (no host Python): the
# running stack's projector, the cluster's if the cluster runs. `run` publishes no ports.
rebuild() {
  running=$(docker compose --profile '*' ps --services --status running 2>/dev/null) || running=""
  case " $(echo "$running" | tr '\n' ' ') " in
    *" cluster-projector-1 "*) set -- --profile cluster run --rm --no-deps cluster-projector-1 ;;
    *) set -- run --rm --no-deps projector ;;
  esac
  docker compose "$@" python -m services.projector.rebuild
}

case ${1:-} in
  up) up ;;
  rebuild) rebuild ;;
  # --profile '*': every service of the file, whichever stack and instances are running.
  down) docker compose --profile '*' down ;;
  clean) docker compose --profile '*' down --volumes ;;
  logs) docker compose --profile '*' logs --follow ;;
  *)
    echo "usage: $0 {up|down|logs|clean|rebuild}" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Stop the stack started by infra/up.sh: `docker compose down`, or natively the services, MongoDB
# and Kafka, each by the pid in its pid file (data is kept; `make clean` removes it).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [[ $("$ROOT/infra/mode.sh") == docker ]]; then
  docker compose down
else
  "$ROOT/infra/native/services.sh" stop
  "$ROOT/infra/native/mongo.sh" stop
  "$ROOT/infra/native/kafka.sh" stop
  "$ROOT/infra/native/cluster.sh" stop # STACK=cluster's nodes, if they ran
fi

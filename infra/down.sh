#!/usr/bin/env bash
# Stop the stack started by infra/up.sh: in Docker every service of docker-compose.yml
# (infra/compose.sh down), natively the services, MongoDB and Kafka, each by the pid in its pid
# file (data is kept; `make clean` removes it).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
mode=$("$ROOT/infra/mode.sh")
if [[ $mode == docker ]]; then
  exec "$ROOT/infra/compose.sh" down
else
  "$ROOT/infra/native/services.sh" stop
  "$ROOT/infra/native/mongo.sh" stop
  "$ROOT/infra/native/kafka.sh" stop
  "$ROOT/infra/native/cluster.sh" stop # STACK=cluster's nodes, if they ran
fi

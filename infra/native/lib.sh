# Helpers shared by the infra/native/*.sh scripts (sourced, not run).
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN_DIR=${RUN_DIR:-$ROOT/.run}
mkdir -p "$RUN_DIR" && RUN_DIR=$(cd "$RUN_DIR" && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
PID_DIR=$RUN_DIR/pids
LOG_DIR=$RUN_DIR/logs
mkdir -p "$PID_DIR" "$LOG_DIR"

die() { echo "error: $*" >&2; exit 1; }

# need CMD HINT: fail with one clear line when a prerequisite is missing.
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }

# alive PID: is the process running (and not a zombie waiting to be reaped)?
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ ! -r /proc/$1/status ]] || ! grep -q '^State:.*zombie' "/proc/$1/status"
}

# pid_of NAME PATTERN: print the pid recorded for NAME if that process is alive and its command
# line contains PATTERN (guards against a recycled pid); otherwise print nothing, return 1.
pid_of() {
  local file=$PID_DIR/$1.pid pid
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  alive "$pid" || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  fi
  echo "$pid"
}

# port_open PORT: does 127.0.0.1:PORT accept TCP connections?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port NAME PORT SECONDS PID: wait until the port accepts connections, or fail with the log.
wait_port() {
  local deadline=$((SECONDS + $3))
  until port_open "$2"; do
    alive "$4" || { tail -n 30 "$LOG_DIR/$1.log" >&2; die "$1 exited during startup (log: $LOG_DIR/$1.log)"; }
    ((SECONDS < deadline)) || { tail -n 30 "$LOG_DIR/$1.log" >&2; die "$1 not listening on port $2 after $3 s (log: $LOG_DIR/$1.log)"; }
    sleep 0.5
  done
}

# stop_pid NAME PATTERN: TERM the recorded process, KILL it after 30 s, remove the pid file.
stop_pid() {
  local pid i
  if pid=$(pid_of "$1" "$2"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do
      alive "$pid" || break
      sleep 0.5
    done
    if alive "$pid"; then
      echo "$1 did not stop within 30 s: killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "$1 stopped (pid $pid)"
  else
    echo "$1 not running"
  fi
  rm -f "$PID_DIR/$1.pid"
}

# status_of NAME PATTERN: print whether it runs; exit status 0 if running, 3 if not (LSB style).
status_of() {
  local pid
  if pid=$(pid_of "$1" "$2"); then echo "$1 running (pid $pid)"; else echo "$1 not running"; return 3; fi
}

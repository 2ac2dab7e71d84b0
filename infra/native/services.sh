#!/usr/bin/env bash
# The three Python services (command, projector, query) as background processes.
# Usage: services.sh {start|stop|status|check|urls}
#   check: fail with one line if a port an instance would listen on is taken (nothing started)
#   urls:  print "NAME URL" for every configured instance
# Env: RUN_DIR (default <repo>/.run), PYTHON (default <repo>/.venv/bin/python),
#      COMMAND_PORT (8001), QUERY_PORT (8002), PROJECTOR_PORT (8003); KAFKA_BOOTSTRAP_SERVERS and
#      MONGODB_URL default to the native Kafka/MongoDB on KAFKA_PORT (9092) / MONGO_PORT (27017).
#      COMMAND_INSTANCES, PROJECTOR_INSTANCES, QUERY_INSTANCES (1 each): the first instance of a
#      service is NAME on its port above; the k-th extra one is NAME-<k+1> on 8010+k (command),
#      8021+k (query) or 8032+k (projector), e.g. command-2 on 8011, query-2 on 8022, projector-2
#      on 8033. An extra command instance advertises http://127.0.0.1:<its port>
#      (COMMAND_ADVERTISED_URL); an extra projector gets PROJECTOR_INSTANCE_ID-<n> if that is set
#      (unset, each derives its own from its port).
# Every other setting of shared/settings.py passes through the environment unchanged.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAMES=(command projector query)
declare -A FIRST_PORT=([command]=${COMMAND_PORT:-8001} [query]=${QUERY_PORT:-8002} [projector]=${PROJECTOR_PORT:-8003})
declare -A EXTRA_BASE=([command]=8010 [query]=8021 [projector]=8032)
declare -A COUNT=([command]=${COMMAND_INSTANCES:-1} [query]=${QUERY_INSTANCES:-1} [projector]=${PROJECTOR_INSTANCES:-1})
declare -A PORT_VARIABLE=([command]=COMMAND_PORT [query]=QUERY_PORT [projector]=PROJECTOR_PORT)
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT:-9092}}
export MONGODB_URL=${MONGODB_URL:-mongodb://127.0.0.1:${MONGO_PORT:-27017}/?replicaSet=rs0}
# The development signing secret infra/up.sh generated, unless a key is configured.
if [[ -z ${JWT_SECRET:-}${JWT_PUBLIC_KEY:-} && -s $RUN_DIR/dev-secret ]]; then
  JWT_SECRET=$(<"$RUN_DIR/dev-secret")
  export JWT_SECRET
fi

# Every configured instance: UNITS in start order (first instances, then extras), with
# SERVICE[unit] (command, projector, query) and PORT[unit].
UNITS=()
declare -A SERVICE PORT
for name in "${NAMES[@]}"; do
  [[ ${COUNT[$name]} =~ ^[1-9][0-9]*$ ]] || die "${name^^}_INSTANCES must be a number >= 1 (got '${COUNT[$name]}')"
  UNITS+=("$name")
  SERVICE[$name]=$name
  PORT[$name]=${FIRST_PORT[$name]}
done
for name in "${NAMES[@]}"; do
  for ((k = 1; k < COUNT[$name]; k++)); do
    unit=$name-$((k + 1))
    UNITS+=("$unit")
    SERVICE[$unit]=$name
    PORT[$unit]=$((EXTRA_BASE[$name] + k))
  done
done

# ready UNIT: does GET /ready answer 2xx?
ready() {
  "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "http://127.0.0.1:${PORT[$1]}/ready" >/dev/null 2>&1
}

# check: every port an instance that is not running would take must be free.
check() {
  local unit
  for unit in "${UNITS[@]}"; do
    pid_of "$unit" "services.${SERVICE[$unit]}" >/dev/null && continue
    port_open "${PORT[$unit]}" && die "port ${PORT[$unit]} ($unit) is already in use by another process"
  done
  return 0
}

# launch UNIT: start it in the background with its own port (and address / member id).
launch() {
  local unit=$1 name=${SERVICE[$1]} n
  local -a env=("${PORT_VARIABLE[$name]}=${PORT[$unit]}")
  if [[ $unit != "$name" ]]; then
    n=${unit##*-}
    [[ $name == command ]] && env+=("COMMAND_ADVERTISED_URL=http://127.0.0.1:${PORT[$unit]}")
    [[ $name == projector && -n ${PROJECTOR_INSTANCE_ID:-} ]] \
      && env+=("PROJECTOR_INSTANCE_ID=$PROJECTOR_INSTANCE_ID-$n")
  fi
  echo "starting $unit on 127.0.0.1:${PORT[$unit]} (log: $LOG_DIR/$unit.log)"
  env "${env[@]}" setsid "$PYTHON" -m "services.$name" >>"$LOG_DIR/$unit.log" 2>&1 </dev/null &
  echo $! >"$PID_DIR/$unit.pid"
}

# await UNIT...: until each answers /ready, or fail with its log.
await() {
  local unit deadline=$((SECONDS + 60))
  for unit in "$@"; do
    until ready "$unit"; do
      if ! pid_of "$unit" "services.${SERVICE[$unit]}" >/dev/null; then
        tail -n 40 "$LOG_DIR/$unit.log" >&2
        die "$unit exited during startup (log: $LOG_DIR/$unit.log)"
      elif ((SECONDS >= deadline)); then
        tail -n 40 "$LOG_DIR/$unit.log" >&2
        die "$unit not ready on http://127.0.0.1:${PORT[$unit]}/ready after 60 s (log: $LOG_DIR/$unit.log)"
      fi
      sleep 0.5
    done
    echo "$unit ready"
  done
}

start() {
  local unit pid first=() extra=()
  [[ -x $PYTHON ]] || die "$PYTHON not found: run 'make install' (uv sync --frozen) first"
  cd "$ROOT"
  for unit in "${UNITS[@]}"; do
    if pid=$(pid_of "$unit" "services.${SERVICE[$unit]}"); then
      echo "$unit already running (pid $pid, port ${PORT[$unit]})"
    elif port_open "${PORT[$unit]}"; then
      die "port ${PORT[$unit]} ($unit) is already in use by another process"
    elif [[ $unit == "${SERVICE[$unit]}" ]]; then
      first+=("$unit")
    else
      extra+=("$unit")
    fi
  done
  # Extra instances join once the first ones are ready, so each service's first instance has
  # started consuming (and, for the command service, claimed the log) before the others join.
  for unit in "${first[@]}"; do launch "$unit"; done
  await "${first[@]}"
  for unit in "${extra[@]}"; do launch "$unit"; done
  await "${extra[@]}"
}

# every_unit: the configured instances, then any other instance a pid file records (started
# with more instances than configured now), so that stop and status miss none.
every_unit() {
  local unit file
  declare -A seen=()
  for unit in "${UNITS[@]}"; do
    seen[$unit]=1
    echo "$unit"
  done
  for name in "${NAMES[@]}"; do
    for file in "$PID_DIR/$name"-*.pid; do
      [[ -e $file ]] || continue
      unit=$(basename "$file" .pid)
      [[ ${unit#"$name"-} =~ ^[0-9]+$ && -z ${seen[$unit]:-} ]] && echo "$unit"
    done
  done
}

case ${1:-} in
  start) start ;;
  check) check ;;
  stop)
    while read -r unit; do
      stop_pid "$unit" "services.${unit%%-*}"
    done < <(every_unit)
    ;;
  status)
    rc=0
    while read -r unit; do status_of "$unit" "services.${unit%%-*}" || rc=3; done < <(every_unit)
    exit "$rc"
    ;;
  urls) for unit in "${UNITS[@]}"; do echo "$unit http://127.0.0.1:${PORT[$unit]}"; done ;;
  *) echo "usage: $0 {start|stop|status|check|urls}" >&2; exit 2 ;;
esac

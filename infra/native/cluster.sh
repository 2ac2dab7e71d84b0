#!/usr/bin/env bash
# The production topology on one machine (`make up STACK=cluster`): Apache Kafka 3.9.1 as three
# KRaft nodes, each broker and controller (a three-voter quorum), MongoDB 6.0.5 as the
# three-member replica set rs0, and two instances of each service.
# Usage: cluster.sh {up|start|stop|status|env|version}
#   up:     start, then the services (infra/native/services.sh) on the cluster; prints everything
#   start:  the Kafka nodes and mongods that are not running, the replica set, the topics; returns
#           once every node is up and every partition and member is in sync (a restarted node
#           has caught up)
#   stop:   the nodes (the services are stopped by services.sh stop)
#   env:    the settings that point a service at the cluster, as NAME=value lines
# Env: RUN_DIR (default <repo>/.run), KAFKA_CLUSTER_PORTS (9092,9093,9094),
#      KAFKA_CLUSTER_CONTROLLER_PORTS (9192,9193,9194), MONGO_CLUSTER_PORTS (27017,27018,27019),
#      EVENTS_TOPIC (product-events), EVENTS_PARTITIONS (6), KAFKA_NODE_HEAP (384m),
#      MONGO_NODE_CACHE_GB (0.25); for `up`: COMMAND_INSTANCES, PROJECTOR_INSTANCES and
#      QUERY_INSTANCES (2 each).
# Wrong setup (a port taken, a node folder of another cluster) stops `start` with one line naming
# it, and whatever this run had started is stopped again: never a half-started cluster.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERE=$ROOT/infra/native
KAFKA_VERSION=3.9.1
LIBS=$RUN_DIR/tools/kafka-$KAFKA_VERSION/libs
MONGOD=$RUN_DIR/tools/mongodb/fiftyone/db/bin/mongod
LOG4J=-Dlog4j.configuration=file:$HERE/kafka/log4j.properties
DATA=$RUN_DIR/data/cluster
CONF_DIR=$RUN_DIR/kafka
CLUSTER_ID_FILE=$DATA/kafka-cluster-id
IFS=, read -r -a KAFKA_PORTS <<<"${KAFKA_CLUSTER_PORTS:-9092,9093,9094}"
IFS=, read -r -a CONTROLLER_PORTS <<<"${KAFKA_CLUSTER_CONTROLLER_PORTS:-9192,9193,9194}"
IFS=, read -r -a MONGO_PORTS <<<"${MONGO_CLUSTER_PORTS:-27017,27018,27019}"
EVENTS_TOPIC=${EVENTS_TOPIC:-product-events}
EVENTS_PARTITIONS=${EVENTS_PARTITIONS:-6}
# Small heaps: three brokers, three mongods and six services share two cores and a few GB.
KAFKA_NODE_HEAP=${KAFKA_NODE_HEAP:-384m}
MONGO_NODE_CACHE_GB=${MONGO_NODE_CACHE_GB:-0.25}
NODES=(1 2 3)
((${#KAFKA_PORTS[@]} == 3 && ${#CONTROLLER_PORTS[@]} == 3 && ${#MONGO_PORTS[@]} == 3)) \
  || die "KAFKA_CLUSTER_PORTS, KAFKA_CLUSTER_CONTROLLER_PORTS and MONGO_CLUSTER_PORTS take three ports each"

bootstrap() { local IFS=,; echo "${KAFKA_PORTS[*]/#/127.0.0.1:}"; }
mongodb_url() { local IFS=,; echo "mongodb://${MONGO_PORTS[*]/#/127.0.0.1:}/?replicaSet=rs0"; }
kafka_conf() { echo "$CONF_DIR/node-$1.properties"; }
kafka_running() { pid_of "kafka-$1" "$(kafka_conf "$1")"; }
mongo_running() { pid_of "mongo-$1" "$DATA/mongo-$1"; }

env_lines() {
  echo "KAFKA_BOOTSTRAP_SERVERS=$(bootstrap)"
  echo "MONGODB_URL=$(mongodb_url)"
  echo "KAFKA_REPLICATION_FACTOR=3"
  echo "KAFKA_MIN_INSYNC_REPLICAS=2"
}

# What this run started, stopped again (quietly) if the run does not finish: see `fail`.
STARTED=()
COMPLETE=no
rollback() {
  local unit
  [[ $COMPLETE == yes ]] && return
  for unit in "${STARTED[@]}"; do
    case $unit in
      kafka-*) stop_pid "$unit" "$(kafka_conf "${unit#kafka-}")" >/dev/null 2>&1 & ;;
      mongo-*) stop_pid "$unit" "$DATA/$unit" >/dev/null 2>&1 & ;;
    esac
  done
  wait
}
trap rollback EXIT

# preflight: everything that can be checked before anything starts; one line and exit 1 if not.
preflight() {
  local i port expected="" id node
  [[ -x $PYTHON ]] || die "$PYTHON not found: run 'make install' (uv sync --frozen) first"
  for i in "${NODES[@]}"; do
    if ! kafka_running "$i" >/dev/null; then
      for port in "${KAFKA_PORTS[i - 1]}" "${CONTROLLER_PORTS[i - 1]}"; do
        port_open "$port" && die "port $port (Kafka node $i) is already in use by another process"
      done
    fi
    if ! mongo_running "$i" >/dev/null; then
      port=${MONGO_PORTS[i - 1]}
      port_open "$port" && die "port $port (MongoDB member $i) is already in use by another process"
    fi
  done
  # A node formatted for another cluster id would never join this quorum.
  [[ -s $CLUSTER_ID_FILE ]] && expected=$(<"$CLUSTER_ID_FILE")
  for i in "${NODES[@]}"; do
    [[ -f $DATA/kafka-$i/meta.properties ]] || continue
    id=$(sed -n 's/^cluster\.id=//p' "$DATA/kafka-$i/meta.properties")
    node=$(sed -n 's/^node\.id=//p' "$DATA/kafka-$i/meta.properties")
    [[ -n $expected ]] || expected=$id
    [[ $id == "$expected" && $node == "$i" ]] \
      || die "$DATA/kafka-$i holds node $node of Kafka cluster $id, not node $i of cluster $expected: move it away or delete it (make clean deletes all data)"
  done
  if [[ -n $expected && ! -s $CLUSTER_ID_FILE ]]; then echo "$expected" >"$CLUSTER_ID_FILE"; fi
  return 0
}

write_kafka_config() {
  local i=$1 voters="" j
  for j in "${NODES[@]}"; do voters+="${voters:+,}$j@127.0.0.1:${CONTROLLER_PORTS[j - 1]}"; done
  cat >"$(kafka_conf "$i")" <<EOF
# Generated by infra/native/cluster.sh; edits are overwritten on the next start.
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORTS[i - 1]},CONTROLLER://127.0.0.1:${CONTROLLER_PORTS[i - 1]}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORTS[i - 1]}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA/kafka-$i
# Durability: an acknowledged (acks=all) record is on at least two of the three brokers, and a
# replica that missed records never becomes leader.
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
# 12 instead of 50 partitions each: fewer replicas to start and follow on two shared cores.
offsets.topic.num.partitions=12
transaction.state.log.num.partitions=12
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=$EVENTS_PARTITIONS
EOF
}

format_kafka() {
  local i=$1 cluster_id=$2
  java -Xmx256m "$LOG4J" -Dkafka.log.level=WARN -cp "$LIBS/*" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$(kafka_conf "$i")" >>"$LOG_DIR/kafka-$i.log" 2>&1
}

start_kafka() {
  local i=$1 pid
  echo "starting kafka-$i on 127.0.0.1:${KAFKA_PORTS[i - 1]}, controller ${CONTROLLER_PORTS[i - 1]} (log: $LOG_DIR/kafka-$i.log)"
  setsid java "-Xms${KAFKA_NODE_HEAP}" "-Xmx${KAFKA_NODE_HEAP}" -XX:+UseG1GC \
    -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true "$LOG4J" -cp "$LIBS/*" \
    kafka.Kafka "$(kafka_conf "$i")" >>"$LOG_DIR/kafka-$i.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_DIR/kafka-$i.pid"
  STARTED+=("kafka-$i")
}

start_mongo() {
  local i=$1
  mkdir -p "$DATA/mongo-$i"
  echo "starting mongo-$i on 127.0.0.1:${MONGO_PORTS[i - 1]} (log: $LOG_DIR/mongo-$i.log)"
  # --fork returns once mongod listens (or has failed), and writes the pid file itself.
  "$MONGOD" --replSet rs0 --bind_ip 127.0.0.1 --port "${MONGO_PORTS[i - 1]}" \
    --dbpath "$DATA/mongo-$i" --wiredTigerCacheSizeGB "$MONGO_NODE_CACHE_GB" --oplogSize 512 \
    --logpath "$LOG_DIR/mongo-$i.log" --logappend --fork --pidfilepath "$PID_DIR/mongo-$i.pid" \
    >/dev/null
}

# fail MESSAGE: stop what this run started, then say why in one line.
fail() {
  rollback
  COMPLETE=yes
  die "$1"
}

# helper ARGS...: run cluster.py; its one-line error (if any) becomes ours.
helper() {
  local out rc=0 line
  out=$("$PYTHON" "$HERE/cluster.py" "$@" 2>&1) || rc=$?
  if ((rc)); then
    line=$(grep '^error: ' <<<"$out" | tail -n 1) || line="error: $(tail -n 1 <<<"$out")"
    fail "${line#error: }"
  fi
  echo "$out"
}

start() {
  local i cluster_id mongo_started=() pids=() folders
  "$HERE/kafka.sh" fetch
  "$HERE/mongo.sh" fetch
  preflight
  mkdir -p "$CONF_DIR" "$DATA"
  [[ -s $CLUSTER_ID_FILE ]] || java -Xmx256m "$LOG4J" -Dkafka.log.level=WARN -cp "$LIBS/*" \
    kafka.tools.StorageTool random-uuid >"$CLUSTER_ID_FILE"
  cluster_id=$(<"$CLUSTER_ID_FILE")
  for i in "${NODES[@]}"; do
    write_kafka_config "$i"
    if [[ ! -f $DATA/kafka-$i/meta.properties ]]; then
      format_kafka "$i" "$cluster_id" &
      pids+=($!)
    fi
  done
  for i in "${pids[@]}"; do wait "$i" || fail "formatting a Kafka node's storage failed (log: $LOG_DIR/kafka-*.log)"; done
  for i in "${NODES[@]}"; do
    if pid=$(kafka_running "$i"); then echo "kafka-$i already running (pid $pid)"; else start_kafka "$i"; fi
  done
  pids=()
  for i in "${NODES[@]}"; do
    if pid=$(mongo_running "$i"); then
      echo "mongo-$i already running (pid $pid)"
    else
      start_mongo "$i" &
      pids+=($!)
      mongo_started+=("$i")
    fi
  done
  for i in "${!pids[@]}"; do
    STARTED+=("mongo-${mongo_started[i]}")
    wait "${pids[i]}" || fail "mongo-${mongo_started[i]} failed to start (log: $LOG_DIR/mongo-${mongo_started[i]}.log)"
  done
  folders=$(printf "$DATA/mongo-%s," "${NODES[@]}")
  helper mongo "$(IFS=,; echo "${MONGO_PORTS[*]}")" 90 "${folders%,}"
  for i in "${NODES[@]}"; do
    wait_kafka "$i"
  done
  helper kafka "$(bootstrap)" 3 "$EVENTS_TOPIC" "$EVENTS_PARTITIONS" 120
  COMPLETE=yes
}

# wait_kafka N: until node N listens, or fail (with the end of its log on stderr).
wait_kafka() {
  local i=$1 deadline=$((SECONDS + 90)) pid
  until port_open "${KAFKA_PORTS[i - 1]}"; do
    if ! pid=$(kafka_running "$i"); then
      tail -n 20 "$LOG_DIR/kafka-$i.log" >&2
      fail "kafka-$i exited during startup (log: $LOG_DIR/kafka-$i.log)"
    fi
    ((SECONDS < deadline)) || fail "kafka-$i not listening on port ${KAFKA_PORTS[i - 1]} after 90 s (log: $LOG_DIR/kafka-$i.log)"
    sleep 0.5
  done
}

# stop: the nodes that have a pid file (quiet when the cluster never ran here), in parallel.
stop() {
  local i
  for i in "${NODES[@]}"; do
    [[ -e $PID_DIR/mongo-$i.pid ]] && stop_pid "mongo-$i" "$DATA/mongo-$i" &
    [[ -e $PID_DIR/kafka-$i.pid ]] && stop_pid "kafka-$i" "$(kafka_conf "$i")" &
  done
  wait
}

status() {
  local i rc=0
  for i in "${NODES[@]}"; do status_of "kafka-$i" "$(kafka_conf "$i")" || rc=3; done
  for i in "${NODES[@]}"; do status_of "mongo-$i" "$DATA/mongo-$i" || rc=3; done
  return "$rc"
}

up() {
  local started_at=$SECONDS line
  export COMMAND_INSTANCES=${COMMAND_INSTANCES:-2}
  export PROJECTOR_INSTANCES=${PROJECTOR_INSTANCES:-2}
  export QUERY_INSTANCES=${QUERY_INSTANCES:-2}
  while IFS= read -r line; do export "${line?}"; done < <(env_lines)
  "$HERE/services.sh" check
  start
  COMPLETE=no # the services belong to this run too: if they fail, everything stops again
  if ! "$HERE/services.sh" start; then
    "$HERE/services.sh" stop >/dev/null 2>&1 || true
    fail "the services did not start (logs: $LOG_DIR/{command,projector,query}*.log)"
  fi
  COMPLETE=yes
  echo
  echo "cluster up in $((SECONDS - started_at)) s"
  printf '%-28s %s\n' \
    "Kafka $KAFKA_VERSION (3 KRaft nodes)" "$(bootstrap)" \
    "  controllers (quorum)" "$(IFS=,; echo "${CONTROLLER_PORTS[*]/#/127.0.0.1:}")" \
    "  topics (RF 3, min ISR 2)" "$EVENTS_TOPIC, $EVENTS_TOPIC.dlq, $EVENTS_TOPIC.state" \
    "MongoDB (replica set of 3)" "$(mongodb_url)"
  while read -r unit url; do
    case $unit in
      command*) printf '%-28s %s\n' "$unit GraphQL" "$url/graphql" ;;
      query*) printf '%-28s %s\n' "$unit GraphQL (HTTP + ws)" "$url/graphql, ws://${url#http://}/graphql" ;;
      projector*) printf '%-28s %s\n' "$unit health/metrics" "$url" ;;
    esac
  done < <("$HERE/services.sh" urls)
  printf '%-28s %s\n' "logs" "$LOG_DIR/{kafka-N,mongo-N,command*,projector*,query*}.log"
}

case ${1:-} in
  up) up ;;
  start) start ;;
  stop) COMPLETE=yes; stop ;;
  status) COMPLETE=yes; status ;;
  env) COMPLETE=yes; env_lines ;;
  version) COMPLETE=yes; echo "Apache Kafka $KAFKA_VERSION (3 KRaft nodes), MongoDB 6.0.5 (replica set of 3)" ;;
  *) COMPLETE=yes; echo "usage: $0 {up|start|stop|status|env|version}" >&2; exit 2 ;;
esac

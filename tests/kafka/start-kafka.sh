#!/usr/bin/env bash
# Starts a single-node Apache Kafka (KRaft, broker and controller in one process) for the tests,
# from the pinned version in tests/kafka/pom.xml, and leaves it running.
#
#   tests/kafka/start-kafka.sh                  start; prints KCONNECT_TEST_KAFKA=127.0.0.1:<port>,
#                                               KAFKA_PID=<pid> and KAFKA_RUN_DIR=<dir>
#                                               (eval "$(tests/kafka/start-kafka.sh)" sets them)
#   tests/kafka/start-kafka.sh stop [RUN_DIR] [--keep-data]
#                                               stop it (default: the latest run) and delete
#                                               its data; logs stay in RUN_DIR/logs
#
# Data and logs live under target/kafka/runs/<run>/. KAFKA_HEAP_OPTS overrides the heap.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

stop() {
  local dir="" keep=0 arg
  for arg in "$@"; do
    case "$arg" in
      --keep-data) keep=1 ;;
      *) dir=$arg ;;
    esac
  done
  [ -n "$dir" ] || dir=$(readlink -f "$KAFKA_TARGET/latest" || true)
  [ -n "$dir" ] && [ -d "$dir" ] || die "no broker run to stop (looked for ${dir:-$KAFKA_TARGET/latest})"
  stop_run "$dir" 30
  [ "$keep" = 1 ] || rm -rf "$dir/data"
  echo "stopped the broker of $dir" >&2
}

write_config() {
  local dir=$1 port=$2 controller_port=$3
  cat >"$dir/server.properties" <<CONF
# Written by tests/kafka/start-kafka.sh: one node that is broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests do not wait for late joiners.
group.initial.rebalance.delay.ms=0
# Kafka's defaults, stated because tests rely on them: topics a producer or consumer names
# are created, with one partition.
auto.create.topics.enable=true
num.partitions=1
CONF
}

# Starts the broker once with fresh ports; returns 2 if a port was taken meanwhile.
start_once() {
  local dir=$1 cp=$2 port controller_port cluster_id pid
  port=$(free_port)
  controller_port=$(free_port)
  [ "$port" != "$controller_port" ] || return 2
  rm -rf "$dir/data" "$dir/logs"
  mkdir -p "$dir/data" "$dir/logs"
  write_config "$dir" "$port" "$controller_port"
  # A cluster id is 16 random bytes in URL-safe base64 without padding.
  cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$cp" \
    -Dlog4j2.configurationFile="$KAFKA_RIG_DIR/log4j2-tools.properties" \
    kafka.tools.StorageTool format --config "$dir/server.properties" --cluster-id "$cluster_id" \
    >"$dir/logs/format.log" 2>&1 || {
    cat "$dir/logs/format.log" >&2
    die "formatting the broker's storage failed"
  }
  # setsid: the broker outlives this script and the terminal's Ctrl-C.
  # shellcheck disable=SC2086
  setsid java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_RIG_DIR/log4j2.properties" \
    -Dkconnect.log.file="$dir/logs/server.log" \
    -cp "$cp" kafka.Kafka "$dir/server.properties" \
    >"$dir/logs/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  local deadline=$((SECONDS + 120))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      if grep -q "Address already in use" "$dir/logs/server.log" "$dir/logs/stdout.log" 2>/dev/null; then
        return 2
      fi
      tail -n 30 "$dir/logs/server.log" "$dir/logs/stdout.log" >&2 || true
      die "the broker exited during start-up; logs in $dir/logs"
    fi
    if grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null &&
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      break
    fi
    if [ $SECONDS -ge $deadline ]; then
      stop_run "$dir" 10
      die "the broker did not start within 120 s; logs in $dir/logs"
    fi
    sleep 0.2
  done
  {
    echo "KCONNECT_TEST_KAFKA=127.0.0.1:$port"
    echo "KAFKA_PID=$pid"
    echo "KAFKA_RUN_DIR=$dir"
  } | tee "$dir/env"
}

start() {
  require_java_and_maven
  local cp dir attempt rc started=$SECONDS
  cp=$(kafka_classpath)
  dir="$KAFKA_TARGET/runs/$(date +%Y%m%d-%H%M%S)-$$"
  mkdir -p "$dir"
  ln -sfn "$dir" "$KAFKA_TARGET/latest"
  for attempt in 1 2 3; do
    rc=0
    start_once "$dir" "$cp" || rc=$?
    if [ "$rc" = 0 ]; then
      echo "broker started in $((SECONDS - started)) s; logs in $dir/logs" >&2
      return 0
    fi
    echo "a chosen port was taken (attempt $attempt); trying other ports" >&2
  done
  die "could not find free ports for the broker"
}

case "${1:-start}" in
  start) start ;;
  stop)
    shift
    stop "$@"
    ;;
  *) die "usage: $0 [start | stop [RUN_DIR] [--keep-data]]" ;;
esac

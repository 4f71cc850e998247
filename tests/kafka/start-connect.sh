#!/usr/bin/env bash
# Starts Apache Kafka Connect (the reference peer, pinned in tests/kafka/pom.xml) and leaves it
# running.
#
#   tests/kafka/start-connect.sh standalone WORKER.properties [CONNECTOR.properties...]
#   tests/kafka/start-connect.sh distributed WORKER.properties
#       start; waits until its REST API answers, then prints CONNECT_PID=<pid>,
#       CONNECT_REST=<url> and CONNECT_RUN_DIR=<dir>
#   tests/kafka/start-connect.sh stop [RUN_DIR]     stop it (default: the latest one started)
#
# With KCONNECT_TEST_KAFKA set (start-kafka.sh prints it), the worker is pointed at that broker:
# its bootstrap.servers is replaced. Configs are copied to, and logs written under,
# target/kafka/connect/<run>/. KAFKA_HEAP_OPTS overrides the heap.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
  die "usage: $0 standalone WORKER.properties [CONNECTOR.properties...] | distributed WORKER.properties | stop [RUN_DIR]"
}

start() {
  local mode=$1 worker=$2 class
  shift 2
  case "$mode" in
    standalone) class=org.apache.kafka.connect.cli.ConnectStandalone ;;
    distributed)
      class=org.apache.kafka.connect.cli.ConnectDistributed
      [ $# = 0 ] || usage
      ;;
    *) usage ;;
  esac
  [ -f "$worker" ] || die "no worker config $worker"
  require_java_and_maven
  local cp dir pid
  cp=$(kafka_classpath)
  dir="$KAFKA_TARGET/connect/$(date +%Y%m%d-%H%M%S)-$$"
  mkdir -p "$dir/logs"
  ln -sfn "$dir" "$KAFKA_TARGET/connect-latest"
  cp "$worker" "$dir/worker.properties"
  if [ -n "${KCONNECT_TEST_KAFKA:-}" ]; then
    # A later key wins in a .properties file.
    printf '\n# added by start-connect.sh\nbootstrap.servers=%s\n' "$KCONNECT_TEST_KAFKA" >>"$dir/worker.properties"
  fi
  local connectors=() c
  for c in "$@"; do
    [ -f "$c" ] || die "no connector config $c"
    cp "$c" "$dir/$(basename "$c")"
    connectors+=("$dir/$(basename "$c")")
  done
  # shellcheck disable=SC2086
  setsid java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_RIG_DIR/log4j2.properties" \
    -Dkconnect.log.file="$dir/logs/connect.log" \
    -cp "$cp" "$class" "$dir/worker.properties" "${connectors[@]}" \
    >"$dir/logs/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  local deadline=$((SECONDS + 120)) rest=""
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$dir/logs/connect.log" "$dir/logs/stdout.log" >&2 || true
      die "Java Connect exited during start-up; logs in $dir/logs"
    fi
    if [ -z "$rest" ]; then
      rest=$(sed -n 's/.*REST server listening at \([^,]*\),.*/\1/p' "$dir/logs/connect.log" 2>/dev/null | head -n1 || true)
      rest=${rest%/}
    fi
    if [ -n "$rest" ] && grep -q "Kafka Connect started" "$dir/logs/connect.log"; then
      break
    fi
    if [ $SECONDS -ge $deadline ]; then
      stop_run "$dir" 10
      die "Java Connect did not start within 120 s; logs in $dir/logs"
    fi
    sleep 0.2
  done
  {
    echo "CONNECT_PID=$pid"
    echo "CONNECT_REST=$rest"
    echo "CONNECT_RUN_DIR=$dir"
  } | tee "$dir/env"
}

case "${1:-}" in
  standalone | distributed)
    [ $# -ge 2 ] || usage
    start "$@"
    ;;
  stop)
    dir=${2:-$(readlink -f "$KAFKA_TARGET/connect-latest" || true)}
    [ -n "$dir" ] && [ -d "$dir" ] || die "no Java Connect run to stop"
    stop_run "$dir" 30
    echo "stopped Java Connect of $dir" >&2
    ;;
  *) usage ;;
esac

#!/usr/bin/env bash
# Starts a single-node Apache Kafka (KRaft, broker and controller in one process) for the tests,
# from the pinned version in tests/kafka/pom.xml, and leaves it running.
#
#   tests/kafka/start-kafka.sh                  start; prints KCONNECT_TEST_KAFKA=127.0.0.1:<port>,
#                                               KAFKA_PID=<pid> and KAFKA_RUN_DIR=<dir>
#                                               (eval "$(tests/kafka/start-kafka.sh)" sets them)
#   tests/kafka/start-kafka.sh start --secure   the same broker with two more listeners for the
#                                               security tests, and prints their addresses:
#                                               KCONNECT_TEST_KAFKA_SASL (SASL_PLAINTEXT, SCRAM-SHA-512
#                                               user KAFKA_SCRAM_USER / KAFKA_SCRAM_PASSWORD, made
#                                               when the storage is formatted), KCONNECT_TEST_KAFKA_SSL
#                                               (SSL, server certificate for 127.0.0.1 and localhost
#                                               from a CA made here: PEM file KAFKA_TLS_CA). Not
#                                               made the latest run, so `stop` without RUN_DIR never
#                                               picks it. With KAFKA_WATCH_PID set, a watcher stops
#                                               the broker when that process exits (a test that
#                                               dies without cleaning up leaves no broker behind).
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

# The secure broker's SCRAM user, created when its storage is formatted.
SCRAM_USER=kconnect
SCRAM_PASSWORD=kconnect-secret

# A CA and a server certificate signed by it for 127.0.0.1 and localhost (PEM, unencrypted key),
# made once per run directory; valid for two days, as long as a run lives.
make_tls() {
  local tls=$1/tls
  [ -s "$tls/server.pem" ] && return
  command -v openssl >/dev/null 2>&1 || die "openssl not found: the --secure broker needs it for its certificates"
  mkdir -p "$tls"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kconnect test CA" \
      -keyout "$tls/ca.key" -out "$tls/ca.pem"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout "$tls/server.key" -out "$tls/server.csr"
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$tls/server.ext"
    openssl x509 -req -days 2 -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
      -CAcreateserial -extfile "$tls/server.ext" -out "$tls/server.crt"
  } >"$tls/openssl.log" 2>&1 || {
    cat "$tls/openssl.log" >&2
    die "openssl could not make the test certificates"
  }
  # Kafka's PEM key store: the private key (PKCS#8) and the certificate chain in one file.
  cat "$tls/server.key" "$tls/server.crt" >"$tls/server.pem"
}

write_config() {
  local dir=$1 port=$2 controller_port=$3 sasl_port=${4:-} ssl_port=${5:-}
  local listeners="PLAINTEXT://127.0.0.1:$port"
  local protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [ -n "$sasl_port" ]; then
    listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$sasl_port,SSL://127.0.0.1:$ssl_port"
    protocols="$protocols,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL"
  fi
  cat >"$dir/server.properties" <<CONF
# Written by tests/kafka/start-kafka.sh: one node that is broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=$listeners,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
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
  if [ -n "$sasl_port" ]; then
    cat >>"$dir/server.properties" <<CONF
# --secure: SCRAM-SHA-512 on the SASL_PLAINTEXT listener (users live in the metadata log), and
# TLS with a PEM key store on the SSL listener (no client certificates asked for).
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$dir/tls/server.pem
CONF
  fi
}

# Starts the broker once with fresh ports; returns 2 if a port was taken meanwhile.
start_once() {
  local dir=$1 cp=$2 secure=$3 port controller_port sasl_port="" ssl_port="" cluster_id pid
  local scram=()
  port=$(free_port)
  controller_port=$(free_port)
  [ "$port" != "$controller_port" ] || return 2
  if [ "$secure" = 1 ]; then
    sasl_port=$(free_port)
    ssl_port=$(free_port)
    [ "$(printf '%s\n' "$port" "$controller_port" "$sasl_port" "$ssl_port" | sort -u | wc -l)" = 4 ] || return 2
    scram=(--add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]")
  fi
  rm -rf "$dir/data" "$dir/logs"
  mkdir -p "$dir/data" "$dir/logs"
  write_config "$dir" "$port" "$controller_port" "$sasl_port" "$ssl_port"
  # A cluster id is 16 random bytes in URL-safe base64 without padding.
  cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$cp" \
    -Dlog4j2.configurationFile="$KAFKA_RIG_DIR/log4j2-tools.properties" \
    kafka.tools.StorageTool format --config "$dir/server.properties" --cluster-id "$cluster_id" "${scram[@]}" \
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
    if [ "$secure" = 1 ]; then
      echo "KCONNECT_TEST_KAFKA_SASL=127.0.0.1:$sasl_port"
      echo "KCONNECT_TEST_KAFKA_SSL=127.0.0.1:$ssl_port"
      echo "KAFKA_SCRAM_USER=$SCRAM_USER"
      echo "KAFKA_SCRAM_PASSWORD=$SCRAM_PASSWORD"
      echo "KAFKA_TLS_CA=$dir/tls/ca.pem"
    fi
  } | tee "$dir/env"
}

# Stops the broker of $1 once process $2 is gone. Detached (setsid) so that it outlives this
# script; it exits as soon as the broker is stopped by someone else.
watch_owner() {
  local dir=$1 owner=$2 pid
  pid=$(cat "$dir/pid")
  # $1: the owner, $2: the broker, $3: this script, $4: the run.
  setsid bash -c '
    while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
    if kill -0 "$2" 2>/dev/null; then "$3" stop "$4"; fi' \
    watcher "$owner" "$pid" "$KAFKA_RIG_DIR/start-kafka.sh" "$dir" </dev/null >/dev/null 2>&1 &
}

start() {
  local secure=0 arg
  for arg in "$@"; do
    case "$arg" in
      --secure) secure=1 ;;
      *) die "unknown start option $arg" ;;
    esac
  done
  require_java_and_maven
  local cp dir attempt rc started=$SECONDS
  cp=$(kafka_classpath)
  dir="$KAFKA_TARGET/runs/$(date +%Y%m%d-%H%M%S)-$$"
  mkdir -p "$dir"
  if [ "$secure" = 1 ]; then
    make_tls "$dir"
  else
    ln -sfn "$dir" "$KAFKA_TARGET/latest"
  fi
  for attempt in 1 2 3; do
    rc=0
    start_once "$dir" "$cp" "$secure" || rc=$?
    if [ "$rc" = 0 ]; then
      if [ -n "${KAFKA_WATCH_PID:-}" ]; then
        watch_owner "$dir" "$KAFKA_WATCH_PID"
      fi
      echo "broker started in $((SECONDS - started)) s; logs in $dir/logs" >&2
      return 0
    fi
    echo "a chosen port was taken (attempt $attempt); trying other ports" >&2
  done
  die "could not find free ports for the broker"
}

case "${1:-start}" in
  start)
    shift || true
    start "$@"
    ;;
  stop)
    shift
    stop "$@"
    ;;
  *) die "usage: $0 [start [--secure] | stop [RUN_DIR] [--keep-data]]" ;;
esac

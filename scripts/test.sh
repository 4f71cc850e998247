#!/usr/bin/env bash
# The project's test command: starts a real Apache Kafka broker (tests/kafka/start-kafka.sh),
# runs `cargo test --workspace` against it with KCONNECT_TEST_KAFKA set, and stops the broker.
# Extra arguments go to cargo test, e.g. `scripts/test.sh --test real_kafka -- --nocapture`.
# Exits with cargo's status. The broker's logs stay under target/kafka/runs/; its data is kept
# only when the tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/kafka/lib.sh
require_java_and_maven

broker_env=$(tests/kafka/start-kafka.sh)
KCONNECT_TEST_KAFKA=""
KAFKA_RUN_DIR=""
while IFS='=' read -r key value; do
  case "$key" in
    KCONNECT_TEST_KAFKA) KCONNECT_TEST_KAFKA=$value ;;
    KAFKA_RUN_DIR) KAFKA_RUN_DIR=$value ;;
  esac
done <<<"$broker_env"
[ -n "$KCONNECT_TEST_KAFKA" ] && [ -n "$KAFKA_RUN_DIR" ] || die "start-kafka.sh printed no broker: $broker_env"
export KCONNECT_TEST_KAFKA

status=0
stop_broker() {
  local keep=()
  [ "$status" = 0 ] || keep=(--keep-data)
  tests/kafka/start-kafka.sh stop "$KAFKA_RUN_DIR" "${keep[@]}" || true
  [ "$status" = 0 ] || echo "broker logs and data kept in $KAFKA_RUN_DIR" >&2
}
trap stop_broker EXIT
trap 'status=130; exit 130' INT
trap 'status=143; exit 143' TERM

echo "testing against Apache Kafka at $KCONNECT_TEST_KAFKA" >&2
cargo test --workspace --no-fail-fast "$@" || status=$?
exit "$status"

#!/usr/bin/env bash
# The project's test command: starts a real Apache Kafka broker (tests/kafka/start-kafka.sh) and
# a throwaway PostgreSQL cluster (tests/postgres/start-postgres.sh), runs `cargo test --workspace`
# against them with KCONNECT_TEST_KAFKA and KCONNECT_TEST_POSTGRES set, and stops both.
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
POSTGRES_RUN_DIR=""
stop_services() {
  local keep=()
  [ "$status" = 0 ] || keep=(--keep-data)
  tests/kafka/start-kafka.sh stop "$KAFKA_RUN_DIR" "${keep[@]}" || true
  [ "$status" = 0 ] || echo "broker logs and data kept in $KAFKA_RUN_DIR" >&2
  [ -z "$POSTGRES_RUN_DIR" ] || tests/postgres/start-postgres.sh stop "$POSTGRES_RUN_DIR" || true
}
trap stop_services EXIT

postgres_env=$(tests/postgres/start-postgres.sh)
KCONNECT_TEST_POSTGRES=""
while IFS='=' read -r key value; do
  case "$key" in
    KCONNECT_TEST_POSTGRES) KCONNECT_TEST_POSTGRES=$value ;;
    POSTGRES_RUN_DIR) POSTGRES_RUN_DIR=$value ;;
  esac
done <<<"$postgres_env"
[ -n "$KCONNECT_TEST_POSTGRES" ] || die "start-postgres.sh printed no server: $postgres_env"
export KCONNECT_TEST_POSTGRES
trap 'status=130; exit 130' INT
trap 'status=143; exit 143' TERM

echo "testing against Apache Kafka at $KCONNECT_TEST_KAFKA and PostgreSQL at ${KCONNECT_TEST_POSTGRES##*@}" >&2
cargo test --workspace --no-fail-fast "$@" || status=$?
exit "$status"

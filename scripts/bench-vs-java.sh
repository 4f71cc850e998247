#!/usr/bin/env bash
# kconnect next to Apache Kafka Connect: starts a real Apache Kafka broker (tests/kafka/), builds
# kconnect in release mode and runs `kconnect bench` with the `java` benchmark on that broker,
# then stops the broker. Extra arguments go to `kconnect bench`, e.g.
#   scripts/bench-vs-java.sh                  # every benchmark; rewrites BENCHMARKS.md
#   scripts/bench-vs-java.sh --only java      # only kconnect vs Java Connect; prints the table
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/kafka/lib.sh
require_java_and_maven

classpath=$(kafka_classpath)
cargo build --release --quiet
broker_env=$(tests/kafka/start-kafka.sh)
bootstrap=$(sed -n 's/^KCONNECT_TEST_KAFKA=//p' <<<"$broker_env")
run_dir=$(sed -n 's/^KAFKA_RUN_DIR=//p' <<<"$broker_env")
[ -n "$bootstrap" ] && [ -n "$run_dir" ] || die "start-kafka.sh printed no broker: $broker_env"
trap 'tests/kafka/start-kafka.sh stop "$run_dir" >/dev/null || true' EXIT

target/release/kconnect --log-level warn bench --kafka "$bootstrap" --java-classpath "$classpath" "$@"

#!/usr/bin/env bash
# Runs one of Kafka's command-line tools (any main class of the pinned Apache Kafka in
# tests/kafka/pom.xml) in the foreground, logging warnings to stderr. For example:
#
#   tests/kafka/run-class.sh org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
#       --bootstrap-server "$KCONNECT_TEST_KAFKA" --describe --group connect-my-sink
#   tests/kafka/run-class.sh org.apache.kafka.tools.consumer.ConsoleConsumer \
#       --bootstrap-server "$KCONNECT_TEST_KAFKA" --topic t --from-beginning --timeout-ms 5000
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || die "usage: $0 MAIN_CLASS [ARGS...]"
require_java_and_maven
cp=$(kafka_classpath)
class=$1
shift
# A short-lived tool: quick JIT and a small heap start faster.
exec java -Xmx512m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$KAFKA_RIG_DIR/log4j2-tools.properties" \
  -cp "$cp" "$class" "$@"

# Shared by the scripts in tests/kafka (sourced, not run): where things live, the Java and Maven
# checks, and the classpath of the pinned Apache Kafka in tests/kafka/pom.xml.

KAFKA_RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$KAFKA_RIG_DIR/../.." && pwd)"
# Everything the rig writes (classpath cache, broker data, logs) lives here; never committed.
KAFKA_TARGET="$REPO_ROOT/target/kafka"

die() {
  echo "error: $*" >&2
  exit 1
}

# The major version of `java` on the PATH (8 for "1.8.0_x", 17 for "17.0.15").
java_major() {
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)
  v=${v#1.}
  echo "${v%%[.+-]*}"
}

# Fails with a message saying what to install when Java 17+ or Maven is missing.
require_java_and_maven() {
  command -v java >/dev/null 2>&1 ||
    die "java not found: the real-Kafka tests need Java 17 or newer (Debian: apt-get install default-jre-headless)"
  local major
  major=$(java_major)
  [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 17 ] ||
    die "java is version '${major:-unknown}': the real-Kafka tests need Java 17 or newer"
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found: Maven fetches the pinned Apache Kafka (Debian: apt-get install maven)"
}

# Prints the runtime classpath of tests/kafka/pom.xml. Maven resolves it once per version of
# the pom (jars stay in ~/.m2); later calls read the cached list without starting Maven.
kafka_classpath() {
  local pom="$KAFKA_RIG_DIR/pom.xml" hash cache jar ok=1
  hash=$(sha256sum "$pom" | cut -c1-16)
  cache="$KAFKA_TARGET/classpath-$hash.txt"
  if [ -s "$cache" ]; then
    local IFS=:
    for jar in $(cat "$cache"); do
      [ -f "$jar" ] || { ok=0; break; }
    done
    if [ "$ok" = 1 ]; then
      cat "$cache"
      return
    fi
  fi
  mkdir -p "$KAFKA_TARGET"
  echo "resolving Apache Kafka with Maven ($pom) ..." >&2
  # Maven's output goes to a log, shown only on failure (Debian's Maven 3.8 prints escape codes
  # even with -q).
  if ! mvn -B -Dstyle.color=never -f "$pom" dependency:build-classpath \
    -Dmdep.includeScope=runtime -Dmdep.outputFile="$cache.tmp" >"$KAFKA_TARGET/maven.log" 2>&1; then
    grep -E 'ERROR|FAIL' "$KAFKA_TARGET/maven.log" | head -n 20 >&2 || true
    die "Maven could not resolve $pom (is Maven Central reachable?); full output in $KAFKA_TARGET/maven.log"
  fi
  mv "$cache.tmp" "$cache"
  cat "$cache"
}

# A loopback TCP port nobody listens on, below the ephemeral range (32768+) so that outgoing
# connections do not take it meanwhile. The caller retries if the port is taken before use.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# True when $1 is a live process whose command line mentions $2 (a run directory), so that a
# stale pid file never makes us signal a process we did not start.
is_our_process() {
  local pid=$1 marker=$2
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

# Stops the process in "$1/pid" (SIGTERM, then SIGKILL after $2 seconds) if it is still ours.
stop_run() {
  local dir=$1 grace=$2 pid
  [ -f "$dir/pid" ] || die "no pid file in $dir"
  pid=$(cat "$dir/pid")
  if ! is_our_process "$pid" "$dir"; then
    echo "process $pid of $dir is not running" >&2
    return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "process $pid did not stop within ${grace}s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

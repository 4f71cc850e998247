#!/usr/bin/env bash
# Instructions per consumed record of the sink path, counted by callgrind (deterministic,
# unlike records/s on a shared machine). Each side of `kconnect bench --only sink` runs alone
# (`--sink-side`, with the like-for-like `fetch.queue.backoff.ms=10`), once with N records and
# once with 2N; (Ir(2N) - Ir(N)) / N is what one more record costs the whole process — every
# thread: the feeding producer, the embedded broker, librdkafka's threads and the consumer side
# (FileStreamSink's task, or the raw consumer loop) — with start-up and the broker's start
# cancelling out. Both sides feed the same records, so kconnect minus raw is what kconnect's
# sink path adds to a raw rdkafka consumer writing the same file.
#
# Usage: scripts/callgrind-sink.sh [N] [BINARY]
#   N       records of the smaller run (default 20000)
#   BINARY  default target/release/kconnect (cargo build --release first)
#   SIDES   sides to count (default "raw kconnect"); "both" runs the whole sink benchmark (both
#           sides, each with its defaults and like for like: four runs of N records) for a
#           binary older than --sink-side: divide by 2 and subtract the raw side
set -euo pipefail
n=${1:-20000}
bin=${2:-target/release/kconnect}
command -v valgrind >/dev/null || {
    echo "callgrind-sink: needs valgrind (apt-get install -y valgrind)" >&2
    exit 2
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions of one bench run: $1 side, $2 records.
count() {
    local side_args=(--sink-side "$1")
    [ "$1" = both ] && side_args=()
    if ! valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" --log-level warn \
        bench --quick --only sink --no-markdown "${side_args[@]}" --lines "$2" \
        >"$tmp/log" 2>&1; then
        cat "$tmp/log" >&2
        exit 1
    fi
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/log"
}

for side in ${SIDES:-raw kconnect}; do
    small=$(count "$side" "$n")
    large=$(count "$side" $((2 * n)))
    echo "$side: $(((large - small) / n)) instructions per record"
done

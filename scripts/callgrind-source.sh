#!/usr/bin/env bash
# Instructions per record of the source path, counted by callgrind (deterministic, unlike
# records/s on a shared machine). Each side of `kconnect bench --only source` runs alone
# (`--source-side`), once with N lines and once with 2N; (Ir(2N) - Ir(N)) / N is what one more
# record costs the whole process — every thread: the task or the raw loop, the producer,
# librdkafka's threads and the embedded broker — with start-up, the broker's start and the
# input file cancelling out. The raw side is the baseline a kconnect record is compared with.
#
# Usage: scripts/callgrind-source.sh [N] [BINARY]
#   N       lines of the smaller run (default 20000)
#   BINARY  default target/release/kconnect (cargo build --release first)
#   SIDES   sides to count (default "raw kconnect"); "both" runs the whole benchmark, both
#           sides in turn, for a binary older than --source-side (subtract the raw side)
set -euo pipefail
n=${1:-20000}
bin=${2:-target/release/kconnect}
command -v valgrind >/dev/null || {
    echo "callgrind-source: needs valgrind (apt-get install -y valgrind)" >&2
    exit 2
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions of one bench run: $1 side, $2 lines.
count() {
    local side_args=(--source-side "$1")
    [ "$1" = both ] && side_args=()
    if ! valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" --log-level warn \
        bench --quick --only source --no-markdown "${side_args[@]}" --lines "$2" \
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

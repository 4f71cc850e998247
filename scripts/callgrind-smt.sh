#!/usr/bin/env bash
# Instructions per record of each loop of `kconnect bench --only smt`, counted by callgrind
# (deterministic, unlike records/s on a shared machine). Each loop runs alone
# (`--smt-loop LOOP`), once over N records and once over 2N; (Ir(2N) - Ir(N)) / N is what one
# more record costs, with start-up and the one-off checks cancelling out. Then the ratios the
# benchmark reports: the transforms' instructions over the conversion's, on each side (the
# source side's template clone taken out of both of its loops, as the benchmark does).
#
# Usage: scripts/callgrind-smt.sh [N] [BINARY]
#   N       records of the smaller run (default 20000)
#   BINARY  default target/release/kconnect (cargo build --release first)
set -euo pipefail
n=${1:-20000}
bin=${2:-target/release/kconnect}
command -v valgrind >/dev/null || {
    echo "callgrind-smt: needs valgrind (apt-get install -y valgrind)" >&2
    exit 2
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions of one run: $1 loop, $2 records.
count() {
    if ! valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" --log-level warn \
        bench --only smt --no-markdown --smt-loop "$1" --lines "$2" >"$tmp/log" 2>&1; then
        cat "$tmp/log" >&2
        exit 1
    fi
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/log"
}

declare -A per
for loop in sink-convert sink-both source-clone source-convert source-both; do
    small=$(count "$loop" "$n")
    large=$(count "$loop" $((2 * n)))
    per[$loop]=$(((large - small) / n))
    echo "$loop: ${per[$loop]} instructions per record"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a - b) / b }'; }
sink=$(ratio "${per[sink-both]}" "${per[sink-convert]}")
src_convert=$((per[source-convert] - per[source-clone]))
src_both=$((per[source-both] - per[source-clone]))
source=$(ratio "$src_both" "$src_convert")
echo "sink: transforms $((per[sink-both] - per[sink-convert])) / conversion ${per[sink-convert]} = $sink"
echo "source: transforms $((src_both - src_convert)) / conversion $src_convert = $source"

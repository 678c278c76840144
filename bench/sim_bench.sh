#!/usr/bin/env bash
# sim_bench.sh [N] — the simulator benchmark (issue 3, section 6).
#
# Builds Release into build-bench/ and runs bench/sim_bench on the giftlive-v2
# world (10,000 users x 500 streamers, rounds of 200; every streamer a
# candidate), seed 42, Greedy from the default policy set, on one core:
#   engine            N decisions, no log (the figure the issue's target is
#                     about: the research Python simulator does ~20,000/s)
#   + log /dev/null   N/10 decisions, alloc.v1 lines formatted and written
#   + log .zst        N/20 decisions, zstd -3 into a temporary file
# Each row runs RUNS times (default 5); the table shows the median
# decisions/s with the range, the median world build time and the largest
# peak RSS (getrusage ru_maxrss of the bench process).
#
# Environment: RUNS (5), BUILD_DIR (build-bench), JOBS (nproc).
set -euo pipefail

N=${1:-200000}
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-bench}
JOBS=${JOBS:-$(nproc)}

case $N in
'' | *[!0-9]* | 0) echo "usage: $0 [N]   (N a positive integer)" >&2; exit 2 ;;
esac

say() { printf '%s\n' "$*" >&2; }

say "== build (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGOPE_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target sim_bench -j "$JOBS" >/dev/null
BENCH=$BUILD/sim_bench

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# field NAME < json-line : one numeric field of sim_bench's output
field() { sed -n "s/.*\"$1\":\\([0-9.e+-]*\\).*/\\1/p"; }

# row NAME DECISIONS [sim_bench options] : RUNS runs, one JSON line each
row() {
    local name=$1 n=$2
    shift 2
    say "== $name: $n decisions x $RUNS runs"
    for _ in $(seq "$RUNS"); do
        "$BENCH" "$n" "$@" >>"$WORK/$name"
    done
}

row engine "$N"
row devnull $(( N / 10 > 0 ? N / 10 : 1 )) --log /dev/null
row zstd $(( N / 20 > 0 ? N / 20 : 1 )) --log "$WORK/log.jsonl.zst"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "none")
if [ "$commit" != none ] && [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes)"
fi
model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)

echo "giftope simulator benchmark"
echo
echo "- machine: ${model:-unknown}, nproc $(nproc); one core"
echo "- giftope commit: $commit"
echo "- world giftlive-v2 (10,000 users x 500 streamers, rounds of 200), seed 42, Greedy"
echo "- median of $RUNS runs (range in brackets)"
echo
echo "| run | decisions | decisions/s | world build (ms) | peak RSS (MiB) |"
echo "|---|---:|---:|---:|---:|"
for s in engine devnull zstd; do
    case $s in
    engine) label='engine, no log' ;;
    devnull) label='+ alloc.v1 log to /dev/null' ;;
    zstd) label='+ alloc.v1 log, zstd -3 to a file' ;;
    esac
    n=$(field decisions <"$WORK/$s" | head -n 1)
    rate=$(field decisions_per_s <"$WORK/$s" | median)
    lo=$(field decisions_per_s <"$WORK/$s" | sort -g | head -n 1)
    hi=$(field decisions_per_s <"$WORK/$s" | sort -g | tail -n 1)
    build=$(field build_s <"$WORK/$s" | median)
    rss=$(field peak_rss_kib <"$WORK/$s" | sort -g | tail -n 1)
    awk -v l="$label" -v n="$n" -v r="$rate" -v lo="$lo" -v hi="$hi" -v b="$build" -v m="$rss" \
        'BEGIN { printf "| %s | %d | %.0f [%.0f, %.0f] | %.1f | %.1f |\n", l, n, r, lo, hi, b * 1000, m / 1024 }'
done

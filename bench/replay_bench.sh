#!/usr/bin/env bash
# replay_bench.sh [EVENTS] — the giftope replay benchmark (bench/README.md).
#
# Builds Release into build-bench/, generates a seeded alloc.v1 log of EVENTS
# events (default 1,000,000; K = 10) with bench/gen_alloc, compresses it with
# zstd -3, then measures on that one file, in this one run:
#   zstd -dc        decompression alone (the floor for any reader)
#   decode-only     giftope replay --decode-only: read + parse + validate
#   full replay     8 policies (bench/policies8.json), all estimators,
#                   --window 1h --slide 5m
# Each step runs RUNS times (default 3); the table shows the best wall time and
# the peak RSS of that process. Run with 10000000 for the RSS-flat check.
#
# Environment: RUNS (3), SEED (42), BUILD_DIR (build-bench), JOBS (nproc).
set -euo pipefail

EVENTS=${1:-1000000}
RUNS=${RUNS:-3}
SEED=${SEED:-42}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-bench}
JOBS=${JOBS:-$(nproc)}
POLICIES=$ROOT/bench/policies8.json

case $EVENTS in
'' | *[!0-9]*) echo "usage: $0 [EVENTS]   (EVENTS a positive integer)" >&2; exit 2 ;;
esac

say() { printf '%s\n' "$*" >&2; }

# Peak RSS needs GNU time (Debian package `time`); install it when we can,
# else fall back to python3 polling /proc/PID/status (VmHWM).
if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing GNU time for peak-RSS measurement"
    apt-get install -y -q time >/dev/null 2>&1 || true
fi

# run_measured OUTFILE CMD... : runs CMD (stdout to /dev/null), appends
# "<wall seconds> <peak RSS KiB>" to OUTFILE; fails when CMD fails.
run_measured() {
    local out=$1 rssf t0 t1 rss
    shift
    if [ -x /usr/bin/time ]; then
        rssf=$(mktemp)
        t0=$(date +%s%N)
        /usr/bin/time -f %M -o "$rssf" "$@" >/dev/null
        t1=$(date +%s%N)
        rss=$(tail -n 1 "$rssf")
        rm -f "$rssf"
        echo "$(( (t1 - t0) / 1000 )) $rss" | awk '{printf "%.3f %d\n", $1 / 1e6, $2}' >>"$out"
    else
        python3 - "$out" "$@" <<'PY'
# Peak RSS by polling VmHWM: getrusage(RUSAGE_CHILDREN) would also count the
# python image the child was forked from. Popen returns after the exec.
import subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
hwm = 0
while p.poll() is None:
    try:
        with open("/proc/%d/status" % p.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = max(hwm, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.005)
wall = time.perf_counter() - t0
if p.returncode != 0:
    sys.exit("%s: exit status %d" % (cmd[0], p.returncode))
with open(out, "a") as f:
    f.write("%.3f %d\n" % (wall, hwm))
PY
    fi
}

say "== build (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGOPE_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target giftope gen_alloc -j "$JOBS" >/dev/null
GIFTOPE=$BUILD/giftope
GEN=$BUILD/gen_alloc

LOG=$BUILD/alloc-$EVENTS-seed$SEED.jsonl.zst
if [ ! -s "$LOG" ] || [ "$GEN" -nt "$LOG" ]; then
    say "== generate $EVENTS events (seed $SEED, K = 10) | zstd -3 -> $LOG"
    gen_t0=$(date +%s%N)
    "$GEN" --events "$EVENTS" --seed "$SEED" --k 10 | zstd -3 -q -T0 -c >"$LOG.tmp"
    mv "$LOG.tmp" "$LOG"
    gen_t1=$(date +%s%N)
    say "   generated and compressed in $(( (gen_t1 - gen_t0) / 1000000 )) ms"
else
    say "== reuse $LOG"
fi
RAW_BYTES=$(zstd -dc "$LOG" | wc -c)
ZST_BYTES=$(stat -c %s "$LOG")

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

step() { # step NAME CMD...
    local name=$1
    shift
    for _ in $(seq "$RUNS"); do
        run_measured "$WORK/$name" "$@"
    done
}

say "== measure ($RUNS runs each, best wall time)"
step zstd zstd -dc "$LOG"
step decode "$GIFTOPE" replay --decode-only --threads 1 --quiet "$LOG" --out /dev/null
step replay1 "$GIFTOPE" replay --quiet --threads 1 --policies "$POLICIES" --window 1h \
    --slide 5m "$LOG" --out /dev/null --dead-letter /dev/null
step replay2 "$GIFTOPE" replay --quiet --threads 2 --policies "$POLICIES" --window 1h \
    --slide 5m "$LOG" --out /dev/null --dead-letter /dev/null

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "none")
if [ "$commit" != none ] && [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes)"
fi
model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)

echo "giftope replay benchmark"
echo
echo "- machine: ${model:-unknown}, nproc $(nproc)"
echo "- giftope commit: $commit"
echo "- log: $EVENTS events, K = 10, seed $SEED; $(awk -v b="$RAW_BYTES" -v n="$EVENTS" \
    'BEGIN { printf "%.1f MB decompressed (%.0f bytes/event)", b / 1e6, b / n }'), \
$(awk -v b="$ZST_BYTES" 'BEGIN { printf "%.1f MB", b / 1e6 }') at zstd -3"
echo "- replay: 8 policies (bench/policies8.json), all estimators, --window 1h --slide 5m"
echo "- best of $RUNS runs; MB/s counts decompressed bytes"
echo
echo "| step | seconds | events/s | MB/s | peak RSS (MiB) |"
echo "|---|---:|---:|---:|---:|"
for s in zstd decode replay1 replay2; do
    case $s in
    zstd) label='`zstd -dc FILE > /dev/null`' ;;
    decode) label='parse only, one core (`giftope replay --decode-only --threads 1`)' ;;
    replay1) label='full replay, one core (`--threads 1`; 8 policies, 1h/5m windows)' ;;
    replay2) label='full replay, reader thread (`--threads 2`, the default)' ;;
    esac
    sort -n -k1,1 "$WORK/$s" | head -n 1 |
        awk -v l="$label" -v n="$EVENTS" -v b="$RAW_BYTES" \
            '{ printf "| %s | %.2f | %.0f | %.0f | %.1f |\n", l, $1, n / $1, b / 1e6 / $1, $2 / 1024 }'
done

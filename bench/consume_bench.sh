#!/usr/bin/env bash
# consume_bench.sh [EVENTS] — the giftope consume benchmark against a real Kafka broker
# (bench/README.md, "The consume bench").
#
# Builds Release into build-bench/ (giftope, gen_alloc, kafka_load), starts its own broker
# with tests/kafka/broker.sh in its own work dir (stopped on exit), and measures:
#
#   throughput  EVENTS (default 1,000,000) events of the replay bench's log (gen_alloc
#               --seed 42 --k 10) produced into a 6-partition topic as zstd batches, then
#               read back RUNS times (default 3; median and range) by:
#                 drain      bench/kafka_load drain: librdkafka alone, no parsing (the floor)
#                 replay     giftope replay --threads 1 of the same log from a .zst file
#                 consume    giftope consume, 8 policies, all estimators, 1h/5m windows,
#                            one core (taskset -c $CORE), giftope's defaults (512 MiB prefetch)
#                 rdkafka    the same with librdkafka's own prefetch defaults (before)
#                 big        the same with the notes' 1 GiB prefetch
#                 two        consume with librdkafka's threads free to use the second core
#   latency     LAT_RATE events/s (default 50,000) for LAT_SECONDS (default 20) produced at a
#               steady pace with ts = the wall clock at produce time, consumed on one core
#               with --window 1s --lateness 0; latency of a window = the wall time its
#               record lines reach the reading process minus the window's end.
#
# consume's events/s = EVENTS / (time of the "revoked" log line - time of the "assigned"
# log line), both timestamped on arrival by a reader of its stderr: the run stops at
# --max-events EVENTS, so that span is first fetch to last message, plus emitting the last
# windows and one commit. Peak RSS from GNU time (/usr/bin/time -f %M).
#
# Environment: RUNS (3), LAT_RATE (50000), LAT_SECONDS (20), BUILD_DIR (build-bench),
#   JOBS (nproc), CORE (0: the core of the one-core rows), BENCH_DIR (a mktemp dir: log,
#   broker, outputs; removed on exit unless KEEP=1).
set -euo pipefail

EVENTS=${1:-1000000}
RUNS=${RUNS:-3}
LAT_RATE=${LAT_RATE:-50000}
LAT_SECONDS=${LAT_SECONDS:-20}
CORE=${CORE:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-bench}
JOBS=${JOBS:-$(nproc)}
POLICIES=$ROOT/bench/policies8.json
RDKAFKA=(-X queued.min.messages=100000 -X queued.max.messages.kbytes=65536)
BIG=(-X queued.min.messages=2000000 -X queued.max.messages.kbytes=1048576)

case $EVENTS in
'' | *[!0-9]* | 0) echo "usage: $0 [EVENTS]   (EVENTS a positive integer)" >&2; exit 2 ;;
esac
for tool in /usr/bin/time taskset python3 zstd java; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done

say() { printf '%s\n' "$*" >&2; }

WORK=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/giftope-consume-bench.XXXXXX")}
mkdir -p "$WORK"
cleanup() {
    [ ! -f "$WORK/broker/server.properties" ] || "$ROOT/tests/kafka/broker.sh" stop --dir "$WORK/broker" >/dev/null 2>&1 || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

say "== build (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGOPE_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target giftope gen_alloc kafka_load -j "$JOBS" >/dev/null
GIFTOPE=$BUILD/giftope
LOAD=$BUILD/kafka_load

say "== broker in $WORK/broker"
"$ROOT/tests/kafka/broker.sh" start --dir "$WORK/broker" --owner $$ >"$WORK/broker.env"
BROKERS=$(sed -n 's/^GOPE_KAFKA_BROKERS=//p' "$WORK/broker.env")
"$ROOT/tests/kafka/broker.sh" topic create alloc 6 --dir "$WORK/broker"
"$ROOT/tests/kafka/broker.sh" topic create live 6 --dir "$WORK/broker"

LOG=$WORK/alloc.jsonl.zst
say "== generate $EVENTS events (seed 42, K = 10) and produce them into alloc (6 partitions, zstd)"
"$BUILD/gen_alloc" --events "$EVENTS" --seed 42 --k 10 | zstd -3 -q -T0 -c >"$LOG"
RAW_BYTES=$(zstd -dc "$LOG" | wc -c)
zstd -dc "$LOG" | "$LOAD" produce --brokers "$BROKERS" --topic alloc >"$WORK/produce.json"
say "   $(cat "$WORK/produce.json")"
TOPIC_BYTES=$(cat "$WORK"/broker/data/alloc-*/*.log | wc -c) # the topic's zstd batches

# Timestamp every line of stdin on arrival (epoch seconds, the same clock as the producer's).
STAMP='import sys, time
for line in sys.stdin:
    sys.stdout.write("%.6f %s" % (time.time(), line))
    sys.stdout.flush()'

# measure NAME CMD... : one run of CMD; appends "<events/s> <peak RSS KiB>" to $WORK/NAME.
# consume runs are timed by their log lines, the others by their own report or the wall.
measure() {
    local name=$1 rssf=$WORK/rss t0 t1 rate
    shift
    case $name in
    drain*)
        /usr/bin/time -f %M -o "$rssf" "$@" >"$WORK/out.json"
        rate=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_per_s"])' "$WORK/out.json") ;;
    replay*)
        t0=$(date +%s%N)
        /usr/bin/time -f %M -o "$rssf" "$@" >/dev/null
        t1=$(date +%s%N)
        rate=$(awk -v n="$EVENTS" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }') ;;
    *)
        /usr/bin/time -f %M -o "$rssf" "$@" --max-events "$EVENTS" --idle-exit 30s \
            --out "$WORK/records.jsonl" --dead-letter /dev/null 2>&1 >/dev/null |
            python3 -c "$STAMP" >"$WORK/stderr.ts"
        python3 - "$WORK/records.jsonl" "$EVENTS" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
if s.get("lines_read") != int(sys.argv[2]) or s["kafka"]["stopped_by"] != "max_events":
    sys.exit("consume read %s of %s messages (%s)" % (s.get("lines_read"), sys.argv[2], s.get("kafka")))
PY
        t0=$(awk '/rebalance: assigned/ { print $1; exit }' "$WORK/stderr.ts")
        t1=$(awk '/rebalance: revoked/ { print $1; exit }' "$WORK/stderr.ts")
        rate=$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }') ;;
    esac
    echo "$rate $(tail -n 1 "$rssf")" >>"$WORK/$name"
    say "   $name: $rate events/s, peak RSS $(tail -n 1 "$rssf") KiB"
}

CONSUME=("$GIFTOPE" consume --brokers "$BROKERS" --topic alloc --policies "$POLICIES"
         --window 1h --slide 5m)
ONE=(taskset -c "$CORE")
say "== throughput: $RUNS runs of each row"
for r in $(seq "$RUNS"); do
    measure drain "${ONE[@]}" "$LOAD" drain --brokers "$BROKERS" --topic alloc --group "drain-$r" \
        --count "$EVENTS"
    measure replay "${ONE[@]}" "$GIFTOPE" replay --quiet --threads 1 --policies "$POLICIES" \
        --window 1h --slide 5m "$LOG" --out /dev/null --dead-letter /dev/null
    measure consume "${ONE[@]}" "${CONSUME[@]}" --group "consume-$r"
    measure rdkafka "${ONE[@]}" "${CONSUME[@]}" --group "rdkafka-$r" "${RDKAFKA[@]}"
    measure big "${ONE[@]}" "${CONSUME[@]}" --group "big-$r" "${BIG[@]}"
    measure two "${CONSUME[@]}" --group "two-$r"
done

say "== latency: $LAT_RATE events/s for $LAT_SECONDS s, ts = produce time, --window 1s --lateness 0"
# The reader: one "<arrival ms> <window end ms>" line per record, and the summary line.
READER='import json, sys, time
with open(sys.argv[1], "w") as arr, open(sys.argv[2], "w") as summ:
    for line in sys.stdin:
        now = time.time() * 1000.0
        if line.startswith("{\"schema\":\"ope_metrics.v1\""):
            arr.write("%.3f %d\n" % (now, json.loads(line)["window"]["end"]))
            arr.flush()
        elif line.startswith("{\"schema\":\"ope_run.v1\""):
            summ.write(line)'
"${ONE[@]}" "$GIFTOPE" consume --brokers "$BROKERS" --topic live --group live \
    --policies "$POLICIES" --window 1s --lateness 0 --idle-exit 5s --out - \
    --dead-letter /dev/null 2>"$WORK/live.err" |
    python3 -c "$READER" "$WORK/arrivals" "$WORK/live.summary" &
LIVE=$!
for _ in $(seq 300); do
    grep -q 'rebalance: assigned' "$WORK/live.err" 2>/dev/null && break
    sleep 0.1
done
grep -q 'rebalance: assigned' "$WORK/live.err" || { cat "$WORK/live.err" >&2; say "consume got no partitions"; exit 1; }
"$BUILD/gen_alloc" --events $((LAT_RATE * LAT_SECONDS)) --seed 43 --k 10 |
    "$LOAD" produce --brokers "$BROKERS" --topic live --rate "$LAT_RATE" --stamp-ts \
        --linger-ms 5 >"$WORK/live.produce.json"
wait "$LIVE"
say "   $(cat "$WORK/live.produce.json")"
LATENCY=$(python3 - "$WORK/arrivals" "$WORK/live.produce.json" "$WORK/live.summary" <<'PY'
import json, sys
last_ts = json.load(open(sys.argv[2]))["last_ts"]
s = json.loads(open(sys.argv[3]).read())
first, last = {}, {}
for line in open(sys.argv[1]):
    t, end = line.split()
    end = int(end)
    if end > last_ts:      # emitted at the end of the run (--idle-exit), not by the watermark
        continue
    first.setdefault(end, float(t) - end)
    last[end] = float(t) - end
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]
f, l = list(first.values()), list(last.values())
# in window order: a latency that keeps growing is a consumer (or producer) behind the pace
sys.stderr.write("   latency of each window's first record (ms): %s\n"
                 % " ".join("%.0f" % first[k] for k in sorted(first)))
print("%d %.0f %.0f %.0f %.0f %.0f %d %d" % (len(f), pct(f, .5), pct(f, .99), pct(l, .5),
      pct(l, .99), max(l), s["late"], s["lines_read"]))
PY
)
read -r L_WIN L_F50 L_F99 L_L50 L_L99 L_MAX L_LATE L_READ <<<"$LATENCY"

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)
if [ "$commit" != none ] && [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes)"
fi
model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)

echo "giftope consume benchmark"
echo
echo "- machine: ${model:-unknown}, nproc $(nproc); broker: Kafka $(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/tests/kafka/pom.xml") (KRaft, one node, same machine)"
echo "- giftope commit: $commit; librdkafka $(pkg-config --modversion rdkafka)"
echo "- log: $EVENTS events, K = 10, seed 42; $(awk -v b="$RAW_BYTES" -v n="$EVENTS" 'BEGIN { printf "%.0f bytes/event", b / n }'), \
topic of 6 partitions, zstd batches: $(awk -v b="$TOPIC_BYTES" -v n="$EVENTS" 'BEGIN { printf "%.0f bytes/event on the broker", b / n }')"
echo "- consume: 8 policies (bench/policies8.json), all estimators, --window 1h --slide 5m; one core = taskset -c $CORE"
echo "- median of $RUNS runs [min, max]"
echo
echo "| row | events/s | peak RSS (MiB) |"
echo "|---|---:|---:|"
for s in drain replay consume rdkafka big two; do
    # shellcheck disable=SC2016 # the backticks are Markdown
    case $s in
    drain) label='librdkafka alone: `kafka_load drain` (poll, no parsing), one core' ;;
    replay) label='`giftope replay --threads 1` of the same log (.zst file), one core' ;;
    consume) label='`giftope consume`, one core (its defaults: 512 MiB prefetch queue)' ;;
    rdkafka) label='the same with librdkafka'"'"'s defaults: `-X queued.min.messages=100000 -X queued.max.messages.kbytes=65536`' ;;
    big) label='the same with `-X queued.min.messages=2000000 -X queued.max.messages.kbytes=1048576`' ;;
    two) label='`giftope consume`, no taskset (librdkafka threads on the 2nd core), defaults' ;;
    esac
    sort -n "$WORK/$s" | awk -v l="$label" '{ r[NR] = $1; m[NR] = $2 }
        END { k = int((NR + 1) / 2); printf "| %s | %.0f [%.0f, %.0f] | %.0f |\n", l, r[k], r[1], r[NR], m[k] / 1024 }'
done
echo
echo "End-to-end latency, produce -> window record ($LAT_RATE events/s for $LAT_SECONDS s, 6 partitions,"
echo "linger.ms 5, --window 1s --lateness 0, consume on one core; $L_WIN windows; $L_LATE of $L_READ events late):"
echo
echo "| record | p50 (ms) | p99 (ms) |"
echo "|---|---:|---:|"
echo "| first record of a window | $L_F50 | $L_F99 |"
echo "| last record of a window (all 8 policies out) | $L_L50 | $L_L99 (max $L_MAX) |"

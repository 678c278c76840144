#!/usr/bin/env bash
# run.sh — the Kafka tests against a real broker, as CI runs them (docs/kafka-tests.md).
# Builds the test binary (as tests/run.sh does), fetches the broker's jars (cached), starts a
# broker in a fresh work dir, runs the Criterion suites named kafka*, and stops the broker
# on every way out: normal exit, failure, Ctrl-C, SIGTERM, and (through broker.sh's
# --owner watchdog) even a SIGKILL of this script.
#
#   tests/kafka/run.sh [--sanitize] [--build-dir DIR] [--filter PATTERN] [-- CRITERION-ARGS...]
#
# Defaults: build/ and the filter 'kafka*/*'. --sanitize: the ASan + UBSan build of
# `tests/run.sh --sanitize` (build-asan/, already built when that ran first) with its
# sanitizer options, and by default only the suites of per-partition state, revokes and
# commits ($sanitize_filter, about 2.5 min; all of them take about 5.5 min on 2 cores,
# docs/kafka-tests.md). The suites run one test at a time
# (GOPE_KAFKA_JOBS=1): they share one broker and some of them time their steps.
# On failure the broker's work dir (config, data, logs) is kept and its path printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=
filter=
sanitize=false
flags=(-DGOPE_WERROR=ON)
sanitize_filter='kafka_@(rebalance|exact_parts|source|consume|smoke)/*'
while [ $# -gt 0 ]; do
  case $1 in
    --sanitize)
      sanitize=true
      flags+=(-DGOPE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
      export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
      export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
      shift ;;
    --build-dir) build=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--sanitize] [--build-dir DIR] [--filter PATTERN] [-- CRITERION-ARGS...]" >&2
       exit 2 ;;
  esac
done
if $sanitize; then
  build=${build:-build-asan}
  filter=${filter:-$sanitize_filter}
fi
build=${build:-build}
filter=${filter:-kafka*/*}

broker=tests/kafka/broker.sh
cmake -S . -B "$build" "${flags[@]}" > /dev/null
cmake --build "$build" -j"$(nproc)"
bash "$broker" fetch > /dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/giftope-kafka.XXXXXX")
rc=1
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  bash "$broker" stop --dir "$work" || true
  if [ "$rc" = 0 ]; then
    rm -rf "$work"
  else
    echo "run.sh: kept the broker's work dir $work (logs in $work/logs)" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$broker" start --dir "$work" --owner $$ > /dev/null
# shellcheck source=/dev/null # written by broker.sh start
. "$work/broker.env"
export GOPE_KAFKA_BROKERS GOPE_KAFKA_SASL_BROKERS GOPE_KAFKA_DIR
echo "run.sh: Kafka tests against $GOPE_KAFKA_BROKERS" >&2
set +e
"$build/giftope_kafka_tests" --filter "$filter" --jobs "${GOPE_KAFKA_JOBS:-1}" "$@"
rc=$?
set -e
exit $rc

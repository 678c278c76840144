#!/usr/bin/env bash
# Builds giftope with warnings as errors and runs the whole test suite.
#   tests/run.sh              normal build in build/
#   tests/run.sh --sanitize   ASan + UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
flags=(-DGOPE_WERROR=ON)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags+=(-DGOPE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
# Criterion prints the per-test results and the closing synthesis line.
"$dir/giftope_tests" --jobs "$(nproc)"

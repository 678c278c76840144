#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS (default 60) from its seed corpus. Crashes are written to
# build-fuzz/crash-* and fail the run.
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
CC=clang cmake -S . -B build-fuzz -DGOPE_FUZZ=ON -DGOPE_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
for target in build-fuzz/fuzz_*; do
  name=$(basename "$target")
  corpus=tests/fuzz/corpus_${name#fuzz_}
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  echo "fuzzing $name for ${secs}s"
  # The last lines on success; the whole report (the sanitizer's or the
  # deadly signal's stack) when the target finds something.
  if "$target" -max_total_time="$secs" -max_len=4096 -artifact_prefix=build-fuzz/ "$work" \
      >"$work.log" 2>&1; then
    tail -n 2 "$work.log"
    rm -rf "$work" "$work.log"
  else
    rc=$?
    grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED)' "$work.log" | tail -n 60
    rm -rf "$work" "$work.log"
    exit "$rc"
  fi
done

#!/usr/bin/env bash
# build-image.sh — the build steps of the Dockerfile's build stage, in one script that the
# Dockerfile runs (RUN bash deploy/build-image.sh /src /build) and that CI runs outside
# Docker in a scratch copy of the same files (tools/check_deploy.sh), so the two cannot
# drift apart: configure a release build without the test suite, build the giftope binary,
# and smoke-test it.
#
# Usage: deploy/build-image.sh SRC_DIR BUILD_DIR
# Environment: JOBS (parallel build jobs, default nproc).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SRC_DIR BUILD_DIR" >&2; exit 2; }
src=$1
build=$2
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGOPE_TESTS=OFF -DGOPE_WERROR=ON > /dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target giftope
# smoke: the binary starts, and the commands the compose file runs exist
"$build/giftope" --help > /dev/null
for cmd in sim truth consume; do
  "$build/giftope" "$cmd" --help > /dev/null
done
echo "build-image.sh: built $build/giftope" >&2

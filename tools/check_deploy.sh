#!/usr/bin/env bash
# check_deploy.sh — what CI can check of the Docker deployment without a Docker engine
# (docs/deploy.md): the compose file is valid for Debian's docker-compose, every deploy
# file parses, the Dockerfile's build steps (deploy/build-image.sh) build and smoke-test
# the binary in a scratch copy of exactly the sources the Dockerfile copies, the runtime
# stage installs the libraries that binary needs, every option the compose services pass
# to giftope exists, and the Grafana dashboard queries only metrics the consumer exports.
#
#   tools/check_deploy.sh            (from anywhere; needs docker-compose, python3-yaml)
#
# Environment: JOBS (build jobs, default 2). Exit 0 when every check passes, else 1.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v docker-compose > /dev/null || { echo "check_deploy: docker-compose is not installed (Debian: docker-compose)" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/giftope-deploy.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
check=tools/check_deploy.py
rc=0

docker-compose -f docker-compose.yml config -q && echo "check_deploy: ok: docker-compose config -q" >&2 || rc=1
python3 "$check" files || rc=1

python3 "$check" copy-sources "$scratch/src"
JOBS=${JOBS:-2} bash "$scratch/src/deploy/build-image.sh" "$scratch/src" "$scratch/build" > /dev/null
bin=$scratch/build/giftope
python3 "$check" runtime-libs "$bin" || rc=1
docker-compose -f docker-compose.yml config | python3 "$check" options "$bin" || rc=1
python3 "$check" metrics "$bin" || rc=1

[ $rc = 0 ] && echo "check_deploy: all checks passed" >&2
exit $rc

#!/usr/bin/env bash
# Installs what giftope needs to build and test, from Debian packages.
# Safe to run again; uses sudo when not root.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
PKGS="build-essential cmake pkg-config libzstd-dev libcjson-dev libcriterion-dev zstd clang python3 python3-jsonschema librdkafka-dev openjdk-17-jre-headless maven prometheus docker-compose python3-yaml curl"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  # slim images lack it, and the JRE's postinst fails without it
  $SUDO mkdir -p /usr/share/man/man1
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

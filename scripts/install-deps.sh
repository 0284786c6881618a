#!/usr/bin/env bash
# Installs what onair needs from Debian 12's packages (and, for the tests,
# the npm packages pinned in tests/package-lock.json). Only missing packages
# are installed, so a second run is fast and needs no network.
#   scripts/install-deps.sh          build and run
#   scripts/install-deps.sh --test   also everything the tests use
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake pkg-config libuv1-dev libhttp-parser-dev libjansson-dev
            libsqlite3-dev libsodium-dev libssl-dev libcurl4-openssl-dev libcjose-dev libsrtp2-dev)
test_pkgs=(libcmocka-dev chromium firefox-esr clang-14 libclang-rt-14-dev clang-format-14 sqlite3 iproute2 util-linux
           nodejs npm valgrind
           python3-aiortc python3-av python3-numpy python3-websockets)

pkgs=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then
  pkgs+=("${test_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  # npm is not needed where node ships its own (as on these machines).
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" = "--test" ]; then
  # playwright-core drives Debian's chromium; it downloads no browser.
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

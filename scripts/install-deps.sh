#!/usr/bin/env bash
# Installs what onair needs from Debian 12's packages (and, for the tests,
# the npm packages pinned in tests/node-runtime/package-lock.json and
# tests/package-lock.json). Only missing packages are installed, so a second
# run is fast.
#   scripts/install-deps.sh          build and run
#   scripts/install-deps.sh --test   also everything the tests use
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake pkg-config libuv1-dev libhttp-parser-dev libjansson-dev
            libsqlite3-dev libsodium-dev libssl-dev libcurl4-openssl-dev libcjose-dev
            libhiredis-dev libpq-dev)
# libsrtp2 is the reference onair's own SRTP is checked against (test_srtp,
# fuzz_srtp) and measured against (bench/srtp-cost.c); onair does not link it.
# clang-14 and its runtimes build the fuzz targets and build-asan (the
# sanitizer build); llvm-14's llvm-symbolizer puts names in their reports.
# The GStreamer WebRTC peer (tests/e2e/gst_peer.py) takes webrtcbin, DTLS and
# SRTP from -bad, libnice's ICE from gstreamer1.0-nice, VP8 and RTP from
# -good, Opus and the test sources from -base, and Gst, GstSdp and GstWebRTC
# through python3-gi from the gir1.2 packages. The WHIP publisher
# (tests/e2e/whip_peer.py) encodes H.264 as OBS does with x264enc, from -ugly.
# e2e.cluster_fanout's emulated viewers come from bench/media's onair-media-bench,
# which the test build makes and which encodes its stream with libvpx and libopus.
# The cluster tests start their own redis-server and PostgreSQL (initdb and
# pg_ctl from postgresql's postgresql-15) in a temporary directory.
test_pkgs=(libcmocka-dev libsrtp2-dev chromium firefox-esr clang-14 libclang-rt-14-dev llvm-14 clang-format-14 openssl sqlite3 iproute2 util-linux
           nodejs npm ca-certificates curl valgrind nginx-light coturn prometheus systemd pebble
           redis-server postgresql libvpx-dev libopus-dev
           python3-aiortc python3-av python3-numpy python3-websockets
           python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0
           gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice
           gstreamer1.0-plugins-ugly)

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
  # Servers the tests start and stop themselves (nginx) must not be started
  # as system services by their packages: while installing, policy-rc.d
  # (Debian's switch for that) says no, unless the machine has its own.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ -z "$(trap -p EXIT)" ] || { $sudo rm -f "$policy"; trap - EXIT; }
fi

if [ "${1:-}" = "--test" ]; then
  # The Node.js the tests run on (why and which: scripts/test-node.sh): the
  # npm registry's Node.js 22 build for this platform and npm, pinned in
  # tests/node-runtime/package-lock.json. Whatever node and npm are here
  # install it (Debian 12's nodejs 18 and npm 9 are enough: the packages only
  # hold files); npm ci needs npm 7 or later for the lock file.
  npm_major=$( (npm --version 2>/dev/null || true) | cut -d. -f1)
  if [ -z "$npm_major" ] || [ "$npm_major" -lt 7 ]; then
    echo "install-deps: npm 7 or later is needed to install tests/node-runtime (this npm: $(npm --version 2>&1 || true))" >&2
    exit 1
  fi
  rt=tests/node-runtime
  if ! cmp -s "$rt/package-lock.json" "$rt/node_modules/.installed-lock"; then
    echo "installing the tests' Node.js: npm ci in $rt"
    (cd "$rt" && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts)
    cp "$rt/package-lock.json" "$rt/node_modules/.installed-lock"
  fi
  # Fails, saying why, if the node found is older than the tests need.
  node=$(scripts/test-node.sh)
  npm_cli=$(scripts/test-node.sh --npm)
  # The tests' own packages are installed by npm running on that node (the npm
  # pinned with it), and that node is first on PATH: npm's engines checks
  # (strict: a package that does not support this node fails the install)
  # and any install scripts then see the Node.js the tests run on.
  # playwright-core drives Debian's chromium; it downloads no browser.
  (export PATH="$(dirname "$node"):$PATH" && cd tests &&
     "$node" "$npm_cli" ci --engine-strict --no-audit --no-fund --loglevel=error)
fi

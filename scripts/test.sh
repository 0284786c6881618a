#!/usr/bin/env bash
# Installs what is missing, builds onair and runs every test: cmocka unit
# tests, fuzz corpus replays under ASan+UBSan, integration tests against the
# real binary and SQLite file, and the browser tests in Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
# The node tests run on this Node.js (scripts/test-node.sh says why this one).
echo "Node.js for the tests: $(scripts/test-node.sh --version)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONAIR_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure --timeout 900 "$@"

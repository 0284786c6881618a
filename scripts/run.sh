#!/usr/bin/env bash
# Installs what is missing, builds onair and starts it on
# http://localhost:8080 with its embedded defaults (SQLite in ./data, local
# accounts). Extra arguments go to onair (see `build/onair --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONAIR_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target onair
exec build/onair "$@"

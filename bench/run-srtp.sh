#!/usr/bin/env bash
# SRTP cost (bench/README.md): builds bench/srtp-cost.c with onair's
# src/media/srtpctx.c as a Release build (-O3 -DNDEBUG), runs it, and appends
# its figures to bench/RESULTS.md. Needs libsrtp2-dev (scripts/install-deps.sh
# --test). Extra arguments go to the compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/.build
mkdir -p "$out"
cc -std=gnu11 -O3 -DNDEBUG -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc "$@" bench/srtp-cost.c src/media/srtpctx.c -o "$out/srtp-cost" $(pkg-config --cflags --libs libcrypto libsrtp2)
"$out/srtp-cost" bench/RESULTS.md

#!/usr/bin/env bash
# Chat fan-out benchmark: onair against the seed's socket.io server, in one
# run on this machine. Builds onair (Release, in bench/.build) if needed, sets
# up a copy of the seed (bench/.seed-work, `npm ci`), then for every size and
# repeat starts each server fresh (onair: temp data dir, chat limit raised),
# drives it with bench/chat.js from a separate node process, stops it, and at
# the end prints a table, the ratios onair/seed and the same as JSON.
#
# Settings (environment):
#   SIZES="1000x200 200x1000" viewers x messages, one entry per size
#   REPEATS=3                 runs per server and size (the report takes medians)
#   SEED_CLIENT=sio           sio: the seed's own socket.io-client 2.3;
#                             raw: engine.io v3 frames over `ws` (same client as onair);
#                             both: measure the seed with each
#   CONCURRENCY=50            viewers connecting at once
#   TIMEOUT=60                seconds each wait may take (joins, deliveries)
#   SEED_SRC=../shared/anchors/seed-signaling   the anchor (read only; beside the project)
#   ONAIR_BIN=                use this binary instead of building one
#   OUT=                      also copy the JSON lines of every run here
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SIZES=${SIZES:-"1000x200 200x1000"}
REPEATS=${REPEATS:-3}
SEED_CLIENT=${SEED_CLIENT:-sio}
CONCURRENCY=${CONCURRENCY:-50}
TIMEOUT=${TIMEOUT:-60}
SEED_SRC=${SEED_SRC:-$ROOT/../shared/anchors/seed-signaling}
SEED_WORK=$ROOT/bench/.seed-work

say() { echo "run-chat: $*" >&2; }
die() { say "$*"; exit 1; }

# node: the one on PATH where it is Node.js 20 or later (as always), else the
# tests' own (scripts/test-node.sh: pinned in tests/node-runtime/), and the
# npm next to it, e.g. on Debian 12, whose nodejs is 18.
node_major=$(node -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  test_node=$("$ROOT/scripts/test-node.sh") ||
    die "node 20 or later is needed: run scripts/install-deps.sh --test (it installs the tests' Node.js)"
  PATH=$(dirname "$test_node"):$PATH
  export PATH
  test_npm=$("$ROOT/scripts/test-node.sh" --npm)
  npm() { node "$test_npm" "$@"; }
fi
say "node $(node --version) at $(command -v node)"
[ -f "$ROOT/tests/node_modules/ws/package.json" ] ||
  die "tests/node_modules/ws is missing: run scripts/install-deps.sh --test (or npm ci in tests/)"
[ -f "$SEED_SRC/server.js" ] || die "no seed server at $SEED_SRC (set SEED_SRC)"

# ---- onair, Release -----------------------------------------------------------
if [ -n "${ONAIR_BIN:-}" ]; then
  ONAIR=$ONAIR_BIN
else
  if [ ! -f bench/.build/CMakeCache.txt ]; then
    say "configuring a Release build in bench/.build"
    cmake -S . -B bench/.build -DCMAKE_BUILD_TYPE=Release -DONAIR_TESTS=OFF >/dev/null
  fi
  cmake --build bench/.build -j"$(nproc)" --target onair >/dev/null || die "build failed"
  ONAIR=$ROOT/bench/.build/onair
fi
[ -x "$ONAIR" ] || die "no onair binary at $ONAIR"

# ---- the seed, copied (the anchor directory stays untouched) -------------------
mkdir -p "$SEED_WORK"
for f in server.js socket.js package.json package-lock.json; do
  cmp -s "$SEED_SRC/$f" "$SEED_WORK/$f" || cp "$SEED_SRC/$f" "$SEED_WORK/$f"
done
if [ ! -f "$SEED_WORK/node_modules/socket.io-client/package.json" ] ||
   ! cmp -s "$SEED_WORK/package-lock.json" "$SEED_WORK/.installed-lock"; then
  say "npm ci in bench/.seed-work"
  (cd "$SEED_WORK" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed"
  cp "$SEED_WORK/package-lock.json" "$SEED_WORK/.installed-lock"
fi

# ---- open files: each viewer is a socket in the client and in the server ------
maxn=0 maxm=0
for s in $SIZES; do
  case $s in *[!0-9x]*|x*|*x|*x*x*) die "bad size '$s' in SIZES (viewers x messages, e.g. 1000x200)" ;; esac
  n=${s%x*} m=${s#*x}
  [ "$n" -gt "$maxn" ] && maxn=$n
  [ "$m" -gt "$maxm" ] && maxm=$m
done
# The broadcaster sends all M at once: the burst must cover them.
BURST=$((maxm > 1000 ? maxm : 1000))
need=$((maxn + 256))
soft=$(ulimit -n)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
  hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then
    ulimit -n "$need" 2>/dev/null || ulimit -n "$hard"
  else
    ulimit -n "$hard" 2>/dev/null || true
  fi
  soft=$(ulimit -n)
  [ "$soft" = unlimited ] || [ "$soft" -ge "$need" ] ||
    die "open-files limit is $soft, $need needed for $maxn viewers (raise ulimit -n)"
fi
say "open-files limit $soft (need $need), CPUs $(nproc), onair $ONAIR"

# ---- servers ------------------------------------------------------------------
TMP=$(mktemp -d /tmp/onair-bench-chat.XXXXXX)
RESULTS=$TMP/results.jsonl
: >"$RESULTS"
SERVER_PID=

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
cleanup() {
  stop_server
  [ -n "${OUT:-}" ] && [ -s "$RESULTS" ] && cp "$RESULTS" "$OUT"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_listening() { # port: up to 10 s
  for _ in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_onair() {
  PORT=$(free_port); local media; media=$(free_port)
  local data=$TMP/onair-data-$RANDOM
  (exec "$ONAIR" --listen "127.0.0.1:$PORT" --media-port "$media" --data "$data" --web "$ROOT/web" \
     --chat-burst "$BURST" --chat-per-sec 1000 --max-viewers 100000 --max-conns-per-ip 0 --max-ws-per-ip 0 --log-level warn) 2>>"$TMP/onair.log" &
  SERVER_PID=$!
  wait_listening "$PORT" || { tail -20 "$TMP/onair.log" >&2; die "onair did not start"; }
}

start_seed() {
  PORT=$(free_port)
  (cd "$SEED_WORK" && PORT=$PORT exec node server.js) >>"$TMP/seed.log" 2>&1 &
  SERVER_PID=$!
  wait_listening "$PORT" || { tail -20 "$TMP/seed.log" >&2; die "the seed did not start"; }
}

# One measurement: server label, viewers, messages.
measure() {
  local label=$1 n=$2 m=$3 client=sio
  case $label in
    onair) start_onair ;;
    seed) start_seed ;;
    seed-raw) start_seed; client=raw ;;
  esac
  local line
  if line=$(CLK_TCK=$(getconf CLK_TCK) timeout $((3 * TIMEOUT + 30)) node "$ROOT/bench/chat.js" run \
              --server "${label%-raw}" --url "http://127.0.0.1:$PORT" --pid "$SERVER_PID" \
              --viewers "$n" --messages "$m" --concurrency "$CONCURRENCY" --timeout "$TIMEOUT" \
              --seed-dir "$SEED_WORK" --seed-client "$client"); then
    echo "$line" >>"$RESULTS"
    say "$(node -e 'const r=JSON.parse(process.argv[1]);console.log(`${r.label.padEnd(8)} ${r.viewers}x${r.messages}: ${r.deliveries_per_s} deliveries/s, ${r.server_us_per_delivery} us CPU/delivery, ${r.server_kib_per_conn} KiB/conn, join ${r.join_s} s, loss ${r.loss}`)' "$line")"
  else
    say "$label ${n}x$m: the client failed (see above); no result"
  fi
  stop_server
}

case $SEED_CLIENT in
  sio) peers=(seed) ;;
  raw) peers=(seed-raw) ;;
  both) peers=(seed seed-raw) ;;
  *) die "SEED_CLIENT is sio, raw or both" ;;
esac

start=$(date +%s)
for size in $SIZES; do
  n=${size%x*} m=${size#*x}
  for rep in $(seq "$REPEATS"); do
    # Alternate which server goes first, so neither always runs on a warm (or hot) machine.
    if [ $((rep % 2)) -eq 1 ]; then order=(onair "${peers[@]}"); else order=("${peers[@]}" onair); fi
    for label in "${order[@]}"; do measure "$label" "$n" "$m"; done
  done
done
say "measured in $(($(date +%s) - start)) s"

[ -s "$RESULTS" ] || die "no results"
node "$ROOT/bench/chat.js" report "$RESULTS"

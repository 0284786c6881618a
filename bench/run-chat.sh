#!/usr/bin/env bash
# Chat benchmark: onair against the seed's socket.io server, in one run on
# this machine, both driven by the same C client (bench/chat,
# onair-chat-bench). Builds onair (Release, in bench/.build) and the client
# (bench/.build-chat), sets up a copy of the seed (bench/.seed-work, `npm
# ci`), then for every size and repeat starts each server fresh (the order
# alternates between repeats), runs one measurement, stops it; at the end
# prints the report (tables, ratios onair/seed, JSON), keeps the JSON lines
# in bench/results/ and appends a dated section to bench/RESULTS.md.
#
# Settings (environment):
#   SIZES="1000x200 5000x200 idle10000 idle100000"
#                             NxM: burst, N viewers in one room, M messages at once;
#                             idleN: N idle WebSockets
#   REPEATS=3                 runs per server and size (the report takes medians)
#   CONCURRENCY=100           connections being set up at once
#   PER_ADDR=25000            client connections per loopback source address (127.0.0.2, .3, ...)
#   TIMEOUT=60                seconds any one wait may take
#   HOLD=3                    idle: seconds over which the server's idle CPU is read
#   IDLE_JOIN=1               idle: the sockets join the broadcaster's room (0: upgrade only)
#   SEED_SRC=../shared/anchors/seed-signaling   the anchor (read only; beside the project)
#   ONAIR_BIN=                measure this binary instead of building one
#   ONAIR_REV=                build and measure this commit (git archive into bench/.build-chat/rev)
#   RESULTS_MD=bench/RESULTS.md   where the dated section goes ("" for none)
#   OUT=                      also copy the JSON lines of every run here
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SIZES=${SIZES:-"1000x200 5000x200 idle10000 idle100000"}
SIZES_ASKED=$SIZES
LEFT_OUT=
REPEATS=${REPEATS:-3}
CONCURRENCY=${CONCURRENCY:-100}
PER_ADDR=${PER_ADDR:-25000}
TIMEOUT=${TIMEOUT:-60}
HOLD=${HOLD:-3}
IDLE_JOIN=${IDLE_JOIN:-1}
SEED_SRC=${SEED_SRC:-$ROOT/../shared/anchors/seed-signaling}
SEED_WORK=$ROOT/bench/.seed-work
RESULTS_MD=${RESULTS_MD-bench/RESULTS.md}
CLIENT=$ROOT/bench/.build-chat/client/onair-chat-bench

say() { echo "run-chat: $*" >&2; }
die() { say "$*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# node 20 or later for the seed (bench/lib.sh).
bench_use_node20
[ -f "$SEED_SRC/server.js" ] || die "no seed server at $SEED_SRC (set SEED_SRC)"

# ---- sizes ----------------------------------------------------------------------
maxn=0 maxm=0
for s in $SIZES; do
  case $s in
    idle[0-9]*) n=${s#idle} m=0 ;;
    [0-9]*x[0-9]*) n=${s%x*} m=${s#*x} ;;
    *) die "bad size '$s' in SIZES (NxM for a burst, e.g. 1000x200, or idleN, e.g. idle10000)" ;;
  esac
  case $n$m in *[!0-9]*) die "bad size '$s' in SIZES" ;; esac
  [ "$n" -gt "$maxn" ] && maxn=$n
  [ "$m" -gt "$maxm" ] && maxm=$m
done
[ "$maxm" -le 1000 ] || die "at most 1000 messages a burst (onair's chat-burst cap)"

# ---- builds -----------------------------------------------------------------------
if [ -n "${ONAIR_BIN:-}" ]; then
  ONAIR=$ONAIR_BIN
elif [ -n "${ONAIR_REV:-}" ]; then
  ONAIR_REV=$(git rev-parse --short "$ONAIR_REV^{commit}") || die "no commit $ONAIR_REV"
  say "building onair $ONAIR_REV (Release) in bench/.build-chat/rev"
  rm -rf bench/.build-chat/rev && mkdir -p bench/.build-chat/rev/src
  git archive "$ONAIR_REV" | tar -x -C bench/.build-chat/rev/src
  cmake -S bench/.build-chat/rev/src -B bench/.build-chat/rev/build -DCMAKE_BUILD_TYPE=Release \
    -DONAIR_TESTS=OFF >/dev/null
  cmake --build bench/.build-chat/rev/build -j"$(nproc)" --target onair >/dev/null || die "onair's build failed"
  ONAIR=$ROOT/bench/.build-chat/rev/build/onair
else
  bench_build_onair
fi
[ -x "$ONAIR" ] || die "no onair binary at $ONAIR"
if [ ! -f bench/.build-chat/client/CMakeCache.txt ]; then
  cmake -S bench/chat -B bench/.build-chat/client -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build bench/.build-chat/client >/dev/null || die "bench/chat's build failed"

# ---- the seed, copied (the anchor directory stays untouched) -------------------
bench_seed_work "$SEED_SRC" "$SEED_WORK"

# ---- limits: every connection is a descriptor in the client and in the server ----
need=$((maxn + 1024))
if [ "$(cat /proc/sys/fs/nr_open)" -lt "$need" ]; then
  sysctl -qw fs.nr_open="$need" 2>/dev/null || say "fs.nr_open is below $need (raise it as root)"
fi
if [ "$(cat /proc/sys/fs/file-max)" -lt $((2 * need + 65536)) ]; then
  sysctl -qw fs.file-max=$((2 * need + 65536)) 2>/dev/null || say "fs.file-max is low for $maxn connections"
fi
soft=$(ulimit -n)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
  # Raising the hard limit takes CAP_SYS_RESOURCE; without it, the soft
  # limit goes up to the hard one, and sizes that need more are left out.
  ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  soft=$(ulimit -n)
fi
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
  kept=
  for s in $SIZES; do
    case $s in idle*) n=${s#idle} ;; *) n=${s%x*} ;; esac
    if [ $((n + 1024)) -gt "$soft" ]; then
      say "leaving out $s: the open-files limit is $soft and cannot be raised here (hard limit" \
        "$(ulimit -Hn)); $((n + 1024)) are needed (raise ulimit -Hn as root, or run with CAP_SYS_RESOURCE)"
      LEFT_OUT="$LEFT_OUT $s"
    else
      kept="$kept $s"
    fi
  done
  SIZES=${kept# }
  [ -n "$SIZES" ] || die "no size fits the open-files limit $soft"
fi
# Each source address has the ephemeral port range to itself (its 4-tuples).
read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
ports=$((hi - lo + 1))
if [ "$PER_ADDR" -gt $((ports - 1000)) ]; then
  PER_ADDR=$((ports - 1000))
  say "ip_local_port_range $lo-$hi: $PER_ADDR connections per source address"
fi
say "open-files limit $soft, CPUs $(nproc), onair $ONAIR; sizes: $SIZES"

# ---- servers ------------------------------------------------------------------
TMP=$(mktemp -d /tmp/onair-bench-chat.XXXXXX)
RESULTS=$TMP/results.jsonl
: >"$RESULTS"
SERVER_PID=

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
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

# onair's limits are opened for the run: every client connection comes from
# 127.0.0.x (no per-address caps), the room takes every viewer, the
# broadcaster may post the whole burst at once; its total connection cap
# (max-conns) is the descriptor limit less 64, raised above.
start_onair() {
  PORT=$(free_port)
  local media data=$TMP/onair-data-$RANDOM
  media=$(free_port)
  (exec "$ONAIR" --listen "127.0.0.1:$PORT" --media-port "$media" --data "$data" --web "$ROOT/web" \
     --chat-burst "$BURST" --chat-per-sec 1000 --max-viewers 1000000 --max-conns-per-ip 0 \
     --max-ws-per-ip 0 --log-level warn) 2>>"$TMP/onair.log" &
  SERVER_PID=$!
  wait_listening "$PORT" || { tail -20 "$TMP/onair.log" >&2; die "onair did not start"; }
}

start_seed() {
  PORT=$(free_port)
  (cd "$SEED_WORK" && PORT=$PORT exec node server.js) >>"$TMP/seed.log" 2>&1 &
  SERVER_PID=$!
  wait_listening "$PORT" || { tail -20 "$TMP/seed.log" >&2; die "the seed did not start"; }
}

# One measurement: server, size (NxM or idleN).
measure() {
  local server=$1 size=$2 args line
  case $size in
    idle*) args=(--mode idle --viewers "${size#idle}" --hold "$HOLD")
           [ "$IDLE_JOIN" = 1 ] && args+=(--join) ;;
    *) args=(--mode burst --viewers "${size%x*}" --messages "${size#*x}") ;;
  esac
  "start_$server"
  if line=$(timeout $((4 * TIMEOUT + 120 + maxn / 200)) "$CLIENT" run --server "$server" \
              --port "$PORT" --pid "$SERVER_PID" --concurrency "$CONCURRENCY" --per-addr "$PER_ADDR" \
              --timeout "$TIMEOUT" "${args[@]}"); then
    echo "$line" >>"$RESULTS"
    say "$server $size: $(summary "$line")"
  else
    say "$server $size: the client failed (see above); no result"
    FAILED=1
  fi
  stop_server
}

summary() { # one line of the client's JSON, for the log
  node -e 'const r=JSON.parse(process.argv[1]);console.log(r.mode==="idle"
    ? `${r.joined} open, ${r.server_kib_per_conn} KiB/conn, RSS ${r.server_rss_mib} MiB, join ${r.join_s} s`
    : `${r.deliveries_per_s} deliveries/s, ${r.server_us_per_delivery} us CPU/delivery, p99 ${r.latency_ms_p99} ms, ` +
      `${r.server_kib_per_conn} KiB/conn, join ${r.join_s} s, loss ${r.loss}`,
    `(other processes: ${r.other_cpu_share} of a CPU)`)' "$1"
}

machine() {
  local cpu commit
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  if [ -n "${ONAIR_BIN:-}" ]; then
    commit="binary $ONAIR_BIN"
  elif [ -n "${ONAIR_REV:-}" ]; then
    commit="$ONAIR_REV (built from the commit)"
  else
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    git diff --quiet HEAD -- src 2>/dev/null || commit="$commit with uncommitted changes in src/"
  fi
  echo "$cpu, $(nproc) CPUs, Linux $(uname -r); onair $commit; the seed: socket.io" \
    "$(node -p 'require(process.argv[1]).version' "$SEED_WORK/node_modules/socket.io/package.json")" \
    "on node $(node --version); libuv $(pkg-config --modversion libuv)"
}

append_results() { # report.txt jsonl-name
  local md=$ROOT/$RESULTS_MD settings
  settings="SIZES=\"$SIZES_ASKED\" REPEATS=$REPEATS CONCURRENCY=$CONCURRENCY IDLE_JOIN=$IDLE_JOIN"
  [ -n "${ONAIR_REV:-}" ] && settings="ONAIR_REV=$ONAIR_REV $settings"
  [ -f "$md" ] || echo "# Benchmark results" >"$md"
  {
    echo
    echo "## Chat, onair and the seed: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(machine)."
    echo
    echo "Command: \`$settings bench/run-chat.sh\`; one C client (onair-chat-bench) for both servers."
    [ -z "$LEFT_OUT" ] || echo "Left out:$LEFT_OUT (the open-files hard limit, $(ulimit -Hn), could not be raised)."
    echo "Runs: \`results/$2\`. The machine's CPUs were ${BUSY} % busy in the second before the run;"
    echo "\`other\` is everything else's CPU during each window, in CPUs."
    echo
    echo '```'
    sed '/^JSON:$/,$d' "$1" | sed '${/^$/d}'
    echo '```'
  } >>"$md"
  say "appended to $RESULTS_MD"
}

BURST=$((maxm > 5 ? maxm : 5))
FAILED=0
bench_busy_check
start=$(date +%s)
for size in $SIZES; do
  for rep in $(seq "$REPEATS"); do
    # Alternate which server goes first, so neither always runs on a warm (or hot) machine.
    if [ $((rep % 2)) -eq 1 ]; then order=(onair seed); else order=(seed onair); fi
    for server in "${order[@]}"; do measure "$server" "$size"; done
  done
done
say "measured in $(($(date +%s) - start)) s"

[ -s "$RESULTS" ] || die "no results"
"$CLIENT" report "$RESULTS" | tee "$TMP/report.txt"
if [ -n "$RESULTS_MD" ]; then
  stamp=$(date -u +%Y%m%d-%H%M%S)
  mkdir -p bench/results
  cp "$RESULTS" "bench/results/chat-$stamp.jsonl"
  append_results "$TMP/report.txt" "chat-$stamp.jsonl"
fi
exit "$FAILED"

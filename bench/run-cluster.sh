#!/usr/bin/env bash
# The cluster benchmark (issue 15; bench/README.md, "Cluster"): forwarded
# packets per second and server CPU per packet with 1, 2 and 3 onair nodes
# (origin plus edges) over one redis-server and one PostgreSQL, the CPU the
# relay between nodes adds per packet, and what a 10-node deployment would
# carry from those figures. Every node runs on this one machine: the figures
# are costs per packet, not the capacity of separate machines.
#
#   bench/run-cluster.sh
#
# Settings (environment):
#   VIEWERS=300     emulated viewers in all, spread evenly over the nodes
#   NODES="1 2 3"   cluster sizes to measure
#   SETTLE=5        seconds between the last viewer joining and the window
#   WINDOW=20       seconds measured
#   IDLE=5          seconds each node's idle CPU is read first (before any media)
#   VIDEO=1280x720 KBPS=1500   the publisher's VP8 stream (and Opus)
#   CORES=1         the core budget per node in the 10-node projection
#   TIMEOUT=120     seconds the viewers of one node may take to join
#   ONAIR_BIN       the onair to measure (default: a Release build in bench/.build)
#   RESULTS_MD=bench/RESULTS.md   where the dated section goes; empty: none
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VIEWERS=${VIEWERS:-300}
NODES=${NODES:-1 2 3}
SETTLE=${SETTLE:-5}
WINDOW=${WINDOW:-20}
IDLE=${IDLE:-5}
VIDEO=${VIDEO:-1280x720}
KBPS=${KBPS:-1500}
CORES=${CORES:-1}
TIMEOUT=${TIMEOUT:-120}
RESULTS_MD=${RESULTS_MD-bench/RESULTS.md}
BENCH=$ROOT/bench/media/build/onair-media-bench
SECRET=bench-cluster-secret-0123456789
export VIEWERS NODES SETTLE WINDOW IDLE VIDEO KBPS CORES TIMEOUT RESULTS_MD

say() { echo "run-cluster: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# ---- outside: builds, then the rest in a network namespace of its own ----
if [ -z "${RUN_CLUSTER_INNER:-}" ]; then
  # shellcheck source=bench/lib.sh
  . bench/lib.sh
  for c in redis-server curl python3; do
    command -v "$c" >/dev/null || die "$c is needed (scripts/install-deps.sh --test)"
  done
  if [ -n "${ONAIR_BIN:-}" ]; then ONAIR=$ONAIR_BIN; else bench_build_onair; fi
  if [ ! -f bench/media/build/CMakeCache.txt ]; then
    cmake -S bench/media -B bench/media/build -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build bench/media/build -j"$(nproc)" >/dev/null || die "bench/media's build failed"
  ONAIR_BUILT_FROM=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  git diff --quiet HEAD -- src 2>/dev/null || ONAIR_BUILT_FROM="$ONAIR_BUILT_FROM with uncommitted changes in src/"
  bench_busy_check
  export ONAIR ONAIR_BUILT_FROM BUSY RUN_CLUSTER_INNER=1
  # The media stays on the namespace's own loopback (tests/e2e/in-netns.sh).
  exec tests/e2e/in-netns.sh "$0"
fi

# ---- inside the namespace ----
TMP=$(mktemp -d /tmp/onair-bc.XXXXXX)
chmod 755 "$TMP" # PostgreSQL runs as postgres when we are root (tests/lib/pgtemp.sh)
STAMP=$(date -u +%Y%m%d-%H%M%S)
ROWS=$TMP/rows.jsonl
PIDS=()
REDIS_PID=
cleanup() {
  local p
  for p in "${PIDS[@]}" $REDIS_PID; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  tests/lib/pgtemp.sh stop "$TMP/pg" >/dev/null 2>&1 || true
  if [ "${KEEP_TMP:-0}" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_until() { # seconds what command...
  local until=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ $SECONDS -lt $until ] || die "timed out waiting for $what"
    sleep 0.2
  done
}

metric() { # port name: the value of an unlabelled series in that node's /metrics
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}

metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; } # port name value

# CPU time of a process, every thread, in ns: the scheduler's own clock
# (/proc/PID/task/*/schedstat), not utime + stime, whose 10 ms ticks are
# too coarse for the relay's few milliseconds a window.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

start_redis() {
  redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null &
  REDIS_PID=$!
  wait_until 10 "redis-server" tcp_open 6390
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

NODE_PIDS=()
start_nodes() { # n
  local i port
  NODE_PIDS=()
  for ((i = 1; i <= $1; i++)); do
    port=$((18080 + i))
    "$ONAIR" --listen "127.0.0.1:$port" --media-port "$port" --data "$TMP/data-$RANDOM" \
      --redis redis://127.0.0.1:6390 --postgres "$PG" --cluster-secret "$SECRET" \
      --node-name "n$i" --node-address 127.0.0.1 --max-viewers 1000000 --max-conns-per-ip 0 \
      --max-ws-per-ip 0 --signup-per-ip 0 --signup-per-sec 0 --log-level warn \
      2>>"$TMP/onair-n$i.log" &
    NODE_PIDS+=($!)
    PIDS+=($!)
  done
  for ((i = 1; i <= $1; i++)); do
    wait_until 20 "node n$i to list $1 nodes" metric_is $((18080 + i)) onair_cluster_nodes "$1"
  done
}

joined() { grep -q '"kind":"joined"' "$1"; }

# measure label counts...: a cluster of as many nodes as counts, node 1
# the origin with the publisher; counts[i] viewers on node i. One JSON row
# per node to ROWS.
measure() {
  local label=$1 n i port emu=() out
  shift
  n=$#
  say "$label: $n node(s), viewers $*"
  start_redis
  start_nodes "$n"
  local counts=("$@")
  # Each node's own CPU with nothing to carry (timers, pings, the directory).
  local -A i0
  for ((i = 1; i <= n; i++)); do i0[$i]=$(cpu_ns "${NODE_PIDS[i - 1]}"); done
  sleep "$IDLE"
  for ((i = 1; i <= n; i++)); do i0[$i]=$(($(cpu_ns "${NODE_PIDS[i - 1]}") - i0[$i])); done
  for ((i = 1; i <= n; i++)); do
    out=$TMP/emu-$label-$i.out
    if [ "$i" = 1 ]; then
      "$BENCH" viewers --http "127.0.0.1:18081" --publish 1 --room benchcaster --count "${counts[0]}" \
        --stream "$TMP/stream.bin" --seconds 3600 --join-timeout 40 >"$out" 2>>"$TMP/emu.log" &
    elif [ "${counts[i - 1]}" -gt 0 ]; then
      "$BENCH" viewers --http "127.0.0.1:$((18080 + i))" --room benchcaster --count "${counts[i - 1]}" \
        --seconds 3600 --join-timeout 40 >"$out" 2>>"$TMP/emu.log" &
    else
      continue
    fi
    emu+=($!)
    PIDS+=($!)
    wait_until "$TIMEOUT" "the viewers of node $i to join" joined "$out"
    grep '"kind":"joined"' "$out" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read())
if r["live"] != r["n"]: sys.exit("run-cluster: %d of %d viewers live (%s)" % (r["live"], r["n"], r["why"]))'
  done
  sleep "$SETTLE"
  local -A c0 m0
  for ((i = 1; i <= n; i++)); do
    port=$((18080 + i))
    c0[$i]=$(cpu_ns "${NODE_PIDS[i - 1]}")
    m0[$i]="$(metric $port onair_rtp_packets_sent_total) $(metric $port onair_rtp_packets_received_total) $(metric $port onair_media_relay_out_packets_total) $(metric $port onair_media_relay_in_packets_total)"
  done
  local start
  start=$(date +%s%N)
  sleep "$WINDOW"
  local sec
  sec=$(( $(date +%s%N) - start ))
  for ((i = 1; i <= n; i++)); do
    port=$((18080 + i))
    local c1 m1
    c1=$(cpu_ns "${NODE_PIDS[i - 1]}")
    m1="$(metric $port onair_rtp_packets_sent_total) $(metric $port onair_rtp_packets_received_total) $(metric $port onair_media_relay_out_packets_total) $(metric $port onair_media_relay_in_packets_total) $(metric $port onair_viewers)"
    # shellcheck disable=SC2086
    set -- ${m0[$i]} $m1
    printf '{"kind":"cluster","config":"%s","nodes":%d,"node":%d,"viewers":%d,"onair_viewers":%s,"window_s":%.3f,"rtp_out":%s,"rtp_in":%s,"relay_out":%s,"relay_in":%s,"cpu_s":%.6f,"idle_cpu":%.6f}\n' \
      "$label" "$n" "$i" "${counts[i - 1]}" "$9" "$(awk -v x="$sec" 'BEGIN { print x / 1e9 }')" \
      "$(($5 - $1))" "$(($6 - $2))" "$(($7 - $3))" "$(($8 - $4))" \
      "$(awk -v x="$((c1 - c0[$i]))" 'BEGIN { print x / 1e9 }')" \
      "$(awk -v x="${i0[$i]}" -v s="$IDLE" 'BEGIN { print x / 1e9 / s }')" >>"$ROWS"
  done
  kill "${emu[@]}" 2>/dev/null || true
  wait "${emu[@]}" 2>/dev/null || true
  kill "${NODE_PIDS[@]}" 2>/dev/null || true
  wait "${NODE_PIDS[@]}" 2>/dev/null || true
  kill "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=
}


PG=$(tests/lib/pgtemp.sh start "$TMP/pg") || die "PostgreSQL did not start (tests/lib/pgtemp.sh)"
"$BENCH" stream --video "$VIDEO" --kbps "$KBPS" --save "$TMP/stream.bin" 2>>"$TMP/emu.log" ||
  die "cannot make the stream"

# The publisher alone (its ingest cost), then each cluster size, then the
# relay alone: the origin with no viewer of its own and one edge link.
measure ingest 0
for n in $NODES; do
  counts=()
  for ((i = 0; i < n; i++)); do counts+=($(((VIEWERS + i) / n))); done
  measure "n$n" "${counts[@]}"
done
measure relay 0 "$VIEWERS"

mkdir -p bench/results
cp "$ROWS" "bench/results/cluster-$STAMP.jsonl"
REPORT=$TMP/report.md
python3 bench/cluster-report.py "$ROWS" "$CORES" >"$REPORT"
cat "$REPORT"
say "rows: bench/results/cluster-$STAMP.jsonl"
if [ -n "$RESULTS_MD" ]; then
  {
    echo
    echo "## Cluster, $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
    echo "Linux $(uname -r); onair $ONAIR_BUILT_FROM (Release). Every node, redis-server,"
    echo "PostgreSQL and the emulators share this machine (busy before the run: ${BUSY} %)."
    echo "Command: \`VIEWERS=$VIEWERS NODES=\"$NODES\" WINDOW=$WINDOW KBPS=$KBPS bench/run-cluster.sh\`;"
    echo "rows: \`bench/results/cluster-$STAMP.jsonl\`."
    echo
    cat "$REPORT"
  } >>"$RESULTS_MD"
  say "appended to $RESULTS_MD"
fi

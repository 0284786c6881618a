#!/usr/bin/env bash
# The cluster benchmark (issue 15; bench/README.md, "Cluster"): forwarded
# packets per second and server CPU per packet with 1, 2 and 3 onair nodes
# (origin plus edges) over one redis-server and one PostgreSQL, the CPU the
# relay between nodes adds per packet, and what a 10-node deployment would
# carry from those figures; then (the copies part) what one relay copy of a
# packet costs the origin against one viewer copy, from the origin's CPU
# with EDGES links, with as many viewers and with neither, in alternating
# windows. Every node runs on this one machine: the figures are costs per
# packet, not the capacity of separate machines.
#
#   bench/run-cluster.sh
#
# Settings (environment):
#   PARTS="nodes copies"   the 1/2/3-node part, the copies part, or both
#   VIEWERS=300     emulated viewers in all, spread evenly over the nodes
#   NODES="1 2 3"   cluster sizes to measure
#   SETTLE=5        seconds between the last viewer joining and the window
#   WINDOW=20       seconds measured
#   IDLE=5          seconds each node's idle CPU is read first (before any media)
#   VIDEO=1280x720 KBPS=1500   the publisher's VP8 stream (and Opus)
#   CORES=1         the core budget per node in the 10-node projection
#   TIMEOUT=120     seconds the viewers of one node may take to join
#   EDGES=12        the copies part: edge nodes, each pulling one link from the origin
#   COPY_VIEWERS=$EDGES   the copies part: emulated viewers on the origin
#   CYCLES=3        the copies part: rounds of (no copy, viewers, links) windows
#   EDGE_JOIN=ws    what makes an edge pull: ws, a WebSocket room.join and no media
#                   (bench/cluster-ws-join.py); rtc, one emulated WebRTC viewer
#   COPY_NET=veth   the edges and the origin's viewers behind a veth (their receive
#                   path off the origin's CPU time); lo: all over loopback
#   ORIGIN_CPUS, EMU_CPUS   the copies part: pin the origin, and everything else
#                   (edges, emulators, the veth's NAPI thread), to these CPUs; unset: not
#   ONAIR_BIN       the onair to measure (default: a Release build in bench/.build)
#   ONAIR_BUILT_FROM   what the report says ONAIR_BIN was built from
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
PARTS=${PARTS:-nodes copies}
EDGES=${EDGES:-12}
COPY_VIEWERS=${COPY_VIEWERS:-$EDGES}
CYCLES=${CYCLES:-3}
EDGE_JOIN=${EDGE_JOIN:-ws}
COPY_NET=${COPY_NET:-veth}
ORIGIN_CPUS=${ORIGIN_CPUS:-}
EMU_CPUS=${EMU_CPUS:-}
TICK_HZ=$(getconf CLK_TCK)
RESULTS_MD=${RESULTS_MD-bench/RESULTS.md}
BENCH=$ROOT/bench/media/build/onair-media-bench
SECRET=bench-cluster-secret-0123456789
export VIEWERS NODES SETTLE WINDOW IDLE VIDEO KBPS CORES TIMEOUT PARTS EDGES COPY_VIEWERS CYCLES EDGE_JOIN COPY_NET ORIGIN_CPUS EMU_CPUS RESULTS_MD

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
  if [ -n "${ONAIR_BIN:-}" ]; then
    ONAIR=$ONAIR_BIN
    ONAIR_BUILT_FROM=${ONAIR_BUILT_FROM:-$ONAIR_BIN}
  else
    bench_build_onair
    ONAIR_BUILT_FROM=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    git diff --quiet HEAD -- src 2>/dev/null || ONAIR_BUILT_FROM="$ONAIR_BUILT_FROM with uncommitted changes in src/"
  fi
  if [ ! -f bench/media/build/CMakeCache.txt ]; then
    cmake -S bench/media -B bench/media/build -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build bench/media/build -j"$(nproc)" >/dev/null || die "bench/media's build failed"
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
PIDS=() # the processes started here and not yet reaped (stop removes them)
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

# stop pid...: ends these children and forgets them, so that no reaped
# (and perhaps reused) process id is signalled later.
stop() {
  local p q keep=()
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  wait "$@" 2>/dev/null || true
  for p in "${PIDS[@]}"; do
    for q in "$@"; do [ "$p" != "$q" ] || continue 2; done
    keep+=("$p")
  done
  PIDS=("${keep[@]}")
}

wait_until() { # seconds what command...
  local until=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ $SECONDS -lt $until ] || die "timed out waiting for $what"
    sleep 0.2
  done
}

# Where the nodes are: all on 127.0.0.1, or (the copies part with
# COPY_NET=veth) node 1, the origin, on ORIGIN_IP and the edges on EDGE_IP,
# in a network namespace of their own (held by the process EDGE_NS)
# behind a veth.
ORIGIN_IP=127.0.0.1
EDGE_IP=127.0.0.1
EDGE_NS=
PIN_ORIGIN= # the copies part: the CPUs node 1 runs on (ORIGIN_CPUS)
node_ip() { if [ "$1" = 1 ]; then echo "$ORIGIN_IP"; else echo "$EDGE_IP"; fi; } # i
node_at() { echo "$(node_ip $(($1 - 18080))):$1"; }                           # port: host:port

metric() { # port name: the value of an unlabelled series in that node's /metrics
  curl -sf "http://$(node_at "$1")/metrics" | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}

metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; } # port name value

# CPU time of a process, every thread, in ns: the scheduler's own clock
# (/proc/PID/task/*/schedstat), not utime + stime, whose 10 ms ticks are
# too coarse for the relay's few milliseconds a window.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

start_redis() {
  local bind=127.0.0.1
  # The edges' namespace reaches it on the origin's address, not loopback:
  # protected mode would refuse them (no password, in a namespace of ours).
  [ "$ORIGIN_IP" = 127.0.0.1 ] || bind="127.0.0.1 $ORIGIN_IP --protected-mode no"
  # shellcheck disable=SC2086
  redis-server --port 6390 --bind $bind --save '' --appendonly no --daemonize no >/dev/null &
  REDIS_PID=$!
  wait_until 10 "redis-server" tcp_open 6390
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

NODE_PIDS=() # NODE_PIDS[i - 1]: node i's onair
start_node() { # i: node ni on port 18080 + i (HTTP and media), a fresh data dir
  local port=$((18080 + $1)) ip run=()
  ip=$(node_ip "$1")
  [ "$1" = 1 ] || [ -z "$EDGE_NS" ] || run=(nsenter -t "$EDGE_NS" -n)
  [ "$1" != 1 ] || [ -z "$PIN_ORIGIN" ] || run=(taskset -c "$PIN_ORIGIN")
  "${run[@]}" "$ONAIR" --listen "$ip:$port" --media-port "$port" --data "$TMP/data-$RANDOM$RANDOM" \
    --redis "redis://$ORIGIN_IP:6390" --postgres "$PG" --cluster-secret "$SECRET" \
    --node-name "n$1" --node-address "$ip" --max-viewers 1000000 --max-conns-per-ip 0 \
    --max-ws-per-ip 0 --signup-per-ip 0 --signup-per-sec 0 --metrics-allow "127.0.0.1, $ORIGIN_IP" \
    --log-level warn 2>>"$TMP/onair-n$1.log" &
  NODE_PIDS[$1 - 1]=$!
  PIDS+=($!)
}

start_nodes() { # n
  local i
  NODE_PIDS=()
  for ((i = 1; i <= $1; i++)); do start_node "$i"; done
  for ((i = 1; i <= $1; i++)); do
    wait_until 20 "node n$i to list $1 nodes" metric_is $((18080 + i)) onair_cluster_nodes "$1"
  done
}

joined() { grep -qs '"kind":"joined"' "$1"; }

all_live() { # out: an emulator's output; ends the run unless every viewer it joined is live
  grep '"kind":"joined"' "$1" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read())
if r["live"] != r["n"]: sys.exit("run-cluster: %d of %d viewers live (%s)" % (r["live"], r["n"], r["why"]))'
}

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
    all_live "$out"
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
  stop "${emu[@]}"
  stop "${NODE_PIDS[@]}"
  stop_redis
}

stop_redis() {
  kill "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=
}

# ---- the copies part: what one relay copy costs the origin, against one viewer copy ----

cpu_ticks() { # pid: utime + stime of the whole process (/proc/PID/stat fields 14, 15), clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$1"/stat
}

metrics() { # port name...: those unlabelled series of the node's /metrics, in order, on one line
  local port=$1
  shift
  curl -sf "http://$(node_at "$port")/metrics" | awk -v names="$*" '
    BEGIN { n = split(names, k, " ") }
    { v[$1] = $2 }
    END { for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), (k[i] in v ? v[k[i]] : 0); print "" }'
}

COPY_SERIES="onair_rtp_packets_received_total onair_rtp_packets_sent_total
onair_media_relay_out_packets_total onair_media_relay_links onair_viewers
onair_nack_retransmits_total onair_media_relay_nack_retransmits_total"

edges_sum() { # what: the edges' CPU in ns (cpu) or relay packets taken in (relay_in), summed
  local i sum=0
  for ((i = 2; i <= EDGES + 1; i++)); do
    if [ "$1" = cpu ]; then
      sum=$((sum + $(cpu_ns "${NODE_PIDS[i - 1]}")))
    else
      sum=$((sum + $(metric $((18080 + i)) onair_media_relay_in_packets_total)))
    fi
  done
  echo "$sum"
}

# copies_window phase cycle viewers: the origin (node 1) over WINDOW
# seconds: its CPU both ways (the scheduler's ns; utime + stime in clock
# ticks) and its counters (the links gauge read at both ends); the edges'
# CPU and relay packets taken in, summed; one JSON row to ROWS.
copies_window() {
  local phase=$1 cycle=$2 viewers=$3 pid=${NODE_PIDS[0]} c0 t0 m0 s0 c1 t1 m1 s1 e0 e1 r0 r1
  s0=$(date +%s%N)
  c0=$(cpu_ns "$pid")
  t0=$(cpu_ticks "$pid")
  # shellcheck disable=SC2086
  m0=$(metrics 18081 $COPY_SERIES)
  e0=$(edges_sum cpu)
  r0=$(edges_sum relay_in)
  sleep "$WINDOW"
  c1=$(cpu_ns "$pid")
  t1=$(cpu_ticks "$pid")
  # shellcheck disable=SC2086
  m1=$(metrics 18081 $COPY_SERIES)
  s1=$(date +%s%N)
  e1=$(edges_sum cpu)
  r1=$(edges_sum relay_in)
  # shellcheck disable=SC2086
  set -- $m0 $m1
  printf '{"kind":"copies","phase":"%s","cycle":%d,"edges":%d,"edge_join":"%s","net":"%s","origin_cpus":"%s","emu_cpus":"%s","viewers":%d,"window_s":%s,"rtp_in":%d,"rtp_out":%d,"relay_out":%d,"links0":%d,"links1":%d,"onair_viewers":%d,"nack_resent":%d,"relay_nack_resent":%d,"cpu_s":%s,"cpu_stat_s":%s,"edges_cpu_s":%s,"edges_relay_in":%d}\n' \
    "$phase" "$cycle" "$EDGES" "$EDGE_JOIN" "$COPY_NET" "$ORIGIN_CPUS" "$EMU_CPUS" "$viewers" "$(awk -v x="$((s1 - s0))" 'BEGIN { print x / 1e9 }')" \
    "$(($8 - $1))" "$(($9 - $2))" "$((${10} - $3))" "$4" "${11}" "${12}" \
    "$((${13} - $6))" "$((${14} - $7))" \
    "$(awk -v x="$((c1 - c0))" 'BEGIN { printf "%.6f", x / 1e9 }')" \
    "$(awk -v x="$((t1 - t0))" -v hz="$TICK_HZ" 'BEGIN { printf "%.6f", x / hz }')" \
    "$(awk -v x="$((e1 - e0))" 'BEGIN { printf "%.6f", x / 1e9 }')" "$((r1 - r0))" >>"$ROWS"
}

ns_entered() { [ "$(readlink /proc/"$1"/ns/net)" != "$(readlink /proc/self/ns/net)" ]; } # pid

# The copies part's network with COPY_NET=veth (as bench/run-media.sh's
# VIEWER_NET=veth): the edges, and the sockets of the viewers on the
# origin, in a second namespace on a veth's far end (10.99.1.2), the
# origin on the near end (10.99.1.1). GRO on the far end gives it a NAPI,
# made a kernel thread (threaded NAPI; on EMU_CPUS when set), so the
# receivers' kernel path (IP and UDP input, the sockets' queues, waking the
# reader) runs there and not in the origin's system call, as it would over
# loopback: the origin pays what it would with a network card (UDP and IP
# output, the qdisc, the veth's transmit, waking the NAPI thread). TSO off
# on the near end (else veth hands the packet to the sending CPU's
# backlog), and a qdisc, so a full veth ring holds the sender back.
copies_net_up() {
  local napi p
  if ! command -v ethtool >/dev/null || ! command -v tc >/dev/null; then
    die "COPY_NET=veth needs ethtool and tc (or COPY_NET=lo)"
  fi
  unshare -n sleep 1000000 &
  EDGE_NS=$!
  PIDS+=($!)
  wait_until 5 "the edges' network namespace" ns_entered "$EDGE_NS"
  ip link add cb0 type veth peer name cb1 netns "$EDGE_NS" || die "cannot make the veth (COPY_NET=lo)"
  ip addr add 10.99.1.1/24 dev cb0
  ip link set cb0 up
  tc qdisc replace dev cb0 root pfifo limit 100000 || die "cannot put a qdisc on the origin's veth"
  ethtool -K cb0 tso off >/dev/null || die "cannot turn TSO off on the origin's veth"
  nsenter -t "$EDGE_NS" -n sh -c 'ip link set lo up && ip addr add 10.99.1.2/24 dev cb1 &&
    ip link set cb1 up && ethtool -K cb1 gro on >/dev/null' || die "cannot set up the edges' veth"
  # This namespace's own sysfs, in a mount namespace of its own.
  nsenter -t "$EDGE_NS" -n unshare -m sh -c \
    'mount -t sysfs sysfs /sys && echo 1 >/sys/class/net/cb1/threaded' || die "no threaded NAPI on veth"
  napi=$(pgrep '^napi/cb1' || true)
  [ -n "$napi" ] || die "the edges' veth has no NAPI thread"
  if [ -n "$EMU_CPUS" ]; then for p in $napi; do taskset -pc "$EMU_CPUS" "$p" >/dev/null; done; fi
  ORIGIN_IP=10.99.1.1
  EDGE_IP=10.99.1.2
  say "copies: the edges and the viewers' sockets behind a veth (10.99.1.2), their receive path in NAPI thread(s) ${napi//$'\n'/ }"
}

# copies: one origin with the publisher and EDGES edge nodes, CYCLES times
# three windows of the origin: "off" (the edges in the directory, no link,
# no viewer anywhere), "viewers" (COPY_VIEWERS emulated viewers on the
# origin: that many viewer copies of each packet) and "links" (on each
# edge a WebSocket joined to the room, or with EDGE_JOIN=rtc an emulated
# viewer, so each edge pulls the room: EDGES relay copies of each packet,
# and no viewer copy on the origin); then one more
# "off", so that every cycle lies between two. After each "links" the
# edges are stopped (their links end at once, with a BYE; a pull whose
# last viewer left would linger CLUSTER_LINGER_MS) and started again
# without a viewer.
copies() {
  local k=$EDGES nodes=$((EDGES + 1)) c i out pub vw edge_emu vnet=()
  say "copies: an origin and $k edges; $CYCLES x (no copy, $COPY_VIEWERS viewers, $k links)"
  # Everything started from here on EMU_CPUS (the edges, the emulators,
  # redis-server) but the origin, on ORIGIN_CPUS (as bench/run-media.sh's
  # SERVER_CPUS and EMU_CPUS).
  [ -z "$EMU_CPUS" ] || taskset -pc "$EMU_CPUS" $$ >/dev/null || die "cannot pin to CPUs $EMU_CPUS"
  PIN_ORIGIN=$ORIGIN_CPUS
  if [ "$COPY_NET" = veth ]; then
    copies_net_up
    vnet=(--viewer-net "/proc/$EDGE_NS/ns/net,$EDGE_IP")
  fi
  start_redis
  start_nodes "$nodes"
  out=$TMP/emu-copies-pub.out
  "$BENCH" viewers --http "$(node_at 18081)" --publish 1 --room benchcaster --count 0 \
    --stream "$TMP/stream.bin" --seconds 3600 --join-timeout 40 >"$out" 2>>"$TMP/emu.log" &
  pub=$!
  PIDS+=($!)
  wait_until "$TIMEOUT" "the publisher to go live" joined "$out"
  sleep "$WINDOW" # the origin's CPU settles for a while after the publisher came (not measured)
  for ((c = 1; ; c++)); do
    sleep "$SETTLE"
    copies_window off "$c" 0
    [ "$c" -le "$CYCLES" ] || break

    out=$TMP/emu-copies-viewers-$c.out
    "$BENCH" viewers --http "$(node_at 18081)" --room benchcaster --count "$COPY_VIEWERS" "${vnet[@]}" \
      --seconds 3600 --join-timeout 40 >"$out" 2>>"$TMP/emu.log" &
    vw=$!
    PIDS+=($!)
    wait_until "$TIMEOUT" "the origin's viewers to join" joined "$out"
    all_live "$out"
    sleep "$SETTLE"
    copies_window viewers "$c" "$COPY_VIEWERS"
    stop "$vw"
    wait_until 20 "the origin's viewers to leave" metric_is 18081 onair_viewers 0

    edge_emu=()
    if [ "$EDGE_JOIN" = ws ]; then
      out=$TMP/emu-copies-edges-$c.out
      local addrs=()
      for ((i = 2; i <= nodes; i++)); do addrs+=("$(node_at $((18080 + i)))"); done
      python3 bench/cluster-ws-join.py benchcaster "${addrs[@]}" >"$out" 2>>"$TMP/emu.log" &
      edge_emu+=($!)
      PIDS+=($!)
      wait_until "$TIMEOUT" "the edges' WebSockets to join" joined "$out"
    else
      for ((i = 2; i <= nodes; i++)); do
        "$BENCH" viewers --http "$(node_at $((18080 + i)))" --room benchcaster --count 1 \
          --seconds 3600 --join-timeout 40 >"$TMP/emu-copies-edge$i-$c.out" 2>>"$TMP/emu.log" &
        edge_emu+=($!)
        PIDS+=($!)
      done
      for ((i = 2; i <= nodes; i++)); do
        wait_until "$TIMEOUT" "node $i's viewer to join" joined "$TMP/emu-copies-edge$i-$c.out"
        all_live "$TMP/emu-copies-edge$i-$c.out"
      done
    fi
    wait_until 20 "the origin's $k links" metric_is 18081 onair_media_relay_links "$k"
    sleep "$SETTLE"
    copies_window links "$c" 0

    stop "${edge_emu[@]}"
    stop "${NODE_PIDS[@]:1}"
    wait_until 20 "the origin's links to end" metric_is 18081 onair_media_relay_links 0
    wait_until 20 "the origin to see its edges go" metric_is 18081 onair_cluster_nodes 1
    for ((i = 2; i <= nodes; i++)); do start_node "$i"; done
    for ((i = 1; i <= nodes; i++)); do
      wait_until 20 "node n$i to list $nodes nodes" metric_is $((18080 + i)) onair_cluster_nodes "$nodes"
    done
  done
  stop "$pub"
  stop "${NODE_PIDS[0]}"
  stop_redis
}

PG=$(tests/lib/pgtemp.sh start "$TMP/pg") || die "PostgreSQL did not start (tests/lib/pgtemp.sh)"
"$BENCH" stream --video "$VIDEO" --kbps "$KBPS" --save "$TMP/stream.bin" 2>>"$TMP/emu.log" ||
  die "cannot make the stream"

# The publisher alone (its ingest cost), then each cluster size, then the
# relay alone: the origin with no viewer of its own and one edge link.
if [[ " $PARTS " == *" nodes "* ]]; then
  measure ingest 0
  for n in $NODES; do
    counts=()
    for ((i = 0; i < n; i++)); do counts+=($(((VIEWERS + i) / n))); done
    measure "n$n" "${counts[@]}"
  done
  measure relay 0 "$VIEWERS"
fi
if [[ " $PARTS " == *" copies "* ]]; then copies; fi

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
    echo "Command: \`PARTS=\"$PARTS\" VIEWERS=$VIEWERS NODES=\"$NODES\" EDGES=$EDGES EDGE_JOIN=$EDGE_JOIN COPY_NET=$COPY_NET ORIGIN_CPUS=$ORIGIN_CPUS EMU_CPUS=$EMU_CPUS COPY_VIEWERS=$COPY_VIEWERS CYCLES=$CYCLES WINDOW=$WINDOW KBPS=$KBPS bench/run-cluster.sh\`;"
    echo "rows: \`bench/results/cluster-$STAMP.jsonl\`."
    echo
    cat "$REPORT"
  } >>"$RESULTS_MD"
  say "appended to $RESULTS_MD"
fi

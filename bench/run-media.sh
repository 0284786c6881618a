#!/usr/bin/env bash
# Media benchmark (issue 11, points 1 and 2): onair against Debian's Janus
# (streaming plugin) in one run on this machine, for both SRTP profiles, with
# the floor. Installs what it needs from Debian when missing, builds onair
# (Release, bench/.build) and bench/media's program (bench/media/build),
# then, inside a private network namespace of its own:
#   1. the floor: AES-128-GCM seal + sendmmsg per packet on the server's CPU;
#   2. for each SRTP profile, each server in turn (the order alternates), the
#      server started fresh and pinned to SERVER_CPUS, and onair-media-bench
#      pinned to EMU_CPUS as the publisher and the viewers, at rising N;
#   3. the table, the ratios, one JSON line, a plot in bench/results/, and a
#      section appended to bench/RESULTS.md.
# bench/README.md says how to read it.
#
# Settings (environment):
#   SIZES="50 100 150 250 500 750 1000 1500 2000"  viewers, rising; a server stops at the
#                             first N where it loses more than LOSS_LIMIT %
#   PROFILES="gcm cm"         SRTP profiles: gcm AEAD_AES_128_GCM, cm AES_CM_128_HMAC_SHA1_80
#   SERVERS="onair janus"     which servers; onair may also run as a variant, named
#                             onair-<option>[-<option>], each measured and reported apart:
#                             nogso (--media-gso false), gso (true), w<N> (--media-workers N),
#                             alt (the other binary: ONAIR_ALT_BIN or ONAIR_ALT_REV).
#                             The report compares every variant with plain onair (or the first
#                             onair variant), e.g. SERVERS="onair onair-nogso" (GSO on and off),
#                             SERVERS="onair-w1 onair-w2" (one worker and two on SERVER_CPUS) or
#                             ONAIR_REV=<old> ONAIR_ALT_REV=HEAD SERVERS="onair onair-alt" (a
#                             change against the commit before it, interleaved in one run)
#   SERVER_CPUS=0             CPUs the server may use (taskset list)
#   EMU_CPUS=1                CPUs of the emulator and publisher
#   MEDIA_WORKERS=(CPUs in SERVER_CPUS)  onair's --media-workers, when it has the option
#   MEDIA_GSO=true            onair's --media-gso (plain onair; the variants set their own)
#   RX_ON_EMU=0               with VIEWER_NET=lo: the viewers' receive path (the kernel's
#                             delivery into their sockets) runs in the server's sending
#                             softirq, on its CPU, as the kernel does on loopback. 1: on EMU_CPUS (RPS on the
#                             namespace's loopback, where the media flows), which costs the
#                             sender an IPI that traps to this VM's hypervisor
#                             (1, as root: net.core.netdev_max_backlog raised for the run and
#                             put back after; bench/README.md, "Where the receive path runs")
#   VIEWER_NET=veth           lo: the viewers' sockets on the server's own address, the media
#                             over the namespace's loopback, their receive path in the server's
#                             softirq (on its CPU; RX_ON_EMU=1 moves it); veth: their sockets in a
#                             second namespace behind a veth (10.99.0.2), whose receiving side
#                             (GRO, threaded NAPI) runs on EMU_CPUS, as a viewer's kernel would
#                             on its own machine; the sender's side keeps a qdisc, so a full
#                             veth ring holds the sender back instead of dropping
#   SPIN=pause                a spinner on each CPU of SERVER_CPUS and EMU_CPUS (nice 19,
#                             SCHED_IDLE: it gives way to anything else at once), so that no CPU
#                             halts between packets, as with the kernel's idle=poll; pause: a
#                             loop of PAUSE (onair-media-bench spin); 1: a shell loop; 0: none.
#                             Its time counts as nice, which the busy figures leave out
#                             (bench/README.md, "Idle CPUs")
#   JANUS_EVENT_LOOPS=(CPUs in SERVER_CPUS)  Janus's event_loops (0: Janus's default, a thread
#                             per viewer, which costs Janus about twice the CPU per packet here)
#   SETTLE=3 WINDOW=6         seconds after the joins, seconds measured, per N
#   PARTS=3                   the window in this many parts; a step's CPU per packet is the
#                             median of its parts' (a burst in one part does not move it)
#   REPEATS=3                 each server and profile run this many times (interleaved, the
#                             order alternating); the report takes per N the median repeat
#                             and shows the range of CPU per packet
#   FIRST_SETTLE=15           seconds after the first N's joins (a warm-up: both servers'
#                             first seconds of streaming cost more)
#   JOIN_CONC=20              viewers in signaling, ICE or DTLS at once
#   JOIN_TIMEOUT=20           seconds a viewer may take from signaling to its first keyframe
#   RCVBUF=262144             SO_RCVBUF asked for each viewer socket (the kernel caps it at
#                             net.core.rmem_max and doubles it)
#   POLL_US=2000              the emulator's (and the floor's reader's) pause after a loop
#                             turn that kept up, so each recvmmsg takes several packets
#   SAMPLE_EVERY=1024         after a viewer's first keyframe, 1 in this many of its packets
#                             per track is authenticated and decrypted
#   VIEWER_TWCC=1             0: the viewers offer no header extension; K >= 1: every viewer
#                             offers the transport-wide sequence number extension and rtcp-fb
#                             transport-cc, as Chrome does, and 1 in K of them reads it from
#                             each packet and sends feedback every 100 ms (onair's twcc.c)
#   PUB_SIMULCAST=0           1: the publisher sends onair three simulcast layers (l, m, h) as
#                             Chromium does, the top one the stream above (a viewer of it gets
#                             what one of a single-stream publisher gets); a list of onair
#                             variants, or of their options, for those alone: "alt" or
#                             "onair-alt" (the old build one stream, the new one layers, in one
#                             run). Janus always gets the one stream
#   PUB_PAUSE=1               with PUB_SIMULCAST: the publisher turns layers off and on when
#                             onair's media.layers says so, as the broadcast page does; 0: all
#                             three always
#   LOSS_LIMIT=0.5            percent
#   VIDEO=1280x720 KBPS=1500  the stream
#   FLOOR_SECONDS=3           CPU seconds the floor measures, per cipher
#   RUN_TIMEOUT=900           seconds one server's run may take
#   ONAIR_BIN=                measure this binary instead of building one
#   ONAIR_REV=                build and measure this commit (git archive into bench/.build-rev)
#                             instead of the work tree
#   ONAIR_ALT_BIN=, ONAIR_ALT_REV=  the binary, or the commit built (bench/.build-rev/alt), that
#                             the variant alt runs (SERVERS="onair onair-alt")
#   RESULTS_MD=bench/RESULTS.md   where the dated section goes ("" for none)
#   OUT=                      also copy the run's JSON lines here
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SIZES=${SIZES:-"50 100 150 250 500 750 1000 1500 2000"}
PROFILES=${PROFILES:-"gcm cm"}
SERVERS=${SERVERS:-"onair janus"}
SERVER_CPUS=${SERVER_CPUS:-0}
EMU_CPUS=${EMU_CPUS:-1}
cpu_list() { # taskset list -> one CPU per line: "0-1,3" -> 0 1 3
  local part c
  for part in ${1//,/ }; do
    case $part in *-*) for ((c = ${part%-*}; c <= ${part#*-}; c++)); do echo "$c"; done ;; *) echo "$part" ;; esac
  done
}
ncpus() { cpu_list "$1" | wc -l; } # CPUs in a taskset list: "0", "0-3", "0,2"
MEDIA_WORKERS=${MEDIA_WORKERS:-$(ncpus "$SERVER_CPUS")}
MEDIA_GSO=${MEDIA_GSO:-true}
RX_ON_EMU=${RX_ON_EMU:-0}
VIEWER_NET=${VIEWER_NET:-veth}
SPIN=${SPIN:-pause}
JANUS_EVENT_LOOPS=${JANUS_EVENT_LOOPS:-$(ncpus "$SERVER_CPUS")}
POLL_US=${POLL_US:-2000}
SAMPLE_EVERY=${SAMPLE_EVERY:-1024}
VIEWER_TWCC=${VIEWER_TWCC:-1}
PUB_SIMULCAST=${PUB_SIMULCAST:-0}
PUB_PAUSE=${PUB_PAUSE:-1}
SETTLE=${SETTLE:-3}
FIRST_SETTLE=${FIRST_SETTLE:-15}
WINDOW=${WINDOW:-6}
PARTS=${PARTS:-3}
REPEATS=${REPEATS:-3}
JOIN_CONC=${JOIN_CONC:-20}
JOIN_TIMEOUT=${JOIN_TIMEOUT:-20}
RCVBUF=${RCVBUF:-262144}
LOSS_LIMIT=${LOSS_LIMIT:-0.5}
VIDEO=${VIDEO:-1280x720}
KBPS=${KBPS:-1500}
FLOOR_SECONDS=${FLOOR_SECONDS:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
RESULTS_MD=${RESULTS_MD-bench/RESULTS.md}
MEDIA_IP=10.99.0.1 # the namespace's own address: Janus (libnice) gathers no loopback candidates

say() { echo "run-media: $*" >&2; }
die() { say "$*"; exit 1; }
export SIZES PROFILES SERVERS SERVER_CPUS EMU_CPUS MEDIA_WORKERS MEDIA_GSO RX_ON_EMU VIEWER_NET SPIN \
  JANUS_EVENT_LOOPS SETTLE FIRST_SETTLE WINDOW PARTS REPEATS JOIN_CONC JOIN_TIMEOUT RCVBUF LOSS_LIMIT VIDEO KBPS FLOOR_SECONDS RUN_TIMEOUT RESULTS_MD POLL_US \
  VIEWER_TWCC PUB_SIMULCAST PUB_PAUSE

BENCH=$ROOT/bench/media/build/onair-media-bench

# ---- outside the namespace: packages, builds, limits ----------------------------
install_deps() {
  local pkgs=(build-essential cmake pkg-config libssl-dev libsrtp2-dev libjansson-dev libvpx-dev
              libopus-dev janus gnuplot-nox curl iproute2 util-linux ethtool) missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}): run as root, or apt-get install them"
  say "installing: ${missing[*]}"
  apt-get update -qq
  # Janus is measured in the foreground here: its package must not start a
  # system service while installing (policy-rc.d says no, unless the machine
  # has its own).
  local policy=/usr/sbin/policy-rc.d own=1
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    own=0
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    { [ $own -eq 1 ] || rm -f "$policy"; die "apt-get install failed"; }
  [ $own -eq 1 ] || rm -f "$policy"
}

build_rev() { # commit dir: a Release build of onair at that commit, in dir/build
  say "building onair $1 (Release) in ${2#"$ROOT"/}"
  rm -rf "$2" && mkdir -p "$2/src"
  git archive "$1" | tar -x -C "$2/src"
  cmake -S "$2/src" -B "$2/build" -DCMAKE_BUILD_TYPE=Release -DONAIR_TESTS=OFF >/dev/null
  cmake --build "$2/build" -j"$(nproc)" --target onair >/dev/null || die "onair's build failed"
}

build() {
  if [ -n "${ONAIR_BIN:-}" ]; then
    ONAIR=$ONAIR_BIN
  elif [ -n "${ONAIR_REV:-}" ]; then
    ONAIR_REV=$(git rev-parse --short "$ONAIR_REV^{commit}") || die "no commit $ONAIR_REV"
    rm -rf bench/.build-rev
    build_rev "$ONAIR_REV" "$ROOT/bench/.build-rev"
    ONAIR=$ROOT/bench/.build-rev/build/onair
    export ONAIR_REV
  else
    if [ ! -f bench/.build/CMakeCache.txt ]; then
      say "configuring a Release build of onair in bench/.build"
      cmake -S . -B bench/.build -DCMAKE_BUILD_TYPE=Release -DONAIR_TESTS=OFF >/dev/null
    fi
    # What the binary was built from, told now: src/ may change while the run goes on.
    ONAIR_BUILT_FROM=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null ||
      ONAIR_BUILT_FROM="$ONAIR_BUILT_FROM with uncommitted changes in src/"
    cmake --build bench/.build -j"$(nproc)" --target onair >/dev/null || die "onair's build failed"
    ONAIR=$ROOT/bench/.build/onair
    export ONAIR_BUILT_FROM
  fi
  [ -x "$ONAIR" ] || die "no onair binary at $ONAIR"
  ONAIR_ALT=
  if [ -n "${ONAIR_ALT_BIN:-}" ]; then
    ONAIR_ALT=$ONAIR_ALT_BIN
  elif [ -n "${ONAIR_ALT_REV:-}" ]; then
    ONAIR_ALT_REV=$(git rev-parse --short "$ONAIR_ALT_REV^{commit}") || die "no commit $ONAIR_ALT_REV"
    build_rev "$ONAIR_ALT_REV" "$ROOT/bench/.build-rev/alt"
    ONAIR_ALT=$ROOT/bench/.build-rev/alt/build/onair
    export ONAIR_ALT_REV
  fi
  [[ " $SERVERS " != *-alt[\ -]* ]] || [ -x "$ONAIR_ALT" ] ||
    die "the variant alt needs ONAIR_ALT_BIN or ONAIR_ALT_REV"
  if [ ! -f bench/media/build/CMakeCache.txt ]; then
    cmake -S bench/media -B bench/media/build -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build bench/media/build -j"$(nproc)" >/dev/null || die "bench/media's build failed"
  export ONAIR ONAIR_ALT
}

# Each viewer is a UDP socket here and a WebSocket (onair) or, while it
# joins, an HTTP connection (Janus), in the server and in the emulator.
raise_nofile() {
  local maxn=0 n need soft hard
  for n in $SIZES; do
    case $n in *[!0-9]*|'') die "bad size '$n' in SIZES" ;; esac
    [ "$n" -gt "$maxn" ] && maxn=$n
  done
  need=$((2 * maxn + 512))
  soft=$(ulimit -n)
  if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
    hard=$(ulimit -Hn)
    if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then ulimit -n "$need"; else ulimit -n "$hard"; fi
    soft=$(ulimit -n)
    [ "$soft" = unlimited ] || [ "$soft" -ge "$need" ] ||
      die "open-files limit is $soft, $need needed for $maxn viewers (raise ulimit -n)"
  fi
  say "open-files limit $(ulimit -n) (need $need)"
}

if [ -z "${MB_IN_NETNS:-}" ]; then
  install_deps
  build
  raise_nofile
  command -v unshare >/dev/null || die "unshare (util-linux) is needed"
  userns=
  [ "$(id -u)" -eq 0 ] || userns=-r
  case $MEDIA_GSO in true|false) ;; *) die "MEDIA_GSO is true or false" ;; esac
  case $RX_ON_EMU in 0|1) ;; *) die "RX_ON_EMU is 0 or 1" ;; esac
  case $VIEWER_NET in lo|veth) ;; *) die "VIEWER_NET is lo or veth" ;; esac
  case $SPIN in 0|1|pause) ;; *) die "SPIN is 0, 1 or pause" ;; esac
  [ "$VIEWER_NET" = lo ] || [ "$RX_ON_EMU" = 0 ] || die "RX_ON_EMU=1 is for VIEWER_NET=lo"
  [[ $REPEATS =~ ^[1-9][0-9]*$ ]] || die "REPEATS is a count (1, 2, ...)"
  [[ $PARTS =~ ^[1-9][0-9]*$ ]] && [ "$PARTS" -le 16 ] || die "PARTS is 1 to 16"
  [[ $VIEWER_TWCC =~ ^[0-9]+$ ]] || die "VIEWER_TWCC is 0 (off) or K >= 1 (1 in K viewers sends feedback)"
  case $PUB_PAUSE in 0|1) ;; *) die "PUB_PAUSE is 0 or 1" ;; esac
  for v in ${PUB_SIMULCAST//,/ }; do
    [[ $v =~ ^(0|1|onair(-[a-z0-9]+)*|nogso|gso|w[1-9][0-9]*|alt)$ ]] ||
      die "PUB_SIMULCAST is 0, 1, or onair variants or their options (alt, onair-alt, ...), not '$v'"
  done
  for server in $SERVERS; do
    [[ $server =~ ^(janus|onair(-(nogso|gso|w[1-9][0-9]*|alt))*)$ ]] ||
      die "SERVERS holds onair, its variants (onair-nogso, onair-w2, onair-nogso-w1, ...) and janus, not '$server'"
  done
  # A namespace of its own: the media never touches the machine's interfaces,
  # and the ports below are free. A mount namespace too, for a sysfs that
  # shows the new network namespace's devices (RX_ON_EMU).
  # With RX_ON_EMU=1 the packets to every viewer wait in the emulator CPU's
  # input backlog, which drops what passes net.core.netdev_max_backlog
  # (1,000 by default, fewer than one GSO message per viewer at 2,000
  # viewers). The setting is the machine's, not the namespace's: raised for
  # the run, put back after it.
  backlog_old= maxn=0
  for n in $SIZES; do [ "$n" -gt "$maxn" ] && maxn=$n; done
  if [ "$RX_ON_EMU" = 1 ] && [ "$(id -u)" -eq 0 ]; then
    backlog_old=$(sysctl -n net.core.netdev_max_backlog)
    backlog_new=$((8 * maxn > 10000 ? 8 * maxn : 10000))
    if [ "$backlog_old" -lt "$backlog_new" ]; then
      sysctl -q -w net.core.netdev_max_backlog="$backlog_new"
      say "net.core.netdev_max_backlog $backlog_old -> $backlog_new for the run"
    else
      backlog_old=
    fi
  fi
  trap '[ -z "$backlog_old" ] || sysctl -q -w net.core.netdev_max_backlog="$backlog_old"' EXIT
  trap 'exit 130' INT TERM
  rc=0
  MB_IN_NETNS=1 unshare $userns -n -m "$0" "$@" || rc=$?
  exit $rc
fi

# ---- inside the namespace ---------------------------------------------------------
ip link set lo up
ip link add mb0 type veth peer name mb1
ip addr add "$MEDIA_IP/24" dev mb0
ip link set mb0 up
ip link set mb1 up

# Both ends use 10.99.0.1, a local address: the media flows over this
# namespace's loopback (the veth only gives the address). Loopback delivers
# a packet into the receiving socket (IP, UDP, splitting a GSO message, the
# socket's queue, waking the reader) in the sender's own softirq, so every
# viewer's receive path would be charged to the server's CPU; on a real
# network it runs on the viewer's machine. RPS on loopback with only the
# emulator's CPUs hands each packet to their backlog instead. What the
# emulator and the publisher send to the server was already received on
# their CPU (they send it), so it stays as it was.
cpu_mask() { # taskset list -> hex mask: "1" -> 2, "0-1" -> 3
  local m=0 c
  for c in $(cpu_list "$1"); do m=$((m | 1 << c)); done
  printf '%x' "$m"
}
if [ "$RX_ON_EMU" = 1 ]; then
  mount -t sysfs sysfs /sys || die "cannot mount this namespace's sysfs (RX_ON_EMU=0 to go without)"
  echo "$(cpu_mask "$EMU_CPUS")" >/sys/class/net/lo/queues/rx-0/rps_cpus ||
    die "cannot set RPS on loopback (RX_ON_EMU=0 to go without)"
  say "the viewers' receive path on CPU $EMU_CPUS (loopback rps_cpus $(cat /sys/class/net/lo/queues/rx-0/rps_cpus))"
fi
# VIEWER_NET=veth: the viewers in a namespace of their own (mbv) on the
# veth's other end. GRO on its end gives it NAPI, threaded NAPI makes that
# a kernel thread, pinned to the emulator's CPUs: the viewers' receive path
# (IP, UDP, the sockets' queues, waking the reader) runs there, and the
# server's CPU does what it would with a network card. veth's ring is 256
# packets; with a qdisc on the sending end a full ring stops the queue
# (Linux 6.16 and later) and the qdisc holds the packets, as a card's
# queue would, instead of dropping them.
VIEWER_NET_ARGS=() VNS=
if [ "$VIEWER_NET" = veth ]; then
  VNS=onair-bench-viewers-$$ # its name is a file in /run/netns: removed at exit
  ip netns add "$VNS" || die "cannot make the viewers' namespace (ip netns add)"
  trap 'ip netns del "$VNS" 2>/dev/null' EXIT
  ip link set mb1 netns "$VNS"
  ip -n "$VNS" addr add 10.99.0.2/24 dev mb1
  ip -n "$VNS" link set lo up
  ip -n "$VNS" link set mb1 up
  ip netns exec "$VNS" ethtool -K mb1 gro on >/dev/null || die "cannot turn GRO on for the viewers' veth"
  ip netns exec "$VNS" sh -c 'echo 1 >/sys/class/net/mb1/threaded' || die "no threaded NAPI on veth"
  tc qdisc replace dev mb0 root pfifo limit 100000 || die "cannot put a qdisc on the server's veth"
  # veth hands a packet to the other end's NAPI only when the sending end
  # has no TSO (UDP's GSO is not TSO); otherwise into the sender's backlog.
  ethtool -K mb0 tso off >/dev/null || die "cannot turn TSO off on the server's veth"
  napi=$(pgrep '^napi/mb1' || true)
  [ -n "$napi" ] || die "the viewers' veth has no NAPI thread"
  for p in $napi; do taskset -pc "$EMU_CPUS" "$p" >/dev/null; done
  VIEWER_NET_ARGS=(--viewer-net "/run/netns/$VNS,10.99.0.2")
  say "the viewers behind a veth (10.99.0.2), its receive path on CPU $EMU_CPUS (NAPI threads $(echo $napi))"
fi

# NET_RX softirqs per CPU (/proc/softirqs is the machine's: a rough check of
# where the receive path ran, logged per server run).
# With RPS the sender also interrupts the emulator's CPU (an IPI, counted as
# function-call interrupts) whenever that CPU's backlog was empty.
net_rx() { awk '/NET_RX:/ { $1 = ""; print }' /proc/softirqs; }
ipis() { awk '/^ *CAL:/ { $1 = ""; print }' /proc/interrupts; }
per_cpu() { # before after
  awk -v a="$1" -v b="$2" \
    'BEGIN { n = split(a, x); split(b, y); for (i = 1; i <= n && x[i] ~ /^[0-9]+$/; i++) printf "CPU%d %d  ", i - 1, y[i] - x[i] }'
}

TMP=$(mktemp -d /tmp/onair-bench-media.XXXXXX)
RESULTS=$TMP/results.jsonl
: >"$RESULTS"
STAMP=$(date -u +%Y%m%d-%H%M%S)
SIZES_CSV=$(echo $SIZES | tr ' ' ',')
SERVER_PID=
SPINNERS=()

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
cleanup() {
  [ ${#SPINNERS[@]} -eq 0 ] || kill "${SPINNERS[@]}" 2>/dev/null || true
  stop_server
  [ -z "$VNS" ] || ip netns del "$VNS" 2>/dev/null || true
  [ -n "${OUT:-}" ] && [ -s "$RESULTS" ] && cp "$RESULTS" "$OUT"
  if [ "${FAILED:-0}" = 1 ] && [ -s "$TMP/onair.log" ]; then
    cp "$TMP/onair.log" "$ROOT/bench/results/media-$STAMP-onair.log"
    echo "run-media: onair's log (a run failed): bench/results/media-$STAMP-onair.log" >&2
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$SPIN" != 0 ]; then
  spin_cpus=$( (cpu_list "$SERVER_CPUS"; cpu_list "$EMU_CPUS") | sort -un)
  for c in $spin_cpus; do
    if [ "$SPIN" = pause ]; then
      nice -n 19 taskset -c "$c" "$BENCH" spin &
    else
      nice -n 19 chrt --idle 0 taskset -c "$c" sh -c 'while :; do :; done' &
    fi
    SPINNERS+=($!)
  done
  say "spinners (nice 19, SCHED_IDLE) on CPUs $(echo $spin_cpus)"
fi

wait_http() { # url: up to 20 s
  for _ in $(seq 200); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_onair() { # [variant: onair-nogso-w2 ...]
  local extra=() help workers=$MEDIA_WORKERS gso=$MEDIA_GSO opt bin=$ONAIR
  PORT=8090
  for opt in $(echo "${1#onair}" | tr '-' ' '); do
    case $opt in
      nogso) gso=false ;;
      gso) gso=true ;;
      w[1-9]*) workers=${opt#w} ;;
      alt) bin=$ONAIR_ALT ;;
      *) die "unknown onair variant '$1' (options: nogso, gso, w<N>, alt)" ;;
    esac
  done
  # (not "| grep -q": with pipefail, onair's SIGPIPE would fail the test)
  help=$("$bin" --help 2>&1 || true)
  if [ -n "$workers" ]; then
    if [[ $help == *--media-workers* ]]; then
      extra=(--media-workers "$workers")
    else
      say "this onair has no --media-workers: MEDIA_WORKERS ignored"
    fi
  fi
  if [[ $help == *--media-gso* ]]; then
    extra+=(--media-gso "$gso")
  elif [ "$gso" = false ]; then
    die "this onair has no --media-gso: it cannot run without GSO"
  fi
  taskset -c "$SERVER_CPUS" "$bin" --listen "127.0.0.1:$PORT" --media-bind "$MEDIA_IP" \
    --media-port "$PORT" --data "$TMP/onair-data-$RANDOM" --log-level info --max-viewers 1000000 \
    --max-conns-per-ip 0 --max-ws-per-ip 0 --signup-per-ip 0 --signup-per-sec 0 "${extra[@]}" \
    2>>"$TMP/onair.log" &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$PORT/" || { tail -20 "$TMP/onair.log" >&2; die "onair did not start"; }
}

# Janus as Debian ships it, with a config of its own: the streaming plugin
# and the HTTP transport only (on 127.0.0.1, no admin API), sessions that do
# not time out (the viewers send no keep-alives once watching), ICE on the
# namespace's address, no STUN, quiet logs, and an RTP mountpoint (Opus pt
# 111 on 5002, VP8 pt 96 on 5004) that the publisher feeds.
janus_config() {
  JDIR=$TMP/janus
  mkdir -p "$JDIR/plugins" "$JDIR/transports" "$JDIR/events" "$JDIR/loggers"
  ln -sf /usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_streaming.so "$JDIR/plugins/"
  ln -sf /usr/lib/x86_64-linux-gnu/janus/transports/libjanus_http.so "$JDIR/transports/"
  cat >"$JDIR/janus.jcfg" <<EOC
general: {
  configs_folder = "$JDIR"
  plugins_folder = "$JDIR/plugins"
  transports_folder = "$JDIR/transports"
  events_folder = "$JDIR/events"
  loggers_folder = "$JDIR/loggers"
  debug_level = 3
  session_timeout = 0
  interface = "$MEDIA_IP"
  event_loops = $JANUS_EVENT_LOOPS
}
certificates: { }
media: { }
nat: {
  nice_debug = false
  ignore_mdns = true
  ice_enforce_list = "$MEDIA_IP"
}
plugins: { }
transports: { }
loggers: { }
events: { }
EOC
  cat >"$JDIR/janus.transport.http.jcfg" <<EOC
general: { json = "compact" base_path = "/janus" http = true port = 8088 ip = "127.0.0.1" https = false }
admin: { admin_http = false admin_https = false }
cors: { }
EOC
  cat >"$JDIR/janus.plugin.streaming.jcfg" <<EOC
general: { }
bench: {
  type = "rtp"
  id = 1
  description = "onair media bench"
  media = (
    { type = "audio" mid = "a" label = "audio" port = 5002 pt = 111 codec = "opus" },
    { type = "video" mid = "v" label = "video" port = 5004 pt = 96 codec = "vp8" }
  )
}
EOC
}

start_janus() {
  PORT=8088
  [ -e /usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_streaming.so ] ||
    die "Janus's streaming plugin is not where Debian puts it"
  janus_config
  taskset -c "$SERVER_CPUS" janus -F "$JDIR" -C "$JDIR/janus.jcfg" -o >>"$TMP/janus.log" 2>&1 &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$PORT/janus/info" || { tail -20 "$TMP/janus.log" >&2; die "Janus did not start"; }
}

# PUB_SIMULCAST for one server (or onair variant): 1 when the publisher
# sends it simulcast layers.
pub_simulcast() { # label
  local v opt
  [ "${1%%-*}" = onair ] || { echo 0; return; }
  for v in ${PUB_SIMULCAST//,/ }; do
    [ "$v" = 1 ] || [ "$v" = "$1" ] && { echo 1; return; }
    for opt in $(echo "${1#onair}" | tr '-' ' '); do
      [ "$v" = "$opt" ] && { echo 1; return; }
    done
  done
  echo 0
}

measure() { # server (or onair variant) profile repeat
  local label=$1 server=${1%%-*} profile=$2 rep=$3 extra=() rx0 rx1 ipi0 ipi1
  "start_$server" "$label"
  [ "$server" = janus ] && extra=(--janus-ports 5004,5002)
  say "$label, $profile: N = $SIZES (repeat $rep of $REPEATS)$([ "$(pub_simulcast "$label")" = 0 ] || echo ", the publisher sends simulcast")"
  rx0=$(net_rx) ipi0=$(ipis)
  timeout "$RUN_TIMEOUT" taskset -c "$EMU_CPUS" "$BENCH" run --server "$server" --label "$label" \
    --http "127.0.0.1:$PORT" --pid "$SERVER_PID" --media-host "$MEDIA_IP" --profile "$profile" \
    --sizes "$SIZES_CSV" --settle "$SETTLE" --first-settle "$FIRST_SETTLE" --window "$WINDOW" --join-conc "$JOIN_CONC" \
    --join-timeout "$JOIN_TIMEOUT" --rcvbuf "$RCVBUF" --loss-limit "$LOSS_LIMIT" \
    --server-cpus "$SERVER_CPUS" --emu-cpus "$EMU_CPUS" --stream "$TMP/stream.bin" --poll-us "$POLL_US" \
    --sample-every "$SAMPLE_EVERY" --twcc "$VIEWER_TWCC" --pub-simulcast "$(pub_simulcast "$label")" \
    --pub-pause "$PUB_PAUSE" --parts "$PARTS" --repeat "$rep" "${VIEWER_NET_ARGS[@]}" \
    --out "$RESULTS" "${extra[@]}" >/dev/null ||
    { say "$label, $profile: the run failed or was cut short; its rows so far are kept"; FAILED=1; }
  rx1=$(net_rx) ipi1=$(ipis)
  say "$label, $profile: during the run, NET_RX softirqs: $(per_cpu "$rx0" "$rx1");" \
    "function-call IPIs: $(per_cpu "$ipi0" "$ipi1")"
  stop_server
}

machine() {
  local cpu commit
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  if [ -n "${ONAIR_BIN:-}" ]; then
    commit="binary $ONAIR_BIN"
  elif [ -n "${ONAIR_REV:-}" ]; then
    commit="$ONAIR_REV (built from the commit)"
  else
    commit=$ONAIR_BUILT_FROM
  fi
  if [ -n "${ONAIR_ALT_BIN:-}" ]; then
    commit="$commit, onair-alt binary $ONAIR_ALT_BIN"
  elif [ -n "${ONAIR_ALT_REV:-}" ]; then
    commit="$commit, onair-alt $ONAIR_ALT_REV (built from the commit)"
  fi
  echo "$cpu, $(nproc) CPUs, Linux $(uname -r); onair $commit;" \
    "Janus $(dpkg-query -W -f='${Version}' janus 2>/dev/null)" \
    "(libnice $(dpkg-query -W -f='${Version}' libnice10 2>/dev/null)," \
    "libsrtp2 $(dpkg-query -W -f='${Version}' libsrtp2-1 2>/dev/null));" \
    "OpenSSL $(dpkg-query -W -f='${Version}' libssl3 2>/dev/null)"
}

append_results() { # table.md plot.png
  local md=$ROOT/$RESULTS_MD settings
  settings="SIZES=\"$SIZES\" PROFILES=\"$PROFILES\" SERVER_CPUS=$SERVER_CPUS EMU_CPUS=$EMU_CPUS"
  settings="$settings SERVERS=\"$SERVERS\" MEDIA_WORKERS=$MEDIA_WORKERS MEDIA_GSO=$MEDIA_GSO"
  settings="$settings RX_ON_EMU=$RX_ON_EMU VIEWER_NET=$VIEWER_NET SPIN=$SPIN JANUS_EVENT_LOOPS=$JANUS_EVENT_LOOPS"
  settings="$settings WINDOW=$WINDOW PARTS=$PARTS SETTLE=$SETTLE FIRST_SETTLE=$FIRST_SETTLE VIEWER_TWCC=$VIEWER_TWCC"
  [ "$REPEATS" = 1 ] || settings="$settings REPEATS=$REPEATS"
  [ "$PUB_SIMULCAST" = 0 ] || settings="$settings PUB_SIMULCAST=\"$PUB_SIMULCAST\" PUB_PAUSE=$PUB_PAUSE"
  [ -n "${ONAIR_ALT_REV:-}" ] && settings="ONAIR_ALT_REV=$ONAIR_ALT_REV $settings"
  [ -n "${ONAIR_REV:-}" ] && settings="ONAIR_REV=$ONAIR_REV $settings"
  [ -f "$md" ] || echo "# Benchmark results" >"$md"
  {
    echo
    echo "## Media forwarding, onair and Janus: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(machine)."
    echo
    echo "Command: \`$settings bench/run-media.sh\`; a ${VIDEO} VP8 stream at ${KBPS} kbit/s and Opus;"
    echo "the server on CPU $SERVER_CPUS, the emulator and publisher on CPU $EMU_CPUS; the viewers'"
    if [ "$VIEWER_NET" = veth ]; then echo "receive path on CPU $EMU_CPUS (behind a veth, threaded NAPI; VIEWER_NET=veth)."
    elif [ "$RX_ON_EMU" = 1 ]; then echo "receive path on CPU $EMU_CPUS (RPS on loopback)."; else echo "receive path in the server's softirq (RX_ON_EMU=0)."; fi
    echo "Plot: \`results/$(basename "$2")\`."
    echo
    cat "$1"
  } >>"$md"
  say "appended to $RESULTS_MD"
}

start=$(date +%s)
cpu_times() { awk '/^cpu /{print $2 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; } # niced work (SPIN) left out
read -r busy1 idle1 < <(cpu_times)
sleep 1
read -r busy2 idle2 < <(cpu_times)
busy=$((100 * (busy2 - busy1) / (busy2 - busy1 + idle2 - idle1 + 1)))
[ "$busy" -lt 10 ] || say "the machine is busy (${busy} % of its CPUs in the last second): the figures will be noisy"
# The stream, made once (libvpx, libopus) for the floor and every run.
taskset -c "$EMU_CPUS" "$BENCH" stream --video "$VIDEO" --kbps "$KBPS" --save "$TMP/stream.bin" ||
  die "could not make the stream"
floor() { # file the row goes to
  taskset -c "$SERVER_CPUS" "$BENCH" floor --seconds "$FLOOR_SECONDS" --reader-cpus "$EMU_CPUS" \
    --media-host "$MEDIA_IP" --stream "$TMP/stream.bin" --poll-us "$POLL_US" "${VIEWER_NET_ARGS[@]}" \
    --out "$1" >/dev/null ||
    say "the floor failed"
}
if [ "$RX_ON_EMU" = 1 ]; then
  # For comparison with earlier runs: the floor with the receive path in
  # the sender's softirq, as RX_ON_EMU=0 measures it (row "floor_rx_server").
  say "the floor, on CPU $SERVER_CPUS, the receive path there too (as RX_ON_EMU=0)"
  echo 0 >/sys/class/net/lo/queues/rx-0/rps_cpus
  floor "$TMP/floor-rx-server.jsonl"
  sed 's/"kind":"floor"/"kind":"floor_rx_server"/' "$TMP/floor-rx-server.jsonl" >>"$RESULTS" || true
  cpu_mask "$EMU_CPUS" >/sys/class/net/lo/queues/rx-0/rps_cpus
fi
say "the floor, on CPU $SERVER_CPUS"
floor "$RESULTS"
i=0
for rep in $(seq "$REPEATS"); do
  for profile in $PROFILES; do
    case $profile in gcm|cm) ;; *) die "PROFILES holds gcm and cm" ;; esac
    # Alternate which server goes first, so neither always runs on a warm (or hot) machine.
    if [ $((i % 2)) -eq 0 ]; then order=$SERVERS; else order=$(echo $SERVERS | tr ' ' '\n' | tac | tr '\n' ' '); fi
    for server in $order; do
      case $server in
        onair|onair-*|janus) measure "$server" "$profile" "$rep" ;;
        *) die "SERVERS holds onair, its variants (onair-nogso, onair-w2, ...) and janus" ;;
      esac
    done
    i=$((i + 1))
  done
done
say "measured in $(($(date +%s) - start)) s"

mkdir -p "$ROOT/bench/results"
"$BENCH" report --in "$RESULTS" --plot "$TMP/plot" --markdown "$TMP/table.md" \
  --title "onair and Janus $(dpkg-query -W -f='${Version}' janus 2>/dev/null), $(date -u +%Y-%m-%d)"
PNG=$ROOT/bench/results/media-$STAMP.png
cp "$RESULTS" "$ROOT/bench/results/media-$STAMP.jsonl"
if command -v gnuplot >/dev/null && (cd "$TMP" && gnuplot plot.gp 2>/dev/null) && [ -f "$TMP/plot.png" ]; then
  cp "$TMP/plot.png" "$PNG"
  say "plot: bench/results/$(basename "$PNG"), rows: bench/results/media-$STAMP.jsonl"
else
  say "no plot (gnuplot missing or failed); rows: bench/results/media-$STAMP.jsonl"
fi
[ -z "$RESULTS_MD" ] || append_results "$TMP/table.md" "$PNG"

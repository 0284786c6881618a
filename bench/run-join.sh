#!/usr/bin/env bash
# Join-time benchmark: how long a viewer waits for the first video frame in
# Debian's chromium, onair against the tutorial's peer-to-peer design, in one
# run on this machine. Builds onair (Release, in bench/.build) if needed, sets
# up a copy of the seed's signaling server (bench/.seed-work, `npm ci`), then
# runs bench/join/join.js inside a network namespace of its own with only
# loopback up (tests/e2e/in-netns.sh): onair with a temp data dir and a
# broadcaster live, the tutorial's server (the seed's socket.js) with its
# broadcaster page live, and 1, 5 and 12 viewer pages opened one after another
# and all at once, each design in turn. Prints a table, keeps every viewer's
# row in bench/results/join-<UTC time>.jsonl and appends a dated section to
# bench/RESULTS.md.
#
# Settings (environment):
#   SIZES="1 5 12"    viewer pages per measurement
#   REPEATS=4         measurements per design, N > 1 and mode (one-by-one, at-once)
#   SINGLE=20         measurements of one viewer opening the live room, per design
#   WARMUP=1          single-viewer measurements per design first, left out of the figures
#   TIMEOUT=30        seconds a viewer may take to its first frame
#   SETTLE=1          seconds between measurements, after the last viewers left
#   SEED_SRC=../shared/anchors/seed-signaling   the anchor (read only; beside the project)
#   ONAIR_BIN=        use this binary instead of building one
#   RESULTS_MD=bench/RESULTS.md   where the dated section goes ("" for none)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SIZES=${SIZES:-"1 5 12"}
REPEATS=${REPEATS:-4}
SINGLE=${SINGLE:-20}
WARMUP=${WARMUP:-1}
TIMEOUT=${TIMEOUT:-30}
SETTLE=${SETTLE:-1}
SEED_SRC=${SEED_SRC:-$ROOT/../shared/anchors/seed-signaling}
SEED_WORK=$ROOT/bench/.seed-work
RESULTS_MD=${RESULTS_MD-bench/RESULTS.md}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

say() { echo "run-join: $*" >&2; }
die() { say "$*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

for s in $SIZES; do
  case $s in '' | *[!0-9]*) die "bad size '$s' in SIZES (viewer counts, e.g. \"1 5 12\")" ;; esac
done
for v in REPEATS SINGLE WARMUP TIMEOUT SETTLE; do
  case ${!v} in '' | *[!0-9]*) die "$v must be a whole number" ;; esac
done

# node 20 or later (bench/lib.sh).
bench_use_node20
[ -f "$ROOT/tests/node_modules/playwright-core/package.json" ] ||
  die "tests/node_modules/playwright-core is missing: run scripts/install-deps.sh --test (or npm ci in tests/)"
[ -x "$CHROMIUM" ] || die "no chromium at $CHROMIUM: run scripts/install-deps.sh --test"
[ -f "$SEED_SRC/server.js" ] || die "no seed server at $SEED_SRC (set SEED_SRC)"

# ---- onair, Release -----------------------------------------------------------
if [ -n "${ONAIR_BIN:-}" ]; then
  ONAIR=$ONAIR_BIN
else
  bench_build_onair
fi
[ -x "$ONAIR" ] || die "no onair binary at $ONAIR"

# ---- the seed, copied (the anchor directory stays untouched) ----
bench_seed_work "$SEED_SRC" "$SEED_WORK"

# ---- run, in a loopback-only network namespace ----------------------------------
mkdir -p bench/results
STAMP=$(date -u +%Y%m%d-%H%M%S)
JSONL=bench/results/join-$STAMP.jsonl
bench_busy_check
say "node $(node --version), $("$CHROMIUM" --version 2>/dev/null | head -1), onair $ONAIR; rows in $JSONL"
start=$(date +%s)
status=0
CHROMIUM=$CHROMIUM tests/e2e/in-netns.sh node bench/join/join.js run --onair "$ONAIR" --seed-dir "$SEED_WORK" \
  --out "$JSONL" --sizes "$SIZES" --repeats "$REPEATS" --single "$SINGLE" --warmup "$WARMUP" \
  --timeout "$TIMEOUT" --settle "$SETTLE" || status=$?
say "measured in $(($(date +%s) - start)) s"
[ -s "$JSONL" ] || die "no results"
node bench/join/join.js report "$JSONL"
[ "$status" -eq 0 ] || die "the run failed (exit $status); its rows so far are in $JSONL"

# ---- bench/RESULTS.md -------------------------------------------------------------
machine() {
  local cpu commit
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  if [ -n "${ONAIR_BIN:-}" ]; then
    commit="binary $ONAIR_BIN"
  else
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$ROOT" diff --quiet HEAD -- src web 2>/dev/null || commit="$commit with uncommitted changes in src/ or web/"
  fi
  echo "$cpu, $(nproc) CPUs, Linux $(uname -r); onair $commit;" \
    "$("$CHROMIUM" --version 2>/dev/null | head -1); node $(node --version);" \
    "socket.io $(node -p "require('$SEED_WORK/node_modules/socket.io/package.json').version")"
}
if [ -n "$RESULTS_MD" ]; then
  md=$ROOT/$RESULTS_MD
  [ -f "$md" ] || echo "# Benchmark results" >"$md"
  {
    echo
    echo "## Join time, onair and the tutorial's design: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(machine)."
    echo
    echo "Command: \`SIZES=\"$SIZES\" REPEATS=$REPEATS SINGLE=$SINGLE WARMUP=$WARMUP bench/run-join.sh\`;" \
      "ms from navigation start; rows: \`results/$(basename "$JSONL")\`."
    echo
    echo '```'
    node bench/join/join.js report "$JSONL" --md
    echo '```'
  } >>"$md"
  say "appended to $RESULTS_MD"
fi

#!/usr/bin/env bash
# Fuzzes every libFuzzer target of tests/fuzz/ for SECONDS each (default
# 60), one after the other:
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# (TARGET: e.g. signaling or fuzz_signaling; default all of them).
#
# Builds the fuzzers in build/ (configured with -DONAIR_TESTS=ON if it is
# not yet; FUZZ_BUILD_DIR=dir picks another). Each target fuzzes a scratch
# copy of its committed corpus in a new mktemp directory, never the source
# tree, and writes its artifacts (crash-*, leak-*, timeout-*, oom-*) there.
# Prints a table of executions, new corpus units and findings per target,
# and the artifacts' paths; exits 1 when any target found a crash, leak,
# timeout or out-of-memory (or did not run), 2 for bad arguments.
#
# A finding reproduces with the target and its artifact:
#   build/tests/fuzz/fuzz_<name> <artifact>
# tests/fuzz/README.md says how to minimize it and add it to the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=60
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  secs=$1
  shift
fi
if [ "$secs" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
build=${FUZZ_BUILD_DIR:-build}
timeout_s=${FUZZ_TIMEOUT:-10} # an input slower than this is a finding

names=()
if [ $# -gt 0 ]; then
  for t in "$@"; do
    t=${t#fuzz_}
    t=${t%.c}
    if [ ! -f "tests/fuzz/fuzz_$t.c" ]; then
      echo "no target tests/fuzz/fuzz_$t.c" >&2
      exit 2
    fi
    names+=("$t")
  done
else
  for f in tests/fuzz/fuzz_*.c; do
    t=${f#tests/fuzz/fuzz_}
    names+=("${t%.c}")
  done
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONAIR_TESTS=ON >/dev/null
elif ! grep -q '^ONAIR_TESTS:BOOL=ON$' "$build/CMakeCache.txt"; then
  cmake -S . -B "$build" -DONAIR_TESTS=ON >/dev/null
fi
if grep -q '^ONAIR_SANITIZE:BOOL=ON$' "$build/CMakeCache.txt"; then
  echo "$build is a sanitizer build, which has no fuzzers: FUZZ_BUILD_DIR=build" >&2
  exit 2
fi
cmake --build "$build" --target fuzzers -j"$(nproc)"
bins=$(cd "$build/tests/fuzz" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/onair-fuzz.XXXXXX")
echo "fuzzing ${names[*]} for ${secs} s each in $work"

# One libFuzzer statistic (-print_final_stats) from a log, or "?".
stat() {
  local v
  v=$(sed -n "s/^stat::$1: *\([0-9]*\)\$/\1/p" "$2" | tail -n 1)
  echo "${v:-?}"
}

rows=()
found=()
failed=0
for t in "${names[@]}"; do
  bin=$bins/fuzz_$t
  dir=$work/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  if [ -d "tests/fuzz/corpus/$t" ]; then
    cp -R "tests/fuzz/corpus/$t/." "$dir/corpus/"
  fi
  echo "== fuzz_$t (log: $dir/log)"
  rc=0
  # -close_fd_mask=2: the target's own stderr (onair's log lines) is
  # closed; libFuzzer's output and sanitizer reports still reach the log.
  (cd "$dir" && "$bin" -max_total_time="$secs" -timeout="$timeout_s" \
    -print_final_stats=1 -close_fd_mask=2 -artifact_prefix="$dir/artifacts/" \
    "$dir/corpus" >"$dir/log" 2>&1) || rc=$?
  execs=$(stat number_of_executed_units "$dir/log")
  units=$(stat new_units_added "$dir/log")
  artifacts=()
  for a in "$dir"/artifacts/*; do
    [ -e "$a" ] && artifacts+=("$a")
  done
  if [ ${#artifacts[@]} -gt 0 ]; then
    summary=$(grep -m1 -E '^SUMMARY: |ERROR: libFuzzer: ' "$dir/log" |
      sed 's/^==[0-9]*== *//' | cut -c1-80 || true)
    rows+=("$(printf '%-14s %12s %10s   %s' "$t" "$execs" "$units" \
      "${#artifacts[@]}: ${summary:-see log}")")
    found+=("${artifacts[@]}")
  elif [ "$rc" -ne 0 ]; then
    rows+=("$(printf '%-14s %12s %10s   %s' "$t" "$execs" "$units" "did not run (exit $rc)")")
    failed=1
  else
    rows+=("$(printf '%-14s %12s %10s   %s' "$t" "$execs" "$units" "none")")
  fi
done

echo
printf '%-14s %12s %10s   %s\n' target executions "new units" findings
for r in "${rows[@]}"; do
  echo "$r"
done
echo
echo "scratch corpora, logs and artifacts: $work"
if [ ${#found[@]} -gt 0 ]; then
  echo "findings:"
  printf '  %s\n' "${found[@]}"
  exit 1
fi
exit "$failed"

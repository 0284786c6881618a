# Shell shared by bench/run-chat.sh and bench/run-join.sh (sourced). The
# caller sets ROOT (the project root, its working directory) and defines
# say and die.

# node 20 or later: the one on PATH, else the tests' own
# (scripts/test-node.sh) and the npm next to it, e.g. on Debian 12 (18).
bench_use_node20() {
  local major test_node test_npm
  major=$(node -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0)
  [ "$major" -lt 20 ] || return 0
  test_node=$("$ROOT/scripts/test-node.sh") ||
    die "node 20 or later is needed: run scripts/install-deps.sh --test (it installs the tests' Node.js)"
  PATH=$(dirname "$test_node"):$PATH
  export PATH
  test_npm=$("$ROOT/scripts/test-node.sh" --npm)
  BENCH_NPM=$test_npm
  npm() { node "$BENCH_NPM" "$@"; }
}

# onair, Release, in bench/.build: sets ONAIR.
bench_build_onair() {
  if [ ! -f bench/.build/CMakeCache.txt ]; then
    say "configuring a Release build in bench/.build"
    cmake -S . -B bench/.build -DCMAKE_BUILD_TYPE=Release -DONAIR_TESTS=OFF >/dev/null
  fi
  cmake --build bench/.build -j"$(nproc)" --target onair >/dev/null || die "onair's build failed"
  ONAIR=$ROOT/bench/.build/onair
}

# A copy of the seed's signaling server in $2 from the anchor $1 (which
# stays untouched), its npm packages installed when its lock file changed.
bench_seed_work() {
  local src=$1 work=$2 f
  mkdir -p "$work"
  for f in server.js socket.js package.json package-lock.json; do
    cmp -s "$src/$f" "$work/$f" || cp "$src/$f" "$work/$f"
  done
  if [ ! -f "$work/node_modules/socket.io/package.json" ] ||
    ! cmp -s "$work/package-lock.json" "$work/.installed-lock"; then
    say "npm ci in ${work#"$ROOT"/}"
    (cd "$work" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed"
    cp "$work/package-lock.json" "$work/.installed-lock"
  fi
}

# The CPUs' busy and idle ticks since boot (/proc/stat).
bench_cpu_times() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }

# Sets BUSY to how busy the machine's CPUs were over one second (percent)
# and says so when it is 10 or more.
bench_busy_check() {
  local b1 i1 b2 i2
  read -r b1 i1 < <(bench_cpu_times)
  sleep 1
  read -r b2 i2 < <(bench_cpu_times)
  BUSY=$((100 * (b2 - b1) / (b2 - b1 + i2 - i1 + 1)))
  [ "$BUSY" -lt 10 ] || say "the machine is busy (${BUSY} % of its CPUs in the last second): the figures will be noisy"
}

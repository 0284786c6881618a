#!/usr/bin/env bash
# Installs what is missing, builds onair twice and runs every test in both
# builds:
#   build/       the plain build (gcc, RelWithDebInfo): unit, integration and
#                browser tests, the fuzz corpus replays under ASan+UBSan,
#                the style and docs checks;
#   build-asan/  the sanitizer build (clang-14, ASan+UBSan+LSan, asserts on):
#                the unit, integration and browser tests again but the
#                `slow` ones (tests/CMakeLists.txt), every onair they start
#                the instrumented one; a sanitizer report fails the test
#                (tests/sanitizer/run.sh).
# Arguments go to both ctest runs (scripts/test.sh -L unit). --plain or
# --asan first runs only that build. The exit code is non-zero when any
# test of either build failed.
set -euo pipefail
cd "$(dirname "$0")/.."
builds=(plain asan)
case "${1:-}" in
  --plain) builds=(plain); shift ;;
  --asan) builds=(asan); shift ;;
esac
scripts/install-deps.sh --test
# The node tests run on this Node.js (scripts/test-node.sh says why this one).
echo "Node.js for the tests: $(scripts/test-node.sh --version)"
for b in "${builds[@]}"; do
  if [ "$b" = plain ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONAIR_TESTS=ON >/dev/null
    cmake --build build -j"$(nproc)"
  else
    cmake -S . -B build-asan -DONAIR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DONAIR_TESTS=ON >/dev/null
    cmake --build build-asan -j"$(nproc)"
  fi
done
failed=()
for b in "${builds[@]}"; do
  dir=build
  [ "$b" = plain ] || dir=build-asan
  echo "==== ctest in $dir"
  (cd "$dir" && ctest --output-on-failure --timeout 900 "$@") || failed+=("$dir")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "tests failed in: ${failed[*]}" >&2
  exit 1
fi

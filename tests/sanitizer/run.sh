#!/usr/bin/env bash
# Runs one test of the sanitizer build (build-asan, -DONAIR_SANITIZE=ON) and
# fails it when any instrumented process the test started (the unit test
# itself, or every onair an integration or browser test spawns) wrote an
# AddressSanitizer, UndefinedBehaviorSanitizer or LeakSanitizer report, or
# died on an assert, even where the test itself passed: most tests never
# look at onair's exit code.
#   tests/sanitizer/run.sh REPORT_DIR command [args...]
# Reports go to files in REPORT_DIR (emptied first; one file per process,
# so a server's report never lands in the log a test parses) and are
# printed when there are any. Node, Chromium and the other programs the
# tests run are not instrumented and ignore these variables.
set -u
if [ "$#" -lt 2 ]; then
  echo "usage: $0 REPORT_DIR command [args...]" >&2
  exit 2
fi
dir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir"
mkdir -p "$dir"

# Symbolized stacks need llvm-symbolizer (Debian: llvm-14).
symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
if [ -n "$symbolizer" ]; then
  export ASAN_SYMBOLIZER_PATH=$symbolizer
fi
# log_path: reports to $dir/report.<pid> (and the program's name), not stderr.
# handle_abort: a failed assert() leaves a report with its stack too.
common="log_path=$dir/report:log_exe_name=1:handle_abort=1:print_summary=1"
export ASAN_OPTIONS="$common:detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="$common:halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"

"$@"
rc=$?

shopt -s nullglob
reports=("$dir"/report*)
if [ ${#reports[@]} -gt 0 ]; then
  for r in "${reports[@]}"; do
    echo "==== sanitizer report: $r"
    cat "$r"
  done
  echo "sanitizer: ${#reports[@]} report(s) above (test exit code $rc): failing the test" >&2
  exit 1
fi
exit $rc

#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL server (pgtemp.sh beside
# this script) and returns the command's exit code:
#
#   tests/lib/with-postgres.sh build/tests/test_db pg
#
# The command gets ONAIR_TEST_POSTGRES (the libpq conninfo of the empty
# database `onair`, whose user is a superuser: a test may create more
# databases) and ONAIR_TEST_PGDIR (the server's directory, for
# `pgtemp.sh restart`). The server is stopped and its directory removed when
# the command ends, fails, or this script gets SIGINT, SIGTERM or SIGHUP
# (the command gets SIGTERM first).
set -uo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 command [args...]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/onair-pg.XXXXXX") || exit 1
child=

cleanup() {
  "$here/pgtemp.sh" stop "$dir" >/dev/null || true
}
on_signal() {
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null
    wait "$child"
  fi
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 129' HUP
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

conninfo=$("$here/pgtemp.sh" start "$dir") || exit 1
export ONAIR_TEST_POSTGRES=$conninfo ONAIR_TEST_PGDIR=$dir
# In the background, so that a signal runs its trap now, not when the
# command ends.
"$@" <&0 &
child=$!
wait "$child"
rc=$?
child=
exit "$rc"

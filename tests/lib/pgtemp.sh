#!/usr/bin/env bash
# A throwaway PostgreSQL server for a test: its own cluster in a directory,
# listening on a unix socket in that directory only (no TCP port, so any
# number of them run side by side), with an empty database `onair`.
#
#   dir=$(mktemp -d "${TMPDIR:-/tmp}/onair-pg.XXXXXX")
#   conninfo=$(tests/lib/pgtemp.sh start "$dir")  # "host=DIR dbname=onair user=NAME"
#   tests/lib/pgtemp.sh restart "$dir"            # stop (fast) and start again
#   tests/lib/pgtemp.sh down "$dir"               # stop (fast), keeping DIR
#   tests/lib/pgtemp.sh up "$dir"                 # start again after down
#   tests/lib/pgtemp.sh stop "$dir"               # stop, then remove DIR
#
# start prints the libpq conninfo on stdout and nothing else (its progress
# and the server's log go to files in DIR; on failure they are printed on
# stderr). The server's superuser is NAME, trusted on the socket with no
# password. DIR must be new or empty, the caller's own, and short (a unix
# socket path is at most 107 bytes: DIR/.s.PGSQL.5432). stop waits until
# the server has exited, and removes only a directory start made.
#
# The binaries are the newest of Debian's /usr/lib/postgresql/*/bin
# (package postgresql, installed by scripts/install-deps.sh --test).
# PostgreSQL refuses to run as root: as root, the server runs as the
# `postgres` system user (which owns DIR then), and NAME is postgres;
# otherwise it runs as the caller, and NAME is the caller's login.
set -euo pipefail

usage() {
  echo "usage: $0 start|restart|down|up|stop DIR" >&2
  exit 2
}
[ "$#" -eq 2 ] || usage
cmd=$1
dir=$2
case "$dir" in
  /*) ;;
  *) dir=$(pwd)/$dir ;;
esac
case "$dir" in
  *\'* | *\ *) echo "$0: DIR may not hold quotes or spaces: $dir" >&2; exit 2 ;;
esac

bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
  echo "$0: no /usr/lib/postgresql/*/bin/pg_ctl: apt-get install postgresql" \
    "(scripts/install-deps.sh --test)" >&2
  exit 1
fi

# The server keeps whatever descriptors it is started with, for its life: a
# lock the caller holds (flock(1) around a test run) would be held by the
# server too. Its commands get only stdin, stdout and stderr (255 is
# bash's, the script itself).
close_fds() {
  local f fd
  for f in /proc/"$BASHPID"/fd/*; do
    fd=${f##*/}
    if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then
      eval "exec $fd>&-"
    fi
  done 2>/dev/null
}

if [ "$(id -u)" -eq 0 ]; then
  user=postgres
  as_pg() { (cd "$dir" && close_fds && runuser -u postgres -- "$@"); }
else
  user=$(id -un)
  as_pg() { (cd "$dir" && close_fds && "$@"); }
fi

# Runs pg_ctl with its chatter in DIR/pgtemp.log; on failure, prints both
# logs on stderr.
pg_ctl() {
  if ! as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/server.log" -w -t 60 "$@" \
    >>"$dir/pgtemp.log" 2>&1; then
    echo "$0: pg_ctl $* failed" >&2
    cat "$dir/pgtemp.log" "$dir/server.log" >&2 2>/dev/null || true
    return 1
  fi
}

start() {
  mkdir -p "$dir"
  if [ -n "$(ls -A "$dir")" ]; then
    echo "$0: $dir is not empty" >&2
    exit 1
  fi
  : >"$dir/.pgtemp" # stop removes only a directory that has this
  chmod 755 "$dir"
  [ "$user" = "$(id -un)" ] || chown "$user": "$dir"
  # UTF-8, C collation and messages: the same everywhere.
  if ! as_pg "$bin/initdb" -D "$dir/pg" -U "$user" --auth=trust --no-locale -E UTF8 --no-sync \
    >>"$dir/pgtemp.log" 2>&1; then
    echo "$0: initdb failed" >&2
    cat "$dir/pgtemp.log" >&2
    exit 1
  fi
  cat >>"$dir/pg/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
EOF
  pg_ctl start
  if ! as_pg "$bin/createdb" -h "$dir" -U "$user" onair >>"$dir/pgtemp.log" 2>&1; then
    echo "$0: createdb failed" >&2
    cat "$dir/pgtemp.log" >&2
    exit 1
  fi
  echo "host=$dir dbname=onair user=$user"
}

stop() {
  if [ ! -e "$dir/.pgtemp" ]; then
    echo "$0: $dir was not made by $0 start: left alone" >&2
    exit 1
  fi
  if [ -f "$dir/pg/postmaster.pid" ]; then
    pg_ctl stop -m fast || pg_ctl stop -m immediate || true
  fi
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  restart) pg_ctl restart -m fast ;;
  down) pg_ctl stop -m fast ;;
  up) pg_ctl start ;;
  stop) stop ;;
  *) usage ;;
esac

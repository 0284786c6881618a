#!/usr/bin/env bash
# Runs its arguments inside a new, empty network namespace with only loopback
# up, so WebRTC media (and anything else the browser tries) never touches the
# machine's interfaces or leaves the test.
#   tests/e2e/in-netns.sh node --test tests/e2e/onair.test.js
set -eu

if [ "$#" -eq 0 ]; then
  echo "usage: $0 command [args...]" >&2
  exit 2
fi
if ! command -v unshare >/dev/null 2>&1; then
  echo "$0: unshare (util-linux) is required" >&2
  exit 1
fi
if ! command -v ip >/dev/null 2>&1; then
  echo "$0: ip (iproute2) is required" >&2
  exit 1
fi

# Without root, a user namespace (-r) grants the rights to make the network one.
userns=
if [ "$(id -u)" -ne 0 ]; then
  userns=-r
fi

exec unshare $userns -n sh -c 'ip link set lo up && exec "$@"' sh "$@"

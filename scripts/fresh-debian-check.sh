#!/usr/bin/env bash
# Slow check: the README's test command on a fresh, minimal Debian 12.
#
# Makes a minimal Debian 12 (bookworm) root with debootstrap (--variant=minbase,
# nothing else installed), copies a clean clone of this repository's HEAD into
# it (committed work only: uncommitted changes are not included), and runs
# `scripts/test.sh` there as root, in a chroot with /proc, /sys, /dev,
# /dev/pts and /dev/shm mounted (the browser tests make network namespaces
# with `unshare -n`, which works there). Everything it mounts is unmounted on
# exit, and the root is removed unless --keep is given. Needs root, network
# access to a Debian mirror and the npm registry, and ~5 GB in FRESH_TMP.
#
#   scripts/fresh-debian-check.sh [--keep] [extra ctest arguments...]
#
# Settings (environment):
#   MIRROR=         Debian mirror for debootstrap and apt in the root
#                   (default: the one this machine's apt uses for bookworm)
#   SECURITY_MIRROR= the same for bookworm-security (default: this machine's,
#                   if it has one)
#   FRESH_TMP=/var/tmp   where the root is made (a new directory in it)
#   APT_CACHE=      a directory kept between runs for downloaded .deb files
#                   (debootstrap's and apt's); unset: everything is downloaded
#   LOG=            also copy the test command's output here
#
# Only this machine's network is passed on, not its software: its resolver
# (/etc/resolv.conf), proxy variables, and the certificate authorities a
# local administrator added in /usr/local/share/ca-certificates (a network
# that intercepts TLS needs them; npm then uses the system's bundle, which
# the ca-certificates package makes).
set -euo pipefail

say() { echo "fresh-debian-check: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mounts need it)"
repo=$(cd "$(dirname "$0")/.." && pwd)

# All mounts are made in a private mount namespace of this script, so none is
# seen by (or propagates to) the rest of the machine, and the kernel removes
# them even if this script is killed; the EXIT trap unmounts them as well.
if [ -z "${FRESH_CHECK_IN_NS:-}" ]; then
  command -v unshare >/dev/null || die "unshare (util-linux) is needed"
  FRESH_CHECK_IN_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

keep=0
if [ "${1:-}" = "--keep" ]; then keep=1; shift; fi

# ---- this machine's Debian mirror ------------------------------------------------
# Prints "URI SUITE" for every enabled deb source (one-line and deb822 files).
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i + 1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'function flush() { if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false)$/) {
                              n = split(uris, u, " "); m = split(suites, s, " ")
                              for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j] }
                            types = uris = suites = enabled = "" }
         /^#/ { next }
         /^[ \t]*$/ { flush(); next }
         { key = tolower($1); sub(/^[^:]*:[ \t]*/, "") }
         key == "types:" { types = $0 } key == "uris:" { uris = $0 }
         key == "suites:" { suites = $0 } key == "enabled:" { enabled = tolower($0) }
         END { flush() }' "$f"
  done
}
if [ -z "${MIRROR:-}" ]; then
  MIRROR=$(apt_sources | awk '$2 == "bookworm" { print $1; exit }')
  [ -n "$MIRROR" ] || die "no bookworm mirror in /etc/apt/sources.list(.d): set MIRROR"
fi
if [ -z "${SECURITY_MIRROR+set}" ]; then
  SECURITY_MIRROR=$(apt_sources | awk '$2 == "bookworm-security" { print $1; exit }')
fi
say "mirror $MIRROR${SECURITY_MIRROR:+, security $SECURITY_MIRROR}"

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# ---- the root, and leaving nothing behind ----------------------------------------
work=$(mktemp -d "${FRESH_TMP:-/var/tmp}/onair-fresh.XXXXXX")
root=$work/root
log=$work/test.log
mounted=()

mounts_under() { awk -v p="$1/" 'index($5 "/", p) == 1 { print $5 }' /proc/self/mountinfo; }
cleanup() {
  local rc=$? pid i
  set +e
  # Processes still running in the root (started by the tests inside it).
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "$pid" 2>/dev/null
  done
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"
  done
  # Anything else (e.g. left by debootstrap), deepest first.
  mounts_under "$root" | sort -r | while read -r m; do umount -l "$m"; done
  if [ -n "$(mounts_under "$root")" ]; then
    say "still mounted under $root, not removing it:"; mounts_under "$root" >&2
  elif [ "$keep" = 1 ]; then
    say "kept $root (chroot $root /bin/bash); remove $work when done"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cache_args=()
if [ -n "${APT_CACHE:-}" ]; then
  mkdir -p "$APT_CACHE/partial"
  APT_CACHE=$(cd "$APT_CACHE" && pwd)
  cache_args=(--cache-dir="$APT_CACHE")
fi

start=$(date +%s)
say "debootstrap --variant=minbase bookworm into $root"
debootstrap --variant=minbase "${cache_args[@]}" bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
  { tail -30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

# apt sources as Debian's installer writes them: the release, its updates
# and security updates.
{
  echo "deb $MIRROR bookworm main"
  echo "deb $MIRROR bookworm-updates main"
  [ -z "${SECURITY_MIRROR:-}" ] || echo "deb $SECURITY_MIRROR bookworm-security main"
} >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"
[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

env_args=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -z "${!v:-}" ] || env_args+=("$v=${!v}")
done
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  env_args+=(npm_config_cafile=/etc/ssl/certs/ca-certificates.crt)
  say "passing on this machine's local certificate authorities: $(cd /usr/local/share/ca-certificates && echo *.crt)"
fi

say "cloning $(git -C "$repo" rev-parse --short HEAD) ($(git -C "$repo" log -1 --format=%s | cut -c1-60)) into /root/onair"
git clone --quiet --no-hardlinks "$repo" "$root/root/onair"

mnt() { # mount args... target
  mount "$@"
  mounted+=("${!#}")
}
mnt -t proc proc "$root/proc"
mnt -t sysfs sysfs "$root/sys"
mnt --bind /dev "$root/dev"
mnt --bind /dev/pts "$root/dev/pts"
mnt -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
if [ -n "${APT_CACHE:-}" ]; then
  mnt --bind "$APT_CACHE" "$root/var/cache/apt/archives"
fi
say "debootstrap took $(($(date +%s) - start)) s"

# ---- the README's test command ---------------------------------------------------
say "running scripts/test.sh in the root${LOG:+ (output also in $LOG)}"
tstart=$(date +%s)
set +e
chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${env_args[@]}" \
  /bin/bash -c 'cd /root/onair && exec scripts/test.sh "$@"' test.sh "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
[ -z "${LOG:-}" ] || cp "$log" "$LOG"
say "scripts/test.sh exited $rc after $(($(date +%s) - tstart)) s (all: $(($(date +%s) - start)) s)"
grep -E '^[0-9]+% tests passed' "$log" >&2 || true
exit "$rc"

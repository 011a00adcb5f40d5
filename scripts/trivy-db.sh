#!/usr/bin/env bash
# Builds the project's fixture Trivy database (k1s0_stack/trivy/fixture-db.json -> trivy.db +
# metadata.json) into $K1S0_CACHE/trivy-db/<fixture hash>/db, the layout of Trivy's --cache-dir.
# Idempotent: keyed on the hash of the fixture and the builder's sources. Prints the cache dir.
# Usage: trivy-db.sh [FIXTURE_JSON]  (another fixture file builds a variant, e.g. for a test that
# adds an advisory after a first scan)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/env.sh"
src="$root/k1s0_stack/trivy"
fixture=$(realpath "${1:-$src/fixture-db.json}")
key=$(cat "$fixture" "$src/dbbuilder/main.go" "$src/dbbuilder/go.mod" | sha256sum | cut -c1-16)
cache_dir="$K1S0_CACHE/trivy-db/$key"
if [ ! -s "$cache_dir/db/trivy.db" ] || [ ! -s "$cache_dir/db/metadata.json" ]; then
  echo "building the fixture Trivy DB into $cache_dir" >&2
  export GOPATH="${GOPATH:-$K1S0_CACHE/gopath}" GOCACHE="${GOCACHE:-$K1S0_CACHE/gocache}"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$src/dbbuilder" && go build -trimpath -o "$tmp/dbbuilder" .)
  "$tmp/dbbuilder" -fixture "$fixture" -out "$tmp/cache/db"
  mkdir -p "$(dirname "$cache_dir")"
  rm -rf "$cache_dir"
  mv "$tmp/cache" "$cache_dir"
fi
echo "$cache_dir"

#!/usr/bin/env bash
# Fetches GitHub's official OpenAPI descriptions from the npm registry, at pinned versions, checked
# against their pinned sha512 integrity, into $K1S0_CACHE/octokit/<package>-<version>/ (once):
#   @octokit/openapi           the REST API (the local GitHub server validates every exchange)
#   @octokit/openapi-webhooks  the event payloads (the tests check the events they hand the action)
# Idempotent: a package already unpacked is skipped. Needs npm (Debian's `npm`, installed if absent).
set -euo pipefail

OPENAPI_VERSION=23.0.2
OPENAPI_INTEGRITY=sha512-pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg==
WEBHOOKS_VERSION=12.1.0
WEBHOOKS_INTEGRITY=sha512-Z5eDsLCUNbx1zHpZb1LNQirADqdMTvWJQ/deahi0ws+tWWnwHXB+Pr4jfmM9OrETS9Y5iW8ZRu1fdbudObhLrg==

cache="${K1S0_CACHE:-$HOME/.cache/k1s0-image-action}"
dest_root="$cache/octokit"
mkdir -p "$dest_root"

fetch() { # package version integrity
  local package=$1 version=$2 integrity=$3
  local dest="$dest_root/${package#@octokit/}-$version"
  [ -f "$dest/package/package.json" ] && return
  if ! command -v npm >/dev/null; then
    echo "installing Debian's npm" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  echo "fetching $package@$version (once; cached in $dest)" >&2
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null)
  local tarball=("$tmp"/*.tgz)
  local actual
  actual=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "${tarball[0]}")
  if [ "$actual" != "$integrity" ]; then
    echo "$package@$version: integrity $actual, expected $integrity" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mkdir -p "$tmp/unpacked"
  tar -xzf "${tarball[0]}" -C "$tmp/unpacked"
  rm -rf "$dest"
  mv "$tmp/unpacked" "$dest"
  rm -rf "$tmp"
}

fetch @octokit/openapi "$OPENAPI_VERSION" "$OPENAPI_INTEGRITY"
fetch @octokit/openapi-webhooks "$WEBHOOKS_VERSION" "$WEBHOOKS_INTEGRITY"

#!/usr/bin/env bash
# Builds the pinned Go tools the tests need (Trivy, cosign, Fulcio, actionlint) from the Go module
# proxy, once, into a cache outside the checkout. Idempotent: a tool whose binary exists is skipped.
# Usage: scripts/go-tools.sh [tool ...]   (default: all)
set -euo pipefail

TRIVY_VERSION=v0.74.0
COSIGN_VERSION=v3.1.3
FULCIO_VERSION=v1.8.8
ACTIONLINT_VERSION=v1.7.12

cache="${K1S0_CACHE:-$HOME/.cache/k1s0-image-action}"
bin="$cache/bin"
mkdir -p "$bin"
export GOFLAGS="${GOFLAGS:-} -trimpath"
export GOPATH="${GOPATH:-$cache/gopath}"
export GOCACHE="${GOCACHE:-$cache/gocache}"

build() { # name module version [VAR=value ...]
  local name=$1 module=$2 version=$3
  shift 3
  local dest="$bin/$name-$version"
  if [ -x "$dest" ]; then
    ln -sf "$dest" "$bin/$name"
    return
  fi
  echo "building $name $version (once; cached in $bin)" >&2
  local tmp
  tmp=$(mktemp -d)
  env "$@" GOBIN="$tmp" go install -ldflags="-s -w" "$module@$version"
  mv "$tmp/$(basename "$module")" "$dest"
  rm -rf "$tmp"
  ln -sf "$dest" "$bin/$name"
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(cosign fulcio trivy actionlint)
for tool in "${tools[@]}"; do
  case "$tool" in
    cosign) build cosign github.com/sigstore/cosign/v3/cmd/cosign "$COSIGN_VERSION" ;;
    fulcio) build fulcio github.com/sigstore/fulcio "$FULCIO_VERSION" ;;
    actionlint) build actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" ;;
    # Trivy's RPC cache uses encoding/json/v2, which Go 1.26 ships behind an experiment.
    trivy)  build trivy github.com/aquasecurity/trivy/cmd/trivy "$TRIVY_VERSION" GOEXPERIMENT=jsonv2 ;;
    *) echo "unknown tool: $tool" >&2; exit 2 ;;
  esac
done

#!/usr/bin/env bash
# Builds the pinned Go tools the tests need (Trivy, cosign, Fulcio, actionlint) from the Go module
# proxy, once, into a cache outside the checkout. Idempotent: a tool whose binary exists is skipped.
# Usage: scripts/go-tools.sh [tool ...]   (default: all)
set -euo pipefail

TRIVY_VERSION=v0.74.0
COSIGN_VERSION=v3.1.3
FULCIO_VERSION=v1.8.8
# Rekor v1 (the transparency log cosign's legacy signature format uploads to) and the Trillian
# log it stores entries in; Trillian keeps its tree in MariaDB (a Debian package, scripts/setup.sh).
REKOR_VERSION=v1.5.4
TRILLIAN_VERSION=v1.7.3
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

# Trillian's MySQL schema, which the local Rekor loads into its database (k1s0_stack/rekor.py).
trillian_schema() {
  local dest="$cache/share/trillian/storage.sql"
  [ -f "$dest" ] && return
  mkdir -p "$(dirname "$dest")"
  local dir
  dir=$(go mod download -json "github.com/google/trillian@$TRILLIAN_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cp "$dir/storage/mysql/schema/storage.sql" "$dest"
}

# Kyverno's ClusterPolicy CRD (its OpenAPI schema), which the kyverno-policy tests validate the
# rendered policy against; Kyverno's CLI itself would pull in most of Kubernetes to build.
KYVERNO_VERSION=v1.19.1
kyverno_crd() {
  local dest="$cache/share/kyverno/kyverno.io_clusterpolicies-$KYVERNO_VERSION.yaml"
  [ -f "$dest" ] && return
  mkdir -p "$(dirname "$dest")"
  local dir
  dir=$(go mod download -json "github.com/kyverno/kyverno@$KYVERNO_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cp "$dir/config/crds/kyverno/kyverno.io_clusterpolicies.yaml" "$dest"
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] ||
  tools=(cosign fulcio trivy rekor-server trillian_log_server trillian_log_signer actionlint
    kyverno-crd)
for tool in "${tools[@]}"; do
  case "$tool" in
    cosign) build cosign github.com/sigstore/cosign/v3/cmd/cosign "$COSIGN_VERSION" ;;
    fulcio) build fulcio github.com/sigstore/fulcio "$FULCIO_VERSION" ;;
    actionlint) build actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" ;;
    # Trivy's RPC cache uses encoding/json/v2, which Go 1.26 ships behind an experiment.
    trivy)  build trivy github.com/aquasecurity/trivy/cmd/trivy "$TRIVY_VERSION" GOEXPERIMENT=jsonv2 ;;
    rekor-server) build rekor-server github.com/sigstore/rekor/cmd/rekor-server "$REKOR_VERSION" ;;
    trillian_log_server | trillian_log_signer)
      build "$tool" "github.com/google/trillian/cmd/$tool" "$TRILLIAN_VERSION"
      trillian_schema ;;
    kyverno-crd) kyverno_crd ;;
    *) echo "unknown tool: $tool" >&2; exit 2 ;;
  esac
done

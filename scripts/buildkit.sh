#!/usr/bin/env bash
# Builds BuildKit (buildkitd, buildctl) and buildx at pinned versions from the Go module proxy,
# once, into $K1S0_CACHE/buildkit/bin, and installs Debian's qemu-user-static for multi-platform
# builds. Idempotent: a binary that exists is kept.
#
# The binaries are deliberately NOT on the PATH that scripts/env.sh sets: the action picks
# BuildKit when it finds buildx (input builder: auto), and the tests choose per run (K1S0_BUILDX,
# K1S0_BUILDKIT_HOST; k1s0_stack/buildkit.py).
#
# `go install module/cmd@version` is refused for these modules (their go.mod has exclude
# directives), so each module is copied out of the module cache and built inside the copy.
set -euo pipefail
. "$(dirname "$0")/env.sh"

BUILDKIT_VERSION=v0.34.2
BUILDX_VERSION=v0.38.2

dest="$K1S0_CACHE/buildkit/bin"
mkdir -p "$dest"
export GOFLAGS="${GOFLAGS:-} -trimpath -modcacherw"
export GOPATH="${GOPATH:-$K1S0_CACHE/gopath}"
export GOCACHE="${GOCACHE:-$K1S0_CACHE/gocache}"

build_in_copy() { # module version ldflags-version-var package...
  local module=$1 version=$2 var=$3
  shift 3
  local missing=()
  for package in "$@"; do
    [ -x "$dest/$(basename "$package")-$version" ] || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "building ${missing[*]} of $module $version (once; cached in $dest)" >&2
    local dir tmp
    dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    tmp=$(mktemp -d)
    cp -r "$dir" "$tmp/src"
    chmod -R u+w "$tmp/src"
    for package in "${missing[@]}"; do
      (cd "$tmp/src" && go build -ldflags="-s -w -X $var=$version" \
        -o "$dest/$(basename "$package")-$version" "$package")
    done
    rm -rf "$tmp"
  fi
  for package in "$@"; do
    ln -sf "$(basename "$package")-$version" "$dest/$(basename "$package")"
  done
}

build_in_copy github.com/moby/buildkit "$BUILDKIT_VERSION" \
  github.com/moby/buildkit/version.Version ./cmd/buildkitd ./cmd/buildctl
build_in_copy github.com/docker/buildx "$BUILDX_VERSION" \
  github.com/docker/buildx/version.Version ./cmd/buildx

# RUN steps for another architecture run under QEMU user emulation; the kernel finds it through
# binfmt_misc (registered by k1s0_stack/buildkit.py, not here: it is the machine's state).
packages=(qemu-user-static runc)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# An arm64 busybox (Debian's busybox-static, checked against its pinned sha256) for the
# multi-platform tests: their base image is built for amd64 and arm64 from it and this machine's
# busybox, and its arm64 RUN step runs under QEMU.
BUSYBOX_ARM64_URL=https://deb.debian.org/debian/pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_arm64.deb
BUSYBOX_ARM64_SHA256=732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5
busybox_arm64="$K1S0_CACHE/buildkit/arm64/busybox"
if [ ! -x "$busybox_arm64" ]; then
  tmp=$(mktemp -d)
  curl -fsSL -o "$tmp/busybox.deb" "$BUSYBOX_ARM64_URL"
  echo "$BUSYBOX_ARM64_SHA256  $tmp/busybox.deb" | sha256sum -c --quiet
  dpkg-deb -x "$tmp/busybox.deb" "$tmp/root"
  mkdir -p "$(dirname "$busybox_arm64")"
  install -m 0755 "$tmp/root/bin/busybox" "$busybox_arm64"
  rm -rf "$tmp"
fi

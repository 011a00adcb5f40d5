#!/usr/bin/env bash
# Makes the local base images the tests and the demo build FROM (nothing can be pulled here).
# Idempotent: an image that exists is kept.
set -euo pipefail
. "$(dirname "$0")/env.sh"

BUSYBOX_IMAGE=k1s0.local/busybox:1.35
# Debian bookworm with Python 3.11, debootstrapped from the mirror apt uses here.
ROOTFS_IMAGE=k1s0.local/bookworm-python-rootfs:3.11
# That plus this machine's CA bundle (package registries are reached through its egress proxy):
# stands in for the action Dockerfile's pinned python:3.11-slim-bookworm (build arg PYTHON_IMAGE)
# and, under a second tag, for act's `ubuntu-latest` job container.
PYTHON_IMAGE=k1s0.local/python:3.11-bookworm
RUNNER_IMAGE=k1s0.local/act-runner:bookworm
HOST_CA=/etc/ssl/certs/ca-certificates.crt

if ! docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs"/{bin,etc,tmp,root,home,app}
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  tar -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$BUSYBOX_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  echo "made $BUSYBOX_IMAGE" >&2
fi

# The Debian mirror apt uses on this machine (deb822 or one-line sources).
debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || { echo "no Debian mirror in apt's sources" >&2; exit 1; }
  echo "$uri"
}

if ! docker image inspect "$ROOTFS_IMAGE" >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  echo "bootstrapping Debian bookworm with Python for $ROOTFS_IMAGE (once, a few minutes)" >&2
  debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates \
    bookworm "$rootfs" "$(debian_mirror)" >"$K1S0_CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$K1S0_CACHE/debootstrap.log" >&2; exit 1; }
  # What python:*-slim also leaves out: package caches, lists, docs and man pages.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  tar -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' - "$ROOTFS_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  echo "made $ROOTFS_IMAGE" >&2
fi

# Remade (in seconds) whenever this machine's CA bundle changes.
ca_sha=$(sha256sum "$HOST_CA" | cut -d' ' -f1)
have_ca=$(docker image inspect -f '{{index .Config.Labels "k1s0.host-ca"}}' "$PYTHON_IMAGE" 2>/dev/null || true)
if [ "$have_ca" != "$ca_sha" ]; then
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  cp "$HOST_CA" "$context/ca-certificates.crt"
  printf 'FROM %s\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\nLABEL k1s0.host-ca=%s\n' \
    "$ROOTFS_IMAGE" "$ca_sha" >"$context/Dockerfile"
  docker build -q -t "$PYTHON_IMAGE" "$context" >/dev/null 2>"$context/log" || { cat "$context/log" >&2; exit 1; }
  docker tag "$PYTHON_IMAGE" "$RUNNER_IMAGE"
  rm -rf "$context"
  trap - EXIT
  echo "made $PYTHON_IMAGE and $RUNNER_IMAGE" >&2
fi

# act's job container stands in for ubuntu-latest, which has git: the release workflow commits and
# pushes the release commit (tests/action/e2e/test_release.py). Remade after the Python image changes.
python_id=$(docker image inspect -f '{{.Id}}' "$PYTHON_IMAGE")
have_git=$(docker image inspect -f '{{index .Config.Labels "k1s0.runner-git"}}' "$RUNNER_IMAGE" 2>/dev/null || true)
if [ "$have_git" != "$python_id" ]; then
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  printf 'FROM %s\nRUN apt-get update -q && apt-get install -y -q --no-install-recommends git && rm -rf /var/lib/apt/lists/*\nLABEL k1s0.runner-git=%s\n' \
    "$PYTHON_IMAGE" "$python_id" >"$context/Dockerfile"
  docker build --network host -q -t "$RUNNER_IMAGE" "$context" >/dev/null 2>"$context/log" || { cat "$context/log" >&2; exit 1; }
  rm -rf "$context"
  trap - EXIT
  echo "made $RUNNER_IMAGE (with git)" >&2
fi

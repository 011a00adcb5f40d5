#!/usr/bin/env bash
# Makes the local base images the tests and the demo build FROM (nothing can be pulled here).
# Idempotent: an image that exists is kept.
set -euo pipefail
. "$(dirname "$0")/env.sh"

BUSYBOX_IMAGE=k1s0.local/busybox:1.35

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
  echo "made $BUSYBOX_IMAGE" >&2
fi

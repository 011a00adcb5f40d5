#!/usr/bin/env bash
# Local stand-ins for rule S3's public runtime bases, tagged under their public names, so the S3
# templates' runtime stages and the conformance tests build here where nothing can be pulled
# (README, "Image rules"). Made from the local base images of scripts/base-images.sh:
#   gcr.io/distroless/cc-debian12:latest, :nonroot  FROM scratch + glibc, libgcc and CA certs from
#                                                    the local Debian bookworm: no shell, no apt
#   nginx:1.27-alpine                                 the local static busybox + Alpine's markers,
#                                                    nginx user (uid 101) and directories; there
#                                                    is no nginx binary: it builds and is checked,
#                                                    it does not serve
# Each carries the label dev.k1s0.stand-in; an image under those names without it (a real one) is
# never replaced. Idempotent: a stand-in made from the same recipe is kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/env.sh"

DEBIAN_IMAGE=k1s0.local/python:3.11-bookworm
BUSYBOX_IMAGE=k1s0.local/busybox:1.35
recipe=$(sha256sum "$0" | cut -c1-16)

# standin NAME DOCKERFILE: builds the stand-in NAME unless it is current (or a real image).
standin() {
  local name=$1 dockerfile=$2 label context
  label=$(docker image inspect -f '{{index .Config.Labels "dev.k1s0.stand-in"}}' "$name" 2>/dev/null || true)
  if docker image inspect "$name" >/dev/null 2>&1 && [ -z "$label" ]; then
    echo "keeping $name: it is not a stand-in" >&2
    return
  fi
  [ "$label" = "$recipe" ] && return
  context=$(mktemp -d)
  printf '%s\nLABEL dev.k1s0.stand-in=%s\n' "$dockerfile" "$recipe" >"$context/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --network none -t "$name" "$context" >/dev/null 2>"$context/log" ||
    { cat "$context/log" >&2; rm -rf "$context"; exit 1; }
  rm -rf "$context"
  echo "made stand-in $name" >&2
}

standin gcr.io/distroless/cc-debian12:latest "$(cat <<EOF
FROM $DEBIAN_IMAGE AS debian
RUN set -e; out=/out; lib=/lib/x86_64-linux-gnu; \\
    mkdir -p \$out\$lib \$out/lib64 \$out/etc/ssl/certs \$out/tmp \$out/home/nonroot \$out/root; \\
    for so in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 \\
              libgcc_s.so.1 libstdc++.so.6 libgomp.so.1 libssl.so.3 libcrypto.so.3 libz.so.1; do \\
      if [ -e \$lib/\$so ]; then cp -L \$lib/\$so \$out\$lib/; fi; \\
    done; \\
    ln -s \$lib/ld-linux-x86-64.so.2 \$out/lib64/ld-linux-x86-64.so.2; \\
    cp /etc/ssl/certs/ca-certificates.crt \$out/etc/ssl/certs/; \\
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >\$out/etc/passwd; \\
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >\$out/etc/group; \\
    printf 'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\nVERSION="Debian GNU/Linux 12 (bookworm)"\nHOME_URL="https://github.com/GoogleContainerTools/distroless"\n' >\$out/etc/os-release; \\
    chmod 1777 \$out/tmp; chown 65532:65532 \$out/home/nonroot
FROM scratch
COPY --from=debian /out/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
EOF
)"

standin gcr.io/distroless/cc-debian12:nonroot "$(cat <<EOF
FROM gcr.io/distroless/cc-debian12:latest
USER 65532
WORKDIR /home/nonroot
EOF
)"

standin nginx:1.27-alpine "$(cat <<EOF
FROM $BUSYBOX_IMAGE
RUN set -e; \\
    echo 3.21.3 >/etc/alpine-release; \\
    printf 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.21.3\nPRETTY_NAME="Alpine Linux v3.21"\n' >/etc/os-release; \\
    echo 'nginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin' >>/etc/passwd; \\
    echo 'nginx:x:101:nginx' >>/etc/group; \\
    mkdir -p /etc/nginx/conf.d /usr/share/nginx/html /var/cache/nginx /var/log/nginx; \\
    printf 'server {\n  listen 80;\n  root /usr/share/nginx/html;\n}\n' >/etc/nginx/conf.d/default.conf; \\
    echo '<p>nginx:1.27-alpine stand-in</p>' >/usr/share/nginx/html/index.html
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
)"

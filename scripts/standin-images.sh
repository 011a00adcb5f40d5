#!/usr/bin/env bash
# Local stand-ins for rule S3's public bases, tagged under their public names, so the S3 templates
# build here, verbatim, where nothing can be pulled (README, "Image rules"). Made from local parts
# only: the base images of scripts/base-images.sh and this machine's toolchains.
# Runtime bases:
#   gcr.io/distroless/cc-debian12:latest, :nonroot  FROM scratch + glibc, libgcc and CA certs from
#                                                    the local Debian bookworm: no shell, no apt
#   nginx:1.27-alpine                                 the local static busybox + Alpine's markers,
#                                                    nginx user (uid 101) and directories; there
#                                                    is no nginx binary: it builds and is checked,
#                                                    it does not serve
# Build bases (bookworm = the local Debian bookworm with this machine's CA bundle):
#   rust:1.82-bookworm                  bookworm + gcc, libc6-dev + THIS MACHINE's Rust toolchain
#                                       (rustc, cargo, the x86_64 std): its version, not 1.82
#   node:22-bookworm                    bookworm + this machine's node and npm (their versions)
#   ghcr.io/cirruslabs/flutter:3.24.0   bookworm + a `flutter` script that implements only
#                                       `pub get` (no-op) and `build web` (copies web/, writes a
#                                       placeholder main.dart.js): it does NOT compile Dart (no
#                                       Flutter SDK can be had from the reachable registries)
# Each carries the label dev.k1s0.stand-in=<hash of its Dockerfile and inputs>; an image under
# those names without it (a real one) is never replaced. Idempotent: a stand-in whose hash matches
# is kept (the cold run copies the Rust toolchain, ~0.5 GB; a warm run only inspects).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/env.sh"

DEBIAN_IMAGE=k1s0.local/python:3.11-bookworm
BUSYBOX_IMAGE=k1s0.local/busybox:1.35
PATH_DEFAULT=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
debian_id=$(docker image inspect -f '{{.Id}}' "$DEBIAN_IMAGE")

# standin NAME DOCKERFILE [INPUTS] [NETWORK] [FILL]: builds the stand-in NAME unless it is current
# (or a real image). INPUTS names what the Dockerfile's context carries from this machine (tool
# versions), so a new toolchain remakes it; FILL is a function that puts those files into the
# build context (its first argument); NETWORK is the build's network (none unless apt runs).
standin() {
  local name=$1 dockerfile=$2 inputs=${3:-} network=${4:-none} fill=${5:-} label context hash old
  hash=$(printf '%s\n%s\n' "$dockerfile" "$inputs" | sha256sum | cut -c1-16)
  label=$(docker image inspect -f '{{index .Config.Labels "dev.k1s0.stand-in"}}' "$name" 2>/dev/null || true)
  if docker image inspect "$name" >/dev/null 2>&1 && [ -z "$label" ]; then
    echo "keeping $name: it is not a stand-in" >&2
    return
  fi
  [ "$label" = "$hash" ] && return
  old=$(docker image inspect -f '{{.Id}}' "$name" 2>/dev/null || true)
  context=$(mktemp -d)
  [ -z "$fill" ] || "$fill" "$context"
  printf '%s\nLABEL dev.k1s0.stand-in=%s\n' "$dockerfile" "$hash" >"$context/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --rm --force-rm --network "$network" -t "$name" "$context" \
    >/dev/null 2>"$context/log" ||
    { tail -20 "$context/log" >&2; rm -rf "$context"; exit 1; }
  rm -rf "$context"
  # The stand-in it replaced goes once untagged (the engine is vfs); kept while something uses it.
  if [ -n "$old" ] && [ "$(docker image inspect -f '{{len .RepoTags}}' "$old" 2>/dev/null)" = 0 ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
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
)" "$debian_id"

standin gcr.io/distroless/cc-debian12:nonroot "$(cat <<EOF
FROM gcr.io/distroless/cc-debian12:latest
USER 65532
WORKDIR /home/nonroot
EOF
)" "$(docker image inspect -f '{{.Id}}' gcr.io/distroless/cc-debian12:latest)"

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

# -- build bases ---------------------------------------------------------------------------------

# Only what compiling needs from the machine's toolchain: rustc, cargo, rustc's shared libraries
# and the x86_64 target (std and the self-contained linker); not docs, sources, clippy or rustfmt.
# The engine is vfs (every layer is a full copy), so every megabyte counts several times.
# rustup's default place, for a shell whose PATH was not set up by rustup's profile (CI).
if ! command -v rustc >/dev/null && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/rustc" ]; then
  PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
command -v rustc >/dev/null && command -v cargo >/dev/null ||
  { echo "standin-images: no Rust toolchain on this machine (rustc and cargo on PATH); install it with rustup, the rust:1.82-bookworm stand-in is made from it" >&2; exit 1; }
rust_sysroot=$(rustc --print sysroot)
rust_toolchain=$(basename "$rust_sysroot")
rust_version=$(rustc -V | cut -d' ' -f2)
rust_fill() {
  local to=$1/toolchain from=$rust_sysroot
  mkdir -p "$to/bin" "$to/lib/rustlib"
  cp -a "$from/bin/cargo" "$from/bin/rustc" "$to/bin/"
  cp -a "$from"/lib/*.so* "$to/lib/"
  cp -a "$from/lib/rustlib/x86_64-unknown-linux-gnu" "$to/lib/rustlib/"
}
standin rust:1.82-bookworm "$(cat <<EOF
FROM $DEBIAN_IMAGE
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:$PATH_DEFAULT RUST_VERSION=$rust_version
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      gcc libc6-dev >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* \\
 && mkdir -p /usr/local/cargo/bin \\
 && ln -s /usr/local/rustup/toolchains/$rust_toolchain/bin/cargo /usr/local/cargo/bin/cargo \\
 && ln -s /usr/local/rustup/toolchains/$rust_toolchain/bin/rustc /usr/local/cargo/bin/rustc
COPY toolchain /usr/local/rustup/toolchains/$rust_toolchain
EOF
)" "$debian_id $(rustc -vV | tr '\n' ' ') $(cargo -V)" host rust_fill

# node and npm as the machine has them (a self-contained node binary; npm is JavaScript), laid out
# as one tree so that one COPY step brings them (each step copies the whole file system on vfs).
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "standin-images: no node and npm on this machine (on PATH); install them, the node:22-bookworm stand-in is made from them" >&2; exit 1; }
node_bin=$(realpath "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(realpath "$(command -v npm)")")")
node_fill() {
  local to=$1/root/usr/local
  mkdir -p "$to/bin" "$to/lib/node_modules"
  cp -a "$node_bin" "$to/bin/node"
  cp -a "$npm_dir" "$to/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$to/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$to/bin/npx"
}
standin node:22-bookworm "$(cat <<EOF
FROM $DEBIAN_IMAGE
COPY root/ /
# The npm registry is reached through this machine's TLS egress, whose CA is in the bundle.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt NODE_VERSION=$(node --version | tr -d v)
CMD ["node"]
EOF
)" "$debian_id $(node --version) $(npm --version)" none node_fill

FLUTTER_SCRIPT=$(cat <<'EOF'
#!/bin/sh
# k1s0 stand-in for ghcr.io/cirruslabs/flutter:3.24.0 (scripts/standin-images.sh): NOT Flutter.
# It implements only what the S3 template runs, and does not compile Dart:
#   flutter pub get     checks pubspec.yaml; fetches nothing
#   flutter build web   build/web = web/ (base href /) + flutter_bootstrap.js + a placeholder
#                       main.dart.js
set -eu
fail() { echo "flutter (k1s0 stand-in, does not compile Dart): $*" >&2; exit 1; }
[ -f pubspec.yaml ] || [ "${1:-}" = --version ] || fail "no pubspec.yaml in $(pwd)"
case "${1:-} ${2:-}" in
  "--version "*) echo "Flutter 3.24.0 (k1s0 stand-in: does not compile Dart)" ;;
  "pub get") echo "pub get: nothing fetched (stand-in)" ;;
  "build web")
    [ -d web ] || fail "no web/ directory"
    [ -f lib/main.dart ] || fail "no lib/main.dart"
    rm -rf build/web && mkdir -p build/web && cp -R web/. build/web/
    sed -i 's|\$FLUTTER_BASE_HREF|/|' build/web/index.html
    printf '%s\n' "// k1s0 stand-in: lib/main.dart was not compiled (no Flutter SDK here)." \
      'document.body.append("flutter stand-in build");' >build/web/main.dart.js
    printf '%s\n' '(function () { const s = document.createElement("script");' \
      's.src = "main.dart.js"; document.body.append(s); })();' >build/web/flutter_bootstrap.js
    echo "built build/web (stand-in: Dart not compiled)" ;;
  *) fail "only 'flutter pub get' and 'flutter build web' are implemented" ;;
esac
EOF
)
flutter_fill() {
  printf '%s\n' "$FLUTTER_SCRIPT" >"$1/flutter"
  chmod 755 "$1/flutter"
}
standin ghcr.io/cirruslabs/flutter:3.24.0 "$(cat <<EOF
FROM $DEBIAN_IMAGE
COPY flutter /sdks/flutter/bin/flutter
ENV FLUTTER_HOME=/sdks/flutter FLUTTER_VERSION=3.24.0 PATH=/sdks/flutter/bin:$PATH_DEFAULT
LABEL dev.k1s0.stand-in.note="not Flutter: implements only 'pub get' and 'build web', does not compile Dart"
EOF
)" "$debian_id $FLUTTER_SCRIPT" none flutter_fill

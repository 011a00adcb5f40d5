# The k1s0-image action's container. On `main`, action.yml builds this file on every job that uses
# the action; a release (.github/workflows/release.yml) builds it once, with the action itself, and
# pins the pushed digest in the release's action.yml. The build arguments exist so the tests can
# build this same file from local parts (README.md, "The action image"); their defaults are what
# GitHub builds. Only the classic builder's syntax is used: act and docker-py build without BuildKit.

# Renovate/Dependabot keep this digest current (OCI index of python:3.11-slim-bookworm).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# One build stage, ordered from what changes least to what changes most, so a commit to the action
# reuses the dependency, cosign and buildx layers.
FROM ${PYTHON_IMAGE} AS build
# Python dependencies: exact versions, every wheel checked against requirements.lock's hashes.
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --no-compile \
      --require-hashes --no-deps --only-binary=:all: \
      --target /opt/k1s0/site -r /tmp/requirements.lock
# cosign: a pinned release, installed only if it matches its published sha256.
ARG COSIGN_URL=https://github.com/sigstore/cosign/releases/download/v3.1.3/cosign-linux-amd64
ARG COSIGN_SHA256=4629c757b7618056f8ddd7e2625ae9fdd94c0372a65049520bc7d9df9efc7f71
COPY scripts/fetch-checked.py scripts/slim-runtime.py /tmp/
RUN python3 /tmp/fetch-checked.py "$COSIGN_URL" "$COSIGN_SHA256" /opt/k1s0/bin/cosign
# buildx: BuildKit's client, so `builder: auto` builds with BuildKit (k1s0_action.builder finds it
# on PATH). It runs standalone, talking to the engine's API itself; the action never runs the
# docker CLI, so the image has none. v0.37.1 is the newest release whose checksum we could take
# from a pinned, trustworthy source: docker-library/repo-info, repos/docker/remote/29-*.md, the
# official `docker:29.8.1` image's own Dockerfile of 17 Sep 2026 (docker-library/docker's
# versions.sh copies it from the release's checksums.txt). scripts/buildkit.sh builds v0.38.2 for
# the tests, which pass it here as a file:// URL with its own sha256.
ARG BUILDX_URL=https://github.com/docker/buildx/releases/download/v0.37.1/buildx-v0.37.1.linux-amd64
ARG BUILDX_SHA256=9447199cdb435f25880548343c128a4b6650e8891ee598905d8d29d39a8e359b
RUN python3 /tmp/fetch-checked.py "$BUILDX_URL" "$BUILDX_SHA256" /opt/k1s0/bin/buildx
COPY entrypoint.py /opt/k1s0/app/entrypoint.py
COPY k1s0_action /opt/k1s0/app/k1s0_action
# The runtime tree: the interpreter with the libraries it loads, the standard library without
# ensurepip/idle/tkinter/..., no pip or setuptools, byte code only for the modules the action
# imports, and the Debian package records of what was copied (for the scan gate).
RUN python3 /tmp/slim-runtime.py /opt/k1s0 /runtime

FROM scratch
LABEL org.opencontainers.image.title="k1s0-image-action" \
      org.opencontainers.image.description="Dockerfile to a scanned, signed, correctly tagged image in Harbor"
COPY --from=build /runtime /
ENV PYTHONPATH=/opt/k1s0/app:/opt/k1s0/site \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8 \
    PATH=/opt/k1s0/bin:/opt/k1s0/site/bin:/usr/local/bin:/usr/bin:/bin
# No USER: GitHub runs container actions as root so they can write the mounted workspace and
# /github/file_commands; nothing in the image needs root besides that.
ENTRYPOINT ["/opt/k1s0/bin/python3", "/opt/k1s0/app/entrypoint.py"]

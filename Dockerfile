# The k1s0-image action's container. GitHub builds this file on every job that uses the action
# (action.yml: runs.image), so it is multi-stage and copies only runtime files into the last stage.
# The build arguments exist so the tests can build this same file from local parts (README.md,
# "How the end-to-end tests differ from GitHub"); their defaults are what GitHub builds.
# Only the classic builder's syntax is used: act and docker-py build without BuildKit.

# Renovate/Dependabot keep this digest current (OCI index of python:3.11-slim-bookworm).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# One build stage, ordered from what changes least to what changes most, so a commit to the action
# reuses the dependency and cosign layers; the last stage takes a single COPY of /opt/k1s0.
FROM ${PYTHON_IMAGE} AS build
# Python dependencies: exact versions, every wheel checked against requirements.lock's hashes.
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --no-compile \
      --require-hashes --no-deps --only-binary=:all: \
      --target /opt/k1s0/site -r /tmp/requirements.lock \
 && python3 -m compileall -q /opt/k1s0/site
# cosign: a pinned release, installed only if it matches its published sha256.
ARG COSIGN_URL=https://github.com/sigstore/cosign/releases/download/v3.1.3/cosign-linux-amd64
ARG COSIGN_SHA256=4629c757b7618056f8ddd7e2625ae9fdd94c0372a65049520bc7d9df9efc7f71
COPY scripts/fetch-checked.py /tmp/fetch-checked.py
RUN python3 /tmp/fetch-checked.py "$COSIGN_URL" "$COSIGN_SHA256" /opt/k1s0/bin/cosign
# The action's own code, byte-compiled so the container starts without compiling.
COPY entrypoint.py /opt/k1s0/app/entrypoint.py
COPY k1s0_action /opt/k1s0/app/k1s0_action
RUN python3 -m compileall -q /opt/k1s0/app

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="k1s0-image-action" \
      org.opencontainers.image.description="Dockerfile to a scanned, signed, correctly tagged image in Harbor"
ENV PYTHONPATH=/opt/k1s0/app:/opt/k1s0/site \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/k1s0/bin:$PATH
COPY --from=build /opt/k1s0 /opt/k1s0
# No USER: GitHub runs container actions as root so they can write the mounted workspace and
# /github/file_commands; nothing in the image needs root besides that.
ENTRYPOINT ["python3", "/opt/k1s0/app/entrypoint.py"]

#!/usr/bin/env bash
# Installs and starts everything the tests and the demo need. Idempotent; slow only the first time
# (Debian packages, the Python environment and the Go tools are cached in $K1S0_CACHE).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/env.sh"
mkdir -p "$K1S0_CACHE"

# mariadb-server: the database under the local Rekor's Trillian log (k1s0_stack/rekor.py).
packages=(docker.io docker-registry busybox-static apache2-utils debootstrap mariadb-server)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Python environment is rebuilt only when pyproject.toml changes.
stamp="$K1S0_VENV/.pyproject.sha256"
want=$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)
if [ ! -x "$K1S0_VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "creating the Python environment in $K1S0_VENV" >&2
  rm -rf "$K1S0_VENV"
  python3 -m venv "$K1S0_VENV"
  "$K1S0_VENV/bin/pip" install -q --upgrade pip "setuptools>=68"
  (cd "$root" && "$K1S0_VENV/bin/pip" install -q -e '.[dev]')
  echo "$want" >"$stamp"
fi
# Point the environment at this checkout (CI clones afresh into another folder).
(cd "$root" && "$K1S0_VENV/bin/pip" install -q --no-deps --no-build-isolation -e .)

"$root/scripts/go-tools.sh"
"$root/scripts/buildkit.sh"
"$root/scripts/octokit-specs.sh"
"$root/scripts/trivy-db.sh" >/dev/null
"$root/scripts/dockerd.sh" start
"$root/scripts/base-images.sh"
"$root/scripts/standin-images.sh"

#!/usr/bin/env bash
# The test command: sets everything up, then lint, type-check and the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
. scripts/env.sh
trap 'scripts/dockerd.sh stop' EXIT

ruff check .
ruff format --check .
mypy
pytest "$@"

#!/usr/bin/env bash
# The demo: sets the machine up, then runs the action on examples/sample-service against the
# embedded local stack. Extra arguments go to `python -m k1s0_stack.demo` (--version, --ref).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
. "$root/scripts/env.sh"
trap '"$root/scripts/dockerd.sh" stop' EXIT
cd "$root"
python -m k1s0_stack.demo "$@"

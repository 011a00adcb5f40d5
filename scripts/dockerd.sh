#!/usr/bin/env bash
# Starts (or stops) a Docker engine that works on these machines: vfs storage, no iptables, no
# default bridge. `start` does nothing when an engine already answers; `stop` only stops the one
# this script started.
set -euo pipefail
. "$(dirname "$0")/env.sh"
pidfile="$K1S0_CACHE/dockerd.pid"
mkdir -p "$K1S0_CACHE"

case "${1:-start}" in
  start)
    if docker info >/dev/null 2>&1; then exit 0; fi
    echo "starting dockerd (log: $K1S0_CACHE/dockerd.log)" >&2
    nohup dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
      --pidfile "$K1S0_CACHE/dockerd.daemon.pid" >"$K1S0_CACHE/dockerd.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 120); do
      docker info >/dev/null 2>&1 && exit 0
      sleep 0.5
    done
    echo "dockerd did not start; see $K1S0_CACHE/dockerd.log" >&2
    tail -20 "$K1S0_CACHE/dockerd.log" >&2
    exit 1
    ;;
  stop)
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$pidfile"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

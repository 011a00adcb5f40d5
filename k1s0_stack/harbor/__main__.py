"""`python -m k1s0_stack.harbor [--data-dir DIR] [--port N] [--validate]`: runs the local Harbor
until Ctrl-C or SIGTERM. Without --data-dir it starts fresh in a new temporary directory; with one,
the state there (projects, robots, artifacts, reports) is kept across restarts. Set
K1S0_TRIVY_DB=online to scan with Trivy's normal database (needs network)."""

from __future__ import annotations

import argparse
import signal
import tempfile
import threading
from pathlib import Path

from k1s0_stack.harbor.server import LocalHarbor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k1s0_stack.harbor", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="state directory (default: a fresh temporary one)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--validate", action="store_true", help="check every API exchange against the spec")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="k1s0-harbor-"))
    harbor = LocalHarbor(data_dir, validate=args.validate, port=args.port).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"Harbor API:  {harbor.api}", flush=True)
    print(f"Registry:    {harbor.registry_host}  (docker login {harbor.registry_host})", flush=True)
    print(f"Admin:       {harbor.admin[0]} / {harbor.admin[1]}", flush=True)
    print(f"Data dir:    {data_dir}", flush=True)
    stop.wait()
    harbor.stop()
    if args.validate:
        for problem in harbor.contract_violations():
            print(f"contract violation: {problem}", flush=True)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

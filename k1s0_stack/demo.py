"""The README's demo: start the local stack, run the action on examples/sample-service, stop.

`python -m k1s0_stack.demo` (scripts/demo.sh sets the machine up first). It runs the action the
way a runner does, then prints the step's outputs and job summary.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from k1s0_stack.registry import Registry
from k1s0_stack.runner import run_action

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-service"
DEMO_SHA = "de300c0ffee0123456789abcdef0123456789abc"


def run_demo(version: str, ref: str) -> int:
    with tempfile.TemporaryDirectory(prefix="k1s0-demo-") as scratch:
        work = Path(scratch)
        robot, secret = "robot$k1s0-system+demo", secrets.token_hex(16)
        registry = Registry(data_dir=work / "registry", users={robot: secret}).start()
        try:
            workspace = work / "workspace"
            shutil.copytree(SAMPLE, workspace / "sample-service")
            print(f"== local registry at {registry.url}; running the action ==", flush=True)
            run = run_action(
                workspace,
                {
                    "service": "sample-service",
                    "layer": "system",
                    "version": version,
                    "context": "sample-service",
                    "registry": registry.host,
                    "harbor-username": robot,
                    "harbor-password": secret,
                },
                repository="k1s0-org/demo",
                ref=ref,
                sha=DEMO_SHA,
                capture=False,
            )
            print("\n== outputs ==")
            for name, value in run.outputs.items():
                print(f"{name}: {value}")
            print("\n== job summary ==")
            print(run.summary)
            return run.returncode
        finally:
            registry.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k1s0_stack.demo", description=__doc__)
    parser.add_argument("--version", default="1.0.0", help="the release version (default 1.0.0)")
    parser.add_argument("--ref", default="refs/heads/main", help="the git ref being built")
    args = parser.parse_args(argv)
    return run_demo(args.version, args.ref)


if __name__ == "__main__":
    sys.exit(main())

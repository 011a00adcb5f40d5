"""The README's demo: start the local stack, run the action on examples/sample-service, stop.

`python -m k1s0_stack.demo` (scripts/demo.sh sets the machine up first). The stack is the
Harbor-compatible server (real registry and real Trivy behind it), the GitHub-like OIDC token
service, real Fulcio and real Rekor. The action runs the way a runner runs it — build, push, scan
gate, keyless signing with the transparency log, promotion — and the demo prints the step's
outputs, its job summary, and the result of the `cosign verify` command deploy pipelines run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.runner import run_action
from k1s0_stack.sigstore import LocalSigstore, start_sigstore

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-service"
DEMO_SHA = "de300c0ffee0123456789abcdef0123456789abc"
REPOSITORY = "k1s0-org/demo"


def run_demo(version: str, ref: str) -> int:
    with tempfile.TemporaryDirectory(prefix="k1s0-demo-") as scratch:
        work = Path(scratch)
        harbor = LocalHarbor(data_dir=work / "harbor").start()
        sigstore: LocalSigstore | None = None
        try:
            sigstore = start_sigstore(work / "sigstore", with_rekor=True)
            harbor.create_project("k1s0-system", auto_scan=True)
            robot = harbor.create_robot("k1s0-system", "demo")
            workspace = work / "workspace"
            shutil.copytree(SAMPLE, workspace / "sample-service")
            print(
                f"== local Harbor at {harbor.url}, Fulcio at {sigstore.fulcio_url}, "
                f"Rekor at {sigstore.rekor_url}; running the action ==",
                flush=True,
            )
            token_env = sigstore.issue_env(workflow_claims(REPOSITORY, ref=ref, sha=DEMO_SHA))
            run = run_action(
                workspace,
                {
                    "service": "sample-service",
                    "layer": "system",
                    "version": version,
                    "context": "sample-service",
                    "registry": harbor.registry_host,
                    "harbor-url": harbor.url,
                    "harbor-username": robot.name,
                    "harbor-password": robot.secret,
                    "fulcio-url": sigstore.fulcio_url,
                    "rekor-url": sigstore.rekor_url,
                    "trusted-root": str(sigstore.trusted_root_path),
                    "certificate-oidc-issuer": sigstore.oidc_url,
                },
                repository=REPOSITORY,
                ref=ref,
                sha=DEMO_SHA,
                env={**token_env, "COSIGN": tool("cosign")},
                capture=False,
            )
            print("\n== outputs ==")
            for name, value in run.outputs.items():
                print(f"{name}: {value}")
            print("\n== job summary ==")
            print(run.summary)
            if run.returncode == 0 and run.outputs.get("verify-command"):
                return verify_as_a_deploy_pipeline(
                    run.outputs["verify-command"], robot.name, robot.secret, work
                )
            return run.returncode
        finally:
            if sigstore:
                sigstore.stop()
            harbor.stop()


def verify_as_a_deploy_pipeline(command: str, username: str, secret: str, work: Path) -> int:
    """Runs the action's `verify-command` output with real cosign, as a deploy pipeline would."""
    config = work / "deploy-docker-config"
    config.mkdir()
    login = [tool("cosign"), "login", "--username", username, "--password-stdin"]
    argv = shlex.split(command)
    argv[0] = tool("cosign")
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    registry = argv[-1].split("/", 1)[0]
    subprocess.run(
        [*login, registry], input=secret, text=True, env=env, check=True, capture_output=True
    )
    print("== deploy pipeline: " + command + " ==", flush=True)
    # cosign prints the verified payloads as JSON on stdout; its checks go to stderr.
    verified = subprocess.run(argv, env=env, check=False, stdout=subprocess.DEVNULL)
    print("== verified ==" if verified.returncode == 0 else "== NOT verified ==", flush=True)
    return verified.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k1s0_stack.demo", description=__doc__)
    parser.add_argument("--version", default="1.0.0", help="the release version (default 1.0.0)")
    parser.add_argument("--ref", default="refs/heads/main", help="the git ref being built")
    args = parser.parse_args(argv)
    return run_demo(args.version, args.ref)


if __name__ == "__main__":
    sys.exit(main())

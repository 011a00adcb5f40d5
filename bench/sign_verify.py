"""Time of one keyless sign + verify against the local stack (OIDC service, real Fulcio, registry).

Usage: PYTHONPATH=$PWD python bench/sign_verify.py [rounds] [--tlog]
With --tlog the stack includes the real Rekor (Trillian on MariaDB) and signatures are logged.
Prints the wall time of each `sign_and_verify` (token request, cosign sign, cosign verify) and of
the stack's start-up; the image is pushed once, each round signs it again.
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker

from k1s0_action import engine
from k1s0_action.context import GitContext
from k1s0_action.gha import Actions
from k1s0_action.inputs import signing_stage as stage
from k1s0_action.signing import sign_and_verify
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.registry import Registry
from k1s0_stack.sigstore import start_sigstore

USER, SECRET = "robot$bench", "bench-secret-0123456789"
BASE = "k1s0.local/busybox:1.35"


def main(rounds: int, tlog: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="k1s0-bench-sign-") as scratch:
        root = Path(scratch)
        started = time.monotonic()
        registry = Registry(root / "registry", {USER: SECRET}).start()
        sigstore = start_sigstore(root / "sigstore", with_rekor=tlog)
        parts = "registry + OIDC + Fulcio" + (" + MariaDB/Trillian/Rekor" if tlog else "")
        print(f"stack start ({parts}): {time.monotonic() - started:.2f}s")
        try:
            client = docker.APIClient(version="auto")
            image = f"{registry.host}/k1s0bench-service/bench"
            client.tag(BASE, image, "bench")
            creds = engine.Credentials(registry.host, USER, SECRET)
            ref = f"{image}@{engine.push(client, image, 'bench', creds, lambda _l: None)}"
            context = GitContext("push", "refs/heads/main", "0" * 40, "", "main", "k1s0-org/k1s0")
            times = []
            for _ in range(rounds):
                env = {
                    "INPUT_SERVICE": "bench",
                    "INPUT_LAYER": "service",
                    "INPUT_REGISTRY": registry.host,
                    "INPUT_HARBOR-USERNAME": USER,
                    "INPUT_HARBOR-PASSWORD": SECRET,
                    "INPUT_FULCIO-URL": sigstore.fulcio_url,
                    "INPUT_TRUSTED-ROOT": str(sigstore.trusted_root_path),
                    "INPUT_REKOR-URL": sigstore.rekor_url,
                    "INPUT_TLOG-UPLOAD": "true" if tlog else "false",
                    "INPUT_CERTIFICATE-OIDC-ISSUER": sigstore.oidc_url,
                    "COSIGN": tool("cosign"),
                    "HOME": scratch,
                    **sigstore.issue_env(workflow_claims()),
                }
                begin = time.monotonic()
                sign_and_verify(ref, *stage(env), context, Actions(env, io.StringIO()), env)
                times.append(time.monotonic() - begin)
            print("sign+verify: " + ", ".join(f"{t:.2f}s" for t in times))
            print(f"median {statistics.median(times):.2f}s over {rounds} rounds")
            client.remove_image(f"{image}:bench")
        finally:
            sigstore.stop()
            registry.stop()


if __name__ == "__main__":
    numbers = [arg for arg in sys.argv[1:] if arg.isdigit()]
    main(int(numbers[0]) if numbers else 5, "--tlog" in sys.argv[1:])

"""Benchmark: the whole run (build -> push -> scan gate -> sign -> promote) against the glue script
it replaces, side by side in one run, on the same tiny image and local stack.

Run on purpose (not a test), with the Docker engine up and scripts/buildkit.sh done:

    . scripts/env.sh && PYTHONPATH=$PWD nice -n 15 python bench/end_to_end.py [--rounds 5]

Stack: LocalHarbor (scan on push, real Trivy), the GitHub-like OIDC service and real Fulcio (no
transparency log), one buildkitd that lives for the whole run (as the Docker engine does).
Image: `examples/sample-service` FROM the local busybox pushed to that Harbor; every round is a
new commit (its src/VERSION changes) with a new version, so each run builds its source stage and
pushes a new digest, and the dependency stage is cached by both builders' engines.
Contestants, in rotating order each round:
  glue          bench/glue.sh: `docker build` (classic builder), `docker push`, a 5 s scan poll,
                `cosign sign`, `docker push` of the release tags
  action        the action as a runner starts it (python entrypoint.py), BuildKit backend with
                `cache: harbor` (builder: buildkit)
  action-classic the action with builder: classic (its builder before issue 16)
Prints each wall time, then the medians and each one's ratio to the glue script.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import docker

from k1s0_action import engine
from k1s0_stack.buildkit import LocalBuildKit
from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.oidc import workflow_claims
from k1s0_stack.process import tool
from k1s0_stack.runner import run_action
from k1s0_stack.sigstore import start_sigstore

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-service"
BUSYBOX = "k1s0.local/busybox:1.35"
PREFIX = "k1s0bench"
PROJECT = f"{PREFIX}-service"
REPOSITORY = "k1s0-org/k1s0"
SHA = "89abcdef0123456789abcdef0123456789abcdef"


def app(root: Path, name: str, round_number: int) -> Path:
    workspace = root / f"{name}-{round_number}"
    shutil.copytree(SAMPLE, workspace / "app")
    (workspace / "app" / "src" / "VERSION").write_text(f"1.0.{round_number}-{time.time_ns()}\n")
    return workspace


def run_glue(
    workspace: Path, harbor: LocalHarbor, robot: tuple[str, str], env: dict[str, str], r: int
) -> float:
    service = "tiny-glue"
    image = f"{harbor.registry_host}/{PROJECT}/{service}"
    glue_env = {
        **os.environ,
        **env,
        "REGISTRY": harbor.registry_host,
        "IMAGE": image,
        "PUSH_TAG": f"1.0.{r}-{SHA[:7]}",
        "RELEASE_TAGS": f"1.0.{r} latest",
        "CONTEXT": str(workspace / "app"),
        "BUILD_ARGS": f"BASE_IMAGE={harbor.registry_host}/{PROJECT}/busybox:1.35",
        "HARBOR_API": harbor.api,
        "PROJECT": PROJECT,
        "REPOSITORY": service,
        "HARBOR_USERNAME": robot[0],
        "HARBOR_PASSWORD": robot[1],
        "DOCKER_CONFIG": str(workspace / ".docker"),
    }
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(ROOT / "bench" / "glue.sh")],
        env=glue_env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"glue failed: {done.stderr[-2000:]}")
    return elapsed


def run_the_action(
    workspace: Path,
    harbor: LocalHarbor,
    robot: tuple[str, str],
    env: dict[str, str],
    r: int,
    backend: str,
) -> float:
    service = "tiny" if backend == "buildkit" else "tiny-classic"
    inputs = {
        "service": service,
        "layer": "service",
        "version": f"1.0.{r}",
        "project-prefix": PREFIX,
        "registry": harbor.registry_host,
        "harbor-url": harbor.url,
        "context": "app",
        "build-args": f"BASE_IMAGE={harbor.registry_host}/{PROJECT}/busybox:1.35",
        "harbor-username": robot[0],
        "harbor-password": robot[1],
        "builder": backend,
        "tlog-upload": "false",
    }
    started = time.monotonic()
    result = run_action(workspace, inputs, sha=SHA, env=env)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"action failed: {result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    client = docker.APIClient(version="auto")
    with tempfile.TemporaryDirectory(prefix="k1s0-bench-e2e-") as scratch:
        root = Path(scratch)
        sigstore = start_sigstore(root / "sigstore")
        harbor = LocalHarbor(root / "harbor").start()
        buildkit = LocalBuildKit(root / "buildkit", (harbor.registry_host,)).start()
        try:
            harbor.create_project(PROJECT, auto_scan=True)
            made = harbor.create_robot(PROJECT, "ci")
            robot = (made.name, made.secret)
            base = f"{harbor.registry_host}/{PROJECT}/busybox"
            client.tag(BUSYBOX, base, "1.35")
            engine.push(
                client,
                base,
                "1.35",
                engine.Credentials(harbor.registry_host, *harbor.admin),
                lambda _: None,
            )
            claims = workflow_claims(REPOSITORY, sha=SHA)
            common = {
                **sigstore.issue_env(claims),
                "COSIGN": tool("cosign"),
                "FULCIO_URL": sigstore.fulcio_url,
                "TRUSTED_ROOT": str(sigstore.trusted_root_path),
            }
            action_env = {
                **sigstore.issue_env(claims),
                "COSIGN": tool("cosign"),
                **buildkit.env(),
                "INPUT_FULCIO-URL": sigstore.fulcio_url,
                "INPUT_TRUSTED-ROOT": str(sigstore.trusted_root_path),
                "INPUT_CERTIFICATE-OIDC-ISSUER": sigstore.oidc_url,
            }
            names = ["glue", "action", "action-classic"]
            times: dict[str, list[float]] = {name: [] for name in names}
            for r in range(1, args.rounds + 1):
                order = names[r % 3 :] + names[: r % 3]
                for name in order:
                    workspace = app(root, name, r)
                    if name == "glue":
                        elapsed = run_glue(workspace, harbor, robot, common, r)
                    else:
                        backend = "buildkit" if name == "action" else "classic"
                        elapsed = run_the_action(workspace, harbor, robot, action_env, r, backend)
                    times[name].append(elapsed)
                    print(f"round {r} {name:15} {elapsed:6.2f}s", flush=True)
            glue = statistics.median(times["glue"])
            print()
            print("| run | median | min | max | ratio to glue (medians) |")
            print("|---|---:|---:|---:|---:|")
            for name in names:
                median = statistics.median(times[name])
                print(
                    f"| {name} | {median:.2f} s | {min(times[name]):.2f} s "
                    f"| {max(times[name]):.2f} s | {median / glue:.2f} |"
                )
            print(f"({args.rounds} rounds)")
        finally:
            buildkit.stop()
            harbor.stop()
            sigstore.stop()


if __name__ == "__main__":
    main()

"""The action image, prebuilt against built on every job, in one run.

Usage: PYTHONPATH=$PWD python bench/action_image.py [runs] [--baseline REF]

What a job pays before the action's first log line:
* building (action.yml `image: Dockerfile`, what `main` does): a cold build of the Dockerfile (no
  layer cache, the base image present, as after a runner's pull of it), then `docker run`;
* prebuilt (a release's `image: docker://...@sha256:...`): a cold pull of the image from a real
  registry on loopback (nothing of it present locally), then `docker run`.

Both builds use the local parts the tests use (k1s0_stack.action_image: the local Python base with
the locked wheels and cosign in it, so nothing is downloaded; on GitHub pip and the cosign download
add to the build). `--baseline REF` (default `main`) also builds the Dockerfile of that git ref the
way the tests built it then (the local Python base as build and runtime base, pip from PyPI, cosign
served on loopback), for the size and start-up it had. Start-up runs the image with inputs that
stop at the first check, so the first line comes from the action itself; the same image's
interpreter printing an empty line (`-c print()`) is the container's and Python's own share.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import re
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import docker

from k1s0_stack.action_image import LOCAL_PYTHON_IMAGE, build_action_image, context_files
from k1s0_stack.process import tool
from k1s0_stack.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "INPUT_SERVICE": "bench",
    "INPUT_LAYER": "system",
    "INPUT_PUSH": "false",
    "GITHUB_SHA": "0" * 40,
    "GITHUB_REF": "refs/heads/feature",
}


def timed_build(api: docker.APIClient, root: Path, nocache: bool) -> tuple[float, str]:
    started = time.monotonic()
    image = build_action_image(api, root, nocache=nocache)
    return time.monotonic() - started, image.reference


def first_line_seconds(image: str, entrypoint: list[str] | None = None) -> float:
    command = ["docker", "run", "--rm", "--network", "none"]
    for key, value in ENV.items():
        command += ["-e", f"{key}={value}"]
    if entrypoint:
        command += ["--entrypoint", entrypoint[0], image, *entrypoint[1:]]
    else:
        command.append(image)
    started = time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
        assert process.stdout is not None
        process.stdout.readline()
        elapsed = time.monotonic() - started
        process.wait()
    return elapsed


def interpreter(api: docker.APIClient, image: str) -> str:
    entrypoint = api.inspect_image(image)["Config"]["Entrypoint"]
    return str(entrypoint[0])


def import_ms(api: docker.APIClient, image: str, module: str) -> float:
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", interpreter(api, image),
         image, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    cumulative = 0
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)$", line)
        if found and found.group(2) == module:
            cumulative = int(found.group(1))
    return cumulative / 1000


def cold_pull_seconds(api: docker.APIClient, image: str, registry: Registry) -> float:
    """Pushes `image` to the registry, removes every local copy, and times `docker pull`."""
    target = f"{registry.host}/bench/k1s0-image-action"
    api.tag(image, target, "bench", force=True)
    for line in api.push(target, "bench", stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"push failed: {line}")
    api.remove_image(f"{target}:bench", force=True)
    api.remove_image(image, force=True)  # the only other name of these layers
    started = time.monotonic()
    for line in api.pull(target, "bench", stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"pull failed: {line}")
    elapsed = time.monotonic() - started
    api.tag(f"{target}:bench", *image.rsplit(":", 1), force=True)
    api.remove_image(f"{target}:bench", force=True)
    return elapsed


def baseline_build(api: docker.APIClient, ref: str, into: Path) -> tuple[float, str]:
    """A cold build of the Dockerfile at `ref` the way the tests built it then: the local Python
    base as build and runtime base, pip downloading from PyPI (host network), cosign from the
    tool cache served on loopback."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryFile() as handle:
        handle.write(archive)
        handle.seek(0)
        with tarfile.open(fileobj=handle) as tar:
            tar.extractall(into, filter="data")
    data = Path(tool("cosign")).read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    reference = f"k1s0e2e/action-baseline:{ref[:12]}"
    started = time.monotonic()
    try:
        for chunk in api.build(
            path=str(into),
            tag=reference,
            buildargs={
                "PYTHON_IMAGE": LOCAL_PYTHON_IMAGE,
                "COSIGN_URL": f"http://127.0.0.1:{server.server_address[1]}/cosign",
                "COSIGN_SHA256": hashlib.sha256(data).hexdigest(),
            },
            network_mode="host",
            nocache=True,
            rm=True,
            forcerm=True,
            decode=True,
        ):
            if "error" in chunk or "errorDetail" in chunk:
                raise RuntimeError(f"baseline build failed: {chunk}")
    finally:
        server.shutdown()
        server.server_close()
    return time.monotonic() - started, reference


def start_figures(api: docker.APIClient, images: list[str], runs: int) -> list[dict[str, float]]:
    """Medians of `runs` starts of each image, interleaved so that load on the shared machine
    falls on all of them alike."""
    first: dict[str, list[float]] = {image: [] for image in images}
    bare: dict[str, list[float]] = {image: [] for image in images}
    for _ in range(runs):
        for image in images:
            first[image].append(first_line_seconds(image))
            python = [interpreter(api, image), "-c", "print()"]
            bare[image].append(first_line_seconds(image, python))
    return [
        {
            "docker_run_to_first_line_s": round(statistics.median(first[image]), 3),
            "docker_run_python_print_s": round(statistics.median(bare[image]), 3),
        }
        for image in images
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="?", type=int, default=5)
    parser.add_argument("--baseline", default="main", help="git ref to compare with ('' for none)")
    args = parser.parse_args()
    api = docker.APIClient(version="auto", timeout=1200)
    results: dict[str, object] = {"runs": args.runs}

    cold, reference = timed_build(api, ROOT, nocache=True)
    warm, _ = timed_build(api, ROOT, nocache=False)
    with tempfile.TemporaryDirectory(prefix="k1s0-bench-image-") as scratch:
        copy = Path(scratch)
        for path in [*context_files(ROOT), ROOT / ".dockerignore"]:
            target = copy / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        summary = copy / "k1s0_action" / "summary.py"
        summary.write_text(summary.read_text() + "\n# changed for the benchmark\n")
        changed, changed_ref = timed_build(api, copy, nocache=False)
    api.remove_image(changed_ref, force=True)
    images = [reference]
    base_cold = 0.0
    if args.baseline:
        with tempfile.TemporaryDirectory(prefix="k1s0-bench-baseline-") as scratch:
            base_cold, base_ref = baseline_build(api, args.baseline, Path(scratch))
        images.append(base_ref)

    with tempfile.TemporaryDirectory(prefix="k1s0-bench-registry-") as data:
        registry = Registry(data_dir=Path(data), users={}).start()
        try:
            pulls = {
                image: [cold_pull_seconds(api, image, registry) for _ in range(3)]
                for image in images
            }
        finally:
            registry.stop()
    starts = start_figures(api, images, args.runs)
    pull = statistics.median(pulls[reference])
    start = starts[0]["docker_run_to_first_line_s"]
    results["current"] = {
        "image": reference,
        "size_mb": round(int(api.inspect_image(reference)["Size"]) / 1e6, 1),
        "build_cold_s": round(cold, 1),
        "build_warm_s": round(warm, 1),
        "build_after_code_change_s": round(changed, 1),
        "cold_pull_s": round(pull, 2),
        **starts[0],
        "import_ms": {
            module: round(
                statistics.median(import_ms(api, reference, module) for _ in range(args.runs)), 1
            )
            for module in ("k1s0_action.cli", "k1s0_action.pipeline")
        },
    }
    if args.baseline:
        results["baseline"] = {
            "ref": args.baseline,
            "image": images[1],
            "size_mb": round(int(api.inspect_image(images[1])["Size"]) / 1e6, 1),
            "build_cold_s": round(base_cold, 1),
            "cold_pull_s": round(statistics.median(pulls[images[1]]), 2),
            **starts[1],
        }
    results["per_job"] = {
        "building_s": round(cold + start, 1),
        "prebuilt_s": round(pull + start, 1),
        "saved_s": round(cold - pull, 1),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

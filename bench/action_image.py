"""The action image: size, cold and warm build time, `docker run` to first log line, import time.

Usage: PYTHONPATH=$PWD python bench/action_image.py [runs]

Builds the repository's Dockerfile the way the tests do (local base, cosign from the tool cache;
k1s0_stack.action_image). "Cold" is a build without the layer cache (the base image is present, as
after a runner's pull); "warm" is a rebuild with every layer cached; "code change" rebuilds after
one source file changed (what a runner with a layer cache does after a commit to the action).
Start-up runs the image with inputs that stop at the first check, so the first line comes from the
action itself; the bare `docker run` of the same image with `true` is the container's own cost.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

from k1s0_stack.action_image import build_action_image, context_files

ROOT = Path(__file__).resolve().parents[1]


def timed_build(api: docker.APIClient, root: Path, nocache: bool) -> tuple[float, str]:
    started = time.monotonic()
    image = build_action_image(api, root, nocache=nocache)
    return time.monotonic() - started, image.reference


def first_line_seconds(image: str, argv: list[str], env: dict[str, str]) -> float:
    command = ["docker", "run", "--rm", "--network", "none"]
    for key, value in env.items():
        command += ["-e", f"{key}={value}"]
    started = time.monotonic()
    with subprocess.Popen(
        [*command, *argv, image] if argv else [*command, image],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as process:
        assert process.stdout is not None
        process.stdout.readline()
        elapsed = time.monotonic() - started
        process.wait()
    return elapsed


def bare_run_seconds(image: str) -> float:
    started = time.monotonic()
    subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "true", image], check=True
    )
    return time.monotonic() - started


def import_ms(image: str, module: str) -> float:
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", image,
         "-X", "importtime", "-c", f"import {module}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    cumulative = 0
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)$", line)
        if found and found.group(2) == module:
            cumulative = int(found.group(1))
    return cumulative / 1000


def main(runs: int) -> None:
    api = docker.APIClient(version="auto", timeout=1200)
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

    size = int(api.inspect_image(reference)["Size"])
    env = {
        "INPUT_SERVICE": "bench",
        "INPUT_LAYER": "system",
        "INPUT_PUSH": "false",
        "GITHUB_SHA": "0" * 40,
        "GITHUB_REF": "refs/heads/feature",
    }
    first = [first_line_seconds(reference, [], env) for _ in range(runs)]
    bare = [bare_run_seconds(reference) for _ in range(runs)]
    imports = {
        module: statistics.median(import_ms(reference, module) for _ in range(runs))
        for module in ("k1s0_action.cli", "k1s0_action.pipeline")
    }
    results = {
        "image": reference,
        "size_mb": round(size / 1e6, 1),
        "build_cold_s": round(cold, 1),
        "build_warm_s": round(warm, 1),
        "build_after_code_change_s": round(changed, 1),
        "docker_run_to_first_line_s": round(statistics.median(first), 3),
        "docker_run_true_s": round(statistics.median(bare), 3),
        "import_ms": {k: round(v, 1) for k, v in imports.items()},
        "runs": runs,
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

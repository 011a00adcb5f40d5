"""Times one scan on LocalHarbor: docker push of a test image, then from the push to the scan's
Success (queue + real Trivy with the fixture DB + conversion). Usage:
PYTHONPATH=. python bench/harbor_scan.py [kind] [repeat]"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import docker
import requests

from k1s0_stack.harbor import LocalHarbor
from k1s0_stack.testimages import build_test_image, untag
from k1s0_stack.trivy import REPORT_MIME


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "mixed"
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    engine = docker.APIClient(version="auto")
    with tempfile.TemporaryDirectory() as tmp, LocalHarbor(Path(tmp)) as harbor:
        harbor.create_project("bench", auto_scan=True)
        robot = harbor.create_robot("bench", "ci")
        auth = {"username": robot.name, "password": robot.secret}
        results = []
        for run in range(repeat):
            repository = f"{harbor.registry_host}/bench/{kind}{run}"
            build_test_image(engine, kind, f"{repository}:1")
            started = time.monotonic()
            for line in engine.push(
                repository, tag="1", auth_config=auth, stream=True, decode=True
            ):
                if "error" in line:
                    raise SystemExit(line["error"])
            pushed = time.monotonic()
            untag(engine, f"{repository}:1")
            while True:
                artifact = requests.get(
                    f"{harbor.api}/projects/bench/repositories/{kind}{run}/artifacts/1",
                    params={"with_scan_overview": "true"},
                    auth=(robot.name, robot.secret),
                    timeout=10,
                ).json()
                status = (
                    (artifact.get("scan_overview") or {}).get(REPORT_MIME, {}).get("scan_status")
                )
                if status in ("Success", "Error"):
                    break
                time.sleep(0.05)
            done = time.monotonic()
            results.append(
                {
                    "push_s": round(pushed - started, 2),
                    "push_to_scan_done_s": round(done - pushed, 2),
                    "status": status,
                }
            )
        print(json.dumps({"kind": kind, "runs": results}, indent=1))


if __name__ == "__main__":
    main()

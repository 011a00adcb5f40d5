"""`python -m k1s0_stack.harbor`: starts with a fresh data dir, prints the URLs and the admin
credential, takes faults through its admin endpoint, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.integration


def test_cli_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    process = subprocess.Popen(
        [sys.executable, "-m", "k1s0_stack.harbor", "--data-dir", str(tmp_path / "h")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        printed = {}
        while len(printed) < 4:
            line = process.stdout.readline()
            assert line, "the server exited early"
            key, _, value = line.partition(":")
            printed[key.strip()] = value.strip()
        api = printed["Harbor API"]
        user, _, password = printed["Admin"].partition(" / ")
        assert requests.get(f"{api}/ping", timeout=10).text == "Pong"
        base = api.removesuffix("/api/v2.0")
        fault = {"operation": "getPing", "status": 503, "count": 1}
        assert requests.post(f"{base}/_k1s0/faults", json=fault, timeout=10).status_code == 401
        assert (
            requests.post(
                f"{base}/_k1s0/faults", json=fault, auth=(user, password), timeout=10
            ).status_code
            == 201
        )
        assert requests.get(f"{api}/ping", timeout=10).status_code == 503
        assert requests.get(f"{api}/ping", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "stopped" in output

"""actionlint over every workflow file: the reusable workflow, the S3 examples, the e2e ones."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from k1s0_stack.process import tool

ROOT = Path(__file__).resolve().parents[3]


def test_actionlint_accepts_every_workflow() -> None:
    files = sorted(
        [
            *ROOT.glob(".github/workflows/*.yml"),
            *ROOT.glob("examples/*/.github/workflows/*.yml"),
            *ROOT.glob("tests/action/e2e/workflows/*.yml"),
        ]
    )
    assert len(files) >= 6
    try:
        actionlint = tool("actionlint")
    except FileNotFoundError:
        pytest.fail("actionlint is missing: run scripts/go-tools.sh actionlint")
    done = subprocess.run(
        [actionlint, "-no-color", *map(str, files)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr

"""What every test run shares: each folder's marker, the heavy fixtures as a plugin whose imports
wait until a test asks for them (tests/fixtures.py), and a guard that the run left no file behind.

Layout: tests/action/{unit,integration,e2e} test the action; tests/stack/{unit,integration,
contract} test the local stack the other tests stand on, and its fidelity to Harbor and GitHub.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ("tests.fixtures",)

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
# tests/<subject>/<kind>/...: the kind's marker, and the subject's for the stack's own tests.
KIND_MARKERS = {"unit": "unit", "integration": "integration", "e2e": "e2e", "contract": "contract"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
        if len(parts) < 3:
            continue
        subject, kind = parts[0], parts[1]
        if subject == "stack":
            item.add_marker("stack")
        if kind in KIND_MARKERS:
            item.add_marker(KIND_MARKERS[kind])


def _untracked() -> set[str]:
    listed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {line[3:] for line in listed.stdout.splitlines() if line.startswith("??")}


@pytest.fixture(scope="session", autouse=True)
def no_file_left_in_the_checkout() -> Iterator[None]:
    """Reports, outputs and credentials belong in temporary directories, never in the checkout."""
    before = _untracked()
    yield
    left = sorted(_untracked() - before)
    if left:
        pytest.fail(f"the tests left files in the checkout: {left}", pytrace=False)

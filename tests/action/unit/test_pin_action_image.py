"""scripts/pin-action-image.py: the release commit's one change to action.yml."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "pin-action-image.py"
DIGEST = "sha256:" + "ab" * 32


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pin_action_image", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pin_script = load_script()


@pytest.mark.parametrize(
    "reference",
    [
        f"ghcr.io/k1s0-org/k1s0-image-action@{DIGEST}",
        f"docker://ghcr.io/k1s0-org/k1s0-image-action@{DIGEST}",
        f"harbor.internal.example.com/k1s0-infra/k1s0-image-action@{DIGEST}",
        f"127.0.0.1:5000/e2e1-infra/k1s0-image-action@{DIGEST}",
        f"k1s0-image-action@{DIGEST}",
    ],
)
def test_the_real_action_yml_is_pinned_by_digest_and_nothing_else_changes(reference: str) -> None:
    text = (ROOT / "action.yml").read_text()
    pinned = pin_script.pin(text, reference)
    bare = reference.removeprefix("docker://")
    before, after = yaml.safe_load(text), yaml.safe_load(pinned)
    assert after["runs"] == {"using": "docker", "image": f"docker://{bare}"}
    after["runs"]["image"] = "Dockerfile"
    assert after == before
    changed = [
        (a, b) for a, b in zip(text.splitlines(), pinned.splitlines(), strict=True) if a != b
    ]
    assert changed == [("  image: Dockerfile", f"  image: docker://{bare}")]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("ghcr.io/k1s0-org/k1s0-image-action:1.2.3", "no digest"),
        ("ghcr.io/k1s0-org/k1s0-image-action", "no digest"),
        ("ghcr.io/k1s0-org/K1s0-Image-Action@" + DIGEST, "not an image reference"),
        ("ghcr.io/k1s0-org/k1s0-image-action@sha256:abc", "not an image reference"),
        ("ghcr.io/k1s0-org/k1s0-image-action:1.2.3@" + DIGEST, "not an image reference"),
        ("ghcr.io/k1s0-org/k1s0 image@" + DIGEST, "not an image reference"),
    ],
)
def test_a_reference_that_could_move_or_is_malformed_is_refused(
    reference: str, message: str
) -> None:
    with pytest.raises(pin_script.PinError, match=message):
        pin_script.pin((ROOT / "action.yml").read_text(), reference)


def test_a_release_commit_is_not_pinned_again() -> None:
    once = pin_script.pin((ROOT / "action.yml").read_text(), f"ghcr.io/o/a@{DIGEST}")
    with pytest.raises(pin_script.PinError, match=re.escape("already runs 'docker://ghcr.io/o/a@")):
        pin_script.pin(once, f"ghcr.io/o/b@{DIGEST}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("runs:\n  using: docker\n  image: Dockerfile\n", "docker://r/a@D"),
        ("runs:\n  using: docker\n  image: 'Dockerfile'  # built\n", "docker://r/a@D"),
        (
            "name: x\nruns:\n\n    image: Dockerfile\n    using: docker\nbranding: {}\n",
            "docker://r/a@D",
        ),
    ],
)
def test_the_image_line_is_found_in_any_layout(text: str, expected: str) -> None:
    pinned = pin_script.pin(text, f"r/a@{DIGEST}")
    assert yaml.safe_load(pinned)["runs"]["image"] == expected.replace("D", DIGEST)


def test_an_image_key_outside_runs_is_not_touched() -> None:
    text = "inputs:\n  image:\n    default: x\nruns:\n  using: docker\n  image: Dockerfile\n"
    pinned = yaml.safe_load(pin_script.pin(text, f"r/a@{DIGEST}"))
    assert pinned["inputs"] == {"image": {"default": "x"}}
    assert pinned["runs"]["image"] == f"docker://r/a@{DIGEST}"


def test_the_command_rewrites_the_file_and_fails_with_one_line(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    action.write_text((ROOT / "action.yml").read_text())
    ok = subprocess.run(
        [sys.executable, str(SCRIPT), str(action), f"ghcr.io/o/a@{DIGEST}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert yaml.safe_load(action.read_text())["runs"]["image"] == f"docker://ghcr.io/o/a@{DIGEST}"
    again = subprocess.run(
        [sys.executable, str(SCRIPT), str(action), f"ghcr.io/o/a@{DIGEST}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1
    assert len(again.stderr.strip().splitlines()) == 1
    assert "release commit" in again.stderr


def test_check_passes_a_source_commit_and_refuses_a_release_commit(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    action.write_text((ROOT / "action.yml").read_text())

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--check", str(action)],
            capture_output=True,
            text=True,
            check=False,
        )

    assert check().returncode == 0
    action.write_text(pin_script.pin(action.read_text(), f"r/a@{DIGEST}"))
    refused = check()
    assert refused.returncode == 1
    assert "this is a release commit" in refused.stderr

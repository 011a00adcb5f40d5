"""The release workflow's promises, read from the file: what triggers it, that the action builds
its own image, what it may do, and that the release commit is made by the pin script."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
RELEASE = ROOT / ".github" / "workflows" / "release.yml"


def release() -> dict[str, Any]:
    data = yaml.safe_load(RELEASE.read_text())
    assert isinstance(data, dict)
    return data


def job() -> dict[str, Any]:
    jobs = release()["jobs"]
    assert list(jobs) == ["release"]
    found = jobs["release"]
    assert isinstance(found, dict)
    return found


def steps() -> list[dict[str, Any]]:
    found = job()["steps"]
    assert isinstance(found, list)
    return found


def test_it_runs_on_version_tags_only() -> None:
    on = release().get("on", release().get(True))  # YAML 1.1 reads a bare `on` key as True
    assert on == {"push": {"tags": ["v*.*.*"]}}


def test_it_asks_only_for_what_the_release_needs() -> None:
    assert release()["permissions"] == {}
    assert job()["permissions"] == {"contents": "write", "id-token": "write", "packages": "write"}


def test_the_action_builds_its_own_image_as_its_first_user() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    (step,) = [s for s in steps() if s.get("uses") == "./"]
    assert set(step["with"]) <= set(action["inputs"])
    assert step["with"]["service"] == "k1s0-image-action"
    assert step["with"]["layer"] == "infra"  # a CI tool (rule N2)
    assert step["with"]["version"] == "${{ github.ref_name }}"
    # the guard runs before the build, the pin after the gate, sign and promote
    names = [s.get("id") or s.get("uses") for s in steps()]
    assert names.index("release") < names.index("image") < names.index("public")
    assert names.index("public") < names.index("commit")


def test_a_release_commit_is_never_released_again() -> None:
    guard = next(s for s in steps() if s.get("id") == "release")
    assert "scripts/pin-action-image.py --check action.yml" in guard["run"]


def test_the_release_commit_pins_the_public_path_by_digest_and_moves_the_tags() -> None:
    commit = next(s for s in steps() if s.get("id") == "commit")
    assert 'scripts/pin-action-image.py action.yml "$IMAGE@$DIGEST"' in commit["run"]
    assert commit["env"]["DIGEST"] == "${{ steps.image.outputs.digest }}"
    assert commit["env"]["IMAGE"] == "${{ steps.public.outputs.image }}"
    assert "git push --force origin" in commit["run"]
    assert re.search(r'refs=\("HEAD:refs/tags/\$TAG"\)', commit["run"])
    assert 'refs+=("HEAD:refs/tags/$MAJOR")' in commit["run"]


def test_the_public_path_defaults_to_ghcr_and_is_configurable() -> None:
    public = next(s for s in steps() if s.get("id") == "public")
    assert public["env"]["TARGET"] == (
        "${{ vars.ACTION_IMAGE || format('ghcr.io/{0}/k1s0-image-action', "
        "github.repository_owner) }}"
    )
    # the copy keeps the digest and carries the signature
    assert 'copy --force "$SOURCE@$DIGEST"' in public["run"]


def test_secrets_reach_commands_only_through_the_environment() -> None:
    for step in steps():
        assert "secrets." not in step.get("run", "")

"""Inputs as the runner passes them (INPUT_<NAME> with hyphens kept), and action.yml's defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from k1s0_action.errors import InputError
from k1s0_action.inputs import DEFAULTS, parse_build_args, read_inputs

ROOT = Path(__file__).resolve().parents[2]
BASE = {"INPUT_SERVICE": "auth", "INPUT_LAYER": "system", "INPUT_VERSION": "1.0.0"}


def test_action_yml_declares_every_input_with_the_same_default() -> None:
    declared = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    assert set(declared) == set(DEFAULTS)
    for name, spec in declared.items():
        assert spec.get("description"), name
        assert str(spec.get("default", "")) == DEFAULTS[name], name


def test_hyphenated_inputs_are_read_as_the_runner_passes_them() -> None:
    env = {**BASE, "INPUT_HARBOR-USERNAME": "robot$k1s0-system+ci", "INPUT_PROJECT-PREFIX": "acme"}
    inputs = read_inputs(env)
    assert inputs.harbor_username == "robot$k1s0-system+ci"
    assert inputs.project_prefix == "acme"


def test_defaults() -> None:
    inputs = read_inputs(BASE)
    assert inputs.registry == "harbor.internal.example.com"
    assert inputs.dockerfile == Path("Dockerfile")
    assert inputs.platform == "linux/amd64"
    assert inputs.push is True
    assert inputs.block_severities == ("critical", "high")
    assert inputs.scan_timeout == 600
    assert inputs.harbor_url == "https://harbor.internal.example.com"


def test_harbor_url_follows_the_registry_unless_given() -> None:
    assert read_inputs({**BASE, "INPUT_REGISTRY": "r.example:8443"}).harbor_url == (
        "https://r.example:8443"
    )
    given = {**BASE, "INPUT_HARBOR-URL": "http://127.0.0.1:9000"}
    assert read_inputs(given).harbor_url == "http://127.0.0.1:9000"


def test_password_is_not_in_the_repr() -> None:
    inputs = read_inputs({**BASE, "INPUT_HARBOR-PASSWORD": "s3cret-value"})
    assert "s3cret-value" not in repr(inputs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("A=1", (("A", "1"),)),
        ("A=1\nB=x=y\n\n# note\n", (("A", "1"), ("B", "x=y"))),
        (" KEY = spaced", (("KEY", " spaced"),)),
        ("EMPTY=", (("EMPTY", ""),)),
    ],
)
def test_build_args(text: str, expected: tuple[tuple[str, str], ...]) -> None:
    assert parse_build_args(text) == expected


@pytest.mark.parametrize(
    ("env", "bad_input"),
    [
        ({"INPUT_LAYER": "platform"}, "layer"),
        ({"INPUT_BUILD-ARGS": "A=1\nNOEQUALS"}, "build-args"),
        ({"INPUT_BUILD-ARGS": "=value"}, "build-args"),
        ({"INPUT_PUSH": "maybe"}, "push"),
        ({"INPUT_PLATFORM": "windows/amd64"}, "platform"),
        ({"INPUT_SCAN-TIMEOUT": "soon"}, "scan-timeout"),
        ({"INPUT_SCAN-TIMEOUT": "-5"}, "scan-timeout"),
        ({"INPUT_BLOCK-SEVERITIES": "critical,severe"}, "block-severities"),
        ({"INPUT_ON-SCAN-ERROR": "ignore"}, "on-scan-error"),
        ({"INPUT_SIGNATURE-FORMAT": "v2"}, "signature-format"),
    ],
)
def test_bad_inputs_name_the_input(env: dict[str, str], bad_input: str) -> None:
    with pytest.raises(InputError) as raised:
        read_inputs({**BASE, **env})
    assert raised.value.input_name == bad_input


@pytest.mark.parametrize(("text", "seconds"), [("600", 600.0), ("10m", 600.0), ("90s", 90.0)])
def test_scan_timeout_units(text: str, seconds: float) -> None:
    assert read_inputs({**BASE, "INPUT_SCAN-TIMEOUT": text}).scan_timeout == seconds

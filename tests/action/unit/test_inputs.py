"""Inputs as the runner passes them (INPUT_<NAME> with hyphens kept), action.yml's defaults, and
every bad input refused before anything is built, with one line naming it (README: bad inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from k1s0_action.errors import InputError
from k1s0_action.inputs import DEFAULTS, parse_build_args, read_inputs

ROOT = Path(__file__).resolve().parents[3]
BASE = {"INPUT_SERVICE": "auth", "INPUT_LAYER": "system", "INPUT_VERSION": "1.0.0"}
SECRET = "pa%ss:w@rd/x"


def test_action_yml_declares_every_input_with_the_same_default() -> None:
    declared = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    assert set(declared) == set(DEFAULTS)
    for name, spec in declared.items():
        assert spec.get("description"), name
        assert str(spec.get("default", "")) == DEFAULTS[name], name


def test_hyphenated_inputs_are_read_as_the_runner_passes_them() -> None:
    env = {**BASE, "INPUT_HARBOR-USERNAME": "robot$k1s0-system+ci", "INPUT_PROJECT-PREFIX": "acme"}
    settings = read_inputs(env)
    assert settings.harbor.credentials.username == "robot$k1s0-system+ci"
    assert settings.plan.project_prefix == "acme"


def test_defaults() -> None:
    settings = read_inputs(BASE)
    assert settings.plan.registry == "harbor.internal.example.com"
    assert settings.build.dockerfile == Path("Dockerfile")
    assert settings.build.platform == "linux/amd64"
    assert settings.build.push is True
    assert settings.gate.block_severities == ("critical", "high")
    assert settings.gate.timeout == 600
    assert settings.harbor.api_url == "https://harbor.internal.example.com"
    assert settings.harbor.credentials.registry == "harbor.internal.example.com"
    assert settings.signing.enabled
    assert settings.signing.sigstore.fulcio_url == "https://fulcio.sigstore.dev"
    assert settings.warnings == ()


def test_harbor_url_follows_the_registry_unless_given() -> None:
    assert read_inputs({**BASE, "INPUT_REGISTRY": "r.example:8443"}).harbor.api_url == (
        "https://r.example:8443"
    )
    given = {**BASE, "INPUT_HARBOR-URL": "http://127.0.0.1:9000"}
    assert read_inputs(given).harbor.api_url == "http://127.0.0.1:9000"


def test_plain_http_harbor_is_allowed_with_a_clear_text_warning() -> None:
    settings = read_inputs({**BASE, "INPUT_HARBOR-URL": "http://harbor.example.com"})
    assert settings.harbor.api_url == "http://harbor.example.com"
    ((name, message),) = settings.warnings
    assert name == "harbor-url" and "clear text" in message


def test_password_is_not_in_the_repr() -> None:
    settings = read_inputs({**BASE, "INPUT_HARBOR-PASSWORD": "s3cret-value"})
    assert "s3cret-value" not in repr(settings)


def test_child_environment_is_an_allowlist() -> None:
    env = {
        **BASE,
        "INPUT_HARBOR-PASSWORD": "s3cret-value",
        "GITHUB_TOKEN": "ghs_x",
        "ACTIONS_RUNTIME_TOKEN": "rt",
        "ACTIONS_ID_TOKEN_REQUEST_URL": "https://t/?a=1",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "bearer",
        "DOCKER_HOST": "tcp://docker:2376",
        "PATH": "/usr/bin",
    }
    kept = read_inputs(env).environment
    assert kept == {
        "DOCKER_HOST": "tcp://docker:2376",
        "PATH": "/usr/bin",
        "ACTIONS_ID_TOKEN_REQUEST_URL": "https://t/?a=1",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "bearer",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("A=1", (("A", "1"),)),
        ("A=1\nB=x=y\n\n# note\n", (("A", "1"), ("B", "x=y"))),
        (" KEY = spaced", (("KEY", " spaced"),)),
        ("EMPTY=", (("EMPTY", ""),)),
        ("_under_9=1", (("_under_9", "1"),)),
    ],
)
def test_build_args(text: str, expected: tuple[tuple[str, str], ...]) -> None:
    assert parse_build_args(text) == expected


@pytest.fixture
def trusted_roots(tmp_path: Path) -> dict[str, str]:
    good = tmp_path / "root.json"
    good.write_text(json.dumps({"mediaType": "x", "ctlogs": []}))
    bad = tmp_path / "bad.json"
    bad.write_text("not json {")
    return {"good": str(good), "bad": str(bad), "missing": str(tmp_path / "nope.json")}


# (env change, input named, text the message holds). README's bad-input table lists these.
BAD_INPUTS = [
    ({"INPUT_LAYER": "platform"}, "layer", "not a layer"),
    ({"INPUT_BUILD-ARGS": "A=1\nNOEQUALS"}, "build-args", "not KEY=VALUE"),
    ({"INPUT_BUILD-ARGS": "=value"}, "build-args", "not KEY=VALUE"),
    ({"INPUT_BUILD-ARGS": "A=1\nA=2"}, "build-args", "given twice"),
    ({"INPUT_BUILD-ARGS": "1A=x"}, "build-args", "not a build argument name"),
    ({"INPUT_BUILD-ARGS": "A-B=x"}, "build-args", "not a build argument name"),
    ({"INPUT_PUSH": "maybe"}, "push", "not a boolean"),
    ({"INPUT_PLATFORM": "windows/amd64"}, "platform", "not allowed"),
    ({"INPUT_SCAN-TIMEOUT": "soon"}, "scan-timeout", "not a duration"),
    ({"INPUT_SCAN-TIMEOUT": "-5"}, "scan-timeout", "positive"),
    ({"INPUT_SCAN-TIMEOUT": "nan"}, "scan-timeout", "not a duration"),
    ({"INPUT_SCAN-TIMEOUT": "inf"}, "scan-timeout", "not a duration"),
    ({"INPUT_SCAN-TIMEOUT": "-inf"}, "scan-timeout", "not a duration"),
    ({"INPUT_SCAN-TIMEOUT": "1e9"}, "scan-timeout", "more than 6 hours"),
    ({"INPUT_SCAN-TIMEOUT": "361m"}, "scan-timeout", "more than 6 hours"),
    ({"INPUT_BLOCK-SEVERITIES": "critical,severe"}, "block-severities", "not allowed"),
    ({"INPUT_ON-SCAN-ERROR": "ignore"}, "on-scan-error", "not allowed"),
    ({"INPUT_SIGNATURE-FORMAT": "v2"}, "signature-format", "not allowed"),
    ({"INPUT_HARBOR-URL": "ftp://harbor.example.com"}, "harbor-url", "not an http(s) URL"),
    ({"INPUT_HARBOR-URL": "harbor.example.com"}, "harbor-url", "not an http(s) URL"),
    ({"INPUT_HARBOR-URL": "https://harbor.example.com:99999"}, "harbor-url", "out of range"),
    ({"INPUT_HARBOR-URL": "https://harbor.example.com:0"}, "harbor-url", "port 0"),
    ({"INPUT_HARBOR-URL": "https://"}, "harbor-url", "not an http(s) URL"),
    ({"INPUT_HARBOR-URL": f"https://robot:{SECRET}@h.example"}, "harbor-url", "user:password@"),
    ({"INPUT_REGISTRY": f"robot:{SECRET}@h.example"}, "registry", "user:password@"),
    ({"INPUT_HARBOR-URL": f"robot:{SECRET}@h.example"}, "harbor-url", "user:password@"),
    ({"INPUT_FULCIO-URL": f"https://u:{SECRET}@f.example"}, "fulcio-url", "user:password@"),
    ({"INPUT_REKOR-URL": f"https://u:{SECRET}@r.example"}, "rekor-url", "user:password@"),
    ({"INPUT_REGISTRY": "harbor.example.com:99999"}, "registry", "out of range"),
    ({"INPUT_REGISTRY": "harbor.example.com:0"}, "registry", "out of range"),
    ({"INPUT_REGISTRY": "https://harbor.example.com"}, "registry", "not a registry host"),
    ({"INPUT_FULCIO-URL": "fulcio.example.com"}, "fulcio-url", "not an http(s) URL"),
    ({"INPUT_REKOR-URL": "file:///etc/passwd"}, "rekor-url", "not an http(s) URL"),
    (
        {"INPUT_CERTIFICATE-OIDC-ISSUER": "http://issuer.example"},
        "certificate-oidc-issuer",
        "https",
    ),
    ({"INPUT_CERTIFICATE-OIDC-ISSUER": "issuer"}, "certificate-oidc-issuer", "http(s) URL"),
    ({"INPUT_TRUSTED-ROOT": "@missing"}, "trusted-root", "does not exist"),
    ({"INPUT_TRUSTED-ROOT": "@bad"}, "trusted-root", "not a trusted_root.json"),
]


@pytest.mark.parametrize(("change", "bad_input", "says"), BAD_INPUTS)
def test_bad_inputs_name_the_input(
    change: dict[str, str], bad_input: str, says: str, trusted_roots: dict[str, str]
) -> None:
    env = {**BASE, **change}
    for key, value in env.items():
        if value.startswith("@"):
            env[key] = trusted_roots[value[1:]]
    with pytest.raises(InputError) as raised:
        read_inputs(env)
    assert raised.value.input_name == bad_input
    message = raised.value.diagnostics()
    assert says in message
    assert "\n" not in message
    assert SECRET not in message and "pa%25ss" not in message and "w@rd" not in message


def test_trusted_root_is_checked_only_when_signing(trusted_roots: dict[str, str]) -> None:
    env = {**BASE, "INPUT_SIGN": "false", "INPUT_TRUSTED-ROOT": trusted_roots["missing"]}
    assert not read_inputs(env).signing.enabled


def test_loopback_issuer_may_be_http_for_a_local_stack() -> None:
    env = {**BASE, "INPUT_CERTIFICATE-OIDC-ISSUER": "http://127.0.0.1:8080"}
    assert read_inputs(env).signing.certificate_oidc_issuer == "http://127.0.0.1:8080"


def test_values_echoed_in_errors_stay_on_one_line() -> None:
    with pytest.raises(InputError) as raised:
        read_inputs({**BASE, "INPUT_PUSH": "yes\n::error::injected\r\x1b[31m"})
    message = raised.value.diagnostics()
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert "\\n::error::injected\\r\\x1b[31m" in message


@pytest.mark.parametrize(("text", "seconds"), [("600", 600.0), ("10m", 600.0), ("90s", 90.0)])
def test_scan_timeout_units(text: str, seconds: float) -> None:
    assert read_inputs({**BASE, "INPUT_SCAN-TIMEOUT": text}).gate.timeout == seconds


def test_redaction_covers_the_encodings_of_a_hostile_password() -> None:
    import base64
    import io
    import json
    from urllib.parse import quote

    from k1s0_action.gha import Actions

    password = "%p:a@s/s\n::warning::line two"
    actions = Actions({}, io.StringIO())
    actions.mask(password, "robot$p+ci")
    forms = [
        password,
        "::warning::line two",
        quote(password, safe=""),
        json.dumps(password)[1:-1],
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"robot$p+ci:{password}".encode()).decode(),
    ]
    for form in forms:
        assert actions.redact(f"before {form} after") == "before *** after", form

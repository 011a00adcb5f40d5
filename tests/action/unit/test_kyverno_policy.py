"""The Kyverno ClusterPolicy (pure rendering) and the `kyverno-policy` command."""

from __future__ import annotations

import re

import pytest
import yaml

from k1s0_action.cli import main
from k1s0_action.kyverno import GITHUB_ISSUER, PolicyRequest, cluster_policy, render_policy
from k1s0_action.oidc import repository_identity_regexp

REGEXP = repository_identity_regexp("k1s0-org/k1s0")


def request(**values: object) -> PolicyRequest:
    base: dict[str, object] = {
        "registry": "harbor.internal.example.com",
        "project_prefix": "k1s0",
        "issuer": GITHUB_ISSUER,
        "identity_regexp": REGEXP,
    }
    base.update(values)
    return PolicyRequest(**base)  # type: ignore[arg-type]


def verify_images(policy: dict[str, object]) -> dict[str, object]:
    return policy["spec"]["rules"][0]["verifyImages"][0]  # type: ignore[index,no-any-return]


@pytest.mark.parametrize(
    ("values", "keyless"),
    [
        (
            {},
            {
                "issuer": GITHUB_ISSUER,
                "subjectRegExp": REGEXP,
                "rekor": {"url": "https://rekor.sigstore.dev"},
            },
        ),
        (
            {"workflow_repository": "k1s0-org/k1s0"},
            {
                "issuer": GITHUB_ISSUER,
                "subjectRegExp": REGEXP,
                "rekor": {"url": "https://rekor.sigstore.dev"},
                "additionalExtensions": {"githubWorkflowRepository": "k1s0-org/k1s0"},
            },
        ),
        (
            {
                "issuer": "https://token.internal",
                "rekor_url": "https://rekor.internal",
                "ignore_tlog": True,
                "ignore_sct": True,
            },
            {
                "issuer": "https://token.internal",
                "subjectRegExp": REGEXP,
                "rekor": {"url": "https://rekor.internal", "ignoreTlog": True},
                "ctlog": {"ignoreSCT": True},
            },
        ),
    ],
)
def test_keyless_attestor(values: dict[str, object], keyless: dict[str, object]) -> None:
    rule = verify_images(cluster_policy(request(**values)))
    assert rule["attestors"] == [{"count": 1, "entries": [{"keyless": keyless}]}]


def test_policy_covers_the_organisations_projects_and_enforces() -> None:
    policy = cluster_policy(request(registry="harbor.example.com", project_prefix="acme"))
    assert policy["apiVersion"] == "kyverno.io/v1"
    assert policy["kind"] == "ClusterPolicy"
    rule = verify_images(policy)
    assert rule["imageReferences"] == ["harbor.example.com/acme-*/*"]
    assert rule["failureAction"] == "Enforce"
    assert rule["required"] is True and rule["verifyDigest"] is True
    assert rule["mutateDigest"] is True


def test_rendered_yaml_round_trips() -> None:
    text = render_policy(request())
    assert yaml.safe_load(text) == cluster_policy(request())
    assert re.search(r"subjectRegExp: .*k1s0-org/k1s0", text)


def test_cli_prints_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"INPUT_REGISTRY": "harbor.example.com", "INPUT_PROJECT-PREFIX": "acme"}
    assert main(["kyverno-policy", "--repository", "k1s0-org/k1s0"], env) == 0
    policy = yaml.safe_load(capsys.readouterr().out)
    rule = verify_images(policy)
    assert rule["imageReferences"] == ["harbor.example.com/acme-*/*"]
    assert rule["attestors"][0]["entries"][0]["keyless"]["subjectRegExp"] == REGEXP  # type: ignore[index]


def test_cli_refuses_an_unanchored_identity(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["kyverno-policy", "--certificate-identity-regexp", "github.com/k1s0-org/k1s0"], {})
    assert code == 2
    assert "anchored" in capsys.readouterr().err

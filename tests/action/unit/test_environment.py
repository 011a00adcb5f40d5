"""What child processes see of the runner's environment, and which engine the action talks to."""

from __future__ import annotations

from pathlib import Path

import pytest

from k1s0_action import engine
from k1s0_action.errors import BuildError
from k1s0_action.signing import cosign_env

RUNNER = {
    "PATH": "/usr/bin",
    "HOME": "/github/home",
    "INPUT_HARBOR-PASSWORD": "s3cret",
    "INPUT_SERVICE": "auth",
    "GITHUB_TOKEN": "ghs_token",
    "ACTIONS_RUNTIME_TOKEN": "runtime",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token/?x=1",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "bearer",
    "SIGSTORE_ID_TOKEN": "id-token",
    "DOCKER_HOST": "tcp://docker:2376",
    "DOCKER_TLS_VERIFY": "1",
    "DOCKER_CERT_PATH": "/certs/client",
    "HTTPS_PROXY": "http://proxy:3128",
    "SSL_CERT_FILE": "/etc/ssl/ca.pem",
}


def test_cosign_gets_an_allowlist_and_its_own_docker_config(tmp_path: Path) -> None:
    env = cosign_env(RUNNER, tmp_path)
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/github/home",
        "DOCKER_HOST": "tcp://docker:2376",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": "/certs/client",
        "HTTPS_PROXY": "http://proxy:3128",
        "SSL_CERT_FILE": "/etc/ssl/ca.pem",
        "DOCKER_CONFIG": str(tmp_path),
    }


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DOCKER_HOST": "unix:///nonexistent/k1s0/docker.sock"}, "unix:///nonexistent/k1s0"),
        (
            {
                "DOCKER_HOST": "tcp://127.0.0.1:9",
                "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": "/nonexistent/certs",
            },
            "DOCKER_CERT_PATH",
        ),
    ],
)
def test_an_unreachable_engine_is_one_line_naming_where(env: dict[str, str], says: str) -> None:
    with pytest.raises(BuildError) as raised:
        engine.connect(env, timeout=2)
    message = raised.value.diagnostics()
    assert says in message and "\n" not in message

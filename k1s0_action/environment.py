"""Which of the runner's environment variables a child process (cosign) may see.

An explicit allowlist, not the action's whole environment: INPUT_* carries the robot's secret,
GITHUB_TOKEN and ACTIONS_RUNTIME_TOKEN are the job's own credentials, and the OIDC request
variables are only for the one place that fetches the token (k1s0_action.oidc).
"""

from __future__ import annotations

from collections.abc import Mapping

# The Docker CLI's own variables (docker-py's kwargs_from_env reads the same three).
DOCKER_VARIABLES = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
ALLOWED = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "LC_ALL",
        "TZ",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "COSIGN",
        "TUF_ROOT",
        "SIGSTORE_ROOT_FILE",
        "SIGSTORE_REKOR_PUBLIC_KEY",
        "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE",
        *DOCKER_VARIABLES,
        # Where buildx and BuildKit are (k1s0_action.builder); paths and addresses, no secret.
        "K1S0_BUILDX",
        "K1S0_BUILDKIT_HOST",
        "K1S0_BUILDKIT_IMAGE",
    }
)


def allowlisted(env: Mapping[str, str]) -> dict[str, str]:
    """The variables a child process may inherit from `env`."""
    return {key: value for key, value in env.items() if key in ALLOWED}


def docker_environment(env: Mapping[str, str]) -> dict[str, str]:
    """DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH as set (empty ones left out)."""
    return {key: env[key] for key in DOCKER_VARIABLES if env.get(key)}

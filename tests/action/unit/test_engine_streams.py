"""Reading the engine's build and push streams: the SDK does not raise on errors inside them."""

from __future__ import annotations

from typing import Any

import pytest

from k1s0_action.engine import _classify_push_error, _follow_build, _follow_push
from k1s0_action.errors import BuildError, RegistryAuthError, RegistryError, TransientError
from k1s0_action.retry import Backoff, retrying

DIGEST = "sha256:" + "ab" * 32


def test_push_digest_from_aux_and_status() -> None:
    lines: list[str] = []
    stream: list[dict[str, Any]] = [
        {"status": "The push refers to repository [r/x]"},
        {"status": "Pushed", "id": "123"},
        {"status": f"1.0.0: digest: {DIGEST} size: 528"},
        {"progressDetail": {}, "aux": {"Tag": "1.0.0", "Digest": DIGEST, "Size": 528}},
    ]
    assert _follow_push(stream, "r/x:1.0.0", lines.append) == DIGEST
    assert lines == [f"1.0.0: digest: {DIGEST} size: 528"]


def test_push_without_digest_is_an_error() -> None:
    with pytest.raises(RegistryError, match="without a digest"):
        _follow_push([{"status": "Preparing"}], "r/x:1", lambda _: None)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("unauthorized: authentication required", RegistryAuthError),
        ("denied: requested access to the resource is denied", RegistryAuthError),
        ("received unexpected HTTP status: 503 Service Unavailable", TransientError),
        ("received unexpected HTTP status: 500 Internal Server Error", TransientError),
        ("toomanyrequests: 429 Too Many Requests", TransientError),
        ("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer", TransientError),
        ("net/http: TLS handshake timeout", TransientError),
        ("unexpected EOF", TransientError),
        ("manifest invalid: manifest invalid", RegistryError),
        ("name unknown: repository name not known to registry", RegistryError),
    ],
)
def test_push_errors_inside_the_stream_are_classified(message: str, kind: type) -> None:
    stream = [{"status": "Preparing"}, {"errorDetail": {"message": message}, "error": message}]
    with pytest.raises(kind) as raised:
        _follow_push(stream, "r/x:1", lambda _: None)
    assert type(raised.value) is kind
    assert message in str(raised.value)


def test_auth_failures_are_never_retried() -> None:
    calls = []

    def push() -> str:
        calls.append(1)
        raise _classify_push_error("r/x:1", "unauthorized: authentication required")  # type: ignore[misc]

    with pytest.raises(RegistryAuthError):
        retrying(push, Backoff(attempts=5), sleep=lambda _: None)
    assert len(calls) == 1


def test_transient_failures_are_retried_then_succeed() -> None:
    outcomes: list[str | Exception] = [
        TransientError("503"),
        TransientError("connection reset"),
        DIGEST,
    ]
    waits: list[float] = []

    def push() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retrying(push, Backoff(attempts=5), sleep=waits.append) == DIGEST
    assert len(waits) == 2


def test_retries_stop_after_the_last_attempt() -> None:
    calls = []

    def push() -> str:
        calls.append(1)
        raise TransientError("503")

    with pytest.raises(TransientError):
        retrying(push, Backoff(attempts=3), sleep=lambda _: None)
    assert len(calls) == 3


def test_retry_after_is_honoured() -> None:
    backoff = Backoff(initial=0.5, maximum=10)
    assert backoff.delay(0, retry_after=7) >= 7
    assert 0.25 <= backoff.delay(0) <= 0.5


def test_build_error_is_the_daemons_own_text() -> None:
    chunk = {
        "errorDetail": {
            "code": 3,
            "message": "The command '/bin/sh -c exit 3' returned a non-zero code: 3",
        },
        "error": "The command '/bin/sh -c exit 3' returned a non-zero code: 3",
    }
    with pytest.raises(BuildError, match="returned a non-zero code: 3"):
        _follow_build(chunk, lambda _: None)


def test_build_log_and_image_id() -> None:
    lines: list[str] = []
    assert _follow_build({"stream": "Step 1/2 : FROM x\n ---> abc\n"}, lines.append) == ""
    assert _follow_build({"aux": {"ID": "sha256:123"}}, lines.append) == "sha256:123"
    assert lines == ["Step 1/2 : FROM x", " ---> abc"]

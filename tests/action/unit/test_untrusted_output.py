"""What comes back from outside, against real HTTP servers and a stand-in cosign: no text from
outside can become a workflow command in the log (Harbor's error bodies through the retry
message, the push stream, cosign's output all reach it through `Actions.info`; the build's own
output: tests/action/integration), a 200 that is not Harbor's JSON is one clear line, and a 403
before the build names the permission."""

from __future__ import annotations

import io
import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from k1s0_action.cli import _json_line
from k1s0_action.engine import _follow_push
from k1s0_action.errors import HarborError, SigningError
from k1s0_action.gate import preflight
from k1s0_action.gha import Actions, untrusted
from k1s0_action.harbor import HarborClient, HarborPermissionError, HarborResponseError
from k1s0_action.retry import Backoff
from k1s0_action.signing import Cosign

DIGEST = "sha256:" + "ab" * 32
HOSTILE = "busy\n::warning title=x::pwned\r::add-mask::secret\n  ::error::y ##[warning]z"


def commands(log: str) -> list[str]:
    """The lines the runner would run: `::` after leading whitespace, `##[` anywhere; split
    at \\n and at a lone \\r, as the runner reads lines."""
    lines = log.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line for line in lines if line.lstrip().startswith("::") or "##[" in line]


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("::warning::x", "\\::warning::x"),
        ("   ::add-mask::x", "\\   ::add-mask::x"),
        ("\u200b::debug::x", "\\\u200b::debug::x"),
        ("a\r::error::x", "a\\r::error::x"),
        ("a\x0b::error::x", "a\\u000b::error::x"),
        ("step ##[warning]x", "step ##\\[warning]x"),
        ("plain text :: with colons", "plain text :: with colons"),
        ("\x1b[31mred\x1b[0m\tok", "\x1b[31mred\x1b[0m\tok"),
    ],
)
def test_untrusted_lines_are_never_commands(given: str, shown: str) -> None:
    assert untrusted(given) == shown
    assert commands(untrusted(given)) == []


def test_info_keeps_each_line_and_neutralises_it() -> None:
    stream = io.StringIO()
    Actions({}, stream).info(HOSTILE)
    out = stream.getvalue()
    assert commands(out) == []
    assert out.count("\n") == HOSTILE.count("\n") + 1  # \r stayed inside its line


class _Busy(BaseHTTPRequestHandler):
    """Answers every request like a busy Harbor whose error text carries workflow commands."""

    body = json.dumps({"errors": [{"code": "UNKNOWN", "message": HOSTILE}]}).encode()

    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


class _Html(_Busy):
    body = b"<html><body>Please log in</body></html>"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


def _answering(content_type: str, text: str) -> type[BaseHTTPRequestHandler]:
    """A server that answers every GET with 200 and this body."""

    class Handler(_Busy):
        body = text.encode()

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)

    return Handler


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("server", [_Busy], indirect=True)
def test_harbor_error_text_in_the_retry_message(server: str) -> None:
    stream = io.StringIO()
    actions = Actions({}, stream)
    client = HarborClient(
        server,
        "robot$p+ci",
        "s",
        backoff=Backoff(attempts=3),
        on_retry=actions.info,
        sleep=lambda _: None,
    )
    with pytest.raises(HarborError) as raised:
        client.get_project("p")
    assert "retry 1" in stream.getvalue()
    assert commands(stream.getvalue()) == []
    assert "\n" not in raised.value.diagnostics()  # one line, whatever the server said


@pytest.mark.parametrize("server", [_Html], indirect=True)
def test_a_login_page_instead_of_json_is_one_clear_line(server: str) -> None:
    client = HarborClient(server, "robot$p+ci", "s")
    with pytest.raises(HarborResponseError) as raised:
        client.get_project("p")
    text = raised.value.diagnostics()
    assert "Harbor getProject answered with an HTML page (text/html" in text
    assert "harbor-url" in text


def test_push_stream_text() -> None:
    stream = io.StringIO()
    chunks = [{"status": f"::warning::x {DIGEST}\r::error::y digest: {DIGEST} size: 1"}]
    assert _follow_push(chunks, "r/x:1", Actions({}, stream).info) == DIGEST
    assert stream.getvalue() and commands(stream.getvalue()) == []


def test_cosign_output(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """cosign's output is captured, never inherited; what is shown goes through Actions."""
    fake = tmp_path / "cosign"
    fake.write_text(
        "#!/bin/sh\n"
        "echo '::warning::from cosign stdout'\n"
        "printf 'Error: Fulcio returned 503\\n::add-mask::x\\n' >&2\n"
        "exit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    stream = io.StringIO()
    cosign = Cosign(str(fake), {}, Actions({}, stream), backoff=Backoff(attempts=2, initial=0.01))
    with pytest.raises(SigningError):
        cosign.run([str(fake), "sign"], "signing x")
    assert "retry 1" in stream.getvalue()
    assert commands(stream.getvalue()) == []
    assert "from cosign stdout" not in capfd.readouterr().out


def test_gate_json_line_is_json_and_never_a_command() -> None:
    value = {"blocking": ["::warning::x", "##[add-mask]y", "a\nb"]}
    line = _json_line(value)
    assert json.loads(line) == value
    assert "\n" not in line and commands(line) == []


DIGEST_REF = ("p", "svc", DIGEST)


@pytest.mark.parametrize(
    ("server", "call", "shown"),
    [
        (_answering("application/json", ""), "get_project", "an empty body (application/json)"),
        (_answering("application/json", "null"), "get_project", "JSON null instead of an object"),
        (_answering("application/json", "[]"), "get_artifact", "JSON [] instead of an object"),
        (_answering("application/json", '"ok"'), "system_allowlist", 'JSON "ok" instead of'),
        (_answering("application/json", "{}"), "list_artifacts", "instead of a list of objects"),
        (_answering("application/json", "[1]"), "list_artifacts", "instead of a list of objects"),
        (_answering("text/plain", "::warning::x"), "vulnerability_reports", "text/plain"),
        (_answering("application/json", "{"), "vulnerability_reports", "application/json"),
    ],
    indirect=["server"],
)
def test_a_200_that_is_not_harbors_json_is_one_clear_line(
    server: str, call: str, shown: str
) -> None:
    client = HarborClient(server, "robot$p+ci", "s")
    args = {"get_project": ("p",), "system_allowlist": (), "list_artifacts": ("p", "svc")}
    with pytest.raises(HarborResponseError) as raised:
        result = getattr(client, call)(*args.get(call, DIGEST_REF))
        list(result) if call == "list_artifacts" else None
    text = raised.value.diagnostics()
    assert shown in text
    assert text.startswith("Harbor ") and "harbor-url" in text
    assert "\n" not in text and commands(text) == []


class _Forbidden(_Busy):
    """Harbor's 403 for a robot without project:read (robot_ci_project_get_403.http)."""

    body = b'{"errors":[{"code":"FORBIDDEN","message":"forbidden"}]}'

    def do_GET(self) -> None:
        self.send_response(403)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.mark.parametrize("server", [_Forbidden], indirect=True)
def test_preflight_names_the_missing_permission(server: str) -> None:
    own = HarborClient(server, "robot$k1s0-system+ci", "s")
    with pytest.raises(HarborPermissionError, match=r"Harbor permission project:read\)"):
        preflight(own, "k1s0-system", "svc")
    assert own.requests_sent == 1
    other = HarborClient(server, "robot$k1s0-infra+ci", "s")
    with pytest.raises(HarborPermissionError, match="belongs to project k1s0-infra, not k1s0-sys"):
        preflight(other, "k1s0-system", "svc")

"""All GitHub Actions I/O: outputs, annotations, log groups, masking and the job summary.

Workflow commands go through actions-toolkit; the job summary and secret redaction are here
because the toolkit predates them. Nothing else in the package prints workflow commands, and
plain log text can never become one: `info` passes every line through `untrusted`, because much
of what is logged comes from outside (Harbor's and the registry's error texts, the build's own
output, the push stream, cosign, Fulcio and Rekor).
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO
from urllib.parse import quote, quote_plus

from actions_toolkit import core

REDACTED = "***"
# Characters a reader of the log (the runner reads lines like .NET's ReadLine, which also breaks
# at a lone CR) could take as the end of a line, and other C0 controls; \t and ESC (colours) stay.
_BREAKS = re.compile("[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f\x85\u2028\u2029]")
# The runner's two command syntaxes (actions/runner src/Runner.Common/ActionCommand.cs):
# `::name ...::data` after leading whitespace (TryParseV2), and `##[name ...]data` anywhere
# in the line (TryParse).
_LEGACY_COMMAND = "##["


def _escape(match: re.Match[str]) -> str:
    return json.dumps(match.group())[1:-1]


def untrusted(text: str) -> str:
    """Text from outside made safe to log: each of its lines stays one log line (control
    characters are escaped), and no line can be read by the runner as a workflow command
    (a leading `::` gets a backslash in front, `##[` becomes `##\\[`)."""
    lines = []
    for given in text.split("\n"):
        line = _BREAKS.sub(_escape, given).replace(_LEGACY_COMMAND, "##\\[")
        start = line.find("::")
        if start >= 0 and all(c.isspace() or not c.isprintable() for c in line[:start]):
            line = "\\" + line
        lines.append(line)
    return "\n".join(lines)


MIN_LINE_MASK = 4  # shorter lines of a multi-line secret would blank out ordinary text


def secret_forms(secret: str, username: str = "") -> list[str]:
    """`secret` and every encoding of it the action or a library may write."""
    if not secret:
        return []
    forms = [secret]
    forms += [line for line in secret.splitlines() if len(line.strip()) >= MIN_LINE_MASK]
    forms += [quote(secret, safe=""), quote_plus(secret), quote(secret)]
    forms.append(json.dumps(secret)[1:-1])
    forms.append(repr(secret)[1:-1])
    forms.append(base64.b64encode(secret.encode()).decode())
    if username:
        forms.append(base64.b64encode(f"{username}:{secret}".encode()).decode())
    unique: list[str] = []
    for form in forms:
        if form and form not in unique:
            unique.append(form)
    return unique


class Actions:
    def __init__(self, env: Mapping[str, str] | None = None, stream: TextIO | None = None) -> None:
        self._env = dict(os.environ if env is None else env)
        self._stream = stream or sys.stdout
        self._secrets: list[str] = []

    # -- secrets ---------------------------------------------------------------------------------
    def mask(self, secret: str, username: str = "") -> None:
        """Registers a secret: the runner masks it, and `redact` scrubs it from our own text.

        Also the forms it takes on the way out: each line of a multi-line secret (the runner
        masks line by line), percent-encoded (URLs), JSON-escaped, and base64 alone and as HTTP
        Basic / Docker config `auth` with `username`.
        """
        for form in secret_forms(secret, username):
            if form in self._secrets:
                continue
            self._secrets.append(form)
            self._stream.flush()
            core.set_secret(form)
            sys.stdout.flush()

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    # -- log -----------------------------------------------------------------------------------
    def info(self, message: str) -> None:
        """A plain log line, never a workflow command whatever `message` holds (`untrusted`)."""
        self._stream.write(untrusted(self.redact(message)) + "\n")
        self._stream.flush()

    def error(self, message: str, title: str | None = None) -> None:
        self._command(core.error, message, title)

    def warning(self, message: str, title: str | None = None) -> None:
        self._command(core.warning, message, title)

    def notice(self, message: str, title: str | None = None) -> None:
        self._command(core.notice, message, title)

    def _command(self, emit: object, message: str, title: str | None) -> None:
        self._stream.flush()
        properties = {"title": self.redact(title)} if title else {}
        emit(self.redact(message), **properties)  # type: ignore[operator]
        sys.stdout.flush()

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._stream.flush()
        core.start_group(self.redact(title))
        sys.stdout.flush()
        try:
            yield
        finally:
            self._stream.flush()
            core.end_group()
            sys.stdout.flush()

    # -- results -------------------------------------------------------------------------------
    def set_output(self, name: str, value: str | list[str] | dict[str, int] | bool) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        if isinstance(value, bool):
            text = "true" if value else "false"
        text = self.redact(text)
        path = self._env.get("GITHUB_OUTPUT")
        if not path:
            self.info(f"output {name}={text}")
            return
        delimiter = f"k1s0_{os.urandom(8).hex()}"
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")

    def write_workspace_file(self, name: str, text: str) -> Path:
        """Writes a report into the workspace (GITHUB_WORKSPACE, else the cwd), redacted."""
        path = Path(self._env.get("GITHUB_WORKSPACE") or ".").resolve() / name
        path.write_text(self.redact(text), encoding="utf-8")
        return path

    def summary(self, markdown: str) -> None:
        """Appends to the job summary (GITHUB_STEP_SUMMARY), redacted; outside a runner, where
        there is no summary file, it writes nothing."""
        text = self.redact(markdown)
        path = self._env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(text.rstrip("\n") + "\n")

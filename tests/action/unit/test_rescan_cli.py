"""`k1s0-image rescan` refuses bad input with one line, before asking Harbor anything; the
action's `command` input picks the command."""

from __future__ import annotations

import pytest

from k1s0_action.cli import action_main, main

# Nothing listens there: a test that reached Harbor would fail on the connection, not exit 2.
BASE = ["rescan", "--harbor-url=http://127.0.0.1:9"]
CREDENTIALS = {"HARBOR_USERNAME": "robot$k1s0-system+rescan", "HARBOR_PASSWORD": "s3cret"}


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {}, "harbor-credentials"),
        (["--layers=system,frontend"], CREDENTIALS, "'layer'"),
        (["--max-age=soon"], CREDENTIALS, "input 'max-age': 'soon' is not a duration"),
        (["--block-severities=severe"], CREDENTIALS, "'block-severities'"),
        (["--open-issues"], CREDENTIALS, "needs GITHUB_TOKEN"),
        ([], {**CREDENTIALS, "INPUT_OPEN-ISSUES": "true"}, "needs GITHUB_TOKEN"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, *argv], env) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_the_command_input_allows_only_run_and_rescan(capsys: pytest.CaptureFixture[str]) -> None:
    assert action_main({"INPUT_COMMAND": "shell"}) == 2
    assert "::error::input command: 'shell' is not allowed; use run | rescan" in (
        capsys.readouterr().out
    )

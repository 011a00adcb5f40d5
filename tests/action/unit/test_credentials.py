"""Which message a missing robot account gets: a fork's pull request is told why it has none."""

from __future__ import annotations

from dataclasses import replace

import pytest

from k1s0_action.context import GitContext
from k1s0_action.errors import InputError
from k1s0_action.inputs import read_inputs
from k1s0_action.pipeline import credentials

PUSH = GitContext("push", "refs/heads/main", "a" * 40, "", "main", "k1s0-org/k1s0")
SAME_REPO_PR = replace(
    PUSH, event_name="pull_request", head_ref="feature/x", head_repository="k1s0-org/k1s0"
)
FORK_PR = replace(SAME_REPO_PR, head_repository="someone/k1s0")
BASE = {"INPUT_SERVICE": "auth", "INPUT_LAYER": "system", "INPUT_VERSION": "1.0.0"}


@pytest.mark.parametrize(
    ("context", "env", "named", "says"),
    [
        (PUSH, {}, "harbor-username", "pass a Harbor robot account"),
        (PUSH, {"INPUT_HARBOR-USERNAME": "robot$p+ci"}, "harbor-password", "repository secret"),
        (SAME_REPO_PR, {}, "harbor-username", "pass a Harbor robot account"),
        (FORK_PR, {}, "harbor-username", "no secrets to pull requests from forks"),
        (FORK_PR, {"INPUT_HARBOR-USERNAME": "robot$p+ci"}, "harbor-password", "from forks"),
    ],
)
def test_missing_credentials(
    context: GitContext, env: dict[str, str], named: str, says: str
) -> None:
    with pytest.raises(InputError) as raised:
        credentials(read_inputs({**BASE, **env}), context)
    assert raised.value.input_name == named
    assert says in raised.value.diagnostics()


def test_credentials_present() -> None:
    inputs = read_inputs({**BASE, "INPUT_HARBOR-USERNAME": "u", "INPUT_HARBOR-PASSWORD": "p"})
    assert credentials(inputs, FORK_PR).username == "u"

"""LocalHarbor's retention tag selectors behave as Harbor's doublestar selector does
(src/lib/selector/selectors/doublestar in goharbor/harbor), untagged artifacts included."""

from __future__ import annotations

import pytest

from k1s0_stack.harbor.retention import _tags_selected


def artifact(*tags: str) -> dict[str, object]:
    return {"tags": [{"name": tag} for tag in tags]}


def rule(decoration: str, pattern: str, extras: str | None = None) -> dict[str, object]:
    selector: dict[str, object] = {
        "kind": "doublestar",
        "decoration": decoration,
        "pattern": pattern,
    }
    if extras is not None:
        selector["extras"] = extras
    return {"tag_selectors": [selector]}


@pytest.mark.parametrize(
    ("tags", "decoration", "pattern", "extras", "picked"),
    [
        (("1.2.3",), "matches", "*.*.*", None, True),
        (("1.2.3-abc1234", "1.2.3"), "matches", "latest", None, False),
        (("1.2.3", "latest"), "matches", "latest", None, True),
        # excludes picks an artifact when ANY of its tags does not match
        (("1.2.3", "main-abc1234"), "excludes", "*.*.*", None, True),
        (("1.2.3",), "excludes", "*.*.*", None, False),
        # untagged: matches keeps them by default, excludes does not
        ((), "matches", "**", None, True),
        ((), "excludes", "**", None, True),
        ((), "matches", "**", '{"untagged": false}', False),
        ((), "matches", "**", '{"untagged": true}', True),
        ((), "excludes", "**", '{"untagged": true}', False),
        ((), "matches", "**", "{}", False),  # extras given without the key: false
        ((), "matches", "**", "not json", True),  # unparsable: the default stays
    ],
)
def test_doublestar_selector(
    tags: tuple[str, ...], decoration: str, pattern: str, extras: str | None, picked: bool
) -> None:
    assert _tags_selected(artifact(*tags), rule(decoration, pattern, extras)) is picked

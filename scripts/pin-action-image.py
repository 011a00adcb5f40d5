#!/usr/bin/env python3
"""Points action.yml's `runs.image` at a prebuilt image, by digest (run by the release workflow).

    pin-action-image.py ACTION_YML IMAGE@sha256:DIGEST
    pin-action-image.py --check ACTION_YML   (exit 1 unless it still builds the Dockerfile)

On `main`, action.yml says `image: Dockerfile` (the runner builds the image); a release commit
says `image: docker://IMAGE@sha256:DIGEST` (the runner pulls it). Only that one line changes, so
the release commit's diff is exactly the pin. Refused: a reference without a digest (a tag can
move), a malformed name or digest, and an action.yml that is already pinned (a release commit is
never released again).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Docker's reference grammar: host[:port]/path components, lower case, then @sha256:<64 hex>.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?)"
REFERENCE = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*@sha256:[0-9a-f]{{64}}$")
# `runs:` at the top level, then its `image:` line, before the next top-level key.
_RUNS_IMAGE = re.compile(
    r"^(runs:[ \t]*\n(?:(?:[ \t]+.*|[ \t]*)\n)*?[ \t]+image:[ \t]*)(\S.*?)([ \t]*(?:#.*)?)$",
    re.M,
)


class PinError(ValueError):
    """Why action.yml cannot be pinned to the reference; one line."""


def current_image(text: str) -> str:
    found = _RUNS_IMAGE.search(text)
    if not found:
        raise PinError("action.yml has no runs.image line")
    return found.group(2).strip().strip("'\"")


def pin(text: str, reference: str) -> str:
    """action.yml's text with runs.image set to docker://`reference`; nothing else changes."""
    reference = reference.removeprefix("docker://")
    if "@" not in reference:
        raise PinError(f"{reference!r} has no digest: pin the image by @sha256:<digest>, not a tag")
    if not REFERENCE.match(reference):
        raise PinError(
            f"{reference!r} is not an image reference of the form "
            "host/path/name@sha256:<64 hex digits> (lower case)"
        )
    check(text)
    found = _RUNS_IMAGE.search(text)
    assert found is not None  # current_image found it
    return f"{text[: found.start(2)]}docker://{reference}{text[found.end(2) :]}"


def check(text: str) -> None:
    """Refuses an action.yml that is already a release's (the release workflow's first step)."""
    image = current_image(text)
    if image != "Dockerfile":
        raise PinError(
            f"action.yml already runs {image!r}, not 'Dockerfile': this is a release commit; "
            "release from the source commit"
        )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(
            "usage: pin-action-image.py ACTION_YML IMAGE@sha256:DIGEST | --check ACTION_YML",
            file=sys.stderr,
        )
        return 2
    if argv[0] == "--check":
        try:
            check(Path(argv[1]).read_text())
        except (PinError, OSError) as error:
            print(f"pin-action-image: {error}", file=sys.stderr)
            return 1
        return 0
    path = Path(argv[0])
    try:
        pinned = pin(path.read_text(), argv[1])
    except (PinError, OSError) as error:
        print(f"pin-action-image: {error}", file=sys.stderr)
        return 1
    path.write_text(pinned)
    print(f"{path}: runs.image = {current_image(pinned)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Errors a user can act on.

Every failure the action reports derives from ActionError; `diagnostics()` is the one line a person
reads in the job log, naming the input or resource and what to do about it.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with control characters escaped (\\n, \\x1b...), so it cannot start a log line."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


def shown(value: str) -> str:
    """An input's value quoted for a message, on one line."""
    return f"'{one_line(value)}'"


class ActionError(Exception):
    """Base of every failure that is reported to the user instead of as a traceback."""

    def diagnostics(self) -> str:
        return str(self)


class InputError(ActionError):
    """An action input (or CLI flag) has a value the action cannot use."""

    def __init__(self, input_name: str, message: str) -> None:
        # Input values are echoed in messages: keep a hostile one from adding a log line.
        super().__init__(one_line(f"input '{input_name}': {message}"))
        self.input_name = input_name


class BuildError(ActionError):
    """The Docker engine failed to build the image; the message is the daemon's own."""


class RegistryError(ActionError):
    """Pushing to or reading from the registry failed."""


class RegistryAuthError(RegistryError):
    """The registry refused the credentials; never retried."""


class TransientError(ActionError):
    """A failure worth retrying (5xx, 429, reset connection, timeout)."""


class HarborError(ActionError):
    """The Harbor API answered with an error the action cannot recover from."""


class ScanGateError(ActionError):
    """The image did not pass the vulnerability gate, or its scan could not be completed."""


class SigningError(ActionError):
    """Keyless signing or its verification failed."""


class OidcError(SigningError):
    """The workflow's OIDC token could not be obtained."""

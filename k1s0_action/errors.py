"""Errors a user can act on.

Every failure the action reports derives from ActionError; `diagnostics()` is the one line a person
reads in the job log, naming the input or resource and what to do about it.
"""

from __future__ import annotations


class ActionError(Exception):
    """Base of every failure that is reported to the user instead of as a traceback."""

    def diagnostics(self) -> str:
        return str(self)


class InputError(ActionError):
    """An action input (or CLI flag) has a value the action cannot use."""

    def __init__(self, input_name: str, message: str) -> None:
        super().__init__(f"input '{input_name}': {message}")
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

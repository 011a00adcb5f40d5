"""Harbor's API errors: the status, code and message its one error handler sends as
{"errors":[{"code": ..., "message": ...}]}."""

from __future__ import annotations


class HarborError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(message: str) -> HarborError:
    return HarborError(404, "NOT_FOUND", message)


def bad_request(message: str) -> HarborError:
    return HarborError(400, "BAD_REQUEST", message)


def unauthorized() -> HarborError:
    """Harbor's errors.UnauthorizedError(nil)."""
    return HarborError(401, "UNAUTHORIZED", "unauthorized")


def forbidden(message: str = "forbidden") -> HarborError:
    """Harbor's errors.ForbiddenError(nil) (message "forbidden") or .WithMessage(...)."""
    return HarborError(403, "FORBIDDEN", message)

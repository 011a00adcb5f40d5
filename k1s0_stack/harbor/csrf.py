"""Harbor's session cookie and CSRF check, as its core middlewares apply them.

- Every response sets the session cookie `sid` (Beego's session; all captured responses of Harbor
  v2.15.2 carry `Set-Cookie: sid=...; Path=/; HttpOnly`).
- `src/server/middleware/session/session.go` marks a request that carries a `sid` cookie;
  `src/server/middleware/csrf/csrf.go` (`csrfSkipper`) skips the CSRF check only for paths under
  `/v2/`, `/api/` and `/service/` of a request *without* that cookie. Every other request goes
  through gorilla/csrf v1.7.2: safe methods (GET, HEAD, OPTIONS, TRACE) pass and get a token;
  any other method needs the token in `X-Harbor-CSRF-Token` matching the `_gorilla_csrf` cookie,
  else 403 "CSRF token not found in request" (no token) or "CSRF token invalid" (wrong token).
  The check runs before authentication (session and csrf come before security in
  `src/core/middlewares/middlewares.go`), so Basic auth does not exempt a cookie-carrying request.
- The Referer check gorilla does for HTTPS requests does not apply: LocalHarbor serves plain HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

SESSION_COOKIE = "sid"
CSRF_COOKIE = "_gorilla_csrf"
TOKEN_HEADER = "X-Harbor-CSRF-Token"  # noqa: S105 - a header name
TOKEN_FORM_FIELD = "gorilla.csrf.Token"  # noqa: S105 - a form field name
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
SKIPPED_PREFIXES = ("/v2/", "/api/", "/service/")
TOKEN_LENGTH = 32
MAX_AGE = 43200  # gorilla/csrf's default: 12 hours
NO_TOKEN = "CSRF token not found in request"  # noqa: S105 - a message
BAD_TOKEN = "CSRF token invalid"  # noqa: S105 - a message


def skipped(path: str, cookies: Mapping[str, str]) -> bool:
    """csrfSkipper: API, registry and token paths of a request that carries no session."""
    return path.startswith(SKIPPED_PREFIXES) and SESSION_COOKIE not in cookies


@dataclass(frozen=True)
class Outcome:
    """What the check decided: `refusal` is the 403 message (None: go on); `token` is the masked
    token for the `X-Harbor-CSRF-Token` response header; `cookie` a new `_gorilla_csrf` value."""

    refusal: str | None
    token: str
    cookie: str | None


class CsrfGuard:
    """gorilla/csrf's double-submit check with a per-server key."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def check(self, method: str, cookies: Mapping[str, str], sent: str | None) -> Outcome:
        real = self._read_cookie(cookies.get(CSRF_COOKIE))
        new_cookie = None
        if real is None:
            real = secrets.token_bytes(TOKEN_LENGTH)
            new_cookie = self._cookie_value(real)
        token = _mask(real)
        if method.upper() in SAFE_METHODS:
            return Outcome(None, token, new_cookie)
        issued = _unmask(sent or "")
        if issued is None:
            return Outcome(NO_TOKEN, token, new_cookie)
        if not hmac.compare_digest(issued, real):
            return Outcome(BAD_TOKEN, token, new_cookie)
        return Outcome(None, token, new_cookie)

    def _cookie_value(self, token: bytes) -> str:
        payload = base64.urlsafe_b64encode(token).decode()
        return f"{payload}|{self._sign(payload)}"

    def _read_cookie(self, value: str | None) -> bytes | None:
        payload, _, signature = (value or "").partition("|")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            token = base64.urlsafe_b64decode(payload)
        except ValueError:
            return None
        return token if len(token) == TOKEN_LENGTH else None

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()


def _mask(real: bytes) -> str:
    """gorilla's mask: a one-time pad followed by the token XORed with it, base64 (std)."""
    pad = secrets.token_bytes(TOKEN_LENGTH)
    return base64.b64encode(pad + bytes(a ^ b for a, b in zip(pad, real, strict=True))).decode()


def _unmask(sent: str) -> bytes | None:
    try:
        raw = base64.b64decode(sent, validate=True)
    except ValueError:
        return None
    if len(raw) != TOKEN_LENGTH * 2:
        return None
    pad, masked = raw[:TOKEN_LENGTH], raw[TOKEN_LENGTH:]
    return bytes(a ^ b for a, b in zip(pad, masked, strict=True))


def new_session_id() -> str:
    return secrets.token_hex(16)

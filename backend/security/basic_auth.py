"""HTTP Basic credentials of billwerk webhook calls (billwerk signs nothing; the credentials in the
webhook URL are all that proves a call comes from billwerk)."""
from __future__ import annotations

import base64
import binascii
import hmac
import secrets


class BasicAuthError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_basic(header: str | None) -> tuple[str, str]:
    if not header:
        raise BasicAuthError("no Authorization header")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        raise BasicAuthError("Authorization is not Basic")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):  # ValueError: b64decode("²") - a non-ASCII str
        raise BasicAuthError("Basic credentials are not valid base64 UTF-8") from None
    if any(c < " " or "\x7f" <= c <= "\x9f" for c in decoded):  # RFC 7617: no control characters (and no NUL for PostgreSQL)
        raise BasicAuthError("Basic credentials contain control characters")
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise BasicAuthError("Basic credentials have no username")
    return username, password


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def new_credentials(prefix: str = "hubwerk") -> tuple[str, str]:
    """A fresh webhook username (names the account; not secret) and password (secret)."""
    return f"{prefix}-{secrets.token_hex(6)}", secrets.token_urlsafe(32)

"""HubSpot request signatures v1, v2 and v3 (written from HubSpot's published algorithm).

==== ============================================== ============= ==============
ver  string hashed (UTF-8)                          algorithm     encoding
==== ============================================== ============= ==============
v1   client_secret + body                           SHA-256       hex, lower
v2   client_secret + method + uri + body            SHA-256       hex, lower
v3   method + uri + body + timestamp                HMAC-SHA256   base64
                                                    (key: secret)
==== ============================================== ============= ==============

The sandbox uses these to sign webhooks (v1 + v3), workflow-action calls (v2 + v3) and
app-card calls (v3). ``verify`` is provided for symmetry and tests; comparison is
constant-time and v3 rejects timestamps more than 5 minutes away from now.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

V3_MAX_AGE_MS = 300_000


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def sign_v1(secret: str, body: str | bytes) -> str:
    return hashlib.sha256(_b(secret) + _b(body)).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: str | bytes) -> str:
    return hashlib.sha256(_b(secret) + _b(method.upper()) + _b(uri) + _b(body)).hexdigest()


def sign_v3(secret: str, method: str, uri: str, body: str | bytes, timestamp: str | int) -> str:
    message = _b(method.upper()) + _b(uri) + _b(body) + _b(str(timestamp))
    return base64.b64encode(hmac.new(_b(secret), message, hashlib.sha256).digest()).decode("ascii")


def sign(version: str, secret: str, *, method: str = "", uri: str = "", body: str | bytes = b"",
         timestamp: str | int = "") -> str:
    if version == "v1":
        return sign_v1(secret, body)
    if version == "v2":
        return sign_v2(secret, method, uri, body)
    if version == "v3":
        return sign_v3(secret, method, uri, body, timestamp)
    raise ValueError(f"unknown signature version {version!r}")


def now_ms() -> int:
    return int(time.time() * 1000)


def verify(version: str, secret: str, signature: str, *, method: str = "", uri: str = "",
           body: str | bytes = b"", timestamp: str | int | None = None,
           now: int | None = None) -> bool:
    """True when ``signature`` is valid (and, for v3, the timestamp is fresh)."""
    if version == "v3":
        try:
            ts = int(str(timestamp))
        except (TypeError, ValueError):
            return False
        if abs((now if now is not None else now_ms()) - ts) > V3_MAX_AGE_MS:
            return False
    expected = sign(version, secret, method=method, uri=uri, body=body,
                    timestamp="" if timestamp is None else timestamp)
    return hmac.compare_digest(expected.encode(), (signature or "").encode())


def signed_headers(secret: str, *, versions: tuple[str, ...], method: str, uri: str,
                   body: bytes, timestamp_ms: int | None = None) -> dict[str, str]:
    """Headers HubSpot would send: ``X-HubSpot-Signature`` (+ version) for v1/v2, v3 pair."""
    headers: dict[str, str] = {}
    for version in versions:
        if version in ("v1", "v2"):
            headers["X-HubSpot-Signature"] = sign(version, secret, method=method, uri=uri, body=body)
            headers["X-HubSpot-Signature-Version"] = version
        elif version == "v3":
            ts = str(timestamp_ms if timestamp_ms is not None else now_ms())
            headers["X-HubSpot-Signature-v3"] = sign_v3(secret, method, uri, body, ts)
            headers["X-HubSpot-Request-Timestamp"] = ts
        else:
            raise ValueError(f"unknown signature version {version!r}")
    return headers

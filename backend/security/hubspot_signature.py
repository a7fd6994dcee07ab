"""HubSpot request signatures v1, v2 and v3, exactly as HubSpot defines them.

- v1: hex SHA-256 of ``client_secret + body`` (webhooks API)
- v2: hex SHA-256 of ``client_secret + method + uri + body`` (workflow custom actions)
- v3: base64 HMAC-SHA256 keyed with the client secret over ``method + uri + body + timestamp``
  (cards' ``hubspot.fetch``, and added to webhooks); the timestamp (ms) must be at most five
  minutes old.

The URI is the one HubSpot called: ``PUBLIC_BASE_URL + path + "?" + raw query string``. For v3
HubSpot documents a percent-decoding of some characters before hashing; HubSpot's own SDKs hash
the URI as given. Both forms are accepted. Every comparison is constant-time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Mapping

V3_MAX_AGE_MS = 5 * 60 * 1000

# HubSpot's v3 decoding table (request-validation docs): these escapes are decoded in the URI
# before hashing; the "?" that starts the query string is, of course, left alone.
_V3_DECODE = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}


class SignatureError(Exception):
    """The request is not proven to come from HubSpot; ``reason`` says why (for logs, not for callers)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def signature_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode("utf-8") + body).hexdigest()


def signature_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode("utf-8") + method.upper().encode("utf-8") + uri.encode("utf-8") + body).hexdigest()


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode("utf-8") + uri.encode("utf-8") + body + timestamp.encode("utf-8")
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()).decode("ascii")


_V3_ESCAPE = re.compile("|".join(_V3_DECODE), re.IGNORECASE)


def v3_decoded_uri(uri: str) -> str:
    if "%" not in uri:
        return uri
    return _V3_ESCAPE.sub(lambda m: _V3_DECODE[m.group(0).upper()], uri)


@dataclass(frozen=True)
class Verified:
    version: str
    signature: str
    timestamp_ms: int | None = None


def verify(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now_ms: int,
    accept: tuple[str, ...],
) -> Verified:
    """Check a request's HubSpot signature; return which version proved it or raise SignatureError.

    When v3 headers are present, v3 decides; otherwise ``X-HubSpot-Signature-Version`` (v1/v2)
    does. ``accept`` lists the versions this endpoint takes.
    """
    v3 = headers.get("X-HubSpot-Signature-v3")
    timestamp = headers.get("X-HubSpot-Request-Timestamp")
    if v3 is not None or timestamp is not None:
        if "v3" not in accept:
            raise SignatureError("v3 signature on an endpoint that does not take v3")
        if not v3 or not timestamp:
            raise SignatureError("v3 signature without its timestamp (or the reverse)")
        # "²".isdigit() is True and int("²") fails; a 5,000-digit number makes int() refuse too.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 15):
            raise SignatureError("v3 timestamp is not a number of milliseconds")
        age = now_ms - int(timestamp)
        if abs(age) > V3_MAX_AGE_MS:
            raise SignatureError("v3 timestamp is more than five minutes away from now")
        candidates = {uri, v3_decoded_uri(uri)}
        if any(hmac.compare_digest(signature_v3(secret, method, u, body, timestamp).encode(), v3.encode()) for u in candidates):
            return Verified("v3", v3, int(timestamp))
        raise SignatureError("v3 signature does not match")

    version = (headers.get("X-HubSpot-Signature-Version") or "").lower()
    signature = headers.get("X-HubSpot-Signature")
    if not signature or not version:
        raise SignatureError("no HubSpot signature headers")
    if version not in accept:
        raise SignatureError(f"signature version {version!r} is not accepted here")
    if version == "v1":
        expected = signature_v1(secret, body)
    elif version == "v2":
        expected = signature_v2(secret, method, uri, body)
    else:
        raise SignatureError(f"unknown signature version {version!r}")
    if hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        return Verified(version, signature)
    raise SignatureError(f"{version} signature does not match")

"""One base API client for every outbound call: base URL, explicit timeout, retries with
backoff, a shared rate limiter, and translation of failures into an ``ApiError`` tree whose
members say whether trying again later can help.

Providers plug in through a few hooks (``parse_error``, ``rate_limit_delay``,
``is_rate_limited``); :mod:`backend.clients.hubspot` and :mod:`backend.clients.billwerk` are
the two subclasses. Nothing here logs headers or bodies: requests carry bearer tokens and
client secrets, and paths that embed a token are passed with a redacted ``log_path``.
"""
from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import requests

from backend.clients.waits import may_wait
from backend.errors import HubwerkError

log = logging.getLogger("hubwerk.clients")

DEFAULT_TIMEOUT = (5, 30)          # (connect, read) seconds
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
PROVIDER_NAMES = {"hubspot": "HubSpot", "billwerk": "billwerk"}


# --- the error tree -----------------------------------------------------------------------------

class ApiError(HubwerkError):
    """A call to a provider failed.

    ``provider_status`` is the provider's HTTP status (``None`` when no answer came);
    ``status`` is what hubwerk's own API answers when the error reaches a view (502 unless a
    subclass says otherwise). ``provider_message`` is the provider's own sentence,
    ``correlation_id`` HubSpot's id for support, ``body`` the parsed error body (``None`` when
    not JSON), ``errors`` the provider's per-field problems, ``category`` HubSpot's category
    (or the OAuth ``status`` such as ``BAD_REFRESH_TOKEN``).
    """

    code = "provider_error"
    status = 502
    retriable = False

    def __init__(self, message: str, *, provider: str, method: str, path: str,
                 provider_status: int | None = None, provider_message: str | None = None,
                 correlation_id: str | None = None, body: Any = None, errors: list | None = None,
                 category: str | None = None, retriable: bool | None = None, status: int | None = None):
        super().__init__(message, retriable=retriable, status=status)
        self.provider = provider
        self.method = method
        self.path = path
        self.provider_status = provider_status
        self.provider_message = provider_message
        self.correlation_id = correlation_id
        self.body = body
        self.errors = errors or []
        self.category = category

    def log_fields(self) -> dict:
        return {"provider": self.provider, "method": self.method, "path": self.path,
                "status": self.provider_status, "correlation_id": self.correlation_id,
                "error_code": self.code, "retriable": self.retriable, "category": self.category}


class RateLimited(ApiError):
    """429 (or billwerk's 403 "rate limit exceeded") that outlasted the client's retries."""

    code = "provider_rate_limited"
    status = 503
    retriable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx (or 423 Locked) from the provider: usually temporary."""

    code = "provider_server_error"
    status = 502
    retriable = True


class Unavailable(ApiError):
    """No answer: timeout or connection error."""

    code = "provider_unavailable"
    status = 503
    retriable = True


class AuthError(ApiError):
    """401: the provider refused hubwerk's credentials."""

    code = "provider_auth_failed"
    status = 502


class Forbidden(AuthError):
    """403: authenticated but not allowed (missing scopes, another legal entity)."""

    code = "provider_forbidden"


class NotFound(ApiError):
    code = "provider_not_found"
    status = 404


class Conflict(ApiError):
    """409. HubSpot names the record that already holds the value: see :attr:`existing_id`."""

    code = "provider_conflict"
    status = 409

    _EXISTING = re.compile(r"Existing ID:\s*(\d+)")

    @property
    def existing_id(self) -> str | None:
        match = self._EXISTING.search(self.provider_message or "")
        if match:
            return match.group(1)
        context = (self.body or {}).get("context") if isinstance(self.body, dict) else None
        ids = (context or {}).get("existingId") if isinstance(context, dict) else None
        return str(ids[0]) if ids else None


class PreconditionFailed(ApiError):
    """412: the record changed since it was read (stale ``If-Match``)."""

    code = "provider_precondition_failed"
    status = 412


class ValidationFailed(ApiError):
    """400 / 422: the provider refused the input; ``errors`` lists the per-field problems."""

    code = "provider_validation_failed"
    status = 422

    @property
    def field_errors(self) -> dict[str, list[str]]:
        """``{field: [message, …]}`` from HubSpot's ``errors[].context.propertyName`` / billwerk's list."""
        out: dict[str, list[str]] = {}
        for err in self.errors:
            if not isinstance(err, dict):
                out.setdefault("", []).append(str(err))
                continue
            ctx = err.get("context") or {}
            names = ctx.get("propertyName") if isinstance(ctx, dict) else None
            names = names or [err.get("in") or err.get("Field") or err.get("field") or ""]
            for name in names:
                out.setdefault(str(name), []).append(str(err.get("message") or err.get("Message") or err))
        return out


# --- parsing helpers ------------------------------------------------------------------------------

def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now())


def response_json(resp: requests.Response) -> Any:
    """The parsed body, or ``None`` for an empty or non-JSON body."""
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


class ParsedError(dict):
    """What a provider said in an error body: message, correlation_id, errors, category."""


# --- the client -----------------------------------------------------------------------------------

class BaseClient:
    """HTTP for one provider and base URL.

    Every call has an explicit timeout. Retries (``max_retries`` after the first attempt):

    * 429 and rate-limit look-alikes (:meth:`is_rate_limited`): always (the provider did not
      do the work), after :meth:`rate_limit_delay` (``Retry-After`` first);
    * 5xx, 423 and connection errors: for idempotent methods, and for POSTs only when the
      caller passes ``idempotent=True`` (batch reads, searches, upserts, previews);
    * a connect timeout (nothing was sent): always.

    ``sleep`` is injectable so tests never wait; ``rate_limiter`` (anything with
    ``acquire()``) is asked for a slot before every attempt.
    """

    provider = "api"
    backoff_base_s = 0.5
    backoff_cap_s = 30.0
    #: a provider asking to wait longer than this is not waited for inside a call: the error
    #: goes up (retriable) and the job layer retries later.
    max_wait_s = 60.0

    def __init__(self, base_url: str, *, timeout=DEFAULT_TIMEOUT, session: requests.Session | None = None,
                 max_retries: int = 4, rate_limiter=None, sleep: Callable[[float], None] = time.sleep,
                 headers: dict | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.max_retries = max_retries
        self.rate_limiter = rate_limiter
        self.sleep = sleep
        self.default_headers = dict(headers or {})

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- provider hooks --------------------------------------------------------------------------
    @property
    def provider_name(self) -> str:
        return PROVIDER_NAMES.get(self.provider, self.provider)

    def auth_headers(self) -> dict:
        """Headers that authenticate a call (bearer token …); computed per attempt."""
        return {}

    def secrets(self) -> Iterable[str]:
        """Values that must never appear in a message (tokens, client secret)."""
        return ()

    def parse_error(self, resp: requests.Response, body: Any) -> ParsedError:
        message = None
        if isinstance(body, dict):
            message = body.get("message") or body.get("Message") or body.get("error_description") or body.get("error")
        elif isinstance(body, str):
            message = body
        return ParsedError(message=message, correlation_id=None, errors=[], category=None)

    def is_rate_limited(self, resp: requests.Response, body: Any) -> bool:
        return resp.status_code == 429

    def rate_limit_delay(self, resp: requests.Response, body: Any, attempt: int) -> float:
        """Seconds to wait before retrying a rate-limited call."""
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if retry_after is not None:
            return retry_after
        return self.backoff(attempt)

    def acquire(self, method: str, path: str) -> None:
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()

    # -- backoff -----------------------------------------------------------------------------------
    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: base·2^attempt, capped, scaled by 0.5–1.0."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * (2 ** attempt))
        return ceiling * (0.5 + random.random() / 2)

    # -- the call ------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def renew_auth(self, err: "AuthError") -> bool:
        """The provider answered 401 to our credentials: get new ones and say whether to try once more."""
        return False

    def request(self, method: str, path: str, **kw) -> requests.Response:
        """Send one logical call (with retries) and return the response, or raise an ``ApiError``.

        ``expected``: statuses that count as success (default: any 2xx). ``idempotent``:
        ``True`` allows retrying a POST after a 5xx or a broken connection. ``log_path``:
        the path as it may be logged and shown (pass it when ``path`` embeds a token).
        After a 401 the call is sent once more if :meth:`renew_auth` got new credentials.
        """
        try:
            return self._request(method, path, **kw)
        except AuthError as err:
            if err.provider_status != 401 or isinstance(err, Forbidden) or not self.renew_auth(err):
                raise
            return self._request(method, path, **kw)

    def _request(self, method: str, path: str, *, params=None, json=None, data=None, headers: dict | None = None,
                 expected: Iterable[int] | None = None, idempotent: bool | None = None,
                 log_path: str | None = None, timeout=None) -> requests.Response:
        method = method.upper()
        shown = log_path or _strip_query(path)
        safe = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        ok = set(expected) if expected is not None else None
        attempt = 0
        slept = 0.0
        started = time.monotonic()
        while True:
            self.acquire(method, path)
            send_headers = {**self.default_headers, **self.auth_headers(), **(headers or {})}
            try:
                resp = self.session.request(method, self.url(path), params=params, json=json, data=data,
                                            headers=send_headers, timeout=timeout or self.timeout)
            except requests.RequestException as exc:
                retry_ok = safe or isinstance(exc, requests.ConnectTimeout)
                delay = self.backoff(attempt)
                if retry_ok and attempt < self.max_retries and may_wait(slept, delay):
                    self._log_retry(method, shown, None, None, attempt, delay, type(exc).__name__)
                    self.sleep(delay)
                    slept += delay
                    attempt += 1
                    continue
                err = self._unavailable(method, shown, exc)
                self._log_failure(err, attempt, started)
                raise err from None
            status = resp.status_code
            if (status in ok) if ok is not None else 200 <= status < 300:
                return resp
            body = response_json(resp)
            if self.is_rate_limited(resp, body):
                delay = self.rate_limit_delay(resp, body, attempt)
                if delay is not None and delay <= self.max_wait_s and attempt < self.max_retries and may_wait(slept, delay):
                    delay = delay + random.uniform(0, min(1.0, 0.1 * delay))
                    self._log_retry(method, shown, status, self._correlation(resp, body), attempt, delay, "rate_limited")
                    self.sleep(delay)
                    slept += delay
                    attempt += 1
                    continue
                err = self.translate(resp, body, method, shown, retry_after=delay)
                self._log_failure(err, attempt, started)
                raise err
            # 423 Locked: HubSpot asks for ~2 s.
            delay = max(2.0, self.backoff(attempt)) if status == 423 else self.backoff(attempt)
            if (status >= 500 or status == 423) and safe and attempt < self.max_retries and may_wait(slept, delay):
                self._log_retry(method, shown, status, self._correlation(resp, body), attempt, delay, "server_error")
                self.sleep(delay)
                slept += delay
                attempt += 1
                continue
            err = self.translate(resp, body, method, shown)
            if isinstance(err, ServerError) and safe:
                err.retry_after = delay
            self._log_failure(err, attempt, started)
            raise err

    def call(self, method: str, path: str, **kw) -> Any:
        """:meth:`request` and return the parsed JSON body (``None`` for 204 / empty)."""
        return response_json(self.request(method, path, **kw))

    # -- translation -----------------------------------------------------------------------------------
    def _correlation(self, resp, body) -> str | None:
        try:
            return self.parse_error(resp, body).get("correlation_id")
        except Exception:  # noqa: BLE001 - a log field must never break a call
            return None

    def scrub(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self.secrets():
            if secret and len(secret) >= 6:
                text = text.replace(secret, "[redacted]")
        return text[:500]

    def translate(self, resp: requests.Response, body: Any, method: str, path: str,
                  retry_after: float | None = None) -> ApiError:
        """Turn a final failure into the matching ``ApiError`` with a sentence a person can act on."""
        parsed = self.parse_error(resp, body)
        status = resp.status_code
        pmsg = self.scrub(parsed.get("message"))
        name = self.provider_name
        where = f"{method} {path}"
        said = f": {pmsg}" if pmsg else ""
        kw = dict(provider=self.provider, method=method, path=path, provider_status=status, provider_message=pmsg,
                  correlation_id=parsed.get("correlation_id"), body=body if isinstance(body, (dict, list)) else None,
                  errors=parsed.get("errors") or [], category=parsed.get("category"))
        if self.is_rate_limited(resp, body):
            wait = f"try again in {retry_after:.0f} s" if retry_after else "try again later"
            return RateLimited(f"{name} is rate-limiting hubwerk on {where}{said}; {wait}.", retry_after=retry_after, **kw)
        if status >= 500 or status == 423:
            return ServerError(f"{name} failed with HTTP {status} on {where}{said}; this is usually temporary, try again later.", **kw)
        if status == 401:
            return AuthError(f"{name} refused hubwerk's credentials on {where}{said}; reconnect the account.", **kw)
        if status == 403:
            return Forbidden(f"{name} does not allow {where}{said}; check the app's permissions for this account.", **kw)
        if status == 404:
            return NotFound(f"{name} has nothing at {where}{said}.", **kw)
        if status == 409:
            return Conflict(f"{name} reports a conflict on {where}{said}.", **kw)
        if status == 412:
            return PreconditionFailed(f"{name} refused {where} because the record changed since it was read; reload it and try again.", **kw)
        if status in (400, 422):
            detail = _first_field_error(parsed.get("errors") or [])
            extra = f" ({detail})" if detail and detail not in (pmsg or "") else ""
            return ValidationFailed(f"{name} rejected {where}{said}{extra}; correct the data and try again.", **kw)
        return ApiError(f"{name} answered HTTP {status} to {where}{said}.", **kw)

    def _unavailable(self, method: str, path: str, exc: Exception) -> Unavailable:
        kind = "did not answer in time" if isinstance(exc, requests.Timeout) else "could not be reached"
        return Unavailable(f"{self.provider_name} {kind} on {method} {path} ({type(exc).__name__}); "
                           f"check the network or try again later.",
                           provider=self.provider, method=method, path=path)

    # -- logs ------------------------------------------------------------------------------------------
    def _log_retry(self, method, path, status, correlation_id, attempt, delay, reason) -> None:
        log.info("client.request.retry", extra={"provider": self.provider, "method": method, "path": path,
                                                "status": status, "correlation_id": correlation_id,
                                                "attempt": attempt + 1, "delay_s": round(delay, 2), "reason": reason})

    def _log_failure(self, err: ApiError, attempt: int, started: float) -> None:
        log.warning("client.request.failed", extra={**err.log_fields(), "attempts": attempt + 1,
                                                    "elapsed_ms": round((time.monotonic() - started) * 1000, 1)})


def _strip_query(path: str) -> str:
    return path.split("?", 1)[0]


def _first_field_error(errors: list) -> str | None:
    for err in errors:
        if isinstance(err, dict):
            ctx = err.get("context") or {}
            names = ctx.get("propertyName") if isinstance(ctx, dict) else None
            msg = err.get("message") or err.get("Message")
            if msg:
                return f"{names[0]}: {msg}" if names else str(msg)
        elif err:
            return str(err)
    return None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


__all__ = ["ApiError", "RateLimited", "ServerError", "Unavailable", "AuthError", "Forbidden", "NotFound",
           "Conflict", "PreconditionFailed", "ValidationFailed", "BaseClient", "parse_retry_after",
           "response_json", "DEFAULT_TIMEOUT"]

"""HubSpot: OAuth helpers, per-portal tokens and the CRM calls the connector makes.

* :class:`HubSpotOAuth` — calls that need the app's client id/secret but no portal token
  (code exchange, refresh, token info, refresh-token delete). Reference §6.
* :class:`TokenManager` — one portal's access token: refreshed when less than five minutes
  remain and after a 401, under a Redis lock per portal, double-checked against the database
  so concurrent workers never spend one refresh token twice (field notes #8). HubSpot
  refusing the refresh token (400 ``BAD_REFRESH_TOKEN`` / ``invalid_grant``) disconnects the
  portal.
* :class:`HubSpotClient` — CRM objects, batches of ≤ 100 with per-input results and errors
  (a 207 is never "all done", field notes #2), search pages with the 10,000-result cap
  (field notes #4), associations v4 (batch read ≤ 1000), properties, pipelines, workflow
  callbacks. Calls draw from the portal's shared rate limit and, for search, from a second
  one (field notes #3).
"""
from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator
from urllib.parse import quote

import requests

from backend.clients.base import (DEFAULT_TIMEOUT, ApiError, AuthError, BaseClient, Conflict, Forbidden,
                                  ParsedError, RateLimited, Unavailable, ValidationFailed, parse_retry_after,
                                  response_json)
from backend.clients.ratelimit import Limiters, RateLimitTimeout, RedisRateLimiter
from backend.errors import HubwerkError

log = logging.getLogger("hubwerk.clients.hubspot")

BATCH_SIZE = 100                 # object batch endpoints (reference §7.2)
ASSOCIATION_READ_BATCH = 1000    # associations v4 batch read since 2025-02-10 (reference §7.4)
SEARCH_PAGE_MAX = 200
SEARCH_RESULT_CAP = 10_000       # reference §7.3; field notes #4
REFRESH_MARGIN_S = 300           # refresh when fewer than five minutes remain
DEFAULT_SEARCH_RATE = (4, 1.0)   # 4 searches per second per token (reference §8)
TOKEN_PATH = "/oauth/v1/token"


# --- errors and results -------------------------------------------------------------------------

class PortalDisconnected(AuthError):
    """HubSpot refused the portal's refresh token: an admin must reinstall the app. Not retriable."""

    code = "portal_disconnected"
    status = 409
    retriable = False


class SearchCapReached(HubwerkError):
    """A search matched more records than HubSpot lets a query reach (10,000).

    Raised after the last reachable page was yielded. ``total`` is HubSpot's count,
    ``fetched`` what was yielded, ``last`` the last record seen: narrow the query (a date
    window, or ``hs_object_id`` greater than ``last["id"]`` with an ascending id sort) and search again.
    """

    code = "search_cap_reached"
    status = 422
    retriable = False

    def __init__(self, object_type: str, total: int | None, fetched: int, last: dict | None):
        super().__init__(f"HubSpot search over {object_type} matched {total if total is not None else 'more than 10,000'} "
                         f"records but only the first {SEARCH_RESULT_CAP:,} can be read; narrow the search "
                         f"(e.g. by a date window) and run it again.")
        self.object_type = object_type
        self.total = total
        self.fetched = fetched
        self.last = last


@dataclass
class BatchError:
    """One failed input of a batch call (or a batch-level error no input could be matched to)."""

    message: str
    category: str | None = None
    status: int | None = None
    index: int | None = None          # position in the inputs the caller passed
    input: dict | None = None
    ids: list[str] = field(default_factory=list)
    trace_id: str | None = None
    errors: list = field(default_factory=list)
    context: dict = field(default_factory=dict)

    @property
    def code(self) -> str | None:
        for err in self.errors:
            if isinstance(err, dict) and err.get("code"):
                return err["code"]
        return None

    @property
    def existing_id(self) -> str | None:
        ids = self.context.get("existingId") if isinstance(self.context, dict) else None
        if ids:
            return str(ids[0])
        match = re.search(r"Existing ID:\s*(\d+)", self.message or "")
        return match.group(1) if match else None


@dataclass
class BatchResult:
    """``results`` HubSpot returned and ``errors`` per input, over every chunk of a batch call."""

    results: list[dict] = field(default_factory=list)
    errors: list[BatchError] = field(default_factory=list)
    calls: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def failed_inputs(self) -> list[dict]:
        return [e.input for e in self.errors if e.input is not None]

    def by_trace_id(self) -> dict[str, dict]:
        return {r["objectWriteTraceId"]: r for r in self.results if r.get("objectWriteTraceId")}

    def raise_for_errors(self) -> "BatchResult":
        if self.errors:
            first = self.errors[0]
            raise HubwerkError(f"HubSpot refused {len(self.errors)} of the records in a batch; first: {first.message}",
                               code="batch_partially_failed", status=422, retriable=False)
        return self


@dataclass
class SearchPage:
    results: list[dict]
    total: int | None
    after: str | None        # the cursor that fetched this page (None for the first)


# --- shared HubSpot error parsing -------------------------------------------------------------------

class _HubSpotErrors:
    provider = "hubspot"

    def parse_error(self, resp: requests.Response, body: Any) -> ParsedError:
        if not isinstance(body, dict):
            return ParsedError(message=None, correlation_id=None, errors=[], category=None)
        status = body.get("status")
        category = body.get("category") or (status if status and status != "error" else None)
        return ParsedError(message=body.get("message") or body.get("error_description"),
                           correlation_id=body.get("correlationId"),
                           errors=body.get("errors") if isinstance(body.get("errors"), list) else [],
                           category=category, error=body.get("error"))

    def rate_limit_delay(self, resp: requests.Response, body: Any, attempt: int) -> float | None:
        body = body if isinstance(body, dict) else {}
        policy = str(body.get("policyName") or "").upper()
        message = str(body.get("message") or "").lower()
        if policy == "DAILY" or "daily limit" in message:
            return None      # nothing to wait for inside a call; the job layer retries tomorrow
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if retry_after is not None:
            return retry_after
        # HubSpot's Node client: 1 s for search's "secondly" limit, 10 s for the rolling window.
        if policy == "SECONDLY" or ("secondly limit" in message and "ten_secondly" not in message):
            return 1.0
        if policy == "TEN_SECONDLY_ROLLING" or "ten_secondly_rolling" in message:
            return 10.0
        return self.backoff(attempt)


def is_invalid_grant(err: ApiError) -> bool:
    """HubSpot's answer to a refresh token that no longer works (uninstalled, revoked)."""
    body = err.body if isinstance(err.body, dict) else {}
    return err.provider_status in (400, 401) and (
        body.get("error") == "invalid_grant" or body.get("status") in ("BAD_REFRESH_TOKEN", "BAD_GRANT")
        or err.category == "BAD_REFRESH_TOKEN")


# --- OAuth ---------------------------------------------------------------------------------------

class HubSpotOAuth(_HubSpotErrors, BaseClient):
    """The app-level OAuth calls (no portal token). Tokens are never logged: paths that embed
    one are logged as ``…/[redacted]``."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, **kw):
        super().__init__(base_url, **kw)
        self.client_id = client_id
        self.client_secret = client_secret

    @classmethod
    def from_settings(cls, settings=None, **kw) -> "HubSpotOAuth":
        settings = settings or _current_settings()
        return cls(settings.hubspot_api_base_url, settings.hubspot_client_id, settings.hubspot_client_secret, **kw)

    def secrets(self):
        return (self.client_secret,)

    def _token(self, form: dict, idempotent: bool) -> dict:
        data = {"client_id": self.client_id, "client_secret": self.client_secret, **form}
        return self.call("POST", TOKEN_PATH, data=data, idempotent=idempotent,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> dict:
        """Authorization code → ``{access_token, refresh_token, expires_in, hub_id?, …}``.
        Not retried after a 5xx: a code is single-use."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token(form, idempotent=False)

    def refresh(self, refresh_token: str) -> dict:
        """A new access token; HubSpot keeps the refresh token (it may return it again)."""
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, idempotent=True)

    def token_info(self, access_token: str) -> dict:
        """``{hub_id, hub_domain, app_id, scopes, user, user_id, expires_in, …}`` for a token."""
        return self.call("GET", f"/oauth/v1/access-tokens/{quote(access_token, safe='')}",
                         log_path="/oauth/v1/access-tokens/[redacted]")

    def delete_refresh_token(self, refresh_token: str) -> bool:
        """Delete a refresh token (does not uninstall). ``False`` when HubSpot no longer knows it."""
        resp = self.request("DELETE", f"/oauth/v1/refresh-tokens/{quote(refresh_token, safe='')}",
                            expected=(200, 204, 404), log_path="/oauth/v1/refresh-tokens/[redacted]")
        return resp.status_code != 404


# --- tokens --------------------------------------------------------------------------------------

@dataclass
class _Snapshot:
    id: int
    hub_id: int
    status: str
    access_token: str | None
    refresh_token: str | None
    expires_at: float | None


class TokenManager:
    """The access token of one portal (``Portal.id``), shared by every process through the database.

    Reads and writes go through a session of their own, so a refresh never commits (or is
    rolled back with) the caller's unit of work.
    """

    lock_prefix = "hubwerk:lock:hubspot-token:"

    def __init__(self, portal_id: int, *, oauth: HubSpotOAuth, redis, refresh_margin_s: float = REFRESH_MARGIN_S,
                 lock_timeout_s: float = 30.0, clock=time.time):
        self.portal_id = portal_id
        self.oauth = oauth
        self.redis = redis
        self.refresh_margin_s = refresh_margin_s
        self.lock_timeout_s = lock_timeout_s
        self.clock = clock
        self._token: str | None = None
        self._expires_at: float | None = None
        self._mutex = threading.Lock()
        self.hub_id: int | None = None

    # -- database ----------------------------------------------------------------------------------
    def _session(self):
        from sqlalchemy.orm import Session

        from backend.extensions import db
        return Session(db.engine, expire_on_commit=False)

    def load(self) -> _Snapshot:
        from backend.models import Portal

        with self._session() as session:
            portal = session.get(Portal, self.portal_id)
            if portal is None:
                raise PortalDisconnected(f"Portal {self.portal_id} is not installed; install hubwerk from HubSpot.",
                                         provider="hubspot", method="-", path="-")
            expires = portal.access_token_expires_at.timestamp() if portal.access_token_expires_at else None
            snap = _Snapshot(portal.id, portal.hub_id, portal.status, portal.access_token, portal.refresh_token, expires)
        self.hub_id = snap.hub_id
        return snap

    def _save_tokens(self, tokens: dict) -> None:
        from backend.models import Portal

        expires_in = float(tokens.get("expires_in") or 1800)
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
        with self._session() as session:
            portal = session.get(Portal, self.portal_id)
            portal.access_token = tokens["access_token"]
            if tokens.get("refresh_token"):
                portal.refresh_token = tokens["refresh_token"]
            portal.access_token_expires_at = expires_at
            session.commit()
        self._token, self._expires_at = tokens["access_token"], expires_at.timestamp()

    def _disconnect(self, err: ApiError) -> None:
        from backend.models import Portal

        reason = (f"HubSpot refused the refresh token on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC "
                  f"({err.category or err.provider_status}): the app was uninstalled or its access revoked; "
                  f"reinstall hubwerk from HubSpot to reconnect.")
        with self._session() as session:
            portal = session.get(Portal, self.portal_id)
            portal.status = "disconnected"
            portal.status_reason = reason
            portal.access_token = None
            portal.access_token_expires_at = None
            session.commit()
        self._token = self._expires_at = None
        log.warning("hubspot.token.refresh_refused", extra={"portal_id": self.portal_id, "hub_id": self.hub_id,
                                                            "correlation_id": err.correlation_id,
                                                            "category": err.category})

    # -- tokens ------------------------------------------------------------------------------------
    def _fresh(self, expires_at: float | None) -> bool:
        return expires_at is not None and expires_at - self.clock() > self.refresh_margin_s

    def _disconnected(self, snap: _Snapshot) -> PortalDisconnected:
        return PortalDisconnected(f"HubSpot portal {snap.hub_id} is {snap.status}; an admin must reinstall hubwerk "
                                  f"from HubSpot before it can sync again.", provider="hubspot", method="POST",
                                  path=TOKEN_PATH)

    def access_token(self) -> str:
        """A token with more than five minutes left, refreshing it when needed."""
        with self._mutex:
            if self._token and self._fresh(self._expires_at):
                return self._token
            snap = self.load()
            if snap.status != "active":
                raise self._disconnected(snap)
            if snap.access_token and self._fresh(snap.expires_at):
                self._token, self._expires_at = snap.access_token, snap.expires_at
                return self._token
            return self._refresh(rejected=None)

    def refresh_after_rejection(self, rejected: str | None) -> str:
        """HubSpot answered 401 to ``rejected``: get another token (once)."""
        with self._mutex:
            return self._refresh(rejected=rejected)

    def _refresh(self, rejected: str | None) -> str:
        lock = token_lock(self.redis, self.portal_id, self.lock_timeout_s)
        if not lock.acquire():
            raise Unavailable("Another worker is still refreshing this portal's HubSpot token; try again shortly.",
                              provider="hubspot", method="POST", path=TOKEN_PATH)
        try:
            # Double-check under the lock: another process may have refreshed meanwhile.
            snap = self.load()
            if snap.status != "active":
                raise self._disconnected(snap)
            if snap.access_token and snap.access_token != rejected and self._fresh(snap.expires_at):
                self._token, self._expires_at = snap.access_token, snap.expires_at
                return self._token
            if not snap.refresh_token:
                raise self._disconnected(snap)
            try:
                tokens = self.oauth.refresh(snap.refresh_token)
            except ApiError as err:
                if is_invalid_grant(err):
                    self._disconnect(err)
                    raise PortalDisconnected(
                        f"HubSpot refused the refresh token of portal {snap.hub_id}; the portal is now disconnected "
                        f"and an admin must reinstall hubwerk from HubSpot.",
                        provider="hubspot", method="POST", path=TOKEN_PATH, provider_status=err.provider_status,
                        provider_message=err.provider_message, correlation_id=err.correlation_id,
                        category=err.category) from None
                raise
            self._save_tokens(tokens)
            log.info("hubspot.token.refreshed", extra={"portal_id": self.portal_id, "hub_id": snap.hub_id,
                                                       "expires_in": tokens.get("expires_in")})
            return self._token
        finally:
            try:
                lock.release()
            except Exception:  # noqa: BLE001 - expired lock: the refresh is done either way
                pass


def token_lock(redis, portal_id: int, timeout_s: float = 30.0):
    """The lock under which a portal's tokens change: refreshes, installs and revokes never interleave."""
    return redis.lock(TokenManager.lock_prefix + str(portal_id), timeout=timeout_s, blocking_timeout=timeout_s + 5)


# --- the CRM client --------------------------------------------------------------------------------

class HubSpotClient(_HubSpotErrors, BaseClient):
    """The HubSpot API for one installed portal.

    ``portal`` is a :class:`~backend.models.Portal` or its id. Defaults come from the app
    (settings, Redis); tests pass ``settings`` (e.g. with the sandbox's base URL), ``sleep``
    and small rate limits.
    """

    def __init__(self, portal, *, settings=None, redis=None, oauth: HubSpotOAuth | None = None,
                 token_manager: TokenManager | None = None, session: requests.Session | None = None,
                 timeout=DEFAULT_TIMEOUT, max_retries: int = 4, sleep=time.sleep, rate_limit=None,
                 search_rate=DEFAULT_SEARCH_RATE, base_url: str | None = None):
        settings = settings or _current_settings()
        redis = redis if redis is not None else _current_redis()
        portal_id = portal if isinstance(portal, int) else portal.id
        super().__init__(base_url or settings.hubspot_api_base_url, timeout=timeout, session=session,
                         max_retries=max_retries, sleep=sleep)
        self.oauth = oauth or HubSpotOAuth(base_url or settings.hubspot_api_base_url, settings.hubspot_client_id,
                                           settings.hubspot_client_secret, timeout=timeout, session=self.session,
                                           sleep=sleep)
        self.tokens = token_manager or TokenManager(portal_id, oauth=self.oauth, redis=redis)
        self.hub_id = self.tokens.hub_id or self.tokens.load().hub_id
        self.portal_id = portal_id
        calls_window = _limit(rate_limit if rate_limit is not None else settings.hubspot_rate_limit)
        self.rate_limiter = (RedisRateLimiter(redis, f"hubspot:{self.hub_id}", *calls_window, sleep=sleep)
                             if calls_window else None)
        search_window = _limit(search_rate) if search_rate else None
        search_limiter = (RedisRateLimiter(redis, f"hubspot-search:{self.hub_id}", *search_window, sleep=sleep)
                          if search_window else None)
        # The slow search slot first, the portal slot right before sending.
        self.search_limiter = Limiters(search_limiter, self.rate_limiter)
        self._local = threading.local()

    # -- class-level OAuth helpers (no portal token) -----------------------------------------------
    @classmethod
    def oauth_client(cls, settings=None, **kw) -> HubSpotOAuth:
        return HubSpotOAuth.from_settings(settings, **kw)

    @classmethod
    def exchange_code(cls, code: str, redirect_uri: str, *, code_verifier: str | None = None, settings=None) -> dict:
        return cls.oauth_client(settings).exchange_code(code, redirect_uri, code_verifier)

    @classmethod
    def refresh(cls, refresh_token: str, *, settings=None) -> dict:
        return cls.oauth_client(settings).refresh(refresh_token)

    @classmethod
    def token_info(cls, access_token: str, *, settings=None) -> dict:
        return cls.oauth_client(settings).token_info(access_token)

    @classmethod
    def delete_refresh_token(cls, refresh_token: str, *, settings=None) -> bool:
        return cls.oauth_client(settings).delete_refresh_token(refresh_token)

    # -- plumbing ------------------------------------------------------------------------------------
    def auth_headers(self) -> dict:
        token = self.tokens.access_token()
        self._local.token = token
        return {"Authorization": f"Bearer {token}"}

    def secrets(self):
        return (getattr(self._local, "token", None), self.oauth.client_secret)

    def acquire(self, method: str, path: str) -> None:
        limiter = self.search_limiter if path.endswith("/search") else self.rate_limiter
        if limiter is None:
            return
        try:
            limiter.acquire()
        except RateLimitTimeout:
            raise RateLimited(f"hubwerk's own HubSpot budget for portal {self.hub_id} stayed exhausted; try again later.",
                              provider="hubspot", method=method, path=path, retry_after=10.0) from None

    def request(self, method: str, path: str, **kw) -> requests.Response:
        """:meth:`BaseClient.request`, plus one new token and one retry after a 401."""
        try:
            return super().request(method, path, **kw)
        except AuthError as err:
            if err.provider_status != 401 or isinstance(err, (Forbidden, PortalDisconnected)):
                raise
            log.info("hubspot.token.rejected", extra={"portal_id": self.portal_id, "hub_id": self.hub_id,
                                                      "correlation_id": err.correlation_id})
            self.tokens.refresh_after_rejection(getattr(self._local, "token", None))
            return super().request(method, path, **kw)

    def uninstall(self) -> None:
        """Remove the app from this portal (cards, webhooks; HubSpot e-mails the super admins)."""
        self.request("DELETE", "/appinstalls/v3/external-install", expected=(200, 204))

    # -- objects ---------------------------------------------------------------------------------------
    def get_object(self, object_type: str, object_id, properties: Iterable[str] | None = None, *,
                   id_property: str | None = None, associations: Iterable[str] | None = None,
                   archived: bool = False) -> dict:
        params = _params(properties=properties, associations=associations, idProperty=id_property,
                         archived="true" if archived else None)
        return self.call("GET", f"/crm/v3/objects/{object_type}/{quote(str(object_id), safe='')}", params=params)

    def iter_objects(self, object_type: str, properties: Iterable[str] | None = None, *,
                     associations: Iterable[str] | None = None, limit: int = 100) -> Iterator[dict]:
        """Every record of a type through the list endpoint (no 10,000 cap; use it for backfills)."""
        after = None
        while True:
            params = _params(limit=str(min(limit, 100)), after=after, properties=properties, associations=associations)
            page = self.call("GET", f"/crm/v3/objects/{object_type}", params=params) or {}
            yield from page.get("results") or []
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def create_object(self, object_type: str, properties: dict, associations: list | None = None) -> dict:
        body = {"properties": properties}
        if associations:
            body["associations"] = associations
        return self.call("POST", f"/crm/v3/objects/{object_type}", json=body)

    def update_object(self, object_type: str, object_id, properties: dict, *, id_property: str | None = None) -> dict:
        return self.call("PATCH", f"/crm/v3/objects/{object_type}/{quote(str(object_id), safe='')}",
                         params=_params(idProperty=id_property), json={"properties": properties})

    # -- batches ---------------------------------------------------------------------------------------
    def batch_read(self, object_type: str, ids: Iterable, properties: Iterable[str] | None = None,
                   id_property: str | None = None, *, archived: bool = False) -> BatchResult:
        """Records by id (or by a unique ``id_property``); missing ids come back as per-id errors."""
        inputs = [{"id": str(i)} for i in _unique(str(i) for i in ids)]
        extra: dict = {"properties": list(properties or [])}
        if id_property:
            extra["idProperty"] = id_property
        return self._batch(f"/crm/v3/objects/{object_type}/batch/read", inputs, extra, idempotent=True,
                           params={"archived": "true"} if archived else None, trace_ids=False)

    def batch_create(self, object_type: str, inputs: Iterable[dict], *, trace_ids: bool = True,
                     split_on_error: bool = False) -> BatchResult:
        """``inputs``: ``{"properties": {…}, "associations": [...]}``. Not retried after a 5xx."""
        return self._batch(f"/crm/v3/objects/{object_type}/batch/create", list(inputs), {}, idempotent=False,
                           trace_ids=trace_ids, split_on_error=split_on_error)

    def batch_update(self, object_type: str, inputs: Iterable[dict], id_property: str | None = None, *,
                     trace_ids: bool = True, split_on_error: bool = False) -> BatchResult:
        """``inputs``: ``{"id": …, "properties": {…}}``; inputs for the same id are merged."""
        inputs = _merge_by_id(inputs, id_property)
        return self._batch(f"/crm/v3/objects/{object_type}/batch/update", inputs, {}, idempotent=True,
                           trace_ids=trace_ids, split_on_error=split_on_error)

    def batch_upsert(self, object_type: str, inputs: Iterable[dict], id_property: str, *, trace_ids: bool = True,
                     split_on_error: bool = False) -> BatchResult:
        """``inputs``: ``{"id": <unique value>, "properties": {…}}`` keyed on ``id_property``
        (a ``hasUniqueValue`` property). Inputs for the same value are merged (HubSpot refuses
        duplicates in one batch, field notes #1). Results carry ``new``."""
        inputs = _merge_by_id(inputs, id_property)
        return self._batch(f"/crm/v3/objects/{object_type}/batch/upsert", inputs, {}, idempotent=True,
                           trace_ids=trace_ids, split_on_error=split_on_error)

    def batch_archive(self, object_type: str, ids: Iterable) -> BatchResult:
        inputs = [{"id": str(i)} for i in _unique(str(i) for i in ids)]
        return self._batch(f"/crm/v3/objects/{object_type}/batch/archive", inputs, {}, idempotent=True,
                           trace_ids=False)

    def _batch(self, path: str, inputs: list[dict], extra: dict, *, idempotent: bool, trace_ids: bool,
               split_on_error: bool = False, params: dict | None = None, size: int = BATCH_SIZE) -> BatchResult:
        prepared = []
        for item in inputs:
            item = dict(item)
            if trace_ids:
                # Per input: HubSpot then reports partial failures per input (207), reference §7.2.
                item.setdefault("objectWriteTraceId", uuid.uuid4().hex)
            prepared.append(item)
        result = BatchResult()
        for start in range(0, len(prepared), size):
            self._send_chunk(path, prepared[start:start + size], start, extra, result, idempotent=idempotent,
                             split=split_on_error, params=params)
        return result

    def _send_chunk(self, path: str, chunk: list[dict], offset: int, extra: dict, result: BatchResult, *,
                    idempotent: bool, split: bool, params: dict | None) -> None:
        result.calls += 1
        try:
            resp = self.request("POST", path, json={"inputs": chunk, **extra}, params=params, idempotent=idempotent)
        except (ValidationFailed, Conflict) as err:
            # A whole-batch 4xx for one bad input (field notes #2): halve until it is isolated.
            if not split:
                raise
            if len(chunk) == 1:
                context = err.body.get("context") if isinstance(err.body, dict) else None
                result.errors.append(BatchError(message=err.provider_message or err.message, category=err.category,
                                                status=err.provider_status, index=offset, input=chunk[0],
                                                ids=[str(chunk[0]["id"])] if "id" in chunk[0] else [],
                                                trace_id=chunk[0].get("objectWriteTraceId"), errors=err.errors,
                                                context=context if isinstance(context, dict) else {}))
                return
            mid = len(chunk) // 2
            self._send_chunk(path, chunk[:mid], offset, extra, result, idempotent=idempotent, split=split, params=params)
            self._send_chunk(path, chunk[mid:], offset + mid, extra, result, idempotent=idempotent, split=split,
                             params=params)
            return
        body = response_json(resp) or {}
        result.results.extend(body.get("results") or [])
        result.errors.extend(_match_errors(body.get("errors") or [], chunk, offset))
        if resp.status_code == 207 and not body.get("errors"):
            result.errors.append(BatchError(message="HubSpot answered 207 without naming the failed inputs.",
                                            status=207))

    # -- search ----------------------------------------------------------------------------------------
    def search(self, object_type: str, filter_groups: list | None = None, properties: Iterable[str] | None = None,
               sorts: list | None = None, limit: int = SEARCH_PAGE_MAX, *, query: str | None = None,
               after: str | None = None, on_cap: str = "raise") -> Iterator[SearchPage]:
        """Pages of a search, following ``paging.next.after``.

        At the 10,000-result cap the generator stops after the last reachable page and, with
        ``on_cap="raise"`` (default), raises :class:`SearchCapReached` so the caller can narrow
        the query; ``on_cap="stop"`` just ends. Search is eventually consistent: records written
        a moment ago may be missing.
        """
        body: dict = {"filterGroups": filter_groups or [], "properties": list(properties or []),
                      "sorts": sorts or [], "limit": max(1, min(int(limit), SEARCH_PAGE_MAX))}
        if query:
            body["query"] = query
        fetched, last, total = 0, None, None
        cursor = after
        capped = False
        while True:
            if cursor is not None and int(cursor) >= SEARCH_RESULT_CAP:
                capped = True
                break
            payload = dict(body, after=cursor) if cursor is not None else body
            try:
                page = self.call("POST", f"/crm/v3/objects/{object_type}/search", json=payload, idempotent=True) or {}
            except ValidationFailed:
                if cursor is not None and int(cursor) + body["limit"] > SEARCH_RESULT_CAP - SEARCH_PAGE_MAX:
                    capped = True       # HubSpot answers 400 when paging reaches the cap
                    break
                raise
            results = page.get("results") or []
            total = page.get("total", total)
            fetched += len(results)
            if results:
                last = results[-1]
            yield SearchPage(results=results, total=total, after=cursor)
            cursor = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not cursor:
                reached = int(after or 0) + fetched
                capped = total is not None and total > reached and reached >= SEARCH_RESULT_CAP
                break
        if capped:
            log.info("hubspot.search.cap_reached", extra={"hub_id": self.hub_id, "object_type": object_type,
                                                          "total": total, "fetched": fetched})
            if on_cap == "raise":
                raise SearchCapReached(object_type, total, fetched, last)

    def search_all(self, object_type: str, *args, **kw) -> Iterator[dict]:
        """The records of :meth:`search`, one by one."""
        for page in self.search(object_type, *args, **kw):
            yield from page.results

    # -- associations ------------------------------------------------------------------------------------
    def associations_batch_read(self, from_type: str, to_type: str, ids: Iterable) -> BatchResult:
        """Associations v4 of many records (≤ 1000 per call), following each record's own paging.
        ``results``: one ``{"from": {"id"}, "to": [...]}`` per record with associations; records
        without any come back as errors with category ``OBJECT_NOT_FOUND``."""
        merged: dict[str, dict] = {}
        result = BatchResult()
        pending = [{"id": i} for i in _unique(str(i) for i in ids)]
        path = f"/crm/v4/associations/{from_type}/{to_type}/batch/read"
        while pending:
            more: list[dict] = []
            for start in range(0, len(pending), ASSOCIATION_READ_BATCH):
                chunk = pending[start:start + ASSOCIATION_READ_BATCH]
                result.calls += 1
                body = self.call("POST", path, json={"inputs": chunk}, idempotent=True) or {}
                for entry in body.get("results") or []:
                    fid = str((entry.get("from") or {}).get("id"))
                    target = merged.setdefault(fid, {"from": {"id": fid}, "to": []})
                    target["to"].extend(entry.get("to") or [])
                    nxt = ((entry.get("paging") or {}).get("next") or {}).get("after")
                    if nxt:
                        more.append({"id": fid, "after": nxt})
                if not any(i.get("after") for i in chunk):
                    result.errors.extend(_match_errors(body.get("errors") or [], chunk, start))
            pending = more
        result.results = list(merged.values())
        return result

    @staticmethod
    def association_ids(result: BatchResult) -> dict[str, list[str]]:
        """``{from_id: [to_id, …]}`` from :meth:`associations_batch_read`."""
        return {r["from"]["id"]: [str(t["toObjectId"]) for t in r["to"]] for r in result.results}

    def associate_default(self, from_type: str, from_id, to_type: str, to_id) -> dict:
        """The unlabelled default association (PUT, idempotent)."""
        return self.call("PUT", f"/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}")

    def associate(self, from_type: str, from_id, to_type: str, to_id, type_ids: Iterable[int],
                  category: str = "HUBSPOT_DEFINED") -> dict:
        body = [{"associationCategory": category, "associationTypeId": int(t)} for t in type_ids]
        return self.call("PUT", f"/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}", json=body)

    def associate_default_batch(self, from_type: str, to_type: str, pairs: Iterable[tuple]) -> BatchResult:
        inputs = [{"from": {"id": str(f)}, "to": {"id": str(t)}} for f, t in pairs]
        return self._batch(f"/crm/v4/associations/{from_type}/{to_type}/batch/associate/default", inputs, {},
                           idempotent=True, trace_ids=False)

    # -- schema ------------------------------------------------------------------------------------------
    def pipelines(self, object_type: str) -> list[dict]:
        return (self.call("GET", f"/crm/v3/pipelines/{object_type}") or {}).get("results") or []

    def get_properties(self, object_type: str, *, archived: bool = False) -> list[dict]:
        params = {"archived": "true"} if archived else None
        return (self.call("GET", f"/crm/v3/properties/{object_type}", params=params) or {}).get("results") or []

    def batch_create_properties(self, object_type: str, inputs: Iterable[dict]) -> BatchResult:
        """Create property definitions; an existing name comes back as that input's error (409)."""
        return self._batch(f"/crm/v3/properties/{object_type}/batch/create", list(inputs), {}, idempotent=False,
                           trace_ids=False)

    def create_property_group(self, object_type: str, group: dict) -> dict:
        return self.call("POST", f"/crm/v3/properties/{object_type}/groups", json=group)

    def update_property(self, object_type: str, name: str, changes: dict) -> dict:
        return self.call("PATCH", f"/crm/v3/properties/{object_type}/{quote(name, safe='')}", json=changes)

    # -- workflow actions --------------------------------------------------------------------------------
    def complete_callback(self, callback_id: str, output_fields: dict, *, typed_outputs: dict | None = None,
                          failure_reason_type: str | None = None, request_context: dict | None = None) -> None:
        """Finish a workflow action answered with BLOCK (204). Safe to repeat."""
        body: dict = {"outputFields": output_fields, "typedOutputs": typed_outputs or {}}
        if failure_reason_type:
            body["failureReasonType"] = failure_reason_type
        if request_context:
            body["requestContext"] = request_context
        self.request("POST", f"/automation/v4/actions/callbacks/{quote(str(callback_id), safe='')}/complete",
                     json=body, idempotent=True, expected=(200, 204))


# --- helpers -----------------------------------------------------------------------------------------

def _current_settings():
    from flask import current_app
    return current_app.config["HUBWERK"]


def _current_redis():
    from flask import current_app
    return current_app.extensions["hubwerk.redis"]()


def _limit(value) -> tuple[int, float] | None:
    if value is None or value is False:
        return None
    if hasattr(value, "calls"):
        return int(value.calls), float(value.window_s)
    calls, window = value
    return int(calls), float(window)


def _params(**values) -> dict:
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set)) or (not isinstance(value, str) and hasattr(value, "__iter__")):
            value = ",".join(str(v) for v in value)
            if not value:
                continue
        out[key] = value
    return out


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def _merge_by_id(inputs: Iterable[dict], id_property: str | None) -> list[dict]:
    merged: dict[tuple, dict] = {}
    for item in inputs:
        item = dict(item)
        if id_property and "idProperty" not in item:
            item["idProperty"] = id_property
        key = (item.get("idProperty") or "", str(item["id"]))
        if key in merged:
            earlier = merged[key]
            earlier["properties"] = {**(earlier.get("properties") or {}), **(item.get("properties") or {})}
        else:
            item["id"] = str(item["id"])
            merged[key] = item
    return list(merged.values())


def _match_errors(errors: list, chunk: list[dict], offset: int) -> list[BatchError]:
    """One :class:`BatchError` per input an error names (by trace id, id, property name)."""
    out: list[BatchError] = []
    by_trace = {item.get("objectWriteTraceId"): i for i, item in enumerate(chunk) if item.get("objectWriteTraceId")}
    by_id: dict[str, int] = {}
    by_name: dict[str, int] = {}
    for i, item in enumerate(chunk):
        if "id" in item:
            by_id.setdefault(str(item["id"]), i)
        if "name" in item:
            by_name.setdefault(str(item["name"]), i)
    for err in errors:
        if not isinstance(err, dict):
            continue
        ctx = err.get("context") if isinstance(err.get("context"), dict) else {}
        matched: list[int] = []
        for trace in ctx.get("objectWriteTraceId") or []:
            if trace in by_trace:
                matched.append(by_trace[trace])
        if not matched:
            for key, index in (("ids", by_id), ("fromObjectId", by_id), ("name", by_name)):
                matched = [index[str(v)] for v in ctx.get(key) or [] if str(v) in index]
                if matched:
                    break
        common = dict(message=err.get("message") or "", category=err.get("category"),
                      status=err.get("statusCode") or _status_of(err), errors=err.get("errors") or [], context=ctx)
        if not matched:
            out.append(BatchError(ids=[str(v) for v in ctx.get("ids") or []], **common))
            continue
        for i in matched:
            item = chunk[i]
            out.append(BatchError(index=offset + i, input=item, trace_id=item.get("objectWriteTraceId"),
                                  ids=[str(item["id"])] if "id" in item else [], **common))
    return out


def _status_of(err: dict) -> int | None:
    category = err.get("category")
    return {"OBJECT_NOT_FOUND": 404, "VALIDATION_ERROR": 400, "CONFLICT": 409}.get(category)


__all__ = ["HubSpotClient", "HubSpotOAuth", "TokenManager", "PortalDisconnected", "SearchCapReached",
           "BatchResult", "BatchError", "SearchPage", "is_invalid_grant"]

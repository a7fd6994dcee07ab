"""HubSpot's app-level OAuth calls and the access token of one portal.

* :class:`HubSpotOAuth` — calls that need the app's client id/secret but no portal token
  (refresh, token info, refresh-token delete). The authorization code is exchanged by authlib
  in ``web/oauth.py``.
* :class:`TokenManager` — one portal's access token: refreshed when less than five minutes
  remain and after a 401, under a Redis lock per portal, double-checked against the token store
  so concurrent workers never spend one refresh token twice (HubSpot may refuse the second use).
  HubSpot refusing the refresh token (400 ``BAD_REFRESH_TOKEN`` / ``invalid_grant``) disconnects
  the portal. Where the tokens live is the store's business (``backend.models.portal_tokens``).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import quote

import requests
from flask import current_app

from backend.clients.base import ApiError, AuthError, BaseClient, ParsedError, Unavailable, parse_retry_after

log = logging.getLogger("hubwerk.clients.hubspot")

REFRESH_MARGIN_S = 300           # refresh when fewer than five minutes remain
TOKEN_PATH = "/oauth/v1/token"
TOKEN_LOCK_PREFIX = "hubwerk:lock:hubspot-token:"


class PortalDisconnected(AuthError):
    """HubSpot refused the portal's refresh token: an admin must reinstall the app. Not retriable."""

    code = "portal_disconnected"
    status = 409
    retriable = False


class HubSpotErrors:
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


class HubSpotOAuth(HubSpotErrors, BaseClient):
    """The app-level OAuth calls (no portal token). Tokens are never logged: paths that embed
    one are logged as ``…/[redacted]``."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, **kw):
        super().__init__(base_url, **kw)
        self.client_id = client_id
        self.client_secret = client_secret

    @classmethod
    def from_settings(cls, settings=None, **kw) -> "HubSpotOAuth":
        settings = settings or current_app.config["HUBWERK"]
        return cls(settings.hubspot_api_base_url, settings.hubspot_client_id, settings.hubspot_client_secret, **kw)

    def secrets(self):
        return (self.client_secret,)

    def _token(self, form: dict, idempotent: bool) -> dict:
        data = {"client_id": self.client_id, "client_secret": self.client_secret, **form}
        return self.call("POST", TOKEN_PATH, data=data, idempotent=idempotent,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})

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


@dataclass
class TokenSnapshot:
    """A portal's token state as the store holds it."""

    id: int
    hub_id: int
    status: str
    access_token: str | None
    refresh_token: str | None
    expires_at: float | None


class TokenStore(Protocol):
    """Where a portal's tokens live; every call commits on its own (never the caller's unit of work)."""

    def load(self, portal_id: int) -> TokenSnapshot | None: ...

    def save(self, portal_id: int, tokens: dict) -> float:
        """Store a refreshed access token (and refresh token, if HubSpot sent one); returns its expiry (epoch s)."""

    def disconnect(self, portal_id: int, reason: str) -> None: ...


class TokenManager:
    """The access token of one portal (``Portal.id``), shared by every process through ``store``."""

    lock_prefix = TOKEN_LOCK_PREFIX

    def __init__(self, portal_id: int, *, oauth: HubSpotOAuth, redis, store: "TokenStore",
                 refresh_margin_s: float = REFRESH_MARGIN_S, lock_timeout_s: float = 30.0, clock=time.time):
        self.portal_id = portal_id
        self.oauth = oauth
        self.redis = redis
        self.store = store
        self.refresh_margin_s = refresh_margin_s
        self.lock_timeout_s = lock_timeout_s
        self.clock = clock
        self._token: str | None = None
        self._expires_at: float | None = None
        self._mutex = threading.Lock()
        self.hub_id: int | None = None

    def load(self) -> TokenSnapshot:
        snap = self.store.load(self.portal_id)
        if snap is None:
            raise PortalDisconnected(f"Portal {self.portal_id} is not installed; install hubwerk from HubSpot.",
                                     provider="hubspot", method="-", path="-")
        self.hub_id = snap.hub_id
        return snap

    def _save_tokens(self, tokens: dict) -> None:
        expires_at = self.store.save(self.portal_id, tokens)
        self._token, self._expires_at = tokens["access_token"], expires_at

    def _disconnect(self, err: ApiError) -> None:
        reason = (f"HubSpot refused the refresh token on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC "
                  f"({err.category or err.provider_status}): the app was uninstalled or its access revoked; "
                  f"reinstall hubwerk from HubSpot to reconnect.")
        self.store.disconnect(self.portal_id, reason)
        self._token = self._expires_at = None
        log.warning("hubspot.token.refresh_refused", extra={"portal_id": self.portal_id, "hub_id": self.hub_id,
                                                            "correlation_id": err.correlation_id,
                                                            "category": err.category})

    # -- tokens ------------------------------------------------------------------------------------
    def _fresh(self, expires_at: float | None) -> bool:
        return expires_at is not None and expires_at - self.clock() > self.refresh_margin_s

    def _disconnected(self, snap: TokenSnapshot) -> PortalDisconnected:
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
    return redis.lock(TOKEN_LOCK_PREFIX + str(portal_id), timeout=timeout_s, blocking_timeout=timeout_s + 5)

"""billwerk Transform REST API.

* Hosts: ``sandbox.billwerk.com``, ``app.billwerk.com`` or a dedicated system's URL; the API
  lives under ``/api/v1``, the token endpoint at ``/oauth/token/`` (:func:`normalize_base_url`).
* Tokens: client credentials, cached in memory until shortly before ``expires_in``, fetched
  again once after a 401. No refresh token exists.
* Entities: ``X-SELECTED-LEGAL-ENTITY-ID`` per client; :meth:`BillwerkClient.for_entity`
  gives a client for another entity sharing the token.
* Lists are bare arrays: ``take`` ≤ 500 and the inclusive ``from=<Id>`` cursor
  (:meth:`BillwerkClient.iter_all`).
* Rate limits: 429, and a 403 whose message says ``"rate limit exceeded"``.
* ETags: customers and contracts carry one; pass it back as ``if_match`` to get 412 instead
  of overwriting someone else's change.
"""
from __future__ import annotations

import base64
import threading
import time
from typing import TYPE_CHECKING, Any, Iterable, Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from backend.clients.base import (DEFAULT_TIMEOUT, ApiError, AuthError, BaseClient, NotFound, ParsedError, response_json)
from backend.errors import HubwerkError

if TYPE_CHECKING:
    from backend.models import BillwerkAccount

ENTITY_HEADER = "X-SELECTED-LEGAL-ENTITY-ID"
API_PREFIX = "/api/v1"
TOKEN_PATH = "/oauth/token/"
MAX_TAKE = 500
HOSTS = {
    "sandbox": "https://sandbox.billwerk.com",
    "sandbox.billwerk.com": "https://sandbox.billwerk.com",
    "app": "https://app.billwerk.com",
    "production": "https://app.billwerk.com",
    "app.billwerk.com": "https://app.billwerk.com",
}
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class InvalidBillwerkUrl(HubwerkError, ValueError):
    code = "invalid_billwerk_url"
    status = 422


def normalize_base_url(value: str) -> str:
    """The billwerk system's root URL (no ``/api/v1``, no trailing slash) from what an admin typed.

    ``sandbox`` / ``sandbox.billwerk.com`` → ``https://sandbox.billwerk.com``; ``app`` /
    ``app.billwerk.com`` → ``https://app.billwerk.com``; a bare host → ``https://host``; a full
    URL is kept (``/api/v1`` and trailing slashes removed). Plain ``http`` only for loopback.
    """
    raw = (value or "").strip()
    if not raw:
        raise InvalidBillwerkUrl("Enter the billwerk system: sandbox.billwerk.com, app.billwerk.com or your own URL.")
    known = HOSTS.get(raw.lower().rstrip("/"))
    if known:
        return known
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidBillwerkUrl(f"{value!r} is not a billwerk URL; enter e.g. app.billwerk.com or https://custom.billwerk.com.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidBillwerkUrl("The billwerk URL must not carry a query, a fragment or credentials; enter just the host.")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise InvalidBillwerkUrl("The billwerk URL must use https (client secrets travel over it).")
    path = parts.path.rstrip("/")
    lowered = path.lower()
    for suffix in (API_PREFIX, "/oauth/token"):
        if lowered.endswith(suffix):
            path = path[: -len(suffix)]
            lowered = path.lower()
    return urlunsplit((parts.scheme, parts.netloc.lower(), path.rstrip("/"), "", ""))


class CredentialsRefused(AuthError):
    """billwerk's token endpoint refused the client id or secret."""

    code = "billwerk_credentials_refused"


class Resource(dict):
    """A billwerk object (a dict) with the ``etag`` it was served with, if any."""

    etag: str | None = None


def unwrap_order(body: Any) -> dict:
    """Preview answers come bare or wrapped as ``{"Order": {…}}``, depending on the billwerk system."""
    if isinstance(body, dict) and isinstance(body.get("Order"), dict) and "Id" not in body and "Total" not in body:
        return body["Order"]
    return body or {}


class TokenCache:
    """The client-credentials token, shared by the clients of one account (every entity).

    Pass one instance as ``token_cache=`` to every client of an account in a process so a
    worker fetches one token per account, not one per job.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.value: str | None = None
        self.expires_at = 0.0


class BillwerkClient(BaseClient):
    provider = "billwerk"
    backoff_base_s = 1.0
    #: refetch the token this long before billwerk says it expires
    token_margin_s = 60.0

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, entity_id: str | None = None,
                 timeout=DEFAULT_TIMEOUT, session: requests.Session | None = None, max_retries: int = 4,
                 rate_limiter=None, sleep=time.sleep, clock=time.time, token_cache: TokenCache | None = None,
                 _tokens: TokenCache | None = None):
        self.root_url = normalize_base_url(base_url)
        super().__init__(self.root_url + API_PREFIX, timeout=timeout, session=session, max_retries=max_retries,
                         rate_limiter=rate_limiter, sleep=sleep)
        self.client_id = client_id
        self.client_secret = client_secret
        self.entity_id = entity_id
        self.clock = clock
        self._tokens = token_cache or _tokens or TokenCache()
        self._local = threading.local()

    def for_entity(self, entity_id: str | None) -> "BillwerkClient":
        """A client acting on another legal entity of the same account (same token)."""
        return BillwerkClient(self.root_url, self.client_id, self.client_secret, entity_id=entity_id,
                              timeout=self.timeout, session=self.session, max_retries=self.max_retries,
                              rate_limiter=self.rate_limiter, sleep=self.sleep, clock=self.clock, token_cache=self._tokens)

    # -- provider hooks --------------------------------------------------------------------------------
    def secrets(self):
        return (self.client_secret, self._tokens.value)

    def parse_error(self, resp: requests.Response, body: Any) -> ParsedError:
        message, errors = None, []
        if isinstance(body, dict):
            message = body.get("Message") or body.get("message") or body.get("error_description") or body.get("error")
            raw = body.get("errors") or body.get("Errors") or body.get("ModelState")
            if isinstance(raw, list):
                errors = raw
            elif isinstance(raw, dict):
                errors = [{"field": k, "message": "; ".join(v) if isinstance(v, list) else str(v)} for k, v in raw.items()]
        elif isinstance(body, str):
            message = body
        elif resp.text and len(resp.text) < 300 and "<" not in resp.text:
            message = resp.text.strip()
        return ParsedError(message=message, correlation_id=None, errors=errors, category=None)

    def is_rate_limited(self, resp: requests.Response, body: Any) -> bool:
        if resp.status_code == 429:
            return True
        if resp.status_code == 403:
            message = self.parse_error(resp, body).get("message") or ""
            return "rate limit" in message.lower()
        return False

    def auth_headers(self) -> dict:
        if getattr(self._local, "fetching_token", False):
            return {}
        token = self.token()
        self._local.token = token
        headers = {"Authorization": f"Bearer {token}"}
        if self.entity_id:
            headers[ENTITY_HEADER] = self.entity_id
        return headers

    # -- tokens ------------------------------------------------------------------------------------------
    def token(self, force: bool = False) -> str:
        cache = self._tokens
        with cache.lock:
            if not force and cache.value and cache.expires_at - self.clock() > 0:
                return cache.value
            body = self._fetch_token()
            expires_in = float(body.get("expires_in") or body.get("expires") or 300)
            cache.value = body["access_token"]
            cache.expires_at = self.clock() + max(expires_in - min(self.token_margin_s, expires_in / 10), 1.0)
            return cache.value

    def _fetch_token(self) -> dict:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        self._local.fetching_token = True
        try:
            resp = BaseClient._request(self, "POST", self.root_url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                                       headers={"Authorization": f"Basic {basic}"}, idempotent=True, log_path=TOKEN_PATH)
            body = response_json(resp)
        except AuthError as err:
            if err.provider_status != 401:
                raise
            raise CredentialsRefused("billwerk refused the client id or secret; check both in billwerk under "
                            "Settings > billwerk Apps > My Apps.", provider=self.provider, method="POST",
                            path=TOKEN_PATH, provider_status=err.provider_status,
                            provider_message=err.provider_message, body=err.body) from None
        except ApiError as err:
            if err.provider_status in (400, 401) and isinstance(err.body, dict) and err.body.get("error") in (
                    "invalid_client", "unauthorized_client", "invalid_grant"):
                raise CredentialsRefused("billwerk refused the client id or secret; check both in billwerk under "
                                         "Settings > billwerk Apps > My Apps.", provider=self.provider, method="POST",
                                         path=TOKEN_PATH, provider_status=err.provider_status, body=err.body) from None
            raise
        finally:
            self._local.fetching_token = False
        if not isinstance(body, dict) or not body.get("access_token"):
            raise ApiError("billwerk answered the token request without a token; check the billwerk URL.",
                           provider=self.provider, method="POST", path=TOKEN_PATH)
        return body

    def verify(self) -> bool:
        """Prove the credentials (a fresh token) and, with an entity, that the entity is reachable."""
        self.token(force=True)
        if self.entity_id:
            self.call("GET", "/customers", params={"take": 1})
        return True

    def renew_auth(self, err: AuthError) -> bool:
        """Forget the rejected token (unless another thread already replaced it); the retry fetches one."""
        if isinstance(err, CredentialsRefused):
            return False
        with self._tokens.lock:
            if self._tokens.value == getattr(self._local, "token", None):
                self._tokens.value = None
        return True

    # -- paging --------------------------------------------------------------------------------------------
    def iter_all(self, path: str, params: dict | None = None, *, take: int = MAX_TAKE) -> Iterator[dict]:
        """Every item of a list endpoint, ``take`` at a time, with the inclusive ``from`` cursor:
        each next page starts with the last item of the previous one, which is dropped."""
        take = max(1, min(int(take), MAX_TAKE))
        cursor = None
        while True:
            query = {k: v for k, v in (params or {}).items() if v is not None}
            query["take"] = take
            if cursor:
                query["from"] = cursor
            page = self.call("GET", path, params=query) or []
            items = page
            if cursor and page and str(page[0].get("Id")) == cursor:
                items = page[1:]
            yield from items
            if len(page) < take or not page:
                return
            nxt = str(page[-1].get("Id"))
            if nxt == cursor:
                return
            cursor = nxt

    def _get(self, path: str, params: dict | None = None) -> Resource:
        resp = self.request("GET", path, params=params)
        out = Resource(response_json(resp) or {})
        out.etag = resp.headers.get("ETag")
        return out

    def _send(self, method: str, path: str, body: dict, *, if_match: str | None = None, idempotent=None) -> Resource:
        headers = {"If-Match": if_match} if if_match else None
        resp = self.request(method, path, json=body, headers=headers, idempotent=idempotent)
        out = Resource(response_json(resp) or {})
        out.etag = resp.headers.get("ETag")
        return out

    # -- customers --------------------------------------------------------------------------------------------
    def get_customer(self, customer_id: str) -> Resource:
        return self._get(f"/customers/{_id(customer_id)}")

    def customers(self, **filters) -> Iterator[dict]:
        """``search``, ``statusFilter``, ``externalId`` …"""
        return self.iter_all("/customers", filters)

    list_customers = customers

    def find_customer_by_external_id(self, external_id: str) -> dict | None:
        found = self.call("GET", "/customers", params={"externalId": external_id, "take": 2}) or []
        exact = [c for c in found if c.get("ExternalCustomerId") == external_id]
        return exact[0] if exact else None

    def create_customer(self, customer: dict) -> Resource:
        return self._send("POST", "/customers", customer, idempotent=False)

    def patch_customer(self, customer_id: str, changes: dict, *, if_match: str | None = None) -> Resource:
        return self._send("PATCH", f"/customers/{_id(customer_id)}", changes, if_match=if_match)

    def customer_contracts(self, customer_id: str) -> Iterator[dict]:
        return self.iter_all(f"/customers/{_id(customer_id)}/contracts")

    # -- contracts ----------------------------------------------------------------------------------------------
    def get_contract(self, contract_id: str) -> Resource:
        return self._get(f"/contracts/{_id(contract_id)}")

    def contracts(self, **filters) -> Iterator[dict]:
        return self.iter_all("/contracts", filters)

    def patch_contract(self, contract_id: str, changes: dict, *, if_match: str | None = None) -> Resource:
        return self._send("PATCH", f"/contracts/{_id(contract_id)}", changes, if_match=if_match)

    def end_contract(self, contract_id: str, end_date: str) -> Resource:
        return self._send("POST", f"/contracts/{_id(contract_id)}/end", {"EndDate": end_date}, idempotent=True)

    def get_contract_change(self, change_id: str, *, include_contract: bool = False) -> Resource:
        return self._get(f"/contractChanges/{_id(change_id)}",
                         {"includeContract": "true"} if include_contract else None)

    def contract_changes(self, contract_id: str) -> Iterator[dict]:
        return self.iter_all("/contractChanges", {"contractId": contract_id})

    # -- orders --------------------------------------------------------------------------------------------------
    def create_order(self, order: dict) -> dict:
        """An order ``InProgress`` with ``CustomerId`` / ``ContractId`` allocated. Not retried after a 5xx."""
        return self.call("POST", "/orders", json=order, idempotent=False)

    def preview_order(self, order: dict) -> dict:
        """Totals and VAT for an order without storing anything; the bare order either way."""
        return unwrap_order(self.call("POST", "/orders/preview", json=unwrap_order(order), idempotent=True))

    def commit_order(self, order_id: str, payment_method: str | None = None) -> dict:
        """Execute the order → the contract. Not retried after a 5xx (a second commit is refused)."""
        body = {"PaymentMethod": payment_method} if payment_method else {}
        return self.call("POST", f"/orders/{_id(order_id)}/commit", json=body, idempotent=False)

    def custom_field_definitions(self) -> list[dict] | None:
        """The account's custom-field definitions (``Key``, ``Label``, ``Type``, ``Object``), or ``None``
        where billwerk offers no such listing (404): then a field is checked by an order preview."""
        try:
            return list(self.call("GET", "/customfields") or [])
        except NotFound:
            return None

    def get_order(self, order_id: str) -> dict:
        return self.call("GET", f"/orders/{_id(order_id)}")

    # -- catalog ---------------------------------------------------------------------------------------------------
    def product_info(self) -> dict:
        return self.call("GET", "/productinfo") or {}

    def plan_groups(self) -> Iterator[dict]:
        return self.iter_all("/planGroups")

    def plans(self, plan_group_id: str | None = None) -> Iterator[dict]:
        return self.iter_all("/plans", {"planGroupId": plan_group_id})

    def plan_variants(self, plan_id: str | None = None, plan_group_id: str | None = None) -> Iterator[dict]:
        return self.iter_all("/planVariants", {"planId": plan_id, "planGroupId": plan_group_id})

    def components(self, plan_group_id: str | None = None) -> Iterator[dict]:
        return self.iter_all("/components", {"planGroupId": plan_group_id})

    def discounts(self, plan_group_id: str | None = None) -> Iterator[dict]:
        return self.iter_all("/discounts", {"planGroupId": plan_group_id})

    def coupons(self) -> Iterator[dict]:
        return self.iter_all("/coupons")

    # -- invoices --------------------------------------------------------------------------------------------------
    def get_invoice(self, invoice_id: str) -> dict:
        return self.call("GET", f"/invoices/{_id(invoice_id)}")

    def invoices(self, **filters) -> Iterator[dict]:
        """``customerId``, ``dateFrom``, ``dateTo`` …"""
        return self.iter_all("/invoices", filters)

    # -- webhooks --------------------------------------------------------------------------------------------------
    def list_webhooks(self) -> list[dict]:
        return self.call("GET", "/webhooks") or []

    def register_webhook(self, url: str, events: Iterable[str]) -> dict:
        # billwerk takes the webhook registration with lower-case keys.
        return self.call("POST", "/webhooks", json={"url": url, "events": list(events)}, idempotent=False)

    def delete_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", f"/webhooks/{_id(webhook_id)}", expected=(200, 204, 404))


_token_caches: dict[tuple[str, str], object] = {}


def client_for(account: BillwerkAccount, entity_id: str | None = None):
    """A billwerk client for ``account`` acting on ``entity_id`` (default: the root entity).

    Every client of one account in this process shares one access token, so a worker does not
    fetch a token per job.
    """
    key = (account.base_url, account.client_id)
    cache = _token_caches.setdefault(key, TokenCache())
    entity = account.entity(entity_id)
    if entity is None:
        raise HubwerkError(f"Entity {entity_id} is not connected for this billwerk account; add it on the connector's billwerk page.", code="unknown_entity")
    return BillwerkClient(account.base_url, account.client_id, account.client_secret, entity_id=entity.entity_id, token_cache=cache)


def _id(value: str) -> str:
    return quote(str(value), safe="")


__all__ = ["BillwerkClient", "CredentialsRefused", "TokenCache", "client_for", "normalize_base_url", "unwrap_order", "Resource", "InvalidBillwerkUrl", "ENTITY_HEADER"]

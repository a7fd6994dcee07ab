"""``HubSpotSandbox``: the object that owns the state, the Flask app and the webhook thread."""
from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

import requests
from flask import g, request

from . import schema, subscriptions
from .app import create_app
from .crm import Crm, integration_source, user_source
from .errors import ApiError
from .ratelimit import SlidingWindow
from .signing import signed_headers
from .store import Settings, Store
from .webhooks import WebhookDispatcher

ALL_SCOPES = [
    "oauth", "automation", "e-commerce",
    *[f"crm.objects.{t}.{rw}" for t in ("deals", "companies", "contacts", "line_items", "products")
      for rw in ("read", "write")],
    *[f"crm.schemas.{t}.{rw}" for t in ("deals", "companies", "contacts") for rw in ("read", "write")],
]


class HubSpotSandbox:
    """An offline HubSpot: CRM, OAuth, webhooks, workflow actions and app cards on loopback.

    All keyword arguments are :class:`~sandbox.hubspot.store.Settings` fields, e.g.
    ``HubSpotSandbox(rate_limit=110, rate_window_s=10.0, search_rate_per_s=5, token_ttl_s=1800)``.
    Serve ``hs.app`` (e.g. with :class:`sandbox.server.ServerThread`) and set ``hs.base_url``.
    """

    def __init__(self, **settings) -> None:
        self.settings = Settings(**settings)
        self.store = Store(self.settings)
        self.rate_window = SlidingWindow()
        self.search_window = SlidingWindow()
        self.webhooks = WebhookDispatcher(self.store)
        self.crm = Crm(self.store, self.webhooks.emit)
        self.base_url: str | None = None
        self._calls_lock = threading.Lock()
        self._cards_lock = threading.Lock()
        self._cards_in_flight: dict[int, int] = {}
        self.app = create_app(self)

    # --- settings ------------------------------------------------------------------------------
    @property
    def client_id(self) -> str:
        return self.settings.client_id

    @property
    def client_secret(self) -> str:
        return self.settings.client_secret

    @property
    def app_id(self) -> int:
        return self.settings.app_id

    @property
    def default_portal_id(self) -> int:
        return self.settings.default_portal_id

    def configure(self, **changes) -> dict:
        """Change settings at run time (``auto_approve``, ``token_ttl_s``, ``webhook_target`` …)."""
        with self.store.lock:
            for key, value in changes.items():
                if not hasattr(self.settings, key) or key in ("client_id", "client_secret", "app_id"):
                    raise ValueError(f"unknown or fixed setting {key!r}")
                setattr(self.settings, key, value)
                if key == "subscriptions_file":
                    self.load_subscriptions()
            return self.settings.public()

    def set_limits(self, rate_limit: int | None = None, rate_window_s: float | None = None,
                   search_rate_per_s: int | None = None) -> dict:
        changes = {k: v for k, v in dict(rate_limit=rate_limit, rate_window_s=rate_window_s,
                                         search_rate_per_s=search_rate_per_s).items() if v is not None}
        self.configure(**changes)
        self.rate_window.reset()
        self.search_window.reset()
        return {k: getattr(self.settings, k) for k in ("rate_limit", "rate_window_s", "search_rate_per_s")}

    def set_webhook_target(self, url: str | None) -> None:
        self.configure(webhook_target=url)

    def subscriptions(self) -> list[dict]:
        """The app's webhook subscriptions (see :mod:`sandbox.hubspot.subscriptions`)."""
        with self.store.lock:
            return [dict(s) for s in self.store.subscriptions]

    def set_subscriptions(self, entries) -> list[dict]:
        """Replace every subscription: a list of ``{subscriptionType, propertyName?, objectType?,
        active?}`` or a whole ``webhooks-hsmeta.json`` document. ``ValueError`` when HubSpot
        would refuse it (a propertyChange without propertyName, an unknown type, a duplicate)."""
        subs = subscriptions.normalise(entries)
        with self.store.lock:
            self.store.subscriptions = subs
            return self.subscriptions()

    def load_subscriptions(self, path: str | None = None) -> list[dict]:
        """Subscriptions from a ``webhooks-hsmeta.json`` (default: the configured or the connector's file)."""
        subs = subscriptions.default_subscriptions(path or self.settings.subscriptions_file)
        with self.store.lock:
            self.store.subscriptions = subs
            return self.subscriptions()

    def set_subscription(self, subscription_type: str, active: bool = True,
                         properties: list[str] | None = None) -> list[dict]:
        """Switch subscriptions of one type on or off, adding missing ones. A propertyChange
        subscription is per property, so switching one on needs ``properties``; switching off
        without ``properties`` switches off every property of that type."""
        with self.store.lock:
            subs = [dict(s) for s in self.store.subscriptions]
            if properties is None and subscription_type.endswith(".propertyChange") and active:
                raise ValueError(f"{subscription_type} subscriptions are per property: name the properties")
            wanted = [None] if properties is None else list(properties)
            for prop in wanted:
                found = [s for s in subs if s["subscriptionType"] == subscription_type
                         and (prop is None or s.get("propertyName") == prop)]
                if not found and active:
                    entry = {"subscriptionType": subscription_type, "active": True}
                    if prop is not None:
                        entry["propertyName"] = prop
                    subs.append(entry)
                for sub in found:
                    sub["active"] = bool(active)
            subs = subscriptions.normalise([{k: v for k, v in s.items() if k != "id"} for s in subs])
            self.store.subscriptions = subs
            return [dict(s) for s in subs if s["subscriptionType"] == subscription_type]

    def advance_time(self, seconds: float) -> None:
        """Move the sandbox clock forward (token expiry, rate windows) without sleeping."""
        with self.store.lock:
            self.store.clock_offset += seconds

    def reset(self) -> None:
        """Forget everything (data, portals, tokens, calls, faults); settings stay."""
        with self.store.lock:
            self.store.reset()
            self.rate_window.reset()
            self.search_window.reset()
            self.webhooks.clear()

    def close(self) -> None:
        """Stop the webhook thread."""
        self.webhooks.stop()

    # --- portals and installs ----------------------------------------------------------------
    def create_portal(self, portal_id: int, name: str | None = None) -> dict:
        p = self.store.create_portal(portal_id, name)
        return self.portal_info(p.id)

    def portal_info(self, portal_id: int) -> dict:
        with self.store.lock:
            p = self.store.portal(portal_id)
            return {"portalId": p.id, "name": p.name, "domain": p.domain, "installed": p.install is not None,
                    "scopes": list(p.install["scopes"]) if p.install else []}

    def portals(self) -> list[dict]:
        with self.store.lock:
            return [self.portal_info(pid) for pid in self.store.portals]

    def install(self, portal_id: int, scopes: list[str] | None = None, user_id: int | None = None) -> None:
        with self.store.lock:
            portal = self.store.portal(portal_id)
            portal.install = {"scopes": list(scopes or ALL_SCOPES), "installed_at": self.store.now_ms(),
                              "user_id": user_id or self.settings.user_id, "user": self.settings.user_email}

    def uninstall(self, portal_id: int) -> None:
        """The app leaves the portal: every token dies, webhooks stop."""
        with self.store.lock:
            portal = self.store.portal(portal_id)
            portal.install = None
            for table in (self.store.access_tokens, self.store.refresh_tokens):
                for tok in [t for t, info in table.items() if info["portal_id"] == portal.id]:
                    del table[tok]
        self.webhooks.discard_portal(int(portal_id))

    # --- tokens ---------------------------------------------------------------------------------
    def _new_access_token(self, portal_id: int, scopes: list[str], refresh_token: str | None) -> dict:
        token = "CN" + secrets.token_urlsafe(48)
        ttl = float(self.settings.token_ttl_s)
        self.store.access_tokens[token] = {"portal_id": portal_id, "scopes": scopes,
                                           "expires_at": self.store.now() + ttl, "ttl": ttl,
                                           "refresh_token": refresh_token, "user": self.settings.user_email,
                                           "user_id": self.settings.user_id}
        return {"token_type": "bearer", "access_token": token, "refresh_token": refresh_token,
                "expires_in": int(ttl), "hub_id": portal_id, "user_id": self.settings.user_id,
                "scopes": scopes, "token_use": "access_token"}

    def issue_tokens(self, portal_id: int | None = None, scopes: list[str] | None = None) -> dict:
        """Install the app in ``portal_id`` and return fresh tokens (no browser needed)."""
        portal_id = int(portal_id or self.default_portal_id)
        with self.store.lock:
            if portal_id not in self.store.portals:
                self.store.create_portal(portal_id)
            self.install(portal_id, scopes)
            return self._grant(portal_id)

    def _grant(self, portal_id: int) -> dict:
        portal = self.store.portal(portal_id)
        scopes = list(portal.install["scopes"])
        refresh = "rt-" + str(uuid.uuid4())
        self.store.refresh_tokens[refresh] = {"portal_id": portal_id, "scopes": scopes,
                                              "user": self.settings.user_email, "user_id": self.settings.user_id}
        return self._new_access_token(portal_id, scopes, refresh)

    def peek_portal_id(self) -> int | None:
        """Portal of the request's bearer token, if any (for the call log only)."""
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            info = self.store.access_tokens.get(header[7:].strip())
            if info:
                return info["portal_id"]
        return None

    def authenticate_request(self) -> None:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        info = self.store.access_tokens.get(token) if token else None
        if info is None:
            raise ApiError(401, "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                                "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                           "INVALID_AUTHENTICATION")
        now = self.store.now()
        if now >= info["expires_at"]:
            ago = int(now - info["expires_at"])
            raise ApiError(401, f"The OAuth token used to make this call expired {ago} second(s) ago.",
                           "EXPIRED_AUTHENTICATION",
                           context={"expire_time": [time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(info["expires_at"]))]})
        g.portal_id = info["portal_id"]
        g.portal = self.store.portal(info["portal_id"])
        g.scopes = info["scopes"]
        g.token = token
        g.source = integration_source(self.settings.app_id)

    # --- call log -------------------------------------------------------------------------------
    def log_call(self, entry: dict) -> None:
        with self._calls_lock:
            self.store.calls.append(entry)

    @property
    def calls(self) -> list[dict]:
        with self._calls_lock:
            return list(self.store.calls)

    def reset_calls(self) -> None:
        with self._calls_lock:
            self.store.calls.clear()

    # --- faults ---------------------------------------------------------------------------------
    def add_fault(self, path_prefix: str = "/", method: str | None = None, status: int | None = None,
                  times: int | None = 1, delay_s: float | None = None, message: str | None = None,
                  drop_webhooks: int | None = None, category: str | None = None) -> dict:
        """Make matching calls fail: ``status`` (e.g. 500, 429) and/or ``delay_s``, ``times`` times
        (``None`` = until cleared). ``drop_webhooks=N`` loses the next N webhook deliveries."""
        if drop_webhooks:
            with self.webhooks._cond:
                self.webhooks.drop_next += int(drop_webhooks)
            if status is None and delay_s is None:
                return {"drop_webhooks": int(drop_webhooks)}
        fault = {"id": str(uuid.uuid4()), "path_prefix": path_prefix or "/", "method": method.upper() if method else None,
                 "status": status, "times": times, "delay_s": delay_s, "message": message,
                 "category": category, "fired": 0}
        with self.store.lock:
            self.store.faults.append(fault)
        return dict(fault)

    def faults(self) -> list[dict]:
        with self.store.lock:
            return [dict(f) for f in self.store.faults]

    def clear_faults(self) -> None:
        with self.store.lock:
            self.store.faults.clear()
        with self.webhooks._cond:
            self.webhooks.drop_next = 0

    def take_fault(self, method: str, path: str) -> dict | None:
        with self.store.lock:
            for fault in self.store.faults:
                if not path.startswith(fault["path_prefix"]):
                    continue
                if fault["method"] and fault["method"] != method.upper():
                    continue
                fault["fired"] += 1
                if fault["times"] is not None:
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        self.store.faults.remove(fault)
                return dict(fault)
        return None

    # --- webhooks ---------------------------------------------------------------------------------
    def flush_webhooks(self, timeout: float = 5.0) -> bool:
        return self.webhooks.flush(timeout)

    @property
    def webhook_deliveries(self) -> list[dict]:
        with self.webhooks._cond:
            return list(self.webhooks.deliveries)

    # --- seed --------------------------------------------------------------------------------------
    def seed(self, companies: int = 40, portal_id: int | None = None, **kwargs) -> dict:
        """Fill a portal with realistic, deterministic data; see :mod:`sandbox.hubspot.seed`."""
        from .seed import seed_portal  # noqa: PLC0415
        with self.store.lock:
            portal = self.store.portal(portal_id or self.default_portal_id)
            return seed_portal(self, portal, companies=companies, **kwargs)

    # --- user edits (CRM_UI) and inspection -----------------------------------------------------
    def _otype(self, object_type: str) -> str:
        ot = schema.resolve_type(object_type)
        if ot is None:
            raise ValueError(f"unknown object type {object_type!r}")
        return ot.name

    def user_create(self, object_type: str, properties: dict, portal_id: int | None = None,
                    associations: list | None = None, user_id: int | None = None) -> dict:
        """Create a record as a user in HubSpot's UI (webhooks carry changeSource CRM_UI)."""
        otype = self._otype(object_type)
        with self.store.lock:
            portal = self.store.portal(portal_id or self.default_portal_id)
            rec = self.crm.create(portal, otype, properties, user_source(user_id or self.settings.user_id), associations)
            return self.crm.render(portal, otype, rec, list(portal.properties[otype]))

    def user_update(self, object_type: str, object_id: str, properties: dict, portal_id: int | None = None,
                    user_id: int | None = None) -> dict:
        otype = self._otype(object_type)
        with self.store.lock:
            portal = self.store.portal(portal_id or self.default_portal_id)
            rec = self.crm.get(portal, otype, str(object_id))
            if rec is None:
                raise KeyError(f"no {otype} {object_id}")
            self.crm.update(portal, otype, rec, properties, user_source(user_id or self.settings.user_id))
            return self.crm.render(portal, otype, rec, list(portal.properties[otype]))

    def user_archive(self, object_type: str, object_id: str, portal_id: int | None = None,
                     user_id: int | None = None) -> None:
        otype = self._otype(object_type)
        with self.store.lock:
            portal = self.store.portal(portal_id or self.default_portal_id)
            rec = self.crm.get(portal, otype, str(object_id))
            if rec is None:
                raise KeyError(f"no {otype} {object_id}")
            self.crm.archive(portal, otype, rec, user_source(user_id or self.settings.user_id))

    def user_associate(self, from_type: str, from_id: str, to_type: str, to_id: str,
                       type_ids: list[int] | None = None, portal_id: int | None = None,
                       user_id: int | None = None) -> None:
        ftype, ttype = self._otype(from_type), self._otype(to_type)
        with self.store.lock:
            portal = self.store.portal(portal_id or self.default_portal_id)
            for otype, oid in ((ftype, from_id), (ttype, to_id)):
                if self.crm.get(portal, otype, str(oid)) is None:
                    raise KeyError(f"no {otype} {oid}")
            types = type_ids or [schema.default_association_type(ftype, ttype)]
            self.crm.associate(portal, ftype, str(from_id), ttype, str(to_id), types,
                               user_source(user_id or self.settings.user_id))

    def objects(self, object_type: str, portal_id: int | None = None, archived: bool = False) -> list[dict]:
        """Every record of a type with all its properties (inspection for tests)."""
        otype = self._otype(object_type)
        with self.store.lock:
            portal = self.store.portal(portal_id or self.default_portal_id)
            names = list(portal.properties[otype])
            return [self.crm.render(portal, otype, r, names) for r in portal.table(otype).records.values()
                    if r.archived == archived]

    def get_object(self, object_type: str, object_id: str, portal_id: int | None = None) -> dict | None:
        otype = self._otype(object_type)
        with self.store.lock:
            portal = self.store.portal(portal_id or self.default_portal_id)
            rec = portal.table(otype).records.get(str(object_id))
            if rec is None:
                return None
            out = self.crm.render(portal, otype, rec, list(portal.properties[otype]))
            out["associations"] = {t: [{"id": tid, "typeIds": sorted(types)} for tid, types in
                                       self.crm.associated(portal, otype, rec.id, t)] for t in schema.OBJECT_TYPES}
            return out

    def properties(self, object_type: str, portal_id: int | None = None) -> dict[str, dict]:
        otype = self._otype(object_type)
        with self.store.lock:
            portal = self.store.portal(portal_id or self.default_portal_id)
            return {n: {k: v for k, v in p.items() if not k.startswith("_")}
                    for n, p in portal.properties[otype].items()}

    def callbacks(self) -> dict[str, dict]:
        self.expire_callbacks()
        with self.store.lock:
            return json.loads(json.dumps(self.store.callbacks))

    def state(self, portal_id: int | None = None) -> dict:
        with self.store.lock:
            portal = self.store.portal(portal_id or self.default_portal_id)
            return {
                "portal": self.portal_info(portal.id),
                "counts": {t: sum(1 for r in tab.records.values() if not r.archived) for t, tab in portal.tables.items()},
                "archived": {t: sum(1 for r in tab.records.values() if r.archived) for t, tab in portal.tables.items()},
                "custom_properties": {t: sorted(n for n, p in props.items() if not p["hubspotDefined"])
                                      for t, props in portal.properties.items()},
                "pipelines": {t: sorted(p) for t, p in portal.pipelines.items()},
                "subscriptions": self.store.subscriptions,
                "callbacks": len(self.store.callbacks),
                "settings": self.settings.public(),
            }

    # --- outgoing calls HubSpot makes to the app -------------------------------------------------
    def call_card(self, portal_id: int, method: str, url: str, body=None, user_id: int | None = None,
                  user_email: str | None = None, app_id: int | None = None,
                  timeout: float | None = None) -> requests.Response:
        """Call the app backend as ``hubspot.fetch`` from an app card does (signature v3).

        Like HubSpot's proxy: one retry on a connection failure or a 5xx (so card actions must
        be idempotent); at most ``card_max_concurrent`` (20) requests in flight per account, the
        next one is answered 429 without reaching the backend; request and response bodies of
        at most ``card_max_body_bytes`` (1 MB), else 413 (request, not sent) or 502 (response);
        ``timeout`` in seconds, default 15, at most 120 (a timeout is not retried). Connection
        failures and timeouts raise, as ``hubspot.fetch`` rejects. Every call is logged in
        :attr:`card_calls`."""
        timeout = CARD_DEFAULT_TIMEOUT_S if timeout is None else float(timeout)
        if not 0 < timeout <= CARD_MAX_TIMEOUT_S:
            raise ValueError(f"hubspot.fetch timeout must be between 0 and {CARD_MAX_TIMEOUT_S:.0f} s, got {timeout}")
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += [("portalId", str(portal_id)), ("userId", str(user_id or self.settings.user_id)),
                  ("userEmail", user_email or self.settings.user_email),
                  ("appId", str(app_id if app_id is not None else self.settings.app_id))]
        full = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        entry = {"portal_id": int(portal_id), "method": method.upper(), "url": full, "timeout_s": timeout,
                 "attempts": [], "outcome": None}
        with self.store.lock:
            self.store.card_calls.append(entry)
        limit = self.settings.card_max_body_bytes
        if len(data) > limit:
            entry["outcome"] = "request_too_large"
            return _proxy_answer(413, f"The request body ({len(data)} bytes) is larger than hubspot.fetch allows "
                                      f"(1 MB).", "VALIDATION_ERROR")
        if not self._card_slot(int(portal_id), +1):
            entry["outcome"] = "too_many_concurrent"
            return _proxy_answer(429, f"More than {self.settings.card_max_concurrent} concurrent hubspot.fetch requests "
                                      f"for this account; try again later.", "RATE_LIMITS")
        try:
            for attempt in range(2):
                headers = {"Content-Type": "application/json", "User-Agent": "HubSpot-UIExtensions (sandbox)"}
                headers.update(signed_headers(self.settings.client_secret, versions=("v3",), method=method.upper(),
                                              uri=full, body=data))
                try:
                    resp = requests.request(method.upper(), full, data=data or None, headers=headers, timeout=timeout)
                except requests.Timeout as exc:
                    entry["attempts"].append({"status": None, "error": type(exc).__name__})
                    entry["outcome"] = "timeout"
                    raise
                except requests.ConnectionError:
                    entry["attempts"].append({"status": None, "error": "ConnectionError"})
                    if attempt == 0:
                        continue
                    entry["outcome"] = "connection_failed"
                    raise
                entry["attempts"].append({"status": resp.status_code, "error": None})
                if resp.status_code >= 500 and attempt == 0:
                    continue
                break
        finally:
            self._card_slot(int(portal_id), -1)
        if len(resp.content) > limit:
            entry["outcome"] = "response_too_large"
            return _proxy_answer(502, f"The backend's response ({len(resp.content)} bytes) is larger than "
                                      f"hubspot.fetch allows (1 MB).", "VALIDATION_ERROR")
        entry["outcome"] = resp.status_code
        return resp

    def _card_slot(self, portal_id: int, delta: int) -> bool:
        with self._cards_lock:
            in_flight = self._cards_in_flight.get(portal_id, 0)
            if delta > 0 and in_flight >= self.settings.card_max_concurrent:
                return False
            self._cards_in_flight[portal_id] = in_flight + delta
            return True

    @property
    def card_calls(self) -> list[dict]:
        """App-card calls made with :meth:`call_card`: ``{portal_id, method, url, timeout_s, attempts, outcome}``."""
        with self.store.lock:
            return json.loads(json.dumps(self.store.card_calls))

    def execute_workflow_action(self, portal_id: int, action_url: str, object_type: str, object_id,
                                input_fields: dict, properties: dict | None = None, *, workflow_id: int = 192814114,
                                action_definition_id: int = 10860211, timeout: float = 30.0) -> requests.Response:
        """POST a workflow custom-action execution to ``action_url`` (signature v2 + v3).

        The callbackId is recorded. A 5xx, a 429 or a connection failure is retried with the
        same payload (same callbackId) up to ``action_max_attempts`` tries, ``action_backoff_s``
        apart (doubling); other 4xx are not retried. A 2xx answer with ``hs_execution_state``
        other than ``BLOCK`` completes the callback at once; ``BLOCK`` waits for the
        callback-complete API until ``hs_expiration_duration`` (ISO-8601, default one week) has
        passed on the sandbox clock, then the callback is ``EXPIRED``. Returns the last response;
        raises when the last try could not connect."""
        ot = schema.resolve_type(object_type)
        obj_type = (ot.singular if ot else object_type).upper()
        with self.store.lock:
            seq = len(self.store.callbacks) + 1
            enrollment = 56776413549 + seq
            callback_id = f"ap-{portal_id}-{enrollment}-7-0"
            obj_props = {"hs_object_id": str(object_id)}
            if ot is not None and int(portal_id) in self.store.portals:
                rec = self.store.portal(portal_id).table(ot.name).records.get(str(object_id))
                wanted = properties if isinstance(properties, (list, tuple)) else None
                if rec is not None and wanted:
                    obj_props.update({p: rec.properties.get(p) for p in wanted})
            if isinstance(properties, dict):
                obj_props.update(properties)
            index = {"enrollmentId": enrollment, "actionExecutionIndex": 0}
            payload = {
                "callbackId": callback_id,
                "origin": {"portalId": int(portal_id), "actionDefinitionId": action_definition_id,
                           "actionDefinitionVersion": 1, "actionExecutionIndexIdentifier": index,
                           "extensionDefinitionId": action_definition_id, "extensionDefinitionVersionId": 1},
                "context": {"source": "WORKFLOWS", "workflowId": workflow_id, "actionId": 7,
                            "actionExecutionIndexIdentifier": index},
                "object": {"objectId": int(object_id), "objectType": obj_type, "properties": obj_props},
                "fields": dict(input_fields), "inputFields": dict(input_fields),
                "typedInputs": {k: {"value": v, "type": _typed(v)} for k, v in input_fields.items()},
            }
            self.store.callbacks[callback_id] = {"callbackId": callback_id, "portalId": int(portal_id),
                                                 "actionUrl": action_url, "objectType": obj_type,
                                                 "objectId": str(object_id), "inputFields": dict(input_fields),
                                                 "state": "PENDING", "completions": [], "outputFields": None,
                                                 "attempts": [], "expiresAt": None}
        data = json.dumps(payload).encode("utf-8")
        attempts = max(1, int(self.settings.action_max_attempts))
        resp = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.settings.action_backoff_s * min(2 ** (attempt - 1), 10))
            headers = {"Content-Type": "application/json", "User-Agent": "HubSpot Workflows (sandbox)"}
            headers.update(signed_headers(self.settings.client_secret, versions=("v2", "v3"), method="POST",
                                          uri=action_url, body=data))
            try:
                resp = requests.post(action_url, data=data, headers=headers, timeout=timeout)
            except requests.RequestException as exc:
                with self.store.lock:
                    cb = self.store.callbacks[callback_id]
                    cb["attempts"].append({"status": None, "error": type(exc).__name__, "ts": self.store.now_ms()})
                    if attempt + 1 == attempts:
                        cb.update(state="FAILED", response_status=None, error=f"{type(exc).__name__} on every try")
                        raise
                continue
            with self.store.lock:
                self.store.callbacks[callback_id]["attempts"].append(
                    {"status": resp.status_code, "error": None, "ts": self.store.now_ms()})
            if resp.status_code < 500 and resp.status_code != 429:
                break
        with self.store.lock:
            self._settle(self.store.callbacks[callback_id], resp)
        return resp

    def _settle(self, cb: dict, resp: requests.Response) -> None:
        """What HubSpot makes of the action's (last) answer."""
        cb["response_status"] = resp.status_code
        if not 200 <= resp.status_code < 300:
            cb.update(state="FAILED", error=f"the action answered {resp.status_code}")
            return
        try:
            out = resp.json().get("outputFields") or {}
        except (ValueError, AttributeError):
            out = {}
        if out.get("hs_execution_state") != "BLOCK":
            cb.update(state="COMPLETED", outputFields=out, completedBy="response")
            return
        raw = out.get("hs_expiration_duration") or self.settings.action_default_expiration
        seconds = iso_duration_s(str(raw))
        if seconds is None:
            cb.update(state="FAILED", error=f"hs_expiration_duration {raw!r} is not an ISO-8601 duration (e.g. P1WT1H)")
            return
        cb["expiresAt"] = int((self.store.now() + seconds) * 1000)

    def expire_callbacks(self) -> None:
        """BLOCKed executions whose expiration passed on the sandbox clock become EXPIRED."""
        now = self.store.now_ms()
        with self.store.lock:
            for cb in self.store.callbacks.values():
                if cb["state"] == "PENDING" and cb.get("expiresAt") is not None and now >= cb["expiresAt"]:
                    cb["state"] = "EXPIRED"


_DURATION = re.compile(r"^P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                       r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def iso_duration_s(text: str) -> float | None:
    """Seconds of an ISO-8601 duration (``P1WT1H``, ``PT2H``, ``P1D``); years/months as 365/30 days."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    y, mo, w, d, h, mi, sec = (float(v) if v else 0.0 for v in match.groups())
    return ((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 3600 + mi * 60 + sec


CARD_DEFAULT_TIMEOUT_S = 15.0
CARD_MAX_TIMEOUT_S = 120.0


def _proxy_answer(status: int, message: str, category: str) -> requests.Response:
    """A response HubSpot's hubspot.fetch proxy gives itself, without the backend."""
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps({"status": "error", "message": message, "category": category,
                                "correlationId": str(uuid.uuid4())}).encode("utf-8")
    resp.headers["Content-Type"] = "application/json"
    resp.encoding = "utf-8"
    return resp


def _typed(value) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, (int, float)):
        return "NUMBER"
    return "STRING"

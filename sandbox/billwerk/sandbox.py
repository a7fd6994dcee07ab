"""``BillwerkSandbox``: the emulator object — settings, state, Flask app and Python control API."""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone

from . import catalog, custom_fields, events, seed as seeding, webhooks
from .app import create_app
from .faults import FaultInjector
from .ratelimit import RateLimiter
from .store import CATALOG_TABLES, TABLES, Account, Entity, Store, public

DEFAULT_CLIENT_ID = "hubwerk-sandbox-billwerk-client"
DEFAULT_CLIENT_SECRET = "hubwerk-sandbox-billwerk-secret"
DEFAULT_ENTITIES = (
    {"id": "5f0000000000000000000001", "name": "Sandbox GmbH", "public_api_key": "5f00000000000000000000a1",
     "country": "DE", "currency": "EUR"},
    {"id": "5f0000000000000000000002", "name": "Sandbox Ltd (UK)", "public_api_key": "5f00000000000000000000a2",
     "country": "GB", "currency": "GBP"},
)


@dataclass
class Settings:
    """Tunables; every one can be passed to ``BillwerkSandbox(...)`` by name."""

    #: requests per window and account (billwerk documents 10,000 in its header example)
    rate_limit: int = 10_000
    rate_limit_window_s: float = 3600.0
    #: ``"429"`` or ``"403"`` (the "rate limit exceeded" variant)
    rate_limit_style: str = "429"
    #: access-token lifetime (billwerk's is [NF])
    token_ttl_s: float = 3600.0
    #: first retry delay; doubles per retry (12 attempts from 60 s: last retry after ≈ 34 h; billwerk: "up to two days")
    webhook_retry_base_s: float = 60.0
    webhook_max_attempts: int = 12
    webhook_timeout_s: float = 10.0
    #: create the default account (client and two entities) on start and on reset
    default_account: bool = True
    default_client_id: str = DEFAULT_CLIENT_ID
    default_client_secret: str = DEFAULT_CLIENT_SECRET
    #: serve ``GET /api/v1/CustomFields``; off, it answers 404 as an API without such a listing would
    custom_fields_listable: bool = True
    #: the default account is a production account (SnailMail allowed) instead of a sandbox one
    default_account_production: bool = False


class BillwerkSandbox:
    """An in-memory billwerk on loopback.

    >>> bw = BillwerkSandbox(rate_limit=50, webhook_retry_base_s=0.01)
    >>> server = ServerThread(bw.app).start(); bw.base_url = server.url
    """

    def __init__(self, **settings):
        names = {f.name for f in fields(Settings)}
        unknown = set(settings) - names
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        self.settings = Settings(**settings)
        self._initial_settings = Settings(**settings)
        self.store = Store()
        self.base_url: str | None = None
        self._clock_offset = 0.0
        self._calls_lock = threading.Lock()
        self._calls: list[dict] = []
        self.downloads: dict[str, str] = {}
        self.emitted: collections.deque = collections.deque(maxlen=10_000)  # last payloads emitted
        self.limiter = RateLimiter(self.settings.rate_limit, self.settings.rate_limit_window_s, self.clock,
                                   self.settings.rate_limit_style)
        self.faults = FaultInjector()
        self.dispatcher = webhooks.Dispatcher(self.settings)
        self._install_default_account()
        self.app = create_app(self)

    # -- time ------------------------------------------------------------------------------------
    def clock(self) -> float:
        """Epoch seconds as the sandbox sees them (wall clock + ``advance_clock`` offset)."""
        return time.time() + self._clock_offset

    def now(self) -> datetime:
        """Naive UTC ``datetime`` of :meth:`clock`."""
        return datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=self._clock_offset)

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox clock forward (token expiry, rate windows, contract dates)."""
        self._clock_offset += float(seconds)

    # -- accounts and tokens ---------------------------------------------------------------------
    def _install_default_account(self) -> None:
        if self.settings.default_account:
            self.add_account(self.settings.default_client_id, self.settings.default_client_secret,
                             [dict(e) for e in DEFAULT_ENTITIES], production=self.settings.default_account_production)

    def add_account(self, client_id: str, client_secret: str, entities: list[dict] | None = None,
                    production: bool = False) -> dict:
        """Add an OAuth client with its entities (first = root). Entity dicts take ``id``,
        ``name``, ``public_api_key`` and optionally ``country`` (default DE) and ``currency``.
        ``production`` makes it a production account (see :mod:`.dispatch`: only those post letters)."""
        with self.store.lock:
            if client_id in self.store.accounts:
                raise ValueError(f"account {client_id!r} exists")
            made = []
            for spec in entities or [{}]:
                eid = str(spec.get("id") or self.store.new_id()).lower()
                if self.store.entity(eid) or any(e.id == eid for e in made):
                    raise ValueError(f"entity {eid} already belongs to an account")
                country = str(spec.get("country", "DE")).upper()
                currency = spec.get("currency") or {"GB": "GBP", "CH": "CHF", "US": "USD"}.get(country, "EUR")
                made.append(Entity(eid, spec.get("name") or f"Entity {eid[-4:]}",
                                   spec.get("public_api_key") or self.store.new_id(), country, currency))
            self.store.accounts[client_id] = Account(client_id, client_secret, made,
                                                     custom_fields.default_catalogue(), production=bool(production))
            return self.account_info(client_id)

    def define_custom_field(self, object: str, key: str, label: str | None = None, type: str = "String",
                            client_id: str | None = None) -> dict:
        """Define (or redefine) a customer or contract custom field of one account."""
        with self.store.lock:
            account = self.store.accounts[client_id or self.settings.default_client_id]
            return custom_fields.define(account.custom_fields, object, key, label, type)

    def remove_custom_field(self, object: str, key: str, client_id: str | None = None) -> bool:
        with self.store.lock:
            account = self.store.accounts[client_id or self.settings.default_client_id]
            return account.custom_fields.get(custom_fields.normalize_object(object), {}).pop(key, None) is not None

    def custom_field_definitions(self, client_id: str | None = None) -> list[dict]:
        with self.store.lock:
            account = self.store.accounts[client_id or self.settings.default_client_id]
            return [dict(d) for obj in custom_fields.OBJECTS for d in account.custom_fields.get(obj, {}).values()]

    def account_info(self, client_id: str) -> dict:
        acc = self.store.accounts[client_id]
        return {"client_id": acc.client_id, "entities": [e.as_dict() for e in acc.entities], "production": acc.production}

    def revoke_tokens(self, client_id: str | None = None, token: str | None = None) -> int:
        """Revoke one token, all tokens of a client, or every token; returns how many."""
        n = 0
        with self.store.lock:
            for t in self.store.tokens.values():
                if (token is None or t.value == token) and (client_id is None or t.client_id == client_id) and not t.revoked:
                    t.revoked = True
                    n += 1
        return n

    # -- data --------------------------------------------------------------------------------------
    def seed(self, catalog_items: int = 60, customers: int = 10, contracts_per_customer: int = 1,
             client_id: str | None = None, entity_ids: list[str] | None = None) -> dict:
        return seeding.seed(self, catalog_items, customers, contracts_per_customer, client_id, entity_ids)

    def set_hidden(self, kind: str, id_: str, hidden: bool = True) -> dict:
        """Hide or show a plan variant, component, discount (also plan, coupon)."""
        return catalog.set_hidden(self, kind, id_, hidden)

    def trigger(self, event_name: str, **ids) -> dict:
        """Emit a billwerk-side event (see :mod:`.events`); returns the payload."""
        return events.trigger(self, event_name, **ids)

    def state(self, kind: str | None = None) -> dict:
        """A JSON-able dump of the store (objects carry ``EntityId``)."""
        with self.store.lock:
            def rows(table):
                return [dict(public(o), EntityId=o.get("_entity")) for o in self.store.scan(table)]
            out = {"accounts": [self.account_info(c) for c in self.store.accounts]}
            for table in TABLES:
                if table in CATALOG_TABLES:
                    out.setdefault("catalog", {})[table] = rows(table)
                else:
                    out[table] = rows(table)
            out["deliveries"] = self.deliveries
            out["faults"] = self.faults.list()
            out["limits"] = self.limits()
        if kind is None:
            return out
        if kind in out:
            return {kind: out[kind]}
        if kind in out["catalog"]:
            return {kind: out["catalog"][kind]}
        raise KeyError(kind)

    def reset(self) -> None:
        """Forget everything (accounts, data, tokens, calls, faults, deliveries, clock offset) and
        return to the settings the sandbox was built with."""
        for f in fields(Settings):
            setattr(self.settings, f.name, getattr(self._initial_settings, f.name))
        self.dispatcher.clear()
        self.store.reset()
        self.faults.clear()
        self.limiter.configure(self.settings.rate_limit, self.settings.rate_limit_window_s,
                               self.settings.rate_limit_style)
        self.downloads.clear()
        self.emitted.clear()
        self.reset_calls()
        self._clock_offset = 0.0
        self._install_default_account()

    # -- call log ----------------------------------------------------------------------------------
    @property
    def calls(self) -> list[dict]:
        with self._calls_lock:
            return [dict(c) for c in self._calls]

    def reset_calls(self) -> None:
        with self._calls_lock:
            self._calls.clear()

    def log_call(self, entry: dict) -> None:
        with self._calls_lock:
            self._calls.append(entry)

    # -- limits and faults -------------------------------------------------------------------------
    def set_limits(self, rate_limit: int | None = None, window_s: float | None = None, style: str | None = None,
                   token_ttl_s: float | None = None) -> dict:
        """Change the rate limit (resets the counters) and/or the lifetime of new tokens."""
        self.limiter.configure(rate_limit, window_s, style)
        if token_ttl_s is not None:
            self.settings.token_ttl_s = float(token_ttl_s)
        return self.limits()

    def limits(self) -> dict:
        return {"rate_limit": self.limiter.limit, "window_s": self.limiter.window_s, "style": self.limiter.style,
                "token_ttl_s": self.settings.token_ttl_s}

    def add_fault(self, **spec) -> dict:
        """Inject a fault; see :class:`.faults.FaultInjector`. Webhook faults (``drop_webhooks=n``,
        ``duplicate_webhooks=n``, ``reorder_webhooks``, ``pause_webhooks``, ``reorder_contract_webhooks``,
        ``late_webhooks=n`` with ``late_by_s`` / ``late_retry_count``, ``legacy_webhooks``): see
        :meth:`.webhooks.Dispatcher.set_faults`."""
        hooks = {k: spec.pop(k) for k in webhooks.Dispatcher.FAULT_KEYS if k in spec}
        result = self.dispatcher.set_faults(**hooks) if hooks else None
        return self.faults.add(**spec) if spec else result

    def clear_faults(self) -> None:
        self.faults.clear()
        self.dispatcher.clear_faults()

    # -- webhooks ----------------------------------------------------------------------------------
    def register_webhook(self, url: str, events, username: str | None = None, password: str | None = None,
                         client_id: str | None = None, entity_id: str | None = None) -> dict:
        """Register a webhook as billwerk's UI does, optionally with HTTP Basic credentials.
        ``entity_id`` limits it to one entity; default: every entity of the account."""
        hook = webhooks.register(self, client_id or self.settings.default_client_id, url, list(events), username, password,
                        entity_id)
        return public(hook)

    def flush_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until every queued delivery is delivered, dropped or given up (False on timeout)."""
        return self.dispatcher.flush(timeout)

    @property
    def deliveries(self) -> list[dict]:
        return self.dispatcher.snapshot()

    # -- serving -----------------------------------------------------------------------------------
    def serve(self, host: str = "127.0.0.1", port: int = 0):
        """Start a :class:`sandbox.server.ServerThread`, set ``base_url`` and return the server."""
        from sandbox.server import ServerThread
        server = ServerThread(self.app, host, port).start()
        self.base_url = server.url
        return server

    def stop(self) -> None:
        """Stop the webhook sender thread."""
        self.dispatcher.stop()

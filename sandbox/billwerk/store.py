"""In-memory state of the sandbox, guarded by one re-entrant lock.

The server is threaded (one thread per request plus the webhook sender), so every read or write
of this state happens inside ``with store.lock:``. Objects are stored as their public JSON dicts
(PascalCase) plus private keys starting with ``_`` (``_entity``, ``_account``, ``_version``) that
serializers strip. Ids come from one monotonic counter, so insertion order is id order and the
``from=<Id>`` cursor is a simple bisect.
"""
from __future__ import annotations

import bisect
import copy
import threading
from dataclasses import dataclass, field

#: Every table the sandbox keeps; the names double as ``/_sandbox/state`` keys.
TABLES = (
    "customers", "contracts", "orders", "invoices", "contract_changes", "component_subscriptions",
    "discount_subscriptions", "usages", "plan_groups", "plans", "plan_variants", "components",
    "discounts", "coupons", "webhooks",
)

#: Catalogue tables (shown together under ``catalog`` in the state dump).
CATALOG_TABLES = ("plan_groups", "plans", "plan_variants", "components", "discounts", "coupons")


@dataclass
class Entity:
    id: str
    name: str
    public_api_key: str
    country: str = "DE"
    currency: str = "EUR"

    def as_dict(self) -> dict:
        return {"Id": self.id, "Name": self.name, "PublicApiKey": self.public_api_key,
                "Country": self.country, "Currency": self.currency}


@dataclass
class Account:
    """An OAuth client (confidential: id + secret) and the legal entities it may act on."""

    client_id: str
    client_secret: str
    entities: list[Entity] = field(default_factory=list)
    #: ``{"Customer": {key: definition}, "Contract": {...}}`` (see custom_fields.py)
    custom_fields: dict = field(default_factory=dict)
    #: a production account (app.billwerk.com) rather than a sandbox one: only production posts letters
    production: bool = False

    @property
    def root(self) -> Entity:
        return self.entities[0]

    def entity(self, entity_id: str) -> Entity | None:
        for e in self.entities:
            if e.id == entity_id:
                return e
        return None


@dataclass
class Token:
    value: str
    client_id: str
    expires_at: float
    revoked: bool = False


class Store:
    def __init__(self, id_prefix: str = "65a1c0de"):
        self.lock = threading.RLock()
        self._id_prefix = id_prefix
        self.reset()

    # -- lifecycle -----------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self._counter = 0
            self.accounts: dict[str, Account] = {}
            self.tokens: dict[str, Token] = {}
            self.tables: dict[str, dict[str, dict]] = {t: {} for t in TABLES}
            self._keys: dict[str, list[str] | None] = {t: None for t in TABLES}
            self.escalations: dict[str, int] = {}   # contract id -> escalation step (5/10/5)

    def new_id(self) -> str:
        with self.lock:
            self._counter += 1
            return f"{self._id_prefix}{self._counter:016x}"

    # -- accounts ------------------------------------------------------------------------------
    def account_of_entity(self, entity_id: str) -> Account | None:
        for acc in self.accounts.values():
            if acc.entity(entity_id):
                return acc
        return None

    def entity(self, entity_id: str) -> Entity | None:
        acc = self.account_of_entity(entity_id)
        return acc.entity(entity_id) if acc else None

    # -- tables --------------------------------------------------------------------------------
    def insert(self, table: str, obj: dict) -> dict:
        """Insert ``obj`` (must carry ``Id`` and ``_entity``); returns the stored dict."""
        with self.lock:
            obj.setdefault("_version", 1)
            rows = self.tables[table]
            rows[obj["Id"]] = obj
            keys = self._keys[table]
            if keys is not None:
                if not keys or keys[-1] < obj["Id"]:
                    keys.append(obj["Id"])
                else:
                    self._keys[table] = None
            return obj

    def delete(self, table: str, id_: str) -> None:
        with self.lock:
            self.tables[table].pop(id_, None)
            self._keys[table] = None

    def get(self, table: str, id_: str, entity_id: str | None = None) -> dict | None:
        """The stored object, or ``None`` if unknown or owned by another entity."""
        obj = self.tables[table].get(str(id_).lower()) if isinstance(id_, str) else None
        if obj is None or (entity_id is not None and obj["_entity"] != entity_id):
            return None
        return obj

    def sorted_ids(self, table: str) -> list[str]:
        with self.lock:
            keys = self._keys[table]
            if keys is None:
                keys = sorted(self.tables[table])
                self._keys[table] = keys
            return keys

    def scan(self, table: str, entity_id: str | None = None, from_id: str | None = None):
        """Objects of ``table`` in id order, optionally of one entity and from an id (inclusive)."""
        keys = self.sorted_ids(table)
        start = bisect.bisect_left(keys, from_id) if from_id else 0
        rows = self.tables[table]
        for k in keys[start:]:
            obj = rows.get(k)
            if obj is not None and (entity_id is None or obj["_entity"] == entity_id):
                yield obj

    def touch(self, obj: dict) -> None:
        """Mark an object as changed (new ETag)."""
        obj["_version"] = obj.get("_version", 1) + 1


def public(obj: dict) -> dict:
    """A deep copy without the private ``_`` keys."""
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}

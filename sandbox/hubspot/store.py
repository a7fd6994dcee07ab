"""In-memory state of the sandbox: portals, their CRM data and the app's installs/tokens.

All state lives in one :class:`Store` guarded by ``Store.lock`` (a re-entrant lock). The
Flask app takes the lock around every request's handler, so handlers, the Python API and
the control API see consistent data; the webhook thread never holds it while sending.
"""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

from . import schema, subscriptions
from .values import iso_ms


@dataclass
class Record:
    id: str
    properties: dict[str, str]
    created_at: int          # epoch ms
    updated_at: int
    archived: bool = False
    archived_at: int | None = None


class ObjectTable:
    """Records of one object type in one portal, plus the unique-value indexes."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self.unique: dict[str, dict[str, str]] = {}   # property -> value -> id (live records only)

    def add_unique_index(self, prop: str) -> None:
        index: dict[str, str] = {}
        for rec in self.records.values():
            value = rec.properties.get(prop)
            if value and not rec.archived:
                index.setdefault(value, rec.id)
        self.unique[prop] = index

    def find_unique(self, prop: str, value: str) -> Record | None:
        if prop == "hs_object_id":
            rec = self.records.get(value)
            return rec if rec and not rec.archived else None
        rid = self.unique.get(prop, {}).get(value)
        return self.records.get(rid) if rid else None

    def index_set(self, rec: Record, prop: str, old: str | None, new: str | None) -> None:
        index = self.unique.get(prop)
        if index is None:
            return
        if old and index.get(old) == rec.id:
            del index[old]
        if new and not rec.archived:
            index[new] = rec.id

    def unindex(self, rec: Record) -> None:
        for prop, index in self.unique.items():
            value = rec.properties.get(prop)
            if value and index.get(value) == rec.id:
                del index[value]

    def reindex(self, rec: Record) -> None:
        for prop, index in self.unique.items():
            value = rec.properties.get(prop)
            if value:
                index.setdefault(value, rec.id)


def _property_json(object_type: str, spec, now_ms: int) -> dict:
    name, label, ptype, field_type, extra = spec
    options = [{"label": lbl, "value": val, "displayOrder": i, "hidden": False}
               for i, (lbl, val) in enumerate(extra.get("options", []))]
    readonly = bool(extra.get("readonly"))
    return {
        "name": name, "label": label, "type": ptype, "fieldType": field_type,
        "description": "", "groupName": schema.OBJECT_TYPES[object_type].group,
        "options": options, "displayOrder": -1,
        "calculated": bool(extra.get("calculated")), "externalOptions": bool(extra.get("external")),
        "hasUniqueValue": bool(extra.get("unique")), "hidden": False, "hubspotDefined": True,
        "formField": not readonly, "archived": False,
        "createdAt": iso_ms(0), "updatedAt": iso_ms(0),
        "modificationMetadata": {"archivable": False, "readOnlyDefinition": True,
                                 "readOnlyValue": readonly},
        "_integer": bool(extra.get("integer")),
    }


def deal_pipeline_json(pipeline_id: str, label: str, stages, display_order: int, created_ms: int) -> dict:
    ts = iso_ms(created_ms)
    return {
        "id": pipeline_id, "label": label, "displayOrder": display_order, "archived": False,
        "createdAt": ts, "updatedAt": ts,
        "stages": [{"id": sid, "label": slabel, "displayOrder": i, "archived": False,
                    "createdAt": ts, "updatedAt": ts, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                    "metadata": {"probability": str(prob), "isClosed": "true" if closed else "false"}}
                   for i, (sid, slabel, prob, closed) in enumerate(stages)],
    }


class Portal:
    """One HubSpot account ("hub"): its CRM data, schema and the app's install."""

    def __init__(self, portal_id: int, name: str) -> None:
        self.id = int(portal_id)
        self.name = name
        self.domain = f"portal-{portal_id}.sandbox.hubspot.test"
        self._next_id = 1001
        self.pipeline_seq = 75000000      # ids of created pipelines and stages
        self.tables: dict[str, ObjectTable] = {t: ObjectTable() for t in schema.OBJECT_TYPES}
        self.properties: dict[str, dict[str, dict]] = {}
        self.groups: dict[str, dict[str, dict]] = {}
        for otype in schema.OBJECT_TYPES:
            self.properties[otype] = {s[0]: _property_json(otype, s, 0) for s in schema.builtin_property_specs(otype)}
            self.groups[otype] = {g: {"name": g, "label": lbl, "displayOrder": i, "archived": False}
                                  for i, (g, lbl) in enumerate(schema.GROUPS[otype])}
            for prop, pdef in self.properties[otype].items():
                if pdef["hasUniqueValue"] and prop != "hs_object_id":
                    self.tables[otype].add_unique_index(prop)
        self.pipelines: dict[str, dict[str, dict]] = {
            "deals": {"default": deal_pipeline_json("default", "Sales Pipeline", schema.DEFAULT_DEAL_STAGES, 0, 0)},
        }
        # associations: (type, id) -> {(other_type, other_id): set(typeIds)}
        self.assoc: dict[tuple[str, str], dict[tuple[str, str], set[int]]] = {}
        self.install: dict | None = None
        self.webhook_seq = 0

    def next_id(self) -> str:
        rid = self._next_id
        self._next_id += 1
        return str(rid)

    def table(self, otype: str) -> ObjectTable:
        return self.tables[otype]


@dataclass
class Settings:
    client_id: str = "hubwerk-sandbox-client-id"
    client_secret: str = "hubwerk-sandbox-client-secret"
    app_id: int = 4242
    default_portal_id: int = 100001
    default_portal_name: str = "Sandbox Portal"
    rate_limit: int = 110
    rate_window_s: float = 10.0
    search_rate_per_s: int = 5
    token_ttl_s: float = 1800
    auto_approve: bool = False
    redirect_uris: list | None = None        # None = accept any redirect_uri
    webhook_target: str | None = None
    webhook_backoff_s: float = 0.05
    webhook_max_attempts: int = 10
    webhook_batch_size: int = 100
    webhook_timeout_s: float = 5.0
    enforce_scopes: bool = True
    subscriptions_file: str | None = None    # a webhooks-hsmeta.json; None = the connector's own, when present
    developer_api_key: str = "hubwerk-sandbox-developer-key"   # ?hapikey= of developer-account calls
    action_max_attempts: int = 10            # workflow-action executions: tries in all (retried on 5xx/429)
    action_backoff_s: float = 0.05           # first retry delay; doubles, capped at 10x
    action_default_expiration: str = "P1W"   # how long a BLOCKed execution waits for its callback
    card_max_concurrent: int = 20            # hubspot.fetch requests in flight per account
    card_max_body_bytes: int = 1024 * 1024   # request and response body limit of hubspot.fetch
    batch_errors: str = "partial"            # "partial" (207 per input) or "strict" (see objects.py)
    search_delay_s: float = 0.0              # > 0: records created less than this ago are not yet searchable
    user_id: int = 7000001
    user_email: str = "admin@sandbox.hubspot.test"

    def public(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("client_secret", "developer_api_key")}


class Store:
    """Everything the sandbox knows; guarded by ``lock``."""

    def __init__(self, settings: Settings) -> None:
        self.lock = threading.RLock()
        self.settings = settings
        self.clock_offset = 0.0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.portals: dict[int, Portal] = {}
            self.create_portal(self.settings.default_portal_id, self.settings.default_portal_name)
            self.access_tokens: dict[str, dict] = {}
            self.refresh_tokens: dict[str, dict] = {}
            self.auth_codes: dict[str, dict] = {}
            self.callbacks: dict[str, dict] = {}
            self.calls: list[dict] = []
            self.faults: list[dict] = []
            self.subscriptions = subscriptions.default_subscriptions(self.settings.subscriptions_file)
            self.action_definitions: dict[str, dict] = {}
            self.action_functions: dict[str, list] = {}
            self.action_definition_seq = 0
            self.card_calls: list[dict] = []

    # --- time ---------------------------------------------------------------------------------
    def now(self) -> float:
        """Sandbox clock in seconds (wall clock + ``advance_time`` offset)."""
        return time.time() + self.clock_offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    # --- portals ------------------------------------------------------------------------------
    def create_portal(self, portal_id: int, name: str | None = None) -> Portal:
        with self.lock:
            portal_id = int(portal_id)
            if portal_id not in self.portals:
                self.portals[portal_id] = Portal(portal_id, name or f"Portal {portal_id}")
            return self.portals[portal_id]

    def portal(self, portal_id: int) -> Portal:
        try:
            return self.portals[int(portal_id)]
        except (KeyError, ValueError, TypeError):
            raise KeyError(f"unknown portal {portal_id}") from None

    def snapshot(self, obj):
        with self.lock:
            return copy.deepcopy(obj)

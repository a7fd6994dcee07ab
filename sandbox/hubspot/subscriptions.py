"""Webhook subscriptions (Webhooks v3, reference §5.2/§5.3): which changes become events.

HubSpot subscribes an app per event type, and a ``propertyChange`` subscription per
property: an app subscribed to ``deal.propertyChange`` for ``dealstage`` hears nothing when
``amount`` changes. The sandbox therefore fires an event only for a matching, active
subscription, so a connector that forgot to subscribe to a property it reacts to fails its
tests here instead of waiting forever in production.

The subscriptions come, in this order of precedence, from

1. an explicit list (:meth:`HubSpotSandbox.set_subscriptions`, ``PUT /_sandbox/subscriptions``),
2. the ``subscriptions_file`` setting (a ``webhooks-hsmeta.json``),
3. the connector's own project file ``crm_cards/src/app/webhooks/webhooks-hsmeta.json`` when
   it exists (what ``hs project upload`` subscribes the app to),
4. otherwise creation, deletion and association changes of companies, contacts and deals and
   no property at all.

Both forms of the project file are read: ``legacyCrmObjects`` (``deal.propertyChange`` with
``propertyName``; events say ``subscriptionType: "deal.propertyChange"``) and ``crmObjects``
(``object.propertyChange`` with ``objectType``; events say ``"object.propertyChange"`` and
carry ``objectTypeId``). ``hubEvents`` entries are accepted and never fire.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from . import schema

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILE = REPO_ROOT / "crm_cards" / "src" / "app" / "webhooks" / "webhooks-hsmeta.json"

KINDS = ("creation", "deletion", "merge", "propertyChange", "restore", "associationChange", "privacyDeletion",
         "newMessage")
_TYPE = re.compile(r"^(?P<object>[a-z_]+)\.(?P<kind>[A-Za-z]+)$")
FIRST_ID = 1001


class SubscriptionError(ValueError):
    """A subscription list HubSpot would not accept."""


def from_hsmeta(doc: dict) -> list[dict]:
    """The subscription entries of a ``webhooks-hsmeta.json`` document."""
    try:
        groups = doc["config"]["subscriptions"]
    except (KeyError, TypeError):
        raise SubscriptionError("a webhooks hsmeta document needs config.subscriptions") from None
    if not isinstance(groups, dict):
        raise SubscriptionError("config.subscriptions must be an object of lists")
    entries = []
    for group in ("crmObjects", "legacyCrmObjects", "hubEvents"):
        rows = groups.get(group) or []
        if not isinstance(rows, list):
            raise SubscriptionError(f"config.subscriptions.{group} must be a list")
        entries += rows
    unknown = set(groups) - {"crmObjects", "legacyCrmObjects", "hubEvents"}
    if unknown:
        raise SubscriptionError(f"unknown subscription groups {sorted(unknown)}")
    return entries


def load_file(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return normalise(from_hsmeta(json.load(fh)))


def default_subscriptions(path: str | Path | None = None) -> list[dict]:
    if path:
        return load_file(path)
    if PROJECT_FILE.exists():
        return load_file(PROJECT_FILE)
    return normalise([{"subscriptionType": f"{obj}.{kind}", "active": True}
                      for obj in ("company", "contact", "deal")
                      for kind in ("creation", "deletion", "associationChange")])


def normalise(entries) -> list[dict]:
    """Validated subscriptions with ids: ``{id, subscriptionType, objectType?, propertyName?, active}``."""
    if isinstance(entries, dict):
        entries = from_hsmeta(entries)
    if not isinstance(entries, list):
        raise SubscriptionError("subscriptions must be a list (or a webhooks hsmeta document)")
    out, seen = [], set()
    for n, entry in enumerate(entries):
        sub = _one(entry, n)
        key = (sub["subscriptionType"], sub.get("objectType"), sub.get("propertyName"))
        if key in seen:
            raise SubscriptionError(f"subscription {n}: {_describe(sub)} is listed twice")
        seen.add(key)
        sub["id"] = FIRST_ID + len(out)
        out.append(sub)
    return out


def _one(entry, n: int) -> dict:
    if not isinstance(entry, dict) or not isinstance(entry.get("subscriptionType"), str):
        raise SubscriptionError(f"subscription {n}: subscriptionType is required")
    stype = entry["subscriptionType"]
    if stype == "event.completed":
        return {"subscriptionType": stype, "active": bool(entry.get("active", True))}
    match = _TYPE.match(stype)
    if not match or match["kind"] not in KINDS:
        raise SubscriptionError(f"subscription {n}: unknown subscriptionType {stype!r} "
                                f"(expected <object>.<{'|'.join(KINDS)}>)")
    sub = {"subscriptionType": stype, "active": bool(entry.get("active", True))}
    if match["object"] == "object":
        ot = schema.resolve_type(str(entry.get("objectType") or entry.get("objectTypeId") or ""))
        if ot is None:
            raise SubscriptionError(f"subscription {n}: {stype} needs objectType (e.g. \"deal\" or \"0-3\")")
        sub["objectType"] = ot.singular
    if match["kind"] == "propertyChange":
        prop = entry.get("propertyName")
        if not isinstance(prop, str) or not prop:
            raise SubscriptionError(f"subscription {n}: {stype} needs propertyName; HubSpot subscribes to "
                                    f"property changes one property at a time")
        sub["propertyName"] = prop
    return sub


def _describe(sub: dict) -> str:
    parts = [sub["subscriptionType"]]
    if sub.get("objectType"):
        parts.append(sub["objectType"])
    if sub.get("propertyName"):
        parts.append(sub["propertyName"])
    return "/".join(parts)


def matching(subs: list[dict], change: dict) -> list[tuple[dict, dict]]:
    """(subscription, event fields) for every active subscription a change is delivered to."""
    singular, _, kind = change["subscriptionType"].partition(".")
    out = []
    for sub in subs:
        if not sub["active"]:
            continue
        if kind == "propertyChange" and sub.get("propertyName") != change.get("propertyName"):
            continue
        if sub["subscriptionType"] == change["subscriptionType"]:
            out.append((sub, {}))
        elif sub["subscriptionType"] == f"object.{kind}" and sub.get("objectType") == singular:
            ot = schema.resolve_type(singular)
            out.append((sub, {"subscriptionType": f"object.{kind}", "objectTypeId": ot.type_id}))
    return out

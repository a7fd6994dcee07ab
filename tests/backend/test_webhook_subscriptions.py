"""The app's webhook subscriptions (crm_cards/src/app/webhooks/webhooks-hsmeta.json, uploaded with
`hs project upload`) and the backend's HubSpot dispatch table must agree in both directions:

- every object event and every property the dispatch table reacts to has a subscription, or HubSpot
  never sends it and the flow silently never runs;
- every subscription has a handler, or HubSpot sends events the connector stores and ignores.

HubSpot sends a classic ``<object>.propertyChange`` only for the properties subscribed one by one, so
"reacts to" is asked per property: each handler is given one event per candidate property (every
built-in property of the object in the HubSpot sandbox and every property the connector owns) and
counts as reacting when it starts a run.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from backend.setup import properties as hubspot_schema
from backend.flows import hubspot_events
from backend.jobs import runs
from backend.models import Portal
from sandbox.hubspot.schema import builtin_property_specs, resolve_type

ROOT = Path(__file__).resolve().parents[2]
WEBHOOKS_META = ROOT / "crm_cards" / "src" / "app" / "webhooks" / "webhooks-hsmeta.json"
CARD_CONFIG = ROOT / "crm_cards" / "src" / "app" / "cards" / "lib" / "config.ts"
WEBHOOK_PATH = "/api/webhook/hubspot/events"

CONNECTOR_PROPERTIES = {
    "deals": hubspot_schema.DEAL,
    "companies": hubspot_schema.COMPANY,
    "contacts": hubspot_schema.CONTACT,
    "products": hubspot_schema.PRODUCT,
}


def _meta() -> dict:
    return json.loads(WEBHOOKS_META.read_text())


def _subscriptions() -> list[dict]:
    return _meta()["config"]["subscriptions"]["legacyCrmObjects"]


def _subscribed() -> set[tuple[str, str | None]]:
    return {(s["subscriptionType"], s.get("propertyName")) for s in _subscriptions()}


def _candidate_properties(subscription_type: str) -> set[str]:
    object_type = resolve_type(subscription_type.split(".", 1)[0])
    assert object_type is not None, f"{subscription_type}: not an object HubSpot sends classic events for"
    names = {spec[0] for spec in builtin_property_specs(object_type.name)}
    names |= {spec.name for spec in CONNECTOR_PROPERTIES.get(object_type.name, ())}
    names |= {prop for kind, prop in _subscribed() if kind == subscription_type and prop}
    return names


@pytest.fixture
def reacts(monkeypatch, ctx):
    """``reacts(subscription_type, property_name)`` -> did the dispatch table start a run for it?"""
    started: list[tuple] = []

    def record_run(flow_name, **kwargs):
        started.append((flow_name, kwargs))

    # Handlers bind start_run by name wherever they live; replace every binding of it.
    original = runs.start_run
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("backend.") and getattr(module, "start_run", None) is original:
            monkeypatch.setattr(module, "start_run", record_run)

    portal = Portal(id=1, hub_id=62515, status="active")

    def probe(subscription_type: str, property_name: str | None) -> bool:
        handler = hubspot_events.EVENT_HANDLERS.get(subscription_type)
        if handler is None:
            return False
        event = {"subscriptionType": subscription_type, "objectId": 4711, "portalId": 62515,
                 "changeSource": "CRM_UI", "occurredAt": 1764662400000}
        if property_name is not None:
            event.update(propertyName=property_name, propertyValue="x")
        before = len(started)
        handled = handler(portal, event, 1)
        assert bool(handled) == (len(started) > before), f"{subscription_type} {property_name}: says {handled!r} but started {started[before:]}"
        return bool(handled)

    return probe


def test_every_handled_event_and_property_has_a_subscription(reacts):
    subscribed = _subscribed()
    missing = []
    for subscription_type in hubspot_events.EVENT_HANDLERS:
        if subscription_type.endswith(".propertyChange"):
            handled = {p for p in _candidate_properties(subscription_type) if reacts(subscription_type, p)}
            assert handled, f"{subscription_type} is in the dispatch table but reacts to no property"
            missing += [(subscription_type, p) for p in sorted(handled) if (subscription_type, p) not in subscribed]
        elif (subscription_type, None) not in subscribed:
            missing.append((subscription_type, None))
    assert missing == [], f"handled but not subscribed in {WEBHOOKS_META.relative_to(ROOT)}: {missing}"


def test_every_subscription_has_a_handler(reacts):
    unhandled = [(kind, prop) for kind, prop in sorted(_subscribed(), key=str) if not reacts(kind, prop)]
    assert unhandled == [], f"subscribed in {WEBHOOKS_META.relative_to(ROOT)} but no handler reacts: {unhandled}"


def test_subscriptions_are_well_formed():
    meta = _meta()
    assert meta["type"] == "webhooks" and meta["uid"]
    # The dispatch table keys on the classic types (deal.propertyChange, ...); generic object.*
    # subscriptions would arrive as object.propertyChange and be ignored.
    assert set(meta["config"]["subscriptions"]) == {"legacyCrmObjects"}
    rows = _subscriptions()
    assert len(rows) == len(_subscribed()), "a subscription is listed twice"
    for row in rows:
        assert row["active"] is True, row
        kind = row["subscriptionType"]
        assert re.fullmatch(r"(company|contact|deal|line_item|product)\.(creation|deletion|merge|restore|propertyChange|associationChange)", kind), row
        # HubSpot refuses a classic propertyChange subscription without its property, and sends
        # propertyName only on propertyChange events.
        assert ("propertyName" in row) == kind.endswith(".propertyChange"), row


def test_target_url_is_the_backend_webhook_endpoint(app):
    backend_url = re.search(r"^export const BACKEND_URL = '([^']*)';$", CARD_CONFIG.read_text(), re.M).group(1)
    settings = _meta()["config"]["settings"]
    assert settings["targetUrl"] == backend_url + WEBHOOK_PATH
    assert 5 <= settings["maxConcurrentRequests"] <= 100
    assert any(rule.rule == WEBHOOK_PATH and "POST" in rule.methods for rule in app.url_map.iter_rules())

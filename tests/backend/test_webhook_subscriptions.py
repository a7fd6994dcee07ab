"""The app's webhook subscriptions (crm_cards/src/app/webhooks/webhooks-hsmeta.json, uploaded with
`hs project upload`) and the backend's HubSpot dispatch tables must agree in both directions:

- every object event and every property the dispatch tables react to has a subscription, or HubSpot
  never sends it and the flow silently never runs;
- every subscription has a handler, or HubSpot sends events the connector stores and ignores.

HubSpot sends a classic ``<object>.propertyChange`` only for the properties subscribed one by one, so
property changes are compared per property: the rows of ``PROPERTY_HANDLERS`` name them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from backend.flows import hubspot_events

ROOT = Path(__file__).resolve().parents[2]
WEBHOOKS_META = ROOT / "crm_cards" / "src" / "app" / "webhooks" / "webhooks-hsmeta.json"
CARD_CONFIG = ROOT / "crm_cards" / "src" / "app" / "cards" / "lib" / "config.ts"
WEBHOOK_PATH = "/api/webhook/hubspot/events"


def _meta() -> dict:
    return json.loads(WEBHOOKS_META.read_text())


def _subscriptions() -> list[dict]:
    return _meta()["config"]["subscriptions"]["legacyCrmObjects"]


def _subscribed() -> set[tuple[str, str | None]]:
    return {(s["subscriptionType"], s.get("propertyName")) for s in _subscriptions()}


def _handled() -> set[tuple[str, str | None]]:
    """(subscription type, property or None) for everything the dispatch tables react to."""
    handled: set[tuple[str, str | None]] = set()
    for subscription_type, handler in hubspot_events.EVENT_HANDLERS.items():
        if subscription_type.endswith(".propertyChange"):
            # Property changes go through the per-property table; a handler of its own would hide
            # which properties it needs subscribed.
            assert handler is hubspot_events.on_property_change, (
                f"{subscription_type}: add rows to PROPERTY_HANDLERS instead of a handler of its own")
            continue
        handled.add((subscription_type, None))
    for object_type, properties, _handler in hubspot_events.PROPERTY_HANDLERS:
        subscription_type = f"{object_type}.propertyChange"
        assert subscription_type in hubspot_events.EVENT_HANDLERS, (
            f"PROPERTY_HANDLERS has {object_type} rows but EVENT_HANDLERS does not dispatch {subscription_type}")
        handled |= {(subscription_type, name) for name in properties}
    return handled


def test_every_handled_event_and_property_has_a_subscription():
    missing = sorted(_handled() - _subscribed(), key=str)
    assert missing == [], f"handled but not subscribed in {WEBHOOKS_META.relative_to(ROOT)}: {missing}"


def test_every_subscription_has_a_handler():
    unhandled = sorted(_subscribed() - _handled(), key=str)
    assert unhandled == [], f"subscribed in {WEBHOOKS_META.relative_to(ROOT)} but no handler reacts: {unhandled}"


def test_a_subscribed_property_change_reaches_its_handler(monkeypatch):
    """The table is what dispatch uses: an event for each subscribed property runs a row's handler."""
    reached: list[tuple[str, str]] = []
    rows = [(object_type, properties, lambda portal, event, inbox_id: reached.append(
                (event["subscriptionType"], event["propertyName"])) or True)
            for object_type, properties, _handler in hubspot_events.PROPERTY_HANDLERS]
    monkeypatch.setattr(hubspot_events, "PROPERTY_HANDLERS", rows)
    wanted = sorted((kind, prop) for kind, prop in _subscribed() if prop is not None)
    for kind, prop in wanted:
        assert hubspot_events.EVENT_HANDLERS[kind](None, {"subscriptionType": kind, "propertyName": prop, "objectId": 1}, 1)
    assert set(reached) == set(wanted)


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

"""HubSpot webhook deliveries -> runs. A dispatch table per event type; echoes of the connector's
own writes are dropped (HubSpot marks API writes of an app with changeSource INTEGRATION and the
app id as sourceId); the rest becomes coalesced runs keyed by the object they concern."""
from __future__ import annotations

import json
import logging
from typing import Callable

from flask import current_app

from backend.extensions import db
from backend.ids import is_id
from backend.flows.customer_import import REVALIDATING_PROPERTIES
from backend.jobs.inbox import inbox_handler
from backend.jobs.runs import start_run
from backend.models import InboxEvent, Portal

log = logging.getLogger(__name__)


def is_echo(event: dict, app_id: str) -> bool:
    return str(event.get("changeSource", "")).upper() == "INTEGRATION" and str(event.get("sourceId", "")) == str(app_id)


def _deal_import(portal: Portal, event: dict, inbox_id: int) -> bool:
    start_run("import_customer_for_deal", portal_id=portal.id, object_type="deal", object_id=str(event["objectId"]), inbox_event_id=inbox_id)
    return True


def on_deal_property_change(portal: Portal, event: dict, inbox_id: int) -> bool:
    # A move into a stage is checked by the run against the portal's closed-won stages; a new close
    # date of a closed-won deal also triggers an import attempt (Sequence document).
    if event.get("propertyName") in ("dealstage", "closedate"):
        return _deal_import(portal, event, inbox_id)
    return False


def on_company_property_change(portal: Portal, event: dict, inbox_id: int) -> bool:
    if event.get("propertyName") not in REVALIDATING_PROPERTIES:
        return False
    start_run("import_company", portal_id=portal.id, object_type="company", object_id=str(event["objectId"]),
              params={"only_if_invalid": True}, inbox_event_id=inbox_id)
    return True


EVENT_HANDLERS: dict[str, Callable[[Portal, dict, int], bool]] = {
    "deal.creation": _deal_import,
    "deal.propertyChange": on_deal_property_change,
    "company.propertyChange": on_company_property_change,
}


@inbox_handler("hubspot_webhook")
def handle_hubspot_delivery(event: InboxEvent) -> str:
    app_id = current_app.config["HUBWERK"].hubspot_app_id
    portals: dict[str, Portal | None] = {}
    handled = 0
    for item in json.loads(event.body):
        if not isinstance(item, dict) or is_echo(item, app_id):
            continue
        handler = EVENT_HANDLERS.get(str(item.get("subscriptionType")))
        if handler is None or not is_id(item.get("objectId"), max_length=20):
            continue
        hub_id = str(item.get("portalId", ""))
        if hub_id not in portals:
            portals[hub_id] = db.session.execute(db.select(Portal).where(Portal.hub_id == int(hub_id))).scalar_one_or_none() if is_id(hub_id) else None
        portal = portals[hub_id]
        if portal is None or portal.status != "active":
            continue
        handled += bool(handler(portal, item, event.id))
    return "processed" if handled else "ignored"

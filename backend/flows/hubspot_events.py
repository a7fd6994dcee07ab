"""HubSpot webhook deliveries -> runs, through two tables.

* ``EVENT_HANDLERS``: per subscription type (``deal.creation``, ``company.propertyChange``, …).
* ``PROPERTY_HANDLERS``: rows of (object type, properties, handler) for ``*.propertyChange``;
  every row whose object and property match the event runs.

Echoes of the connector's own writes are dropped (HubSpot marks API writes of an app with
changeSource INTEGRATION and the app id as sourceId); the rest becomes coalesced runs keyed by
the object they concern. A handler returns whether it started work.
"""
from __future__ import annotations

import json
import logging
from typing import Callable

from flask import current_app

from backend.extensions import db
from backend.flows import deal_triggers
from backend.flows import customer_updates
from backend.flows.customer_import import REVALIDATING_PROPERTIES
from backend.mapping.customer_update import COMPANY_TRIGGERS, CONTACT_TRIGGERS
from backend.mapping.deal_cart import CART_INPUT_PROPERTIES
from backend.ids import is_id
from backend.jobs.runs import start_run
from backend.models import CustomerLink, InboxEvent, Portal

log = logging.getLogger(__name__)

Handler = Callable[[Portal, dict, int], bool]


def is_echo(event: dict, app_id: str) -> bool:
    return str(event.get("changeSource", "")).upper() == "INTEGRATION" and str(event.get("sourceId", "")) == str(app_id)


def import_for_deal(portal: Portal, event: dict, inbox_id: int) -> bool:
    """The run checks the deal against the portal's closed-won stages."""
    start_run("import_customer_for_deal", portal_id=portal.id, object_type="deal", object_id=str(event["objectId"]), inbox_event_id=inbox_id)
    return True


def revalidate_company(portal: Portal, event: dict, inbox_id: int) -> bool:
    """An unlinked company marked invalid may have been fixed (a linked one gets a customer update instead)."""
    if CustomerLink.for_company(portal.id, str(event["objectId"])) is not None:
        return False
    start_run("import_company", portal_id=portal.id, object_type="company", object_id=str(event["objectId"]),
              params={"only_if_invalid": True}, inbox_event_id=inbox_id)
    return True


def create_upgrade_deal(portal: Portal, event: dict, inbox_id: int) -> bool:
    """``billwerk_upgrade_deal`` set to ``create`` (clearing it is the connector's own echo)."""
    if str(event.get("propertyValue") or "") != "create":
        return False
    start_run("create_upgrade_deal", portal_id=portal.id, object_type="deal", object_id=str(event["objectId"]),
              inbox_event_id=inbox_id)
    return True


# (object type as in the subscription type, the properties, handler). A move into a stage, or a new
# close date of a closed-won deal, is an import attempt; a change of an address field may have fixed
# an invalid company.
PROPERTY_HANDLERS: list[tuple[str, frozenset[str], Handler]] = [
    ("deal", frozenset({"dealstage", "closedate"}), import_for_deal),
    ("deal", frozenset({"billwerk_upgrade_deal"}), create_upgrade_deal),
    ("company", REVALIDATING_PROPERTIES, revalidate_company),
    # The deal side: a validation or a contract requested, the stage that may complete such a request,
    # and the inputs of a validated cart (HubSpot recalculates ``amount`` when line items change).
    ("deal", frozenset({"billwerk_validation"}), deal_triggers.validation_requested),
    ("deal", frozenset({"billwerk_apply_changes"}), deal_triggers.apply_requested),
    ("deal", frozenset({"dealstage"}), deal_triggers.stage_changed),
    ("deal", CART_INPUT_PROPERTIES, deal_triggers.cart_input_changed),
    # Customer updates: a linked company's mapped properties, a customer's person contact.
    ("company", COMPANY_TRIGGERS, customer_updates.company_changed),
    ("contact", CONTACT_TRIGGERS, customer_updates.contact_changed),
]


def on_property_change(portal: Portal, event: dict, inbox_id: int) -> bool:
    object_type = str(event.get("subscriptionType", "")).split(".", 1)[0]
    name = event.get("propertyName")
    started = False
    for handled_type, properties, handler in PROPERTY_HANDLERS:
        if handled_type == object_type and name in properties:
            started |= bool(handler(portal, event, inbox_id))
    return started


EVENT_HANDLERS: dict[str, Handler] = {
    "deal.creation": import_for_deal,
    "deal.propertyChange": on_property_change,
    "company.propertyChange": on_property_change,
    "contact.propertyChange": on_property_change,
}


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

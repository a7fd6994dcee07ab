"""Inbound webhooks: HubSpot object events and billwerk's thin hooks. Verify, store, queue, answer.

Stored is safe: when Redis cannot take the job, the answer is still 200 and the sweeper
(``backend.jobs.inbox.sweep_inbox``) queues the row later."""
from __future__ import annotations

from flask import Blueprint, jsonify

from backend.errors import HubwerkError
from backend.jobs.inbox import hand_over
from backend.web import inbound

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhook")


@bp.post("/hubspot/events")
def hubspot_events():
    inbound.authenticate_hubspot(accept=("v3", "v1"), one_value_each=False)  # the portal comes from the body
    events = inbound.parse_json(list)
    if not all(isinstance(e, dict) for e in events):
        raise HubwerkError("Every webhook event must be a JSON object.", code="malformed_json", status=400)
    # One delivery usually concerns one portal; a mixed one is stored without a portal and split when processed.
    hub_ids = {str(e.get("portalId", "")) for e in events}
    portal = inbound.portal_by_hub_id(hub_ids.pop()) if len(hub_ids) == 1 else None
    # Byte-identical bodies are one row (a captured v1 delivery sent again changes nothing).
    stored, new = inbound.store_once("hubspot_webhook", inbound.body_key(), name=f"{len(events)} event(s)", portal=portal)
    if new:
        hand_over(stored)
    return jsonify(received=len(events), inbox_id=stored.id, duplicate=not new), 200


@bp.post("/billwerk/events")
def billwerk_events():
    account = inbound.authenticate_billwerk()
    payload = inbound.parse_json(dict)
    event_name = str(payload.get("Event") or "").strip()
    if not event_name or not event_name.isprintable():
        raise HubwerkError("The webhook has no Event name (or one with control characters).", code="malformed_webhook", status=400)
    entity_id = payload.get("EntityId")
    if entity_id is not None and account.entity(str(entity_id)) is None:
        raise HubwerkError(
            f"Entity {entity_id} is not one of the entities connected for this billwerk account; add its public API key on the connector's billwerk page.",
            code="unknown_entity", status=403,
        )
    stored = inbound.store_delivery("billwerk_webhook", name=event_name, account=account)
    hand_over(stored)
    return jsonify(received=True, inbox_id=stored.id), 200

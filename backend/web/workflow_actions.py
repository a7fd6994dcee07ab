"""Workflow custom actions (signed v2). Verify, store (the callbackId makes it idempotent), answer BLOCK."""
from __future__ import annotations

from flask import Blueprint, jsonify

from backend.errors import HubwerkError
from backend.extensions import db
from backend.flows.workflow_actions import ACTIONS
from backend.models import InboxEvent
from backend.web import inbound

bp = Blueprint("workflow_actions", __name__, url_prefix="/api/workflow-actions")
BLOCK = {"outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "P1D"}}


@bp.post("/<action>")
def execute(action: str):
    inbound.authenticate_hubspot(accept=("v2", "v3"))
    payload = inbound.parse_json(dict)
    callback_id = payload.get("callbackId")
    if not isinstance(callback_id, str) or not callback_id or len(callback_id) > 200:
        raise HubwerkError("The request has no callbackId.", code="malformed_request", status=400)
    portal = inbound.installed_portal(str((payload.get("origin") or {}).get("portalId", "")))
    if action not in ACTIONS:
        raise HubwerkError(f"Unknown workflow action {action!r}; this version offers {', '.join(sorted(ACTIONS))}.", code="unknown_action", status=404)
    seen = db.session.execute(db.select(InboxEvent.id).where(InboxEvent.source == "hubspot_workflow",
                                                            InboxEvent.dedupe_key == callback_id)).first()
    if seen:  # HubSpot retried a request we already hold: the callback will come once
        return jsonify(BLOCK)
    delivery = inbound.store_delivery("hubspot_workflow", name=action, portal=portal, dedupe_key=callback_id)
    try:
        ACTIONS[action](portal, payload, delivery)
    except HubwerkError as exc:
        delivery.mark("failed", exc.message)
        db.session.commit()
        return jsonify({"outputFields": {"hs_execution_state": "FAIL_CONTINUE", "result": "failed", "message": exc.message}})
    delivery.mark("processed")
    db.session.commit()
    return jsonify(BLOCK)

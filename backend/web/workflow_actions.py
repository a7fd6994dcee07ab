"""Workflow custom actions (signed v2). Verify, store (the callbackId makes it idempotent), answer BLOCK."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy.exc import IntegrityError

from backend.errors import HubwerkError
from backend.extensions import db
from backend.flows.workflow_actions import ACTIONS, start_action
from backend.models import InboxEvent
from backend.web import inbound

log = logging.getLogger(__name__)
bp = Blueprint("workflow_actions", __name__, url_prefix="/api/workflow-actions")
BLOCK = {"outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "P1D"}}


@bp.post("/<action>")
def execute(action: str):
    inbound.authenticate_hubspot(accept=("v2", "v3"))
    payload = inbound.parse_json(dict)
    callback_id = payload.get("callbackId")
    if not isinstance(callback_id, str) or not callback_id or len(callback_id) > 200:
        raise HubwerkError("The request has no callbackId.", code="malformed_request", status=400)
    origin, obj = payload.get("origin"), payload.get("object")
    if not isinstance(origin, dict) or not isinstance(obj, dict):
        raise HubwerkError("The request needs the origin and object HubSpot sends.", code="malformed_request", status=400)
    portal = inbound.installed_portal(str(origin.get("portalId", "")))
    if action not in ACTIONS:
        raise HubwerkError(f"Unknown workflow action {action!r}; this version offers {', '.join(sorted(ACTIONS))}.", code="unknown_action", status=404)
    try:
        delivery = inbound.store_delivery("hubspot_workflow", name=action, portal=portal, dedupe_key=callback_id)
    except IntegrityError:  # HubSpot retried a request we already hold
        db.session.rollback()
        first = db.session.execute(db.select(InboxEvent).where(InboxEvent.source == "hubspot_workflow",
                                                              InboxEvent.dedupe_key == callback_id)).scalar_one()
        if first.status == "failed":  # the first answer was lost: give the same one again
            return jsonify({"outputFields": {"hs_execution_state": "FAIL_CONTINUE", "result": "failed", "message": first.error or ""}})
        return jsonify(BLOCK)  # its run completes the callback, once
    try:
        start_action(action, portal, payload, delivery)
    except Exception as exc:  # stored, so nothing is lost; tell the workflow now instead of letting it wait a week
        message = exc.message if isinstance(exc, HubwerkError) else "The connector could not start this action; it is stored and can be replayed."
        if not isinstance(exc, HubwerkError):
            log.exception("workflow.action.failed", extra={"inbox_id": delivery.id, "action": action})
        db.session.rollback()
        delivery = db.session.get(InboxEvent, delivery.id)
        delivery.mark("failed", message)
        db.session.commit()
        return jsonify({"outputFields": {"hs_execution_state": "FAIL_CONTINUE", "result": "failed", "message": message}})
    delivery.mark("processed")
    db.session.commit()
    return jsonify(BLOCK)

"""App-card endpoints (``hubspot.fetch``, signed v3). The portal comes only from the signed
query string; the body never names a tenant."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from backend.errors import HubwerkError
from backend.ids import is_id
from backend.flows.company_card import company_action, company_payload
from backend.flows.deal_card import DEAL_ACTIONS, deal_action, deal_payload
from backend.web import inbound

bp = Blueprint("cards", __name__, url_prefix="/api/cards")

COMPANY_ACTIONS = ("import", "link", "unlink", "refresh")


def _portal():
    inbound.authenticate_hubspot(accept=("v3",))
    inbound.check_app_id()
    return inbound.installed_portal(request.args.get("portalId"))


def _object_id(value: str) -> str:
    if not is_id(value, max_length=20):
        raise HubwerkError("The record id must be a HubSpot object id (digits).", code="bad_request", status=400)
    return value


@bp.get("/companies/<company_id>")
def company(company_id: str):
    portal = _portal()
    return jsonify(company_payload(portal, _object_id(company_id)))


@bp.post("/companies/<company_id>/<action>")
def company_button(company_id: str, action: str):
    return _button("companies", company_id, action, COMPANY_ACTIONS, company_action)


@bp.get("/deals/<deal_id>")
def deal(deal_id: str):
    portal = _portal()
    return jsonify(deal_payload(portal, _object_id(deal_id)))


@bp.post("/deals/<deal_id>/<action>")
def deal_button(deal_id: str, action: str):
    return _button("deals", deal_id, action, DEAL_ACTIONS, deal_action)


def _button(kind: str, object_id: str, action: str, actions: tuple[str, ...], run):
    """Authenticate, store the click before acting on it, act, record how it went."""
    portal = _portal()
    object_id = _object_id(object_id)
    if action not in actions:
        raise HubwerkError(f"Unknown {kind[:-1]} card action {action!r}; use one of {', '.join(actions)}.", code="unknown_action", status=404)
    body = inbound.parse_json(dict) if request.get_data() else {}
    stored = inbound.store_delivery("hubspot_card", name=f"{kind[:-1]}.{action} {object_id}", portal=portal)
    try:
        result = run(portal, object_id, action, body)
    except HubwerkError as exc:
        stored.mark("failed", exc.message)
        inbound.db.session.commit()
        raise
    stored.mark("processed")
    inbound.db.session.commit()
    return jsonify(result)

"""App-card endpoints (``hubspot.fetch``, signed v3). The portal comes only from the signed
query string; the body never names a tenant."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from backend.errors import HubwerkError
from backend.ids import is_id
from backend.flows import company_card, deal_card
from backend.web import inbound

bp = Blueprint("cards", __name__, url_prefix="/api/cards")

# Per record kind: what the card shows, its action table, and how a click is carried out.
CARDS = {
    "companies": (company_card.company_payload, company_card.ACTIONS, company_card.company_action),
    "deals": (deal_card.deal_payload, deal_card.ACTIONS, deal_card.deal_action),
}


def _portal():
    inbound.authenticate_hubspot(accept=("v3",))
    inbound.check_app_id()
    return inbound.installed_portal(request.args.get("portalId"))


def _object_id(value: str) -> str:
    if not is_id(value, max_length=20):
        raise HubwerkError("The record id must be a HubSpot object id (digits).", code="bad_request", status=400)
    return value


KINDS = f"<any({', '.join(CARDS)}):kind>"


@bp.get(f"/{KINDS}/<object_id>")
def card(kind: str, object_id: str):
    portal = _portal()
    payload, _, _ = CARDS[kind]
    return jsonify(payload(portal, _object_id(object_id)))


@bp.post(f"/{KINDS}/<object_id>/<action>")
def button(kind: str, object_id: str, action: str):
    _, actions, run = CARDS[kind]
    return _button(kind, object_id, action, tuple(actions), run)


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

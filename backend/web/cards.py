"""App-card endpoints (``hubspot.fetch``, signed v3). The portal comes only from the signed
query string; the body never names a tenant.

A card view is ``GET /api/cards/<kind>/<id>`` (the record's properties read from HubSpot: one
batch read) or ``POST /api/cards/<kind>/<id>`` with ``{"properties": {...}}``: the record's card
properties as the card read them on the record page (``fetchCrmObjectProperties``), covered by
the v3 signature like the rest of the request, ``hs_object_id`` naming the record. They are only
shown: the buttons' flows read the record from HubSpot themselves. Views are reads and are not
stored; button clicks are."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from backend.errors import HubwerkError
from backend.ids import is_id
from backend.flows import card_reads, company_card, deal_card
from backend.web import inbound

bp = Blueprint("cards", __name__, url_prefix="/api/cards")

# Per record kind: what the card shows, its action table, and how a click is carried out.
CARDS = {
    "companies": (company_card.company_payload, company_card.ACTIONS, company_card.company_action),
    "deals": (deal_card.deal_payload, deal_card.ACTIONS, deal_card.deal_action),
}
# The properties each card shows (and sends when it views a record).
CARD_PROPERTIES = {"companies": company_card.CARD_PROPERTIES, "deals": deal_card.CARD_PROPERTIES}
MAX_PROPERTY_CHARS = 65_536  # HubSpot's limit for a text property value


def _portal(view: bool = True):
    # A view is a read: its used signature is kept in Redis, and its portal is a plain-value copy
    # (card_reads.view_portal). A button acts: its signature is kept in the database, like every
    # delivery that is stored (Redis failing over cannot make a replay act twice), on the Portal row.
    inbound.authenticate_hubspot(accept=("v3",), used_in_redis=view)
    inbound.check_app_id()
    if not view:
        return inbound.installed_portal(request.args.get("portalId"))
    return inbound.installed_portal(request.args.get("portalId"),
                                    read=lambda hub_id: card_reads.view_portal(int(hub_id), g.get("view_generation")))


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


@bp.post(f"/{KINDS}/<object_id>")
def card_with_properties(kind: str, object_id: str):
    portal = _portal()
    object_id = _object_id(object_id)
    payload, _, _ = CARDS[kind]
    return jsonify(payload(portal, object_id, properties=_sent_properties(kind, object_id)))


def _sent_properties(kind: str, object_id: str) -> dict[str, str | None]:
    """``{"properties": {name: value}}`` of the body: the card's properties of this record (names it
    does not show are left out, names it left out are empty, as in a HubSpot read)."""
    sent = inbound.parse_json(dict).get("properties")
    if not isinstance(sent, dict) or not all(isinstance(v, (str, type(None))) for v in sent.values()):
        raise HubwerkError('The body must be {"properties": {name: text or null}}.', code="bad_request", status=400)
    if str(sent.get("hs_object_id") or "") != object_id:
        raise HubwerkError("The properties are not this record's (hs_object_id differs).", code="bad_request", status=400)
    if any(v is not None and len(v) > MAX_PROPERTY_CHARS for v in sent.values()):
        raise HubwerkError("A property value is longer than HubSpot allows.", code="bad_request", status=400)
    return {name: sent.get(name) for name in CARD_PROPERTIES[kind]}


@bp.post(f"/{KINDS}/<object_id>/<action>")
def button(kind: str, object_id: str, action: str):
    _, actions, run = CARDS[kind]
    return _button(kind, object_id, action, tuple(actions), run)


def _button(kind: str, object_id: str, action: str, actions: tuple[str, ...], run):
    """Authenticate, store the click before acting on it, act, record how it went."""
    portal = _portal(view=False)
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

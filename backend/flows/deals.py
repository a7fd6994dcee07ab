"""What every deal flow shares (validation, contract creation, up-/downgrades): reading many
deals into :class:`~backend.mapping.deal_cart.DealInputs`, checking a cart with billwerk's order
preview, keeping the last preview per deal, and writing deal properties back in batches.

Everything works on many deals at once — the deals whose requests wait together are read with
one round of batch reads and written back with one batch update per 100 — because a workflow
that enrolls 500 deals must not cost 500 round trips to HubSpot.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy.exc import IntegrityError

from backend.clients.base import ApiError, ValidationFailed
from backend.clients.billwerk import client_for
from backend.clients.hubspot import HubSpotClient
from backend.extensions import db
from backend.flows.custom_fields import contract_custom_fields
from backend.flows.records import DealRecords, read_deals
from backend.mapping.deal_cart import (DEAL_PROPERTIES, LINE_ITEM_PROPERTIES, Cart, CatalogItem, DealInputs,
                                       build_signup_order, cart_hash, deal_entity, read_cart)
from backend.mapping.deal_preview import read_preview
from backend.mapping.problems import Problem, problems_text
from backend.models import BillwerkAccount, CatalogProduct, ContractLink, CustomerLink, Portal, utcnow
from backend.models.deals import DealPreview
from backend.setup.custom_fields import mapped_properties

log = logging.getLogger(__name__)

PRODUCT_PROPERTIES = ("name", "price", "billwerk_id", "billwerk_object_type", "billwerk_entity")


@dataclass
class Deal:
    """One deal as the flows see it: HubSpot's records, the order inputs, the cart read from them."""

    records: DealRecords
    inputs: DealInputs
    cart: Cart
    custom_fields: dict = field(default_factory=dict)   # the order's ContractCustomFields (mapped properties)

    @property
    def id(self) -> str:
        return self.records.deal_id

    @property
    def props(self) -> dict:
        return self.records.deal

    @property
    def hash(self) -> str:
        return cart_hash(self.cart)


@dataclass
class Checked:
    """How billwerk's preview judged a cart."""

    status: str                                   # valid | invalid | error
    problems: list[Problem] = field(default_factory=list)
    request: dict | None = None
    response: dict | None = None
    shown: dict | None = None
    error: str | None = None                      # billwerk unreachable: try again later
    retriable: bool = False

    @property
    def message(self) -> str:
        return problems_text(self.problems)


# -- reading -----------------------------------------------------------------------------------------

def load_deals(portal: Portal, account: BillwerkAccount, hubspot: HubSpotClient, deal_ids: Iterable[str]) -> dict[str, Deal]:
    """The deals that exist, each with its cart: one round of HubSpot batch reads for all of them,
    the catalogue and the links from the connector's own database."""
    records = read_deals(hubspot, deal_ids, deal_properties=DEAL_PROPERTIES + mapped_properties(portal.id, "deal"),
                         line_item_properties=LINE_ITEM_PROPERTIES, product_properties=PRODUCT_PROPERTIES)
    root = account.entities[0].entity_id
    entities = frozenset(e.entity_id for e in account.entities)
    products = _catalog_items(portal, records.values())
    links = _customer_links(portal, {r.company_id for r in records.values() if r.company_id})
    contracts = _origin_contracts(portal, {(r.deal.get("billwerk_origin_deal_id") or "").strip() for r in records.values()} - {""})
    deals = {}
    for deal_id, rec in records.items():
        entity = deal_entity(rec.deal, rec.company, root)
        origin = (rec.deal.get("billwerk_origin_deal_id") or "").strip()
        inputs = DealInputs(
            deal_id=deal_id, deal=rec.deal, line_items=[{"id": li["id"], "properties": li["properties"]} for li in rec.line_items],
            products=products, root_entity=root, entities=entities, company_id=rec.company_id, company=rec.company,
            contact_id=rec.contact_id, contact=rec.contact,
            customer_id=links.get((entity, rec.company_id)) if rec.company_id else None,
            contract_id=contracts.get(origin) if origin else None)
        deal = deals[deal_id] = Deal(rec, inputs, read_cart(inputs))
        values, problems = contract_custom_fields(portal.id, entity, rec.deal)
        deal.custom_fields = values
        deal.cart.problems += [Problem(p.hubspot_property, p.message, "deal", deal_id) for p in problems]
    return deals


def _catalog_items(portal: Portal, records: Iterable[DealRecords]) -> dict[str, CatalogItem | None]:
    """``hs_product_id -> CatalogItem`` for every product on these deals' line items.

    The product sync's own table says which billwerk item a product is and whether it is archived
    (hidden or deleted in billwerk; HubSpot no longer returns archived products); a product someone
    made by hand with a ``billwerk_id`` counts when the catalogue knows that id, or when the
    catalogue was never synced (billwerk's preview judges it then).
    """
    wanted: dict[str, dict | None] = {}
    for rec in records:
        for li in rec.line_items:
            pid = ((li.get("properties") or {}).get("hs_product_id") or "").strip()
            if pid:
                wanted[pid] = (li.get("product") or {}).get("properties")
    if not wanted:
        return {}
    synced = {row.hubspot_id: row for row in db.session.execute(db.select(CatalogProduct).where(
        CatalogProduct.portal_id == portal.id, CatalogProduct.hubspot_id.in_(list(wanted)))).scalars()}
    by_billwerk_id = {}
    by_hand = {(p.get("billwerk_id") or "").strip() for pid, p in wanted.items() if p and pid not in synced} - {""}
    if by_hand:
        by_billwerk_id = {row.billwerk_id: row for row in db.session.execute(db.select(CatalogProduct).where(
            CatalogProduct.portal_id == portal.id, CatalogProduct.billwerk_id.in_(list(by_hand)))).scalars()}
    catalog_empty = by_hand and db.session.execute(db.select(CatalogProduct.id).where(
        CatalogProduct.portal_id == portal.id).limit(1)).first() is None
    out: dict[str, CatalogItem | None] = {}
    for pid, props in wanted.items():
        row = synced.get(pid)
        if row is not None:
            out[pid] = CatalogItem(row.billwerk_id, row.object_type, row.entity_id, hidden=bool(row.archived))
            continue
        billwerk_id = ((props or {}).get("billwerk_id") or "").strip()
        if not billwerk_id:
            out[pid] = None
            continue
        known = by_billwerk_id.get(billwerk_id)
        out[pid] = CatalogItem(billwerk_id, (props.get("billwerk_object_type") or (known.object_type if known else "")).strip(),
                               (props.get("billwerk_entity") or "").strip() or (known.entity_id if known else None),
                               hidden=bool(known and known.archived), known=bool(known) or bool(catalog_empty))
    return out


def _customer_links(portal: Portal, company_ids: set[str]) -> dict[tuple[str, str], str]:
    if not company_ids:
        return {}
    rows = db.session.execute(db.select(CustomerLink.entity_id, CustomerLink.hubspot_company_id, CustomerLink.billwerk_customer_id)
                              .where(CustomerLink.portal_id == portal.id, CustomerLink.hubspot_company_id.in_(list(company_ids))))
    return {(entity, company): customer for entity, company, customer in rows}


def _origin_contracts(portal: Portal, origin_ids: set[str]) -> dict[str, str]:
    if not origin_ids:
        return {}
    rows = db.session.execute(db.select(ContractLink.hubspot_deal_id, ContractLink.billwerk_contract_id).where(
        ContractLink.portal_id == portal.id, ContractLink.hubspot_deal_id.in_(list(origin_ids))))
    return dict(rows.all())


# -- checking with billwerk -------------------------------------------------------------------------------

def check_cart(account: BillwerkAccount, deal: Deal, order: dict | None = None) -> Checked:
    """billwerk's order preview of the deal's order (nothing is stored in billwerk). A cart with
    problems is not sent at all; billwerk refusing the order is one more problem on the deal."""
    cart = deal.cart
    if cart.problems:
        return Checked("invalid", problems=list(cart.problems))
    order = order if order is not None else build_signup_order(cart, contract_custom_fields=deal.custom_fields)
    try:
        answer = client_for(account, cart.entity_id).preview_order(order)
    except ValidationFailed as exc:
        reason = (exc.provider_message or exc.message or "").strip().rstrip(".")
        return Checked("invalid", request=order, problems=[Problem("line_items", f"billwerk refused the order: {reason}",
                                                                   "deal", deal.id)])
    except ApiError as exc:
        return Checked("error", request=order, error=f"billwerk could not check the deal ({exc.message})", retriable=exc.retriable)
    return Checked("valid", request=order, response=answer, shown=read_preview(answer, cart))


def preview_of(portal: Portal, deal_id: str) -> DealPreview | None:
    return db.session.execute(db.select(DealPreview).where(DealPreview.portal_id == portal.id,
                                                           DealPreview.hubspot_deal_id == str(deal_id))).scalar_one_or_none()


def store_check(portal: Portal, deal: Deal, checked: Checked) -> DealPreview:
    """Keep the validation (and billwerk's preview, when there is one) as the deal's last one."""
    row = preview_of(portal, deal.id)
    if row is None:
        row = DealPreview(portal_id=portal.id, hubspot_deal_id=deal.id, status=checked.status)
        db.session.add(row)
    now = utcnow()
    row.status = checked.status
    row.entity_id, row.deal_type = deal.cart.entity_id, deal.cart.deal_type
    row.hubspot_company_id = deal.cart.company_id
    row.company_name = (deal.records.company or {}).get("name") if deal.records.company else None
    row.cart_hash = deal.hash
    row.message = checked.message or None
    row.problems = [p.__dict__ for p in checked.problems]
    row.validated_at = now
    if checked.status == "valid":
        row.request, row.response, row.shown, row.previewed_at = checked.request, checked.response, checked.shown, now
    try:
        db.session.commit()
    except IntegrityError:  # another worker stored this deal's first validation a moment ago
        db.session.rollback()
        return store_check(portal, deal, checked)
    return row


# -- writing back -----------------------------------------------------------------------------------------

def write_deals(hubspot: HubSpotClient, writes: dict[str, dict]) -> dict[str, str]:
    """One batch update per 100 deals; returns ``{deal_id: why HubSpot refused}``."""
    if not writes:
        return {}
    try:
        result = hubspot.batch_update("deals", [{"id": deal_id, "properties": props} for deal_id, props in writes.items()],
                                      split_on_error=True)
    except ApiError as exc:
        return {deal_id: f"HubSpot did not take the update ({exc.message})" for deal_id in writes}
    return {str((e.input or {}).get("id")): f"HubSpot refused the update: {e.message}" for e in result.errors}


def validation_properties(checked: Checked) -> dict:
    return {"billwerk_validation": checked.status, "billwerk_validation_message": checked.message}

"""Reading HubSpot records for the flows, always in batches (100 records a call, associations
up to 1,000 a call): never one read per record.

* :func:`primary_or_first` — the one associated record that counts: the primary company of a
  deal, else the one with the lowest id (HubSpot lists associations in no stable order).
* :func:`read_records` — companies with their contact (``Prepared``), the customer import's unit.
* :func:`gather_for_deals` — the company and contact of each of many deals, one entry a company.
* :func:`closed_won_deals` — every deal in the closed-won stages, past the 10,000-result search cap.
* :func:`read_deals` — many deals at once with their company, contacts and line items (with the
  products they were made from): what the deal flows (validation, contracts, upgrades) work on.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable

from backend.clients.hubspot import HubSpotClient, SearchCapReached
from backend.errors import FlowError

log = logging.getLogger(__name__)

COMPANY_PROPERTIES = (
    "name", "address", "address2", "city", "zip", "country", "state", "phone",
    "billwerk_house_number", "billwerk_vat_id", "billwerk_locale", "billwerk_default_bearer_medium",
    "billwerk_destination_country", "billwerk_einvoicing_receiver_id", "billwerk_buyer_reference",
    "billwerk_einvoicing_network", "billwerk_external_customer_id", "billwerk_entity",
    "billwerk_customer_id", "billwerk_import_status", "billwerk_import_errors",
)
CONTACT_PROPERTIES = ("firstname", "lastname", "email", "phone")
DEAL_PROPERTIES = ("dealname", "dealstage", "pipeline", "closedate", "billwerk_entity")
LINE_ITEM_PROPERTIES = ("name", "quantity", "price", "amount", "hs_product_id", "hs_sku", "recurringbillingfrequency",
                        "hs_recurring_billing_start_date", "hs_discount_percentage", "discount")
PRODUCT_PROPERTIES = ("name", "price", "hs_sku", "billwerk_id", "billwerk_object_type", "billwerk_entity")
# HubSpot's association type "primary company" of a deal.
DEAL_TO_COMPANY_PRIMARY = 5


@dataclass
class Prepared:
    """What one import needs, read from HubSpot in batches."""

    company_id: str
    company: dict
    contact_id: str | None = None
    contact: dict | None = None
    deal_id: str | None = None


@dataclass
class DealRecords:
    """One deal with what hangs off it; ``properties`` dicts as HubSpot returns them."""

    deal_id: str
    deal: dict
    company_id: str | None = None
    company: dict | None = None
    contact_ids: list[str] = field(default_factory=list)
    contacts: dict[str, dict] = field(default_factory=dict)
    line_items: list[dict] = field(default_factory=list)     # {"id", "properties", "product"}; sorted by id

    @property
    def contact_id(self) -> str | None:
        """The deal's contact that counts (the lowest id)."""
        return self.contact_ids[0] if self.contact_ids else None

    @property
    def contact(self) -> dict | None:
        return self.contacts.get(self.contact_id) if self.contact_id else None


def primary_or_first(entries: list[dict], primary_type_id: int | None) -> str | None:
    """From the ``to`` list of an associations batch read: the entry marked with
    ``primary_type_id``, else the lowest id; ``None`` for no entries."""
    if not entries:
        return None
    if primary_type_id is not None:
        for entry in entries:
            if any(t.get("typeId") == primary_type_id for t in entry.get("associationTypes") or []):
                return str(entry["toObjectId"])
    return str(min(entries, key=lambda e: int(e["toObjectId"]))["toObjectId"])


def properties_by_id(hubspot: HubSpotClient, object_type: str, ids: Iterable, properties: Iterable[str]) -> dict[str, dict]:
    """``{id: properties}`` of the records that exist, in batch reads of 100."""
    ids = [str(i) for i in ids]
    if not ids:
        return {}
    return {str(r["id"]): r.get("properties") or {} for r in hubspot.batch_read(object_type, ids, properties).results}


def associated(hubspot: HubSpotClient, from_type: str, to_type: str, ids: Iterable) -> dict[str, list[dict]]:
    """``{from_id: [to entries]}`` for many records in one associations batch read (1,000 a call)."""
    ids = [str(i) for i in ids]
    if not ids:
        return {}
    return {r["from"]["id"]: r["to"] for r in hubspot.associations_batch_read(from_type, to_type, ids).results}


def gather_for_deals(hubspot: HubSpotClient, deals: list[dict]) -> tuple[list[Prepared], list[str]]:
    """Companies (primary, else first) and contacts (first) of closed-won deals, one entry per
    company: the most recently closed deal decides the contact. Returns the deals without a company too."""
    deal_ids = [d["id"] for d in deals]
    companies_of = associated(hubspot, "deals", "companies", deal_ids)
    contacts_of = associated(hubspot, "deals", "contacts", deal_ids)
    newest_first = sorted(deals, key=lambda d: (d.get("properties") or {}).get("closedate") or "", reverse=True)
    chosen: dict[str, tuple[str, str | None]] = {}
    orphans = []
    for deal in newest_first:
        company_id = primary_or_first(companies_of.get(deal["id"], []), DEAL_TO_COMPANY_PRIMARY)
        if company_id is None:
            orphans.append(deal["id"])
            continue
        if company_id not in chosen:
            chosen[company_id] = (deal["id"], primary_or_first(contacts_of.get(deal["id"], []), None))
    return read_records(hubspot, chosen), orphans


def read_records(hubspot: HubSpotClient, wanted: dict[str, tuple[str | None, str | None]]) -> list[Prepared]:
    """``{company_id: (deal_id, contact_id)}`` -> Prepared, with two batch reads (100 a call)."""
    companies = properties_by_id(hubspot, "companies", list(wanted), COMPANY_PROPERTIES)
    contacts = properties_by_id(hubspot, "contacts", [c for _, c in wanted.values() if c], CONTACT_PROPERTIES)
    return [
        Prepared(company_id, companies[company_id], contact_id if contact_id in contacts else None, contacts.get(contact_id), deal_id)
        for company_id, (deal_id, contact_id) in wanted.items() if company_id in companies
    ]


def read_deals(hubspot: HubSpotClient, deal_ids: Iterable, *, deal_properties: Iterable[str] = DEAL_PROPERTIES,
               company_properties: Iterable[str] = COMPANY_PROPERTIES, contact_properties: Iterable[str] = CONTACT_PROPERTIES,
               line_item_properties: Iterable[str] = LINE_ITEM_PROPERTIES,
               product_properties: Iterable[str] = PRODUCT_PROPERTIES) -> dict[str, DealRecords]:
    """Many deals with their company (primary, else first), contacts, line items and the
    products of those line items: for N deals about 3 association reads and 5 batch reads per
    100 deals, whatever N is. Deals that do not exist are left out of the answer."""
    ids = list(dict.fromkeys(str(i) for i in deal_ids))
    deals = properties_by_id(hubspot, "deals", ids, deal_properties)
    ids = [i for i in ids if i in deals]
    companies_of = associated(hubspot, "deals", "companies", ids)
    contacts_of = associated(hubspot, "deals", "contacts", ids)
    items_of = associated(hubspot, "deals", "line_items", ids)
    records = {}
    for deal_id in ids:
        records[deal_id] = DealRecords(
            deal_id, deals[deal_id], company_id=primary_or_first(companies_of.get(deal_id, []), DEAL_TO_COMPANY_PRIMARY),
            contact_ids=sorted({str(e["toObjectId"]) for e in contacts_of.get(deal_id, [])}, key=int))
    companies = properties_by_id(hubspot, "companies", {r.company_id for r in records.values() if r.company_id}, company_properties)
    contacts = properties_by_id(hubspot, "contacts", {c for r in records.values() for c in r.contact_ids}, contact_properties)
    item_ids = {str(e["toObjectId"]) for entries in items_of.values() for e in entries}
    items = properties_by_id(hubspot, "line_items", item_ids, line_item_properties)
    product_ids = {(p.get("hs_product_id") or "").strip() for p in items.values()} - {""}
    products = properties_by_id(hubspot, "products", product_ids, product_properties)
    for deal_id, record in records.items():
        record.company = companies.get(record.company_id) if record.company_id else None
        if record.company is None:
            record.company_id = None
        record.contact_ids = [c for c in record.contact_ids if c in contacts]
        record.contacts = {c: contacts[c] for c in record.contact_ids}
        for item_id in sorted({str(e["toObjectId"]) for e in items_of.get(deal_id, [])}, key=int):
            if item_id in items:
                props = items[item_id]
                product_id = (props.get("hs_product_id") or "").strip()
                record.line_items.append({"id": item_id, "properties": props,
                                          "product": ({"id": product_id, "properties": products[product_id]}
                                                      if product_id in products else None)})
    return records


def closed_won_deals(hubspot: HubSpotClient, stages: set[str], on_page: Callable[[int], None] | None = None,
                     properties: Iterable[str] = DEAL_PROPERTIES) -> Iterable[dict]:
    """Every deal in a closed-won stage, 200 a page.

    HubSpot stops a search at 10,000 results; past that, the next window starts after the
    highest ``hs_object_id`` seen (the deals are sorted by it), so portals of any size are read
    completely without ever paging past the cap.
    """
    if not stages:
        return
    last_id = None
    while True:
        filters = [{"propertyName": "dealstage", "operator": "IN", "values": sorted(stages)}]
        if last_id is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": last_id})
        seen_in_window = 0
        try:
            for page in hubspot.search("deals", [{"filters": filters}], list(properties),
                                       sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}]):
                for deal in page.results:
                    last_id = deal["id"]
                    seen_in_window += 1
                    yield deal
                if on_page:
                    on_page(len(page.results))
            return
        except SearchCapReached:
            if not seen_in_window:
                raise FlowError("HubSpot's search returned nothing before its 10,000-result limit.", retriable=True)
            log.info("flow.import.next_search_window", extra={"after_id": last_id})

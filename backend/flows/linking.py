"""Linking a HubSpot company to an existing billwerk customer by hand, and unlinking; the reads
the admin's customer pages need to choose (billwerk customers a page, HubSpot companies by search)."""
from __future__ import annotations

import logging
import re

from backend.clients.billwerk import client_for
from backend.clients.base import ApiError, NotFound as ApiNotFound
from backend.clients.hubspot import HubSpotClient
from backend.errors import HubwerkError
from backend.flows.locks import company_lock
from backend.extensions import db
from backend.models import CustomerLink, ImportCandidate, Portal
from backend.models.links import CustomerTaken

log = logging.getLogger(__name__)
_BILLWERK_ID = re.compile(r"^[0-9a-fA-F]{24}$")


def link_company(portal: Portal, company_id: str, customer_id: str, hubspot: HubSpotClient | None = None) -> CustomerLink:
    customer_id = (customer_id or "").strip()
    if not customer_id:
        raise HubwerkError("Enter the id of the billwerk customer to link.", code="missing_customer_id")
    account = portal.billwerk_account
    if account is None:
        raise HubwerkError("Connect billwerk first (connector settings > billwerk).", code="billwerk_not_connected", status=409)
    hubspot = hubspot or HubSpotClient(portal)
    company = hubspot.batch_read("companies", [company_id], ["name", "billwerk_entity"]).results
    if not company:
        raise HubwerkError(f"Company {company_id} does not exist in this HubSpot portal.", code="not_found", status=404)
    entity = account.entity(((company[0].get("properties") or {}).get("billwerk_entity") or "").strip() or None)
    if entity is None:
        raise HubwerkError("The company's billwerk entity is not connected; choose another entity on the company.", code="unknown_entity")
    try:
        customer = client_for(account, entity.entity_id).get_customer(customer_id)
    except ApiNotFound:
        raise HubwerkError(f"billwerk has no customer {customer_id} in entity {entity.name}.", code="customer_not_found", status=404) from None
    except ApiError as exc:
        raise HubwerkError(f"Could not check the customer in billwerk: {exc.message}", code="billwerk_unavailable", status=502) from None
    # The import takes the same lock: a link and an import of one company never cross.
    with company_lock(portal, str(company_id)):
        return _link(portal, company_id, customer_id, entity, hubspot, customer_name(customer))


def _link(portal: Portal, company_id: str, customer_id: str, entity, hubspot: HubSpotClient, name: str | None = None) -> CustomerLink:
    existing = CustomerLink.for_company(portal.id, company_id)
    if existing is not None:
        if existing.billwerk_customer_id == customer_id:
            return existing
        raise HubwerkError(f"This company is already linked to billwerk customer {existing.billwerk_customer_id}; unlink it first.", code="already_linked", status=409)
    try:
        link = CustomerLink.create(portal.id, entity.entity_id, company_id, customer_id, origin="manual", name=name)
    except CustomerTaken as taken:
        raise HubwerkError(f"billwerk customer {customer_id} is already linked to company {taken.company_id or 'another company'}.",
                           code="customer_already_linked", status=409) from None
    if link.billwerk_customer_id != customer_id:  # linked to another customer a moment ago
        raise HubwerkError(f"This company is already linked to billwerk customer {link.billwerk_customer_id}; unlink it first.", code="already_linked", status=409)
    # HubSpot refuses a batch update as a whole (e.g. 409: another company holds this unique
    # billwerk_customer_id); split_on_error turns that refusal into this input's error, so the
    # link is taken back instead of staying behind while HubSpot shows nothing.
    result = hubspot.batch_update("companies", [{"id": str(company_id), "properties": {
        "billwerk_customer_id": customer_id, "billwerk_import_status": "linked", "billwerk_import_errors": ""}}],
        split_on_error=True)
    if result.errors:
        db.session.delete(link)
        db.session.commit()
        raise HubwerkError(f"HubSpot refused the link: {result.errors[0].message}", code="hubspot_refused", status=409)
    _candidate_status(portal, company_id, "linked", customer_id)
    log.info("flow.link.created", extra={"hub_id": portal.hub_id, "company_id": company_id, "customer_id": customer_id})
    return link


def unlink_company(portal: Portal, company_id: str, hubspot: HubSpotClient | None = None) -> None:
    link = CustomerLink.for_company(portal.id, company_id)
    if link is None:
        raise HubwerkError("This company is not linked to a billwerk customer.", code="not_linked", status=409)
    db.session.delete(link)
    db.session.commit()
    # A refusal (the company was deleted in HubSpot meanwhile) leaves nothing to clear there.
    (hubspot or HubSpotClient(portal)).batch_update("companies", [{"id": str(company_id), "properties": {
        "billwerk_customer_id": "", "billwerk_import_status": "", "billwerk_import_errors": ""}}],
        split_on_error=True)
    _candidate_status(portal, company_id, "ready", None)
    log.info("flow.link.removed", extra={"hub_id": portal.hub_id, "company_id": company_id})


def _candidate_status(portal: Portal, company_id: str, status: str, customer_id: str | None) -> None:
    row = db.session.execute(db.select(ImportCandidate).where(ImportCandidate.portal_id == portal.id,
                                                              ImportCandidate.hubspot_company_id == str(company_id))).scalar_one_or_none()
    if row is not None:
        row.status = status
        row.billwerk_customer_id = customer_id
        db.session.commit()


def customer_page(account, entity_id: str, cursor: str | None, size: int) -> tuple[list[dict], str | None]:
    """One page of the entity's billwerk customers from ``cursor`` on, and the cursor of the next page."""
    params = {"take": size + 1, **({"from": cursor} if cursor else {})}
    page = client_for(account, entity_id).call("GET", "/customers", params=params) or []
    return page[:size], (page[size]["Id"] if len(page) > size else None)


def search_companies(portal: Portal, query: str, limit: int = 20) -> list[dict]:
    """HubSpot companies matching ``query`` (name, domain, …), the first ``limit``."""
    page = next(HubSpotClient(portal).search("companies", [], ["name", "city", "country", "billwerk_customer_id"],
                                             limit=limit, query=query, on_cap="stop"), None)
    return page.results if page else []


def customer_name(customer: dict) -> str:
    """How a person knows a billwerk customer: its name, its company, its person, else its id."""
    person = " ".join(p for p in (customer.get("FirstName"), customer.get("LastName")) if p)
    return customer.get("CustomerName") or customer.get("CompanyName") or person or customer.get("Id", "")


def company_names(portal: Portal, company_ids) -> dict[str, str]:
    """``{company id: name}`` in one HubSpot batch read (the customers page shows names, not ids)."""
    from backend.flows.records import properties_by_id

    found = properties_by_id(HubSpotClient(portal), "companies", sorted(set(company_ids)), ["name"])
    return {cid: props.get("name") or cid for cid, props in found.items()}


def company_name(portal: Portal, company_id: str) -> str:
    """The company's name for a message; its id when HubSpot cannot say."""
    try:
        return company_names(portal, [company_id]).get(str(company_id)) or company_id
    except ApiError:
        return company_id


def find_customer(portal: Portal, entity_id: str | None, customer_id: str) -> dict | None:
    """The billwerk customer, or None when billwerk has no such customer in that entity."""
    if not _BILLWERK_ID.match(customer_id or ""):
        return None
    try:
        return client_for(portal.billwerk_account, entity_id).call("GET", f"/customers/{customer_id}")
    except ApiNotFound:
        return None

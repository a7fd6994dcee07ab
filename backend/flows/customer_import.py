"""Customer import: companies of closed-won deals become billwerk customers.

Every path — a webhook about one deal, the company card's button, a workflow action, the import
tool and ``import-customers`` — ends in :func:`import_prepared`, which works on many companies
at once: HubSpot is read with search pages of 200 and batch reads of 100 (never one read per
record), billwerk is asked once per customer, and the results go back to HubSpot in batch
updates of 100.

Exactly one billwerk customer per company and entity, whatever arrives twice, late or at the
same time on several workers: a Redis lock per company around find-or-create, billwerk's own
unique ``ExternalCustomerId`` looked up before creating, and the unique link in the database.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from flask import current_app

from backend.clients.billwerk import client_for
from backend.clients.base import ApiError, Conflict, NotFound as ApiNotFound, ValidationFailed
from backend.clients.hubspot import HubSpotClient
from backend.errors import FlowError, FoundProblems, Skip
from backend.extensions import db
from backend.flows.context import portal_context
from backend.flows.linking import customer_name
from backend.flows.locks import company_lock
from backend.flows.custom_fields import customer_custom_fields, remember_sent
from backend.flows.records import (DEAL_PROPERTIES, Prepared, associated, closed_won_deals, gather_for_deals, primary_or_first,
                                   properties_by_id, read_records)
from backend.setup.custom_fields import mapped_properties
from backend.jobs.runs import report_progress
from backend.mapping.customer import build_customer, validate_customer
from backend.mapping.problems import Problem, problems_text
from backend.models import BillwerkAccount, CustomerLink, ImportCandidate, Portal, SyncRun, utcnow
from backend.models.links import CustomerTaken
from backend.setup.stages import closed_won_stages

log = logging.getLogger(__name__)

# A change of these on an "invalid" company may have fixed it: the import checks it again.
REVALIDATING_PROPERTIES = frozenset({
    "name", "address", "address2", "city", "zip", "country", "state", "billwerk_house_number", "billwerk_vat_id",
    "billwerk_locale", "billwerk_default_bearer_medium", "billwerk_einvoicing_receiver_id",
    "billwerk_buyer_reference", "billwerk_einvoicing_network", "billwerk_entity",
})
# Above this many customers to import at once, reading billwerk's customer list (500 a page) is
# cheaper than one look-up per customer.
INDEX_THRESHOLD = 50


@dataclass
class Outcome:
    counts: dict = field(default_factory=lambda: {"imported": 0, "linked_existing": 0, "already_linked": 0, "invalid": 0, "failed": 0})
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    customer_ids: dict[str, str] = field(default_factory=dict)


# -- writing ----------------------------------------------------------------------------------------

def _entity_of(account: BillwerkAccount, company: dict) -> str:
    """The company's entity (``billwerk_entity``), the root entity by default."""
    wanted = (company.get("billwerk_entity") or "").strip()
    entity = account.entity(wanted or None)
    if entity is None:
        raise FlowError(f"The company's billwerk entity {wanted} is not connected; choose another entity or add it on the connector's billwerk page.")
    return entity.entity_id


def import_prepared(portal: Portal, account: BillwerkAccount, hubspot: HubSpotClient, items: list[Prepared],
                    *, progress: Callable[[dict], None] | None = None) -> Outcome:
    """Import each company at most once; report every company's outcome back to HubSpot.

    What was done is written back even when the run stops part-way (billwerk down, a timeout):
    a company linked in billwerk is never left without its status in HubSpot.
    """
    settings = current_app.config["HUBWERK"]
    outcome = Outcome()
    writes: dict[str, dict] = {}
    indexes: dict[str, dict[str, str]] = {}

    def billwerk_customer_by_external_id(entity_id: str, external_id: str) -> str | None:
        if len(items) > INDEX_THRESHOLD:
            if entity_id not in indexes:
                indexes[entity_id] = {c["ExternalCustomerId"]: c["Id"] for c in client_for(account, entity_id).customers()
                                      if c.get("ExternalCustomerId")}
            return indexes[entity_id].get(external_id)
        found = client_for(account, entity_id).find_customer_by_external_id(external_id)
        return found["Id"] if found else None

    _read_mapped_company_properties(portal, hubspot, items)
    try:
        for done, item in enumerate(items, start=1):
            cid = item.company_id
            try:
                entity_id = _entity_of(account, item.company)
            except FlowError as exc:
                outcome.problems[cid] = [Problem("billwerk_entity", exc.message, "company", cid)]
            else:
                with company_lock(portal, cid):
                    _import_one(portal, account, item, entity_id, outcome, billwerk_customer_by_external_id)
            if cid in outcome.problems:
                outcome.counts["invalid"] += 1
                writes[cid] = {"billwerk_import_status": "invalid",
                               "billwerk_import_errors": problems_text(outcome.problems[cid], settings.hubspot_app_base_url, portal.hub_id, on="company")}
            elif cid in outcome.customer_ids:
                status = item.company.get("billwerk_import_status") or ""
                wanted = {"billwerk_customer_id": outcome.customer_ids[cid], "billwerk_import_errors": "",
                          "billwerk_import_status": status if status == "linked" else "imported"}
                if any((item.company.get(k) or "") != v for k, v in wanted.items()):  # already right: no write
                    writes[cid] = wanted
            if progress and done % 100 == 0:
                progress(outcome.counts)
    finally:
        _record_candidates(portal, items, outcome)
        _write_back(hubspot, writes, outcome)
    return outcome


def _read_mapped_company_properties(portal: Portal, hubspot: HubSpotClient, items: list[Prepared]) -> None:
    """Company properties mapped to billwerk custom fields, read for all companies at once (100 a call)."""
    mapped = [p for p in mapped_properties(portal.id, "company") if any(p not in item.company for item in items)]
    if not mapped or not items:
        return
    found = properties_by_id(hubspot, "companies", [item.company_id for item in items], mapped)
    for item in items:
        item.company.update({k: v for k, v in (found.get(item.company_id) or {}).items() if k in mapped})


def _import_one(portal, account, item: Prepared, entity_id: str, outcome: Outcome, lookup) -> None:
    cid = item.company_id
    link = CustomerLink.for_company(portal.id, cid, entity_id)
    if link is not None:
        outcome.counts["already_linked"] += 1
        outcome.customer_ids[cid] = link.billwerk_customer_id
        return
    problems = validate_customer(item.company, item.contact, company_id=cid, contact_id=item.contact_id)
    if problems:
        outcome.problems[cid] = problems
        log.info("flow.import.invalid_address", extra={"hub_id": portal.hub_id, "company_id": cid, "problems": len(problems)})
        return
    payload = build_customer(item.company, item.contact, company_id=cid)
    custom, custom_problems = customer_custom_fields(portal.id, entity_id, item.company)
    if custom_problems:
        outcome.problems[cid] = [Problem(p.hubspot_property, p.message, "company", cid) for p in custom_problems]
        return
    if custom:
        payload["CustomFields"] = custom
    external_id = payload["ExternalCustomerId"]
    billwerk = client_for(account, entity_id)
    created_name = None  # the name the company card shows; read once by the card for an existing customer
    try:
        customer_id = _named_customer(billwerk, item) or lookup(entity_id, external_id)
        if customer_id is not None:
            outcome.counts["linked_existing"] += 1
        else:
            try:
                customer_id = billwerk.create_customer(payload)["Id"]
                created_name = customer_name(payload)
                outcome.counts["imported"] += 1
            except (Conflict, ValidationFailed):
                # billwerk refuses a second customer with this ExternalCustomerId (409, or 422 on some
                # systems): one was created meanwhile, e.g. by an attempt that died before linking.
                found = billwerk.find_customer_by_external_id(external_id)
                if found is None:
                    raise
                customer_id = found["Id"]
                outcome.counts["linked_existing"] += 1
    except ValidationFailed as exc:
        outcome.problems[cid] = [Problem("name", f"billwerk refused the customer: {exc.provider_message or exc.message}", "company", cid)]
        return
    except ApiError as exc:
        outcome.counts["failed"] += 1
        outcome.errors[cid] = exc.message
        if not exc.retriable:
            return
        raise FlowError(f"billwerk is not answering properly ({exc.message}); the import will be retried.", retriable=True) from None
    try:
        customer_id = CustomerLink.create(portal.id, entity_id, cid, customer_id, origin="import",
                                          contact_id=item.contact_id, name=created_name).billwerk_customer_id
    except CustomerTaken as taken:
        outcome.problems[cid] = [Problem("billwerk_external_customer_id",
                                         f"billwerk customer {customer_id} is already linked to company {taken.company_id}: give this company its own external id",
                                         "company", cid)]
        return
    outcome.customer_ids[cid] = customer_id
    if custom:
        remember_sent(portal.id, "company", cid, entity_id, custom)
        db.session.commit()
    log.info("flow.import.customer_linked", extra={"hub_id": portal.hub_id, "company_id": cid, "customer_id": customer_id})


def _named_customer(billwerk, item: Prepared) -> str | None:
    """A company that already names its billwerk customer (a restored database, a move from
    billwerk's own connector) keeps that customer when billwerk still has it."""
    named = (item.company.get("billwerk_customer_id") or "").strip()
    if not named:
        return None
    try:
        return billwerk.get_customer(named)["Id"]
    except ApiNotFound:
        return None


def _write_back(hubspot: HubSpotClient, writes: dict[str, dict], outcome: Outcome) -> None:
    if not writes:
        return
    try:
        result = hubspot.batch_update("companies", [{"id": cid, "properties": props} for cid, props in writes.items()], split_on_error=True)
    except ApiError as exc:  # the links are safe in the database: a replay writes these statuses again
        for cid in writes:
            outcome.errors.setdefault(cid, f"HubSpot did not take the status update ({exc.message})")
        return
    for error in result.errors:
        outcome.errors.setdefault(str((error.input or {}).get("id")), f"HubSpot refused the status update: {error.message}")


def _record_candidates(portal: Portal, items: list[Prepared], outcome: Outcome) -> dict:
    """Keep the import tool's list current with what just happened; returns the count per status."""
    ids = [i.company_id for i in items]
    rows = {c.hubspot_company_id: c for c in db.session.execute(db.select(ImportCandidate).where(
        ImportCandidate.portal_id == portal.id, ImportCandidate.hubspot_company_id.in_(ids))).scalars()} if ids else {}
    origins = CustomerLink.origin_by_company(portal.id, list(outcome.customer_ids))
    counts = {"ready": 0, "invalid": 0, "imported": 0, "linked": 0, "failed": 0}
    now = utcnow()
    for item in items:
        cid = item.company_id
        row = rows.get(cid)
        if row is None:
            row = rows[cid] = ImportCandidate(portal_id=portal.id, hubspot_company_id=cid)
            db.session.add(row)
        row.company_name = item.company.get("name")
        row.hubspot_deal_id = item.deal_id
        row.hubspot_contact_id = item.contact_id
        row.entity_id = item.company.get("billwerk_entity") or None
        row.scanned_at = now
        row.problems, row.error = [], None
        if cid in outcome.problems:
            row.status = "invalid"
            row.problems = [p.__dict__ for p in outcome.problems[cid]]
        elif cid in outcome.customer_ids:
            row.status = "linked" if origins.get(cid) == "manual" else "imported"
            row.billwerk_customer_id = outcome.customer_ids[cid]
            row.imported_at = row.imported_at or now
        elif cid in outcome.errors:
            row.status = "failed"
            row.error = outcome.errors[cid]
        else:
            row.status = "ready"
        counts[row.status] += 1
    db.session.commit()
    return counts


def scan_candidates(portal: Portal, account: BillwerkAccount, items: list[Prepared]) -> dict:
    """Validate without importing: the import tool's list (ready / invalid / imported / linked)."""
    links = CustomerLink.customer_by_company(portal.id)
    outcome = Outcome()
    for item in items:
        if item.company_id in links:
            outcome.customer_ids[item.company_id] = links[item.company_id]
            continue
        problems = validate_customer(item.company, item.contact, company_id=item.company_id, contact_id=item.contact_id)
        if account.entity((item.company.get("billwerk_entity") or "").strip() or None) is None:
            problems.append(Problem("billwerk_entity", "The company's billwerk entity is not connected", "company", item.company_id))
        if problems:
            outcome.problems[item.company_id] = problems
    counts = _record_candidates(portal, items, outcome)
    del counts["failed"]
    return counts


def recheck_candidate(portal: Portal, company_id: str) -> tuple[str, str]:
    """Check one company of the import tool's list again after a fix in HubSpot (nothing is imported).
    Returns a message for the admin and its kind (``success``, ``info``, ``error``)."""
    row = db.session.execute(db.select(ImportCandidate).where(ImportCandidate.portal_id == portal.id,
                                                              ImportCandidate.hubspot_company_id == company_id)).scalar_one_or_none()
    if row is None:
        return "error", "That company is not in the list; scan again."
    items = read_records(HubSpotClient(portal), {company_id: (row.hubspot_deal_id, row.hubspot_contact_id)})
    if not items:
        db.session.delete(row)
        db.session.commit()
        return "info", f"Company {company_id} no longer exists in HubSpot; removed from the list."
    scan_candidates(portal, portal.billwerk_account, items)
    db.session.refresh(row)
    return "success", f"{row.company_name or company_id}: {'ready to import' if row.status == 'ready' else row.status}."


# -- the flows ----------------------------------------------------------------------------------------

def _context(run: SyncRun) -> tuple[Portal, BillwerkAccount, HubSpotClient]:
    return portal_context(run, "nothing to import into.")


def _finish(outcome: Outcome, total: int) -> dict:
    counts = dict(outcome.counts, companies=total)
    if outcome.errors:
        first = next(iter(outcome.errors.items()))
        raise FlowError(f"{len(outcome.errors)} compan{'y' if len(outcome.errors) == 1 else 'ies'} could not be imported "
                        f"(company {first[0]}: {first[1]}); replay this run to try again.", retriable=True)
    return counts


def _single(outcome: Outcome, company_id: str) -> dict:
    counts = dict(_finish(outcome, 1), customer_id=outcome.customer_ids.get(company_id))
    if company_id in outcome.problems:
        # The run did its work: it found what to fix in HubSpot (and wrote it on the company).
        raise FoundProblems("Needs fixing in HubSpot: " + "; ".join(p.message for p in outcome.problems[company_id]), counts)
    return counts


def import_customer_for_deal(run: SyncRun) -> dict:
    """A deal was created in, moved into, or re-dated in a closed-won stage."""
    portal, account, hubspot = _context(run)
    deal = hubspot.batch_read("deals", [run.object_id], DEAL_PROPERTIES).results
    if not deal:
        raise Skip(f"Deal {run.object_id} no longer exists.")
    stage = (deal[0].get("properties") or {}).get("dealstage")
    if stage not in closed_won_stages(portal, hubspot):
        raise Skip(f"Deal {run.object_id} is not closed-won (stage {stage}).")
    prepared, orphans = gather_for_deals(hubspot, deal)
    if orphans:  # often the company is associated a moment after the deal is created: try again later
        raise FlowError(f"Deal {run.object_id} has no company yet: associate one; the import is retried.", retriable=True)
    item = prepared[0]
    run.params = dict(run.params or {}, company_id=item.company_id)  # the workflow callback reports its customer
    db.session.commit()  # never hold a write (SQLite: the database lock) across calls to billwerk or HubSpot
    # An already linked company costs no billwerk call; its HubSpot status is only repaired if wrong.
    return _single(import_prepared(portal, account, hubspot, [item]), item.company_id)


def import_company(run: SyncRun) -> dict:
    """One company (card button, workflow action, an address fix on an invalid company)."""
    portal, account, hubspot = _context(run)
    cid = run.object_id
    if run.params.get("only_if_invalid"):
        current = hubspot.batch_read("companies", [cid], ["billwerk_import_status"]).results
        if not current or (current[0].get("properties") or {}).get("billwerk_import_status") != "invalid":
            raise Skip("The company is not waiting for a fix.")
    deal_ids = [str(t["toObjectId"]) for t in associated(hubspot, "companies", "deals", [cid]).get(cid, [])]
    contact_id, deal_id = None, None
    if deal_ids:
        stages = closed_won_stages(portal, hubspot)
        won = [d for d in hubspot.batch_read("deals", deal_ids, DEAL_PROPERTIES).results
               if (d.get("properties") or {}).get("dealstage") in stages]
        if won:
            deal_id = max(won, key=lambda d: (d.get("properties") or {}).get("closedate") or "")["id"]
            contact_id = primary_or_first(associated(hubspot, "deals", "contacts", [deal_id]).get(str(deal_id), []), None)
    if contact_id is None:
        contact_id = primary_or_first(associated(hubspot, "companies", "contacts", [cid]).get(cid, []), None)
    prepared = read_records(hubspot, {cid: (deal_id, contact_id)})
    if not prepared:
        raise Skip(f"Company {cid} no longer exists.")
    return _single(import_prepared(portal, account, hubspot, prepared), cid)


def scan_import_candidates(run: SyncRun) -> dict:
    """The import tool's list: every company of a closed-won deal, checked, nothing imported."""
    portal, account, hubspot = _context(run)
    deals = list(closed_won_deals(hubspot, closed_won_stages(portal, hubspot), on_page=lambda n: report_progress(run, {"deals_read": n}, add=True)))
    prepared, orphans = gather_for_deals(hubspot, deals)
    counts = scan_candidates(portal, account, prepared)
    return dict(counts, deals=len(deals), deals_without_company=len(orphans))


def import_customers(run: SyncRun) -> dict:
    """Bulk import: ``params.company_ids`` (from the tool), else every company of a closed-won deal
    that is not linked yet (invalid ones are checked again)."""
    portal, account, hubspot = _context(run)
    wanted = run.params.get("company_ids")
    if wanted:
        rows = {c.hubspot_company_id: c for c in db.session.execute(db.select(ImportCandidate).where(
            ImportCandidate.portal_id == portal.id, ImportCandidate.hubspot_company_id.in_([str(w) for w in wanted]))).scalars()}
        prepared = read_records(hubspot, {str(cid): ((rows[str(cid)].hubspot_deal_id, rows[str(cid)].hubspot_contact_id) if str(cid) in rows else (None, None)) for cid in wanted})
        orphans = []
    else:
        deals = list(closed_won_deals(hubspot, closed_won_stages(portal, hubspot), on_page=lambda n: report_progress(run, {"deals_read": n}, add=True)))
        prepared, orphans = gather_for_deals(hubspot, deals)
        linked = CustomerLink.customer_by_company(portal.id)
        # Linked companies whose HubSpot record already says so are done; others get their status repaired.
        prepared = [p for p in prepared if linked.get(p.company_id) is None
                    or (p.company.get("billwerk_customer_id") or "") != linked[p.company_id]
                    or (p.company.get("billwerk_import_status") or "") not in ("imported", "linked")]
    report_progress(run, {"companies": len(prepared)})
    outcome = import_prepared(portal, account, hubspot, prepared, progress=lambda counts: report_progress(run, counts))
    return dict(_finish(outcome, len(prepared)), deals_without_company=len(orphans))

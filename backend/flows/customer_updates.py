"""Customer updates: a linked company's or a person contact's changes -> its billwerk customer.

Started by HubSpot webhooks (``customer_update_triggers``), the company card's ``push-update``, the
workflow actions ``update-customer-from-company`` / ``update-customer-from-contact`` and the cron,
which tries failed records again. Each record is a run of its own (visible, replayable); the first
run a worker picks up takes the other waiting runs of its flow along (``batches.batch_of``), so a
delivery of 100 changed companies costs one batch read, one batch write of ``pending`` and one of
the outcome — never a HubSpot call per company.

Per customer: read it with its ETag, build the PATCH of the owned fields that differ
(``mapping.customer_update``), write it with ``If-Match``; a 412 (someone changed the customer in
billwerk meanwhile) reads again and tries again. A problem in HubSpot (the address rule, VAT ID,
an incomplete dispatch mode) is written to the record and nothing is sent.

Idempotent on the record: a replay re-reads both sides and sends only what still differs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from backend.clients.base import ApiError, NotFound as ApiNotFound, PreconditionFailed, ValidationFailed
from backend.clients.billwerk import client_for
from backend.clients.hubspot import HubSpotClient
from backend.errors import FoundProblems, HubwerkError
from backend.extensions import db
from backend.flows.batches import Outcome, batch_of
from backend.flows.card_actions import RunFlow
from backend.flows.context import portal_context
from backend.flows.custom_fields import customer_custom_fields, remember_sent
from backend.flows.records import COMPANY_PROPERTIES, CONTACT_PROPERTIES, associated, properties_by_id
from backend.mapping.customer_update import (company_patch, company_problems, contact_patch, contact_problems,
                                             dispatch_problems, is_sandbox_url, merged, refusal_message)
from backend.ids import is_id
from backend.jobs.runs import start_run
from backend.jobs.runtime import app_context
from backend.models import CustomerLink, Portal, SyncRun
from backend.setup.custom_fields import mapped_properties

log = logging.getLogger(__name__)

FLOW_COMPANY = "update_customer_from_company"
FLOW_CONTACT = "update_customer_from_contact"
STATUS, MESSAGE = "billwerk_customer_update_status", "billwerk_customer_update_message"
ETAG_ATTEMPTS = 3


@dataclass
class Record:
    """What happened to one company or contact (over all its customers)."""

    lines: list[str] = field(default_factory=list)
    problems: bool = False       # something to fix in HubSpot (or billwerk refused it): nothing sent
    retriable: bool = False      # billwerk or the network failed: the run is retried
    sent: int = 0
    customer_ids: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.lines)


class _Refused(Exception):
    """billwerk refused a PATCH (4xx): the refusal and what was sent."""

    def __init__(self, error: ValidationFailed, patch: dict):
        super().__init__(error.message)
        self.error, self.patch = error, patch


def _push(billwerk, customer_id: str, plan) -> tuple[dict | None, list[str]]:
    """Read the customer, ``plan(current) -> (patch, problem lines)``, write the patch under the ETag;
    a 412 reads again. Returns (the patch sent or ``None``, problem lines)."""
    for attempt in range(ETAG_ATTEMPTS):
        current = billwerk.get_customer(customer_id)
        patch, problems = plan(current)
        if problems:
            return None, problems
        if not patch:
            return None, []
        try:
            billwerk.patch_customer(customer_id, patch, if_match=current.etag)
            return patch, []
        except ValidationFailed as exc:
            raise _Refused(exc, patch) from None
        except PreconditionFailed:
            log.info("flow.customer_update.etag_conflict", extra={"customer_id": customer_id, "attempt": attempt + 1})
            if attempt == ETAG_ATTEMPTS - 1:
                raise
    return None, []


def _send(account, link: CustomerLink, record: Record, plan) -> dict | None:
    """One customer of the record; failures become the record's lines."""
    try:
        sent, problems = _push(client_for(account, link.entity_id), link.billwerk_customer_id, plan)
    except PreconditionFailed:
        record.lines.append(f"billwerk customer {link.billwerk_customer_id} changed {ETAG_ATTEMPTS} times while it was "
                            "being updated; the connector tries again.")
        record.retriable = True
        return None
    except ApiNotFound:
        record.lines.append(f"billwerk customer {link.billwerk_customer_id} no longer exists: unlink the company and "
                            "import or link it again.")
        record.problems = True
        return None
    except _Refused as refused:
        record.lines.append(refusal_message(refused.error.provider_message or refused.error.message, refused.patch))
        record.problems = True
        return None
    except ApiError as exc:
        record.lines.append(f"billwerk could not be updated ({exc.message}); the connector tries again.")
        record.retriable = record.retriable or exc.retriable
        record.problems = record.problems or not exc.retriable
        return None
    except HubwerkError as exc:   # e.g. the link's entity is no longer connected
        record.lines.append(exc.message)
        record.problems = True
        return None
    if problems:
        record.lines.extend(problems)
        record.problems = True
        return None
    record.customer_ids.append(link.billwerk_customer_id)
    if sent:
        record.sent += 1
    return sent


def _write(hubspot: HubSpotClient, object_type: str, writes: dict[str, dict]) -> dict[str, str]:
    """Batch updates (100 a call); ``{id: why HubSpot refused}``."""
    if not writes:
        return {}
    try:
        result = hubspot.batch_update(object_type, [{"id": i, "properties": p} for i, p in writes.items()], split_on_error=True)
    except ApiError as exc:
        return {i: f"HubSpot did not take the status ({exc.message})" for i in writes}
    return {str((e.input or {}).get("id")): f"HubSpot refused the status: {e.message}" for e in result.errors}


def _final(props: dict, record: Record) -> dict | None:
    """The status properties to write, or ``None`` when the record already says so."""
    wanted = {STATUS: "failed", MESSAGE: "\n".join(record.lines)} if record.failed else {STATUS: "updated", MESSAGE: ""}
    if (props.get(STATUS) or "") == wanted[STATUS] and (props.get(MESSAGE) or "") == wanted[MESSAGE]:
        return None
    return wanted


def _outcome(record: Record) -> Outcome:
    counts = {"customers": len(record.customer_ids), "sent": record.sent}
    if not record.failed:
        return Outcome.ok(updated=1, **counts)
    message = "; ".join(record.lines)
    if record.retriable and not record.problems:
        return Outcome.failed(message, retriable=True)
    if record.problems and not record.retriable:
        # Done, with something to fix in HubSpot (the message says what): like the import's problems.
        return Outcome("succeeded", counts=dict(counts, failed=1), error=f"Needs fixing in HubSpot: {message}")
    return Outcome.failed(message, retriable=record.retriable)


def _not_linked(run: SyncRun, what: str) -> Outcome:
    explicit = bool((run.params or {}).get("explicit") or (run.params or {}).get("callback_id"))
    return Outcome.failed(what) if explicit else Outcome.skipped(what)


def _run_batch(run: SyncRun, work) -> dict | None:
    """``work(portal, account, hubspot, batch) -> outcomes`` over the run and the runs waiting with it."""
    portal, account, hubspot = portal_context(run, "customers are updated once it is.")
    limit = 1 if (run.params or {}).get("alone") else 100
    with batch_of(run, limit=limit) as batch:
        outcomes = work(portal, account, hubspot, batch)
        counts = batch.finish(outcomes)
    mine = outcomes.get(str(run.object_id))
    if mine is not None and mine.status == "succeeded" and mine.error:
        raise FoundProblems(mine.error, counts)
    return counts


# -- company -> customer ------------------------------------------------------------------------------

def update_customer_from_company(run: SyncRun) -> dict | None:
    """The run's company (and every company waiting with it) -> its billwerk customers."""
    return _run_batch(run, _companies)


def _companies(portal, account, hubspot: HubSpotClient, batch) -> dict[str, Outcome]:
    ids = batch.object_ids
    links = CustomerLink.by_companies(portal.id, ids)
    outcomes = {cid: _not_linked(r, f"Company {cid} is not linked to a billwerk customer: import or link it first.")
                for r in batch.runs if (cid := str(r.object_id)) not in links}
    custom = mapped_properties(portal.id, "company")
    companies = properties_by_id(hubspot, "companies", list(links), tuple(COMPANY_PROPERTIES) + tuple(custom) + (STATUS, MESSAGE))
    records: dict[str, Record] = {}
    ready: list[str] = []
    for cid in links:
        if cid not in companies:
            outcomes[cid] = Outcome.skipped(f"Company {cid} no longer exists in HubSpot.")
            continue
        record = records[cid] = Record()
        record.lines = [p.message for p in company_problems(companies[cid], cid)]
        for link in links[cid]:
            _, bad = customer_custom_fields(portal.id, link.entity_id, companies[cid], keep_empty=True)
            record.lines += [p.message for p in bad if p.message not in record.lines]
        record.problems = record.failed
        if not record.failed:
            ready.append(cid)
    # ``pending`` while billwerk is written; the records with problems get their outcome directly.
    _write(hubspot, "companies", {cid: {STATUS: "pending", MESSAGE: ""} for cid in ready})
    sandbox = is_sandbox_url(account.base_url)
    for cid in ready:
        company, record = companies[cid], records[cid]
        for link in links[cid]:
            values, _ = customer_custom_fields(portal.id, link.entity_id, company, keep_empty=True)

            def plan(current, company=company, cid=cid, values=values):
                patch = company_patch(company, current, cid)
                held = current.get("CustomFields") or {}
                changed = {k: v for k, v in values.items() if held.get(k) != v}
                if changed:
                    patch["CustomFields"] = changed
                problems = dispatch_problems(company, merged(current, patch), cid, sandbox_account=sandbox)
                return patch, [p.message for p in problems]

            sent = _send(account, link, record, plan)
            if values and link.billwerk_customer_id in record.customer_ids:
                remember_sent(portal.id, "company", cid, link.entity_id, values)
                db.session.commit()
            if sent is not None:
                log.info("flow.customer_update.company_sent", extra={"hub_id": portal.hub_id, "company_id": cid,
                                                                    "customer_id": link.billwerk_customer_id, "fields": sorted(sent)})
    return _finish(hubspot, "companies", companies, records, ready, outcomes)


def _finish(hubspot: HubSpotClient, object_type: str, current: dict, records: dict, ready: list[str],
            outcomes: dict[str, Outcome]) -> dict[str, Outcome]:
    """Write each record's final status (one batch update per 100) and give its run's outcome; a status
    HubSpot refused after billwerk was updated makes the run fail retriably."""
    writes = {i: wanted for i, record in records.items()
              if (wanted := _final(current[i] if i not in ready else {STATUS: "pending"}, record))}
    refused = _write(hubspot, object_type, writes)
    for i, record in records.items():
        outcomes[i] = _outcome(record)
        if i in refused and outcomes[i].status == "succeeded" and not outcomes[i].error:
            outcomes[i] = Outcome.failed(f"billwerk is updated, but {refused[i]}; replay the run.", retriable=True)
    return outcomes


# -- contact -> customer ------------------------------------------------------------------------------

def update_customer_from_contact(run: SyncRun) -> dict | None:
    """The run's contact (and every contact waiting with it) -> the customers it is the person of."""
    return _run_batch(run, _contacts)


def _adopt(portal, hubspot: HubSpotClient, batch, links: dict[str, list[CustomerLink]]) -> None:
    """An explicit update (workflow action) of a contact that is nobody's person yet makes it the person
    of the linked companies it is associated with: the customer is then "last updated with" it."""
    asked = [str(r.object_id) for r in batch.runs
             if str(r.object_id) not in links and ((r.params or {}).get("explicit") or (r.params or {}).get("callback_id"))]
    if not asked:
        return
    companies_of = associated(hubspot, "contacts", "companies", asked)
    by_company = CustomerLink.by_companies(portal.id, sorted({str(e["toObjectId"]) for v in companies_of.values() for e in v}))
    for contact_id in asked:
        for entry in companies_of.get(contact_id, []):
            for link in by_company.get(str(entry["toObjectId"]), []):
                link.hubspot_contact_id = contact_id
                links.setdefault(contact_id, []).append(link)
    db.session.commit()


def _contacts(portal, account, hubspot: HubSpotClient, batch) -> dict[str, Outcome]:
    ids = batch.object_ids
    links = CustomerLink.by_contacts(portal.id, ids)
    _adopt(portal, hubspot, batch, links)
    outcomes = {cid: _not_linked(r, f"Contact {cid} is not the person of a billwerk customer.")
                for r in batch.runs if (cid := str(r.object_id)) not in links}
    contacts = properties_by_id(hubspot, "contacts", list(links), tuple(CONTACT_PROPERTIES) + (STATUS, MESSAGE))
    records: dict[str, Record] = {}
    ready: list[str] = []
    for contact_id in links:
        if contact_id not in contacts:
            outcomes[contact_id] = Outcome.skipped(f"Contact {contact_id} no longer exists in HubSpot.")
            continue
        record = records[contact_id] = Record(lines=[p.message for p in contact_problems(contacts[contact_id], contact_id)])
        record.problems = record.failed
        if not record.failed:
            ready.append(contact_id)
    _write(hubspot, "contacts", {i: {STATUS: "pending", MESSAGE: ""} for i in ready})
    for contact_id in ready:
        contact, record = contacts[contact_id], records[contact_id]
        for link in links[contact_id]:
            def plan(current, contact=contact, company_id=link.hubspot_company_id):
                return contact_patch(contact, current, company_id), []

            sent = _send(account, link, record, plan)
            if sent is not None:
                log.info("flow.customer_update.contact_sent", extra={"hub_id": portal.hub_id, "contact_id": contact_id,
                                                                    "customer_id": link.billwerk_customer_id, "fields": sorted(sent)})
    return _finish(hubspot, "contacts", contacts, records, ready, outcomes)


# -- what starts it -----------------------------------------------------------------------------------

def company_changed(portal, event: dict, inbox_id: int) -> bool:
    """A mapped property of a company changed (webhook row); only linked companies have a customer."""
    company_id = str(event["objectId"])
    if CustomerLink.for_company(portal.id, company_id) is None:
        return False
    start_run(FLOW_COMPANY, portal_id=portal.id, object_type="company", object_id=company_id, inbox_event_id=inbox_id)
    return True


def contact_changed(portal, event: dict, inbox_id: int) -> bool:
    """A contact's name, e-mail or phone changed (webhook row); only a customer's person matters."""
    contact_id = str(event["objectId"])
    if not CustomerLink.by_contacts(portal.id, [contact_id]):
        return False
    start_run(FLOW_CONTACT, portal_id=portal.id, object_type="contact", object_id=contact_id, inbox_event_id=inbox_id)
    return True


def _object_of(payload: dict, wanted: str, action: str) -> str:
    obj = payload.get("object") or {}
    object_id = str(obj.get("objectId", ""))
    if not is_id(object_id) or str(obj.get("objectType", "")).upper() != wanted:
        raise HubwerkError(f"{action} runs on a {wanted.lower()} record.", code="bad_object")
    return object_id


def start_from_company(portal, payload: dict, delivery, params: dict) -> SyncRun:
    return start_run(FLOW_COMPANY, portal_id=portal.id, object_type="company",
                     object_id=_object_of(payload, "COMPANY", "update-customer-from-company"),
                     params=dict(params, explicit=True), inbox_event_id=delivery.id, queue="high", coalesce=False)


def start_from_contact(portal, payload: dict, delivery, params: dict) -> SyncRun:
    return start_run(FLOW_CONTACT, portal_id=portal.id, object_type="contact",
                     object_id=_object_of(payload, "CONTACT", "update-customer-from-contact"),
                     params=dict(params, explicit=True), inbox_event_id=delivery.id, queue="high", coalesce=False)


def update_done(run: SyncRun) -> str:
    counts = run.counts or {}
    return "billwerk customer updated" if counts.get("sent") else "The billwerk customer was up to date"


def update_outputs(run: SyncRun) -> dict:
    """The billwerk customer the run's company or contact updates (the first, for several entities)."""
    if run.object_type == "company":
        link = CustomerLink.for_company(run.portal_id, str(run.object_id))
    else:
        link = next(iter(CustomerLink.by_contacts(run.portal_id, [str(run.object_id)]).get(str(run.object_id), [])), None)
    return {"customer_id": link.billwerk_customer_id} if link is not None else {}


class PushUpdate(RunFlow):
    """The company card's ``push-update``: this company alone, now."""

    def params(self, body: dict) -> dict:
        return {"explicit": True, "alone": True}


PUSH_UPDATE = PushUpdate(FLOW_COMPANY, "company", "billwerk customer updated", skipped="Nothing to update",
                         queued="Update queued; refresh in a moment", failed="Update failed")


# -- the cron: failed records are tried again ---------------------------------------------------------

RETRY_FLOW = "retry_failed_customer_updates"
RETRY_LIMIT = 1000


def retry_failed_customer_updates(run: SyncRun) -> dict:
    """Every company and contact whose last customer update failed gets a new run (they batch).
    Idempotent: runs still waiting absorb the new ones."""
    portal, account, hubspot = portal_context(run, "nothing to retry.")
    counts = {}
    for object_type, kind, flow, extra in (("companies", "company", FLOW_COMPANY, [{"propertyName": "billwerk_customer_id", "operator": "HAS_PROPERTY"}]),
                                           ("contacts", "contact", FLOW_CONTACT, [])):
        filters = [{"propertyName": STATUS, "operator": "EQ", "value": "failed"}] + extra
        found = 0
        for record in hubspot.search_all(object_type, [{"filters": filters}], [STATUS], on_cap="stop"):
            start_run(flow, portal_id=portal.id, object_type=kind, object_id=str(record["id"]), queue="low")
            found += 1
            if found >= RETRY_LIMIT:
                break
        counts[object_type] = found
    return counts


def retry_failed_customer_updates_everywhere() -> int:
    """Cron entry point: a retry pass per connected portal."""
    with app_context():
        started = 0
        for portal in db.session.execute(db.select(Portal).where(Portal.status == "active")).scalars():
            if portal.billwerk_account is None:
                continue
            start_run(RETRY_FLOW, portal_id=portal.id, object_type="portal", object_id=str(portal.hub_id), queue="low")
            started += 1
        return started

"""What the company card shows, and its buttons (``ACTIONS``: import, link, unlink, push-update, refresh).

A view costs the connector's database and, when the card does not send the company's properties,
one HubSpot batch read; billwerk only once per link made before customer names were stored."""
from __future__ import annotations

from flask import current_app

from backend.clients.billwerk import client_for
from backend.clients.base import ApiError, NotFound as ApiNotFound
from backend.clients.hubspot import HubSpotClient
from backend.errors import HubwerkError, NotFound
from backend.extensions import db
from backend.flows.records import COMPANY_PROPERTIES
from backend.flows import card_reads
from backend.flows.card_actions import REFRESH, CardAction, RunFlow, carry_out
from backend.jobs.runs import is_stuck
from backend.flows.customer_updates import PUSH_UPDATE
from backend.flows.linking import customer_name, link_company, unlink_company
from backend.mapping.customer import validate_customer
from backend.mapping.problems import record_url
from backend.models import BillwerkAccount, CustomerLink, Portal

IMPORT_FLOWS = ("import_company", "import_customer_for_deal")
STATUS_LABELS = {"not_connected": "billwerk not connected", "ready": "Ready to import", "invalid": "Needs fixing",
                 "pending": "Import running", "imported": "Imported", "linked": "Linked"}


def billwerk_customer_url(base_url: str, customer_id: str) -> str:
    return f"{base_url.rstrip('/')}/#/customers/{customer_id}"


CARD_PROPERTIES = COMPANY_PROPERTIES


def company_properties(portal: Portal, company_id: str, hubspot: HubSpotClient | None = None) -> dict:
    """The company's ``CARD_PROPERTIES`` as HubSpot holds them now: one batch read."""
    found = (hubspot or HubSpotClient(portal)).batch_read("companies", [company_id], CARD_PROPERTIES).results
    if not found:
        raise NotFound(f"Company {company_id} does not exist in HubSpot portal {portal.hub_id}.")
    return found[0].get("properties") or {}


def company_payload(portal: Portal, company_id: str, hubspot: HubSpotClient | None = None, properties: dict | None = None) -> dict:
    """The card's payload. ``properties`` are the company's ``CARD_PROPERTIES`` as the card read them
    on the record page (the signed body, see ``web/cards.py``); without them, one HubSpot batch
    read. The link and its customer's name, the last import run: the connector's database."""
    settings = current_app.config["HUBWERK"]
    company_url = record_url(settings.hubspot_app_base_url, portal.hub_id, "company", company_id)
    account = card_reads.account_of(portal)
    props = properties if properties is not None else company_properties(portal, company_id, hubspot)
    payload = {"company": {"id": str(company_id), "name": props.get("name") or "", "url": company_url},
               "entity": None, "billwerk": None, "errors": [], "lastSync": _last_sync(portal, company_id), "actions": []}
    refresh = {"id": "refresh", "label": "Refresh"}
    if account is None:
        return payload | {"status": "not_connected", "statusLabel": STATUS_LABELS["not_connected"], "actions": [refresh]}
    entity = account.entity((props.get("billwerk_entity") or "").strip() or None)
    if entity is not None:
        payload["entity"] = {"id": entity.entity_id, "name": entity.name}
    link = card_reads.company_link(portal, company_id)
    if link is not None:
        payload["billwerk"] = {"customerId": link.billwerk_customer_id, "customerName": _customer_name(account, link),
                               "url": billwerk_customer_url(account.base_url, link.billwerk_customer_id)}
        status = "linked" if link.origin == "manual" else "imported"
        actions = [{"id": "push-update", "label": "Update billwerk customer"},
                   {"id": "unlink", "label": "Unlink", "confirm": f"Unlink this company from billwerk customer {link.billwerk_customer_id}?"}, refresh]
        return payload | {"status": status, "statusLabel": STATUS_LABELS[status], "actions": actions}
    problems = validate_customer(props, None, company_id=company_id, contact_id=None)
    if entity is None:
        payload["errors"].append({"field": "billwerk_entity", "message": "The company's billwerk entity is not connected", "url": company_url})
    payload["errors"] += [{"field": p.field, "message": p.message, "url": p.url(settings.hubspot_app_base_url, portal.hub_id)} for p in problems]
    running = payload["lastSync"] and payload["lastSync"]["status"] in ("queued", "running")
    status = "pending" if running else ("invalid" if payload["errors"] else "ready")
    actions = [] if running else [{"id": "import", "label": "Import to billwerk"}]
    actions += [{"id": "link", "label": "Link to billwerk customer", "input": "billwerkCustomerId"}, refresh]
    return payload | {"status": status, "statusLabel": STATUS_LABELS[status], "actions": actions}


def _customer_name(account, link) -> str | None:
    """The name stored with the link (``link``: a ``card_reads.company_link`` row). A link made
    before names were stored is read from billwerk once and keeps the name (a customer billwerk no
    longer has keeps its id as the name)."""
    if link.billwerk_customer_name:
        return link.billwerk_customer_name
    stored = db.session.get(CustomerLink, link.id)
    if stored is None:  # unlinked meanwhile
        return None
    if isinstance(account, card_reads.ViewAccount):  # a view's copy has no credentials
        account = db.session.execute(db.select(BillwerkAccount).where(BillwerkAccount.portal_id == link.portal_id)).scalar_one()
    try:
        name = customer_name(client_for(account, link.entity_id).get_customer(link.billwerk_customer_id))
    except ApiNotFound:
        name = link.billwerk_customer_id
    except (ApiError, HubwerkError):
        return None
    stored.billwerk_customer_name = (name or link.billwerk_customer_id)[:255]
    db.session.commit()
    return stored.billwerk_customer_name


def _last_sync(portal: Portal, company_id: str) -> dict | None:
    run = card_reads.last_run(portal, "company", company_id, IMPORT_FLOWS)
    if run is None:
        return None
    if is_stuck(run):  # its process died; the cron marks it failed and retries it
        return {"status": "failed", "at": run.started_at.isoformat(), "message": "Interrupted; it will be retried."}
    return {"status": run.status, "at": (run.finished_at or run.created_at).isoformat(), "message": run.error or ""}


def _link(portal: Portal, company_id: str, body: dict) -> str:
    link_company(portal, company_id, str(body.get("billwerkCustomerId") or ""))
    return "Linked to the billwerk customer"


def _unlink(portal: Portal, company_id: str, body: dict) -> str:
    unlink_company(portal, company_id)
    return "Unlinked"


ACTIONS: dict[str, CardAction | RunFlow] = {
    "import": RunFlow("import_company", "company", "Imported into billwerk", skipped="Nothing to import",
                      queued="Import queued; refresh in a moment", failed="Import failed"),
    "link": CardAction(_link),
    "unlink": CardAction(_unlink),
    "push-update": PUSH_UPDATE,
    "refresh": REFRESH,
}


def company_action(portal: Portal, company_id: str, action: str, body: dict) -> dict:
    return carry_out("company", ACTIONS, company_payload, portal, company_id, action, body)

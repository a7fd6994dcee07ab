"""The database reads of a card view (deal and company card), built once.

Cards are viewed by every rep on every record they open, up to 20 at a time per account, so each
read is one indexed query, prepared at import (no expression building per view), and loads only
what a card shows: the billwerk account with its entities in one query (without its secrets),
the deal's last validation without the order body and billwerk's raw answer.
"""
from __future__ import annotations

from sqlalchemy import bindparam
from sqlalchemy.orm import defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from backend.extensions import db
from backend.models import BillwerkAccount, ContractLink, CustomerLink, ImportCandidate, Portal, SyncRun
from backend.models.deals import DealPreview

RUNS_READ = 20  # the newest runs of a record: enough to show 5 and to see any that is still waiting

_ACCOUNT = (db.select(BillwerkAccount)
            .options(joinedload(BillwerkAccount.entities), defer(BillwerkAccount.client_secret),
                     defer(BillwerkAccount.webhook_password), defer(BillwerkAccount.webhook_events))
            .where(BillwerkAccount.portal_id == bindparam("portal")))
_PREVIEW = (db.select(DealPreview).options(defer(DealPreview.request), defer(DealPreview.response))
            .where(DealPreview.portal_id == bindparam("portal"), DealPreview.hubspot_deal_id == bindparam("deal")))
_CONTRACT_LINK = db.select(ContractLink).where(ContractLink.portal_id == bindparam("portal"),
                                               ContractLink.hubspot_deal_id == bindparam("deal"))
_SEEN_AT_IMPORT = (db.select(ImportCandidate.hubspot_company_id, ImportCandidate.company_name, ImportCandidate.entity_id)
                   .where(ImportCandidate.portal_id == bindparam("portal"), ImportCandidate.hubspot_deal_id == bindparam("deal"))
                   .order_by(ImportCandidate.id.desc()).limit(1))
_CUSTOMER_ID = db.select(CustomerLink.billwerk_customer_id).where(
    CustomerLink.portal_id == bindparam("portal"), CustomerLink.hubspot_company_id == bindparam("company"),
    CustomerLink.entity_id == bindparam("entity"))
# Plain rows of the columns a card shows (no ORM objects: a deal card reads 20 runs per view).
_RUNS = (db.select(SyncRun.id, SyncRun.flow, SyncRun.status, SyncRun.error, SyncRun.created_at, SyncRun.started_at,
                   SyncRun.finished_at)
         .where(SyncRun.portal_id == bindparam("portal"), SyncRun.object_type == bindparam("kind"),
                SyncRun.object_id == bindparam("object"), SyncRun.flow.in_(bindparam("flows", expanding=True)))
         .order_by(SyncRun.id.desc()).limit(RUNS_READ))
_LAST_RUN = _RUNS.limit(1)
_COMPANY_LINK = (db.select(CustomerLink).where(CustomerLink.portal_id == bindparam("portal"),
                                               CustomerLink.hubspot_company_id == bindparam("company"))
                 .order_by(CustomerLink.id).limit(1))


def billwerk_account(portal: Portal) -> BillwerkAccount | None:
    """``portal.billwerk_account`` with its entities, in one query; kept on ``portal``, so later
    uses in this request ask nothing more."""
    account = db.session.execute(_ACCOUNT, {"portal": portal.id}).unique().scalar_one_or_none()
    set_committed_value(portal, "billwerk_account", account)
    return account


def deal_preview(portal: Portal, deal_id: str) -> DealPreview | None:
    return db.session.execute(_PREVIEW, {"portal": portal.id, "deal": str(deal_id)}).scalar_one_or_none()


def contract_link(portal: Portal, deal_id: str) -> ContractLink | None:
    return db.session.execute(_CONTRACT_LINK, {"portal": portal.id, "deal": str(deal_id)}).scalar_one_or_none()


def seen_at_import(portal: Portal, deal_id: str) -> tuple[str, str | None, str | None] | None:
    """(company id, company name, entity id) of the deal's company as the customer import last saw it."""
    row = db.session.execute(_SEEN_AT_IMPORT, {"portal": portal.id, "deal": str(deal_id)}).first()
    return tuple(row) if row is not None else None


def linked_customer_id(portal: Portal, company_id: str, entity_id: str) -> str | None:
    return db.session.execute(_CUSTOMER_ID, {"portal": portal.id, "company": str(company_id), "entity": entity_id}).scalar_one_or_none()


def recent_runs(portal: Portal, object_type: str, object_id: str, flows) -> list:
    """The record's newest runs of ``flows``, newest first: rows with a run's ``id``, ``flow``,
    ``status``, ``error`` and times (read-only, as a card shows them)."""
    return list(db.session.execute(_RUNS, {"portal": portal.id, "kind": object_type, "object": str(object_id),
                                           "flows": list(flows)}))


def last_run(portal: Portal, object_type: str, object_id: str, flows):
    return db.session.execute(_LAST_RUN, {"portal": portal.id, "kind": object_type, "object": str(object_id),
                                          "flows": list(flows)}).first()


def company_link(portal: Portal, company_id: str) -> CustomerLink | None:
    """The company's customer link in any entity (``CustomerLink.for_company`` without an entity)."""
    return db.session.execute(_COMPANY_LINK, {"portal": portal.id, "company": str(company_id)}).scalar_one_or_none()

"""The database reads of a card view (deal and company card), built once.

Cards are viewed by every rep on every record they open, up to 20 at a time per account, so each
read is one indexed query, prepared at import (no expression building per view), and loads only
what a card shows: the billwerk account with its entities in one query (without its secrets),
the deal's last validation without the order body and billwerk's raw answer.

A view's portal and billwerk account (:func:`view_portal`) are kept by each process as plain values
while the generation in Redis is unchanged (read in the round trip that checks the view's signature,
``web/inbound._first_use_redis``): every commit that changes a portal, a billwerk account or an
entity, in any process, moves it on (:func:`_note_changes`), and ``VIEW_MEMO_S`` bounds the rest
(changes made by bulk statements). A deal card view then costs two queries: the deal's own rows
(:func:`deal_rows`) and its runs.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, has_app_context
from redis.exceptions import RedisError
from sqlalchemy import bindparam, event, func, literal_column, or_
from sqlalchemy.orm import Session, aliased, defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from backend.extensions import db
from backend.models.billwerk import pick_entity
from backend.models import BillwerkAccount, BillwerkEntity, ContractLink, CustomerLink, ImportCandidate, Portal, SyncRun
from backend.models.deals import DealPreview

log = logging.getLogger(__name__)

RUNS_READ = 20  # the newest runs of a record: enough to show 5 and to see any that is still waiting

_ACCOUNT = (db.select(BillwerkAccount)
            .options(joinedload(BillwerkAccount.entities), defer(BillwerkAccount.client_secret),
                     defer(BillwerkAccount.webhook_password), defer(BillwerkAccount.webhook_events))
            .where(BillwerkAccount.portal_id == bindparam("portal")))
_SEEN_AT_IMPORT = (db.select(ImportCandidate.hubspot_company_id, ImportCandidate.company_name, ImportCandidate.entity_id)
                   .where(ImportCandidate.portal_id == bindparam("portal"), ImportCandidate.hubspot_deal_id == bindparam("deal"))
                   .order_by(ImportCandidate.id.desc()).limit(1))
_CUSTOMER_ID = db.select(CustomerLink.billwerk_customer_id).where(
    CustomerLink.portal_id == bindparam("portal"), CustomerLink.hubspot_company_id == bindparam("company"),
    CustomerLink.entity_id == bindparam("entity"))
# Plain rows of the columns a card shows (no ORM objects: a deal card reads 20 runs per view).
_RUNS_OF: dict[tuple[str, ...], object] = {}


def _runs_statement(flows) -> object:
    """The newest runs of a record among ``flows``: one statement per set of flows (a card has one),
    built on first use. The flows are bound one by one: an IN list would be rendered anew per view."""
    flows = tuple(flows)
    statement = _RUNS_OF.get(flows)
    if statement is None:
        statement = (db.select(SyncRun.id, SyncRun.flow, SyncRun.status, SyncRun.error, SyncRun.created_at,
                               SyncRun.started_at, SyncRun.finished_at)
                     .where(SyncRun.portal_id == bindparam("portal"), SyncRun.object_type == bindparam("kind"),
                            SyncRun.object_id == bindparam("object"), or_(*(SyncRun.flow == flow for flow in flows)))
                     .order_by(SyncRun.id.desc()).limit(bindparam("limit")))  # recent_runs and last_run: one compiled form
        _RUNS_OF[flows] = statement
    return statement


_COMPANY_LINK = (db.select(CustomerLink.id, CustomerLink.portal_id, CustomerLink.entity_id, CustomerLink.billwerk_customer_id,
                           CustomerLink.billwerk_customer_name, CustomerLink.origin)
                 .where(CustomerLink.portal_id == bindparam("portal"), CustomerLink.hubspot_company_id == bindparam("company"))
                 .order_by(CustomerLink.id).limit(1))


def _core(statement, params: dict):
    """A read of plain columns on the session's connection (its transaction, no ORM result
    processing: about a third of a small query's cost in Python)."""
    return db.session.connection().execute(statement, params)


def billwerk_account(portal: Portal) -> BillwerkAccount | None:
    """``portal.billwerk_account`` with its entities, in one query; kept on ``portal``, so later
    uses in this request ask nothing more."""
    account = db.session.execute(_ACCOUNT, {"portal": portal.id}).unique().scalar_one_or_none()
    set_committed_value(portal, "billwerk_account", account)
    return account


def seen_at_import(portal: Portal, deal_id: str) -> tuple[str, str | None, str | None] | None:
    """(company id, company name, entity id) of the deal's company as the customer import last saw it."""
    row = _core(_SEEN_AT_IMPORT, {"portal": portal.id, "deal": str(deal_id)}).first()
    return tuple(row) if row is not None else None


def linked_customer_id(portal: Portal, company_id: str, entity_id: str) -> str | None:
    return _core(_CUSTOMER_ID, {"portal": portal.id, "company": str(company_id), "entity": entity_id}).scalar_one_or_none()


def recent_runs(portal: Portal, object_type: str, object_id: str, flows) -> list:
    """The record's newest runs of ``flows``, newest first: rows with a run's ``id``, ``flow``,
    ``status``, ``error`` and times (read-only, as a card shows them)."""
    return list(_core(_runs_statement(flows), {"portal": portal.id, "kind": object_type, "object": str(object_id),
                                               "limit": RUNS_READ}))


def last_run(portal: Portal, object_type: str, object_id: str, flows):
    return _core(_runs_statement(flows), {"portal": portal.id, "kind": object_type, "object": str(object_id),
                                          "limit": 1}).first()


def company_link(portal: Portal, company_id: str):
    """The company's customer link in any entity (``CustomerLink.for_company`` without an entity), as
    a row of the columns the card shows: ``id``, ``portal_id``, ``entity_id``, ``billwerk_customer_id``,
    ``billwerk_customer_name``, ``origin``."""
    return _core(_COMPANY_LINK, {"portal": portal.id, "company": str(company_id)}).first()


# -- a view's portal and account, kept per process -------------------------------------------------------

VIEW_MEMO_S = 5.0
VIEW_GENERATION_KEY = "hubwerk:card-view-generation"


@dataclass(frozen=True)
class ViewEntity:
    entity_id: str
    name: str


@dataclass(frozen=True)
class ViewAccount:
    """What a card shows of the billwerk account: no credentials, no keys."""

    base_url: str
    entities: tuple[ViewEntity, ...]  # root entity first

    @property
    def root_entity(self) -> ViewEntity | None:
        return self.entities[0] if self.entities else None

    def entity(self, entity_id: str | None) -> ViewEntity | None:
        """``BillwerkAccount.entity``: the entity with this id; ``None``/empty means the root entity."""
        return pick_entity(self.entities, entity_id)


@dataclass(frozen=True)
class ViewPortal:
    """The columns of a ``Portal`` a card view uses (``HubSpotClient`` takes it: it needs the id)."""

    id: int
    hub_id: int
    status: str
    installed_at: datetime | None
    closed_won_stages: tuple[str, ...]
    account: ViewAccount | None


_VIEW_PORTAL = (db.select(Portal.id, Portal.hub_id, Portal.status, Portal.installed_at, Portal.closed_won_stages,
                          BillwerkAccount.id.label("account_id"), BillwerkAccount.base_url, BillwerkEntity.entity_id,
                          BillwerkEntity.name)
                .outerjoin(BillwerkAccount, BillwerkAccount.portal_id == Portal.id)
                .outerjoin(BillwerkEntity, BillwerkEntity.account_id == BillwerkAccount.id)
                .where(Portal.hub_id == bindparam("hub_id"))
                .order_by(BillwerkEntity.position))
_memo: dict[int, tuple[bytes, float, ViewPortal]] = {}
_memo_lock = threading.Lock()


def read_view_portal(hub_id: int) -> ViewPortal | None:
    """The portal and its billwerk account in one query of plain columns."""
    rows = _core(_VIEW_PORTAL, {"hub_id": int(hub_id)}).all()
    if not rows:
        return None
    first = rows[0]
    account = None
    if first.account_id is not None:
        account = ViewAccount(first.base_url, tuple(ViewEntity(r.entity_id, r.name) for r in rows if r.entity_id is not None))
    return ViewPortal(first.id, first.hub_id, first.status, first.installed_at, tuple(first.closed_won_stages or ()), account)


def view_portal(hub_id: int, generation: bytes | None) -> ViewPortal | None:
    """``read_view_portal``, kept by this process while ``generation`` (Redis) is unchanged, for
    ``VIEW_MEMO_S`` at most; ``generation`` ``None`` (Redis did not answer): always read."""
    now = time.monotonic()
    kept = _memo.get(hub_id) if generation is not None else None
    if kept is not None and kept[0] == generation and kept[1] > now:
        return kept[2]
    portal = read_view_portal(hub_id)
    if portal is not None and generation is not None:
        with _memo_lock:
            if len(_memo) > 10_000:
                _memo.clear()
            _memo[hub_id] = (generation, now + VIEW_MEMO_S, portal)
    return portal


def forget_view_portals() -> None:
    with _memo_lock:
        _memo.clear()


_WATCHED = (Portal, BillwerkAccount, BillwerkEntity)


@event.listens_for(Session, "after_flush")
def _note_changes(session, _context) -> None:
    if any(isinstance(obj, _WATCHED) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info["hubwerk.view_changed"] = True


@event.listens_for(Session, "after_commit")
def _move_generation(session) -> None:
    """A committed change to a portal, account or entity: every process's views read again."""
    if not session.info.pop("hubwerk.view_changed", False):
        return
    forget_view_portals()
    if not has_app_context():
        return
    try:
        current_app.extensions["hubwerk.redis"]().incr(VIEW_GENERATION_KEY)
    except (RedisError, OSError) as exc:  # the views' memo ends after VIEW_MEMO_S anyway
        log.warning("cards.view_generation.unavailable", extra={"error": str(exc)})


@event.listens_for(Session, "after_rollback")
def _drop_changes(session) -> None:
    session.info.pop("hubwerk.view_changed", None)


def account_of(portal) -> "ViewAccount | BillwerkAccount | None":
    """The portal's billwerk account as a card shows it: kept on a view's portal, read for a ``Portal``."""
    return portal.account if isinstance(portal, ViewPortal) else billwerk_account(portal)


# -- a deal card's own rows in one query ---------------------------------------------------------------------

_P = aliased(DealPreview)
_L = aliased(ContractLink)
_C = aliased(CustomerLink)
_ONE = db.select(literal_column("1").label("one")).subquery()
_DEAL_ROWS = (db.select(_P.id.label("p_id"), _P.entity_id.label("p_entity_id"), _P.hubspot_company_id.label("p_company_id"),
                        _P.company_name.label("p_company_name"), _P.status.label("p_status"), _P.problems.label("p_problems"),
                        _P.shown.label("p_shown"),
                        _L.id.label("l_id"), _L.entity_id.label("l_entity_id"), _L.billwerk_contract_id.label("l_contract_id"),
                        _L.billwerk_customer_id.label("l_customer_id"), _L.billwerk_order_id.label("l_order_id"),
                        _L.origin_deal_id.label("l_origin_deal_id"), _L.sync_stopped.label("l_sync_stopped"),
                        _L.updated_at.label("l_updated_at"),
                        _C.billwerk_customer_id.label("c_customer_id"))
              .select_from(_ONE)
              .outerjoin(_P, (_P.portal_id == bindparam("portal")) & (_P.hubspot_deal_id == bindparam("deal")))
              .outerjoin(_L, (_L.portal_id == bindparam("portal")) & (_L.hubspot_deal_id == bindparam("deal")))
              .outerjoin(_C, (_C.portal_id == bindparam("portal")) & (_C.hubspot_company_id == _P.hubspot_company_id)
                         & (_C.entity_id == func.coalesce(func.nullif(_P.entity_id, ""), bindparam("root_entity")))))


@dataclass(frozen=True)
class PreviewView:
    entity_id: str | None
    hubspot_company_id: str | None
    company_name: str | None
    status: str
    problems: list
    shown: dict | None


@dataclass(frozen=True)
class LinkView:
    entity_id: str
    billwerk_contract_id: str
    billwerk_customer_id: str | None
    billwerk_order_id: str | None
    origin_deal_id: str | None
    sync_stopped: bool
    updated_at: datetime | None


@dataclass(frozen=True)
class DealRows:
    preview: PreviewView | None   # the deal's last validation (DealPreview's card columns)
    link: LinkView | None         # its contract link
    customer_id: str | None       # the billwerk customer linked to the validated company (in its entity)


def deal_rows(portal, deal_id: str, root_entity: str | None) -> DealRows:
    """The deal's last validation, its contract link and the customer linked to the validated
    company, in one query (``root_entity``: the company's entity when the validation names none)."""
    r = _core(_DEAL_ROWS, {"portal": portal.id, "deal": str(deal_id), "root_entity": root_entity or ""}).first()
    preview = link = None
    if r is not None and r.p_id is not None:
        preview = PreviewView(r.p_entity_id, r.p_company_id, r.p_company_name, r.p_status, r.p_problems or [], r.p_shown)
    if r is not None and r.l_id is not None:
        link = LinkView(r.l_entity_id, r.l_contract_id, r.l_customer_id, r.l_order_id, r.l_origin_deal_id,
                        bool(r.l_sync_stopped), r.l_updated_at)
    return DealRows(preview, link, r.c_customer_id if r is not None else None)

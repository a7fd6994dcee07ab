"""Applying a deal in billwerk exactly once: one order per deal, whatever the number of
triggers, retries, workers and crashes.

billwerk orders are created (``POST /orders`` -> ``InProgress``) and then committed
(``POST /orders/{id}/commit`` -> the contract); neither call is idempotent. So the deal's
:class:`~backend.models.deals.DealOrder` row exists before the first call, and every step is
committed to the database before the next call goes out:

1. ``creating`` — the order is being created. A crash here leaves at most an ``InProgress``
   order in billwerk; the next attempt first looks for it (same customer or contract, same plan
   variant, created since) and adopts it instead of creating another.
2. ``created`` — the order id is stored. From here on the same order is committed, never a new
   one created. (Should the cart change before the commit, the stale order is deleted in billwerk
   and the row starts over.)
3. ``committing`` — the commit is under way. A crash or a lost answer here is resolved by reading
   the order: ``Completed`` means it went through; otherwise it is committed again.
4. ``committed`` — billwerk executed the order; later attempts only write the ids back.

Both order kinds use it: a signup (contract creation) and an up-/downgrade (its execution); the
caller builds the order body and says what kind it is.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from flask import current_app
from sqlalchemy.exc import IntegrityError

from backend.clients.base import ApiError, Conflict, NotFound as ApiNotFound
from backend.clients.billwerk import client_for
from backend.errors import FlowError
from backend.extensions import db
from backend.models import BillwerkAccount, Portal, utcnow
from backend.models.deals import DealOrder

log = logging.getLogger(__name__)

ORDER_LOCK_S = 10 * 60


@dataclass
class Applied:
    order: DealOrder
    contract: dict | None = None      # billwerk's answer to the commit (when this attempt committed)

    @property
    def contract_id(self) -> str | None:
        return self.order.billwerk_contract_id

    @property
    def customer_id(self) -> str | None:
        return self.order.billwerk_customer_id

    @property
    def order_id(self) -> str | None:
        return self.order.billwerk_order_id


# What the rep reads an order kind as, in messages.
_WHAT = {"signup": "contract creation", "upgrade": "up-/downgrade"}


class ApplyRefused(FlowError):
    """billwerk refused the order (422 and the like): the rep has to change something."""


def order_of(portal: Portal, deal_id: str) -> DealOrder | None:
    return db.session.execute(db.select(DealOrder).where(DealOrder.portal_id == portal.id,
                                                         DealOrder.hubspot_deal_id == str(deal_id))).scalar_one_or_none()


def _row(portal: Portal, deal_id: str, kind: str, entity_id: str) -> DealOrder:
    row = order_of(portal, deal_id)
    if row is not None:
        return row
    db.session.add(DealOrder(portal_id=portal.id, hubspot_deal_id=str(deal_id), kind=kind, entity_id=entity_id, status="new"))
    try:
        db.session.commit()
    except IntegrityError:  # another worker made it first: use theirs
        db.session.rollback()
    return order_of(portal, deal_id)


def _save(row: DealOrder, **changes) -> None:
    for key, value in changes.items():
        setattr(row, key, value)
    db.session.commit()


def order_lock(portal: Portal, deal_id: str):
    redis = current_app.extensions["hubwerk.redis"]()
    return redis.lock(f"hubwerk:lock:deal-order:{portal.id}:{deal_id}", timeout=ORDER_LOCK_S, blocking_timeout=ORDER_LOCK_S)


def apply_order(portal: Portal, account: BillwerkAccount, *, deal_id: str, kind: str, entity_id: str, cart_hash: str,
                build: Callable[[], dict]) -> Applied:
    """Create and commit the deal's one order (``build()`` gives its body), or find where an
    earlier attempt stopped and finish from there. Raises :class:`ApplyRefused` when billwerk
    refuses the order, a retriable :class:`FlowError` when billwerk cannot be reached."""
    with order_lock(portal, deal_id):
        row = _row(portal, deal_id, kind, entity_id)
        if row.status in ("committed", "written_back"):
            return Applied(row)
        billwerk = client_for(account, row.entity_id)
        try:
            if row.status == "created" and row.cart_hash != cart_hash:
                _drop_stale(billwerk, row)
            if row.status == "committing":
                _settle_commit(billwerk, row)
                if row.status == "committed":
                    return Applied(row)
            if row.status in ("new", "creating"):
                _create(billwerk, row, cart_hash, build)
            return _commit(billwerk, row)
        except ApplyRefused:
            raise
        except ApiError as exc:
            if exc.retriable:
                _save(row, error=exc.message)
                raise FlowError(f"billwerk is not answering properly ({exc.message}); the {_WHAT[kind]} will be retried.",
                                retriable=True) from None
            _save(row, error=exc.provider_message or exc.message)
            raise ApplyRefused(f"billwerk refused the order: {(exc.provider_message or exc.message).rstrip('.')}") from None


def _create(billwerk, row: DealOrder, cart_hash: str, build: Callable[[], dict]) -> None:
    body = build()
    if row.status == "creating":
        adopted = _adopt(billwerk, row, body)
        if adopted is not None:
            _created(row, adopted)
            log.info("flow.deal_order.adopted", extra={"deal_id": row.hubspot_deal_id, "order_id": row.billwerk_order_id})
            return
    _save(row, status="creating", request=body, cart_hash=cart_hash, error=None)
    try:
        order = billwerk.create_order(body)
    except ApiError as exc:
        if not exc.retriable:  # refused: nothing was created, the next attempt starts clean
            _save(row, status="new")
        raise
    _created(row, order)
    log.info("flow.deal_order.created", extra={"deal_id": row.hubspot_deal_id, "order_id": row.billwerk_order_id})


def _created(row: DealOrder, order: dict) -> None:
    _save(row, status="created", billwerk_order_id=order.get("Id"), billwerk_customer_id=order.get("CustomerId"),
          billwerk_contract_id=order.get("ContractId"))


def _adopt(billwerk, row: DealOrder, body: dict) -> dict | None:
    """An ``InProgress`` order an attempt created before it died (before storing the id)."""
    since = (row.updated_at or row.created_at) - timedelta(minutes=5)
    wanted_plan = (body.get("Cart") or {}).get("PlanVariantId")
    for order in billwerk.iter_all("/orders", {"status": "InProgress", "dateFrom": since.date().isoformat()}):
        same_party = (body.get("ContractId") and order.get("ContractId") == body["ContractId"]) or \
                     (body.get("CustomerId") and order.get("CustomerId") == body["CustomerId"])
        if same_party and order.get("PlanVariantId") == wanted_plan:
            return order
    return None


def _drop_stale(billwerk, row: DealOrder) -> None:
    """The cart changed after the order was created and before it was committed: that order must
    never be committed; a new one is created from the current cart."""
    try:
        billwerk.request("DELETE", f"/orders/{row.billwerk_order_id}", expected=(200, 204, 404))
    except Conflict:  # not in progress any more: it was committed after all
        _settle_commit(billwerk, row)
        return
    _save(row, status="new", billwerk_order_id=None, billwerk_contract_id=None, billwerk_customer_id=None)


def _settle_commit(billwerk, row: DealOrder) -> None:
    """Did the commit that was under way go through? Read the order instead of guessing."""
    try:
        order = billwerk.get_order(row.billwerk_order_id)
    except ApiNotFound:
        _save(row, status="new", billwerk_order_id=None)
        return
    if order.get("Status") == "Completed":
        _save(row, status="committed", committed_at=utcnow(), billwerk_contract_id=order.get("ContractId") or row.billwerk_contract_id,
              billwerk_customer_id=order.get("CustomerId") or row.billwerk_customer_id, error=None)
    else:
        _save(row, status="created")


def _commit(billwerk, row: DealOrder) -> Applied:
    _save(row, status="committing")
    try:
        contract = billwerk.commit_order(row.billwerk_order_id)
    except Conflict:  # billwerk says it is not in progress: committed by an attempt whose answer was lost
        _settle_commit(billwerk, row)
        if row.status == "committed":
            return Applied(row)
        raise
    except ApiError as exc:
        if exc.retriable:  # maybe executed, maybe not: the next attempt reads the order first
            raise
        _save(row, status="created")
        raise
    _save(row, status="committed", committed_at=utcnow(), error=None,
          billwerk_contract_id=contract.get("Id") or row.billwerk_contract_id,
          billwerk_customer_id=contract.get("CustomerId") or row.billwerk_customer_id)
    log.info("flow.deal_order.committed", extra={"deal_id": row.hubspot_deal_id, "order_id": row.billwerk_order_id,
                                                 "contract_id": row.billwerk_contract_id})
    return Applied(row, contract)


def discard_refused(portal: Portal, account: BillwerkAccount, deal_id: str) -> None:
    """billwerk refused to commit the deal's order: delete it in billwerk, so the next request
    builds the order anew from the deal (and, for an up-/downgrade, the contract) as they are then
    instead of committing the refused one again. A delete billwerk does not take leaves the order
    to the next attempt, which commits or drops it."""
    with order_lock(portal, deal_id):
        row = order_of(portal, deal_id)
        if row is None or row.status != "created" or not row.billwerk_order_id:
            return
        try:
            _drop_stale(client_for(account, row.entity_id), row)
        except ApiError as exc:
            log.warning("flow.deal_order.not_discarded", extra={"deal_id": deal_id, "order_id": row.billwerk_order_id,
                                                              "error": exc.message})


def mark_written_back(row: DealOrder) -> None:
    _save(row, status="written_back")

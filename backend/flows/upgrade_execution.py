"""Executing an up-/downgrade: an upgrade deal that is closed-won and has ``billwerk_apply_changes``
= ``request`` (whichever happens last), or whose card button ``execute-upgrade`` / workflow action
``execute-upgrade`` asks for it, commits its upgrade order for the origin deal's contract.

Only a valid deal whose cart is still the validated one is applied; any other deal is validated
first (billwerk's preview) and applied only if valid. The order is built from the contract as it is
at that moment (:mod:`backend.mapping.upgrade_order`) and created and committed exactly once by
:func:`~backend.flows.deal_orders.apply_order` (the deal's ``DealOrder`` row, whatever repeats or
dies). Then the contract moves:

* the origin deal's contract link gets ``sync_stopped`` and the origin deal
  ``billwerk_sync_stopped`` = true; it keeps the properties of its last update and is written no more;
* the upgrade deal gets its own link (``origin_deal_id`` = the origin) — the one billwerk's contract
  updates write to from now on — and the contract id, customer id, order id,
  ``billwerk_apply_changes`` = ``applied`` and every contract property of
  :mod:`backend.mapping.contract_updates` (the escalation flag and last invoice carried over from
  the origin deal, which had them from the same contract).

A refused order is ``failed`` with ``billwerk_apply_message`` on the deal and deleted in billwerk;
requesting again builds it anew from the deal and the contract as they are then. An upgrade deal of an upgrade deal works the same way: its origin is the deal that holds the
contract, and the contract moves once more.
"""
from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from backend.clients.base import ApiError
from backend.clients.billwerk import client_for
from backend.errors import FlowError
from backend.extensions import db
from backend.flows.batches import Outcome, batch_of
from backend.flows.context import portal_context
from backend.flows.contract_creation import (AGAIN, admit_checked, applied_properties, contract_link, failed_properties,
                                             requested_now)
from backend.flows.deal_orders import ApplyRefused, apply_order, discard_refused, mark_written_back, order_of
from backend.flows.deals import Deal, load_deals, preview_of, write_deals
from backend.flows.records import properties_by_id
from backend.flows.upgrade_validation import NOTHING_CHANGES, check_upgrade, order_now, origin_problem, read_contract
from backend.mapping.contract_updates import HookError, billing_facts, deal_properties
from backend.mapping.dates import parse_hubspot_date, to_billwerk_datetime
from backend.mapping.problems import Problem
from backend.models import ContractLink, SyncRun
from backend.setup.stages import closed_won_stages

log = logging.getLogger(__name__)

FLOW = "execute_upgrade"
CARRIED_OVER = ("billwerk_payment_escalated", "billwerk_last_invoice_id")


def execute_upgrade(run: SyncRun) -> dict | None:
    """Execute the run's up-/downgrade, and with it every execution waiting in the queue."""
    portal, account, hubspot = portal_context(run, "up-/downgrades cannot be executed yet.")
    with batch_of(run) as batch:
        explicit = {str(r.object_id) for r in batch.runs if (r.params or {}).get("explicit")}
        change_dates = {str(r.object_id): (r.params or {}).get("change_date") for r in batch.runs
                        if (r.params or {}).get("change_date")}
        deals = load_deals(portal, account, hubspot, batch.object_ids)
        won = closed_won_stages(portal, hubspot)
        outcomes: dict[str, Outcome] = {}
        writes: dict[str, dict] = {}
        ready: list[Deal] = []
        catalogues: dict = {}
        for deal_id in batch.object_ids:
            deal = deals.get(deal_id)
            if deal is None:
                outcomes[deal_id] = Outcome.skipped(f"Deal {deal_id} no longer exists.")
                continue
            if deal_id in change_dates:
                _set_change_date(deal, change_dates[deal_id])
            outcome = _admit(portal, account, deal, deal_id in explicit, won, writes, catalogues)
            if outcome is None:
                ready.append(deal)
            else:
                outcomes[deal_id] = outcome
        origins = _origin_properties(hubspot, ready)
        moved = []
        for deal in ready:
            outcomes[deal.id], link = _execute(portal, account, deal, origins, writes)
            if link is not None:
                moved.append(deal.id)
        refused = write_deals(hubspot, writes)
        for deal_id in moved:
            origin_id = contract_link(portal, deal_id).origin_deal_id
            why = refused.get(deal_id) or refused.get(origin_id or "")
            if why:
                outcomes[deal_id] = Outcome.failed(f"The up-/downgrade is executed in billwerk, but {why}; replay the run "
                                                   "to write it again.", retriable=True)
            elif (row := order_of(portal, deal_id)) is not None and row.status == "committed":
                mark_written_back(row)
        return batch.finish(outcomes)


def _set_change_date(deal: Deal, value) -> None:
    """The workflow action's ``change_date`` input replaces ``billwerk_start_date`` for this run."""
    try:
        day = parse_hubspot_date(value)
    except ValueError:
        deal.cart.problems.append(Problem("billwerk_start_date", f"Change date '{value}' is not a date", "deal", deal.id))
        return
    if day is not None:
        deal.cart.start_date = to_billwerk_datetime(day)


def _admit(portal, account, deal: Deal, explicit: bool, won: set[str], writes: dict, catalogues: dict) -> Outcome | None:
    """Whether the deal is to be executed now (``None``), else how its run ends."""
    props = deal.props
    link = contract_link(portal, deal.id)
    if link is not None and not link.sync_stopped:   # executed before: repair HubSpot if it does not say so
        wanted = applied_properties(link)
        if any((props.get(k) or "") != v for k, v in wanted.items()):
            writes[deal.id] = wanted
            if link.origin_deal_id:
                writes.setdefault(link.origin_deal_id, {})["billwerk_sync_stopped"] = "true"
        return Outcome.ok(already_applied=1, contract_id=link.billwerk_contract_id)
    if deal.cart.deal_type != "upgrade":
        return Outcome.skipped("Only an up-/downgrade deal is executed; a signup deal's contract is created "
                               "(use Create contract).")
    if (props.get("billwerk_sync_stopped") or "").lower() == "true" or (link is not None and link.sync_stopped):
        return Outcome.skipped("The contract moved to a newer up-/downgrade deal; this deal is not executed any more.")
    if not explicit and (waiting := requested_now(portal, deal, won, "the up-/downgrade is executed")) is not None:
        return waiting
    order = order_of(portal, deal.id)
    if order is not None and order.status in ("committed", "committing", "created"):
        return None   # an order is under way: finish it, never start a second one
    moved = origin_problem(portal, deal)
    if moved is not None:
        message = f"{moved.message}."
        writes[deal.id] = failed_properties(message)
        return Outcome.failed(message)
    row = preview_of(portal, deal.id)
    if row is not None and row.status == "valid" and row.cart_hash == deal.hash:
        return None
    checked = check_upgrade(portal, account, deal, catalogues)   # not validated, or changed since: validate first
    return admit_checked(portal, deal, checked, "the up-/downgrade", writes)


def _origin_properties(hubspot, deals: list[Deal]) -> dict[str, dict]:
    origins = {(d.props.get("billwerk_origin_deal_id") or "").strip() for d in deals} - {""}
    return properties_by_id(hubspot, "deals", origins, CARRIED_OVER) if origins else {}


def _execute(portal, account, deal: Deal, origins: dict, writes: dict) -> tuple[Outcome, ContractLink | None]:
    cart = deal.cart
    billwerk = client_for(account, cart.entity_id)

    def build() -> dict:
        # The contract as it is now: what to end and add is decided against it, not the validation's copy.
        planned = order_now(deal, read_contract(billwerk, cart.contract_id, with_discounts=bool(cart.discounts)))
        if planned.change.empty:
            raise ApplyRefused(NOTHING_CHANGES)
        return planned.order

    try:
        applied = apply_order(portal, account, deal_id=deal.id, kind="upgrade", entity_id=cart.entity_id, cart_hash=deal.hash,
                              build=build)
        contract = billwerk.get_contract(applied.contract_id or cart.contract_id)
    except ApplyRefused as exc:
        discard_refused(portal, account, deal.id)
        message = f"{exc.message}. Change the deal, {AGAIN}."
        writes[deal.id] = failed_properties(message)
        return Outcome.failed(message), None
    except FlowError as exc:
        return Outcome.failed(exc.message, retriable=exc.retriable), None
    except ApiError as exc:
        return Outcome.failed(f"The up-/downgrade is committed, but billwerk did not answer the contract ({exc.message}); "
                              "it will be retried.", retriable=True), None
    link = _move(portal, deal, applied)
    origin = origins.get(link.origin_deal_id or "") or {}
    values = applied_properties(link)
    try:
        values |= deal_properties(billing_facts(contract), escalated=(origin.get("billwerk_payment_escalated") or "") == "true",
                                  last_invoice_id=origin.get("billwerk_last_invoice_id") or None)
    except HookError:
        pass
    writes[deal.id] = writes.get(deal.id, {}) | values
    if link.origin_deal_id:
        writes.setdefault(link.origin_deal_id, {})["billwerk_sync_stopped"] = "true"
    log.info("flow.upgrade.executed", extra={"hub_id": portal.hub_id, "deal_id": deal.id, "origin_deal_id": link.origin_deal_id,
                                             "contract_id": link.billwerk_contract_id, "order_id": link.billwerk_order_id})
    return Outcome.ok(applied=1, contract_id=link.billwerk_contract_id, order_id=link.billwerk_order_id), link


def _move(portal, deal: Deal, applied) -> ContractLink:
    """The contract moves to the upgrade deal: the origin's link stops, the deal gets its own
    (one commit, so a crash leaves either both or neither)."""
    link = contract_link(portal, deal.id)
    if link is not None:
        return link
    origin_id = (deal.props.get("billwerk_origin_deal_id") or "").strip()
    origin = contract_link(portal, origin_id) if origin_id else None
    link = ContractLink(portal_id=portal.id, entity_id=origin.entity_id if origin else applied.order.entity_id,
                        hubspot_deal_id=deal.id, billwerk_contract_id=applied.contract_id or deal.cart.contract_id,
                        billwerk_customer_id=applied.customer_id or (origin.billwerk_customer_id if origin else None),
                        billwerk_order_id=applied.order_id, origin_deal_id=origin_id or None)
    db.session.add(link)
    if origin is not None:
        origin.sync_stopped = True
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        link = contract_link(portal, deal.id)
    return link

"""Contract creation: a signup deal that is closed-won and has ``billwerk_apply_changes`` =
``request`` (whichever of the two happens last), or whose card button / workflow action asks
for it, becomes a billwerk contract — and its company a billwerk customer when it is not one yet.

Only a valid deal whose cart is still the validated one is applied; any other deal is validated
first (billwerk's preview) and applied only if valid. The customer comes from the import flow's
find-or-create-and-link (never a second customer for a company), the order from
:func:`~backend.flows.deal_orders.apply_order` (one order per deal, whatever happens), and the
deal gets ``billwerk_customer_id``, ``billwerk_contract_id``, ``billwerk_order_id`` and
``billwerk_apply_changes`` = ``applied`` — or ``failed`` with ``billwerk_apply_message`` saying
what to do. The contract link it stores is how billwerk's contract updates find the deal.

Idempotent on the deal: a deal that has its contract is only written back.
"""
from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from backend.errors import FlowError
from backend.extensions import db
from backend.flows.batches import Outcome, batch_of
from backend.flows.context import portal_context
from backend.flows.customer_import import import_prepared
from backend.flows.deal_orders import ApplyRefused, apply_order, mark_written_back, order_of
from backend.flows.deals import Deal, check_cart, load_deals, preview_of, store_check, validation_properties, write_deals
from backend.flows.records import Prepared
from backend.jobs.runs import start_run
from backend.mapping.deal_cart import build_signup_order
from backend.models import ContractLink, SyncRun, utcnow
from backend.models.deals import DealOrder
from backend.setup.stages import closed_won_stages

log = logging.getLogger(__name__)

FLOW = "create_contract"
SIGNUP_TYPES = ("signup", "signup_existing")
UPGRADE_FLOW = "execute_upgrade"   # flows/upgrade_execution.py (which builds on this module)
AGAIN = "then set Apply changes in billwerk to Request change again"


def contract_link(portal, deal_id: str) -> ContractLink | None:
    return db.session.execute(db.select(ContractLink).where(ContractLink.portal_id == portal.id,
                                                            ContractLink.hubspot_deal_id == str(deal_id))).scalar_one_or_none()


def applied_properties(link: ContractLink) -> dict:
    return {"billwerk_customer_id": link.billwerk_customer_id or "", "billwerk_contract_id": link.billwerk_contract_id,
            "billwerk_order_id": link.billwerk_order_id or "", "billwerk_apply_changes": "applied", "billwerk_apply_message": ""}


def wait_for_closed_won(portal, deal: Deal) -> None:
    """Remember the request, so the move to closed-won starts the contract creation."""
    row = order_of(portal, deal.id)
    if row is None:
        kind = "upgrade" if deal.cart.deal_type == "upgrade" else "signup"
        row = DealOrder(portal_id=portal.id, hubspot_deal_id=deal.id, kind=kind, entity_id=deal.cart.entity_id, status="new")
        db.session.add(row)
    row.apply_requested_at = utcnow()
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def requested_now(portal, deal: Deal, won: set[str], when: str) -> Outcome | None:
    """A run started by the deal's properties (not a button or workflow): ``None`` when *Apply
    changes* asks for it and the deal is closed-won, else how the run ends (``when``: what happens
    once the deal is closed-won)."""
    if deal.props.get("billwerk_apply_changes") != "request":
        return Outcome.skipped("Apply changes in billwerk is not set to Request change.")
    if deal.props.get("dealstage") not in won:
        wait_for_closed_won(portal, deal)
        return Outcome.skipped(f"The deal is not closed-won yet; {when} when it is.")
    return None


def failed_properties(message: str) -> dict:
    return {"billwerk_apply_changes": "failed", "billwerk_apply_message": message}


def create_contract(run: SyncRun) -> dict | None:
    """Create the run's contract, and with it every contract creation waiting in the queue."""
    portal, account, hubspot = portal_context(run, "contracts cannot be created yet.")
    with batch_of(run) as batch:
        explicit = {str(r.object_id) for r in batch.runs if (r.params or {}).get("explicit")}
        deals = load_deals(portal, account, hubspot, batch.object_ids)
        won = closed_won_stages(portal, hubspot)
        outcomes: dict[str, Outcome] = {}
        writes: dict[str, dict] = {}
        ready: list[Deal] = []
        for deal_id in batch.object_ids:
            deal = deals.get(deal_id)
            if deal is None:
                outcomes[deal_id] = Outcome.skipped(f"Deal {deal_id} no longer exists.")
                continue
            outcome = _admit(portal, account, deal, deal_id in explicit, won, writes)
            if outcome is None:
                ready.append(deal)
            else:
                outcomes[deal_id] = outcome
        customers = _customers(portal, account, hubspot, ready, outcomes, writes)
        written = []
        for deal in ready:
            if deal.id in outcomes:
                continue
            outcomes[deal.id], link = _apply(portal, account, deal, customers.get(deal.id), writes)
            if link is not None:
                written.append(deal.id)
        refused = write_deals(hubspot, writes)
        for deal_id in written:
            if deal_id in refused:
                outcomes[deal_id] = Outcome.failed(f"The contract exists in billwerk, but {refused[deal_id]}; replay the run to "
                                                   "write it again.", retriable=True)
            elif (row := order_of(portal, deal_id)) is not None and row.status == "committed":
                mark_written_back(row)
        return batch.finish(outcomes)


def _admit(portal, account, deal: Deal, explicit: bool, won: set[str], writes: dict) -> Outcome | None:
    """Whether the deal is to be applied now (``None``), else how its run ends."""
    props = deal.props
    link = contract_link(portal, deal.id)
    if link is not None and link.sync_stopped:
        return Outcome.skipped("The contract moved to a newer up-/downgrade deal; this deal is written no more.")
    if link is not None:  # done before: repair HubSpot if it does not say so
        wanted = applied_properties(link)
        if any((props.get(k) or "") != v for k, v in wanted.items()):
            writes[deal.id] = wanted
        return Outcome.ok(already_applied=1, contract_id=link.billwerk_contract_id)
    if deal.cart.deal_type not in SIGNUP_TYPES:
        if not explicit and deal.cart.deal_type == "upgrade":   # the request property of an upgrade deal: execute it
            start_run(UPGRADE_FLOW, portal_id=portal.id, object_type="deal", object_id=deal.id)
            return Outcome.skipped("An up-/downgrade deal is executed, not created: handed to the up-/downgrade execution.")
        return Outcome.skipped("An up-/downgrade deal is executed, not created: use Execute up-/downgrade.")
    if not explicit and (waiting := requested_now(portal, deal, won, "the contract is created")) is not None:
        return waiting
    row = preview_of(portal, deal.id)
    if row is not None and row.status == "valid" and row.cart_hash == deal.hash:
        return None
    if (order := order_of(portal, deal.id)) is not None and order.status in ("committed", "committing", "created"):
        return None   # an order is under way for this cart: finish it, never start a second one
    checked = check_cart(account, deal)   # not validated, or changed since: validate first
    return admit_checked(portal, deal, checked, "the contract creation", writes)


def admit_checked(portal, deal: Deal, checked, what: str, writes: dict) -> Outcome | None:
    """A deal checked by billwerk just before it is applied: stored like a validation; an error is
    retried, an invalid cart fails with the validation's problems, a valid one goes on (``None``)."""
    if checked.status == "error":
        return Outcome.failed(f"{checked.error}; {what} will be retried.", retriable=checked.retriable)
    store_check(portal, deal, checked)
    if checked.status == "invalid":
        message = f"The deal did not pass billwerk's validation (see billwerk validation message): fix it, {AGAIN}."
        writes[deal.id] = validation_properties(checked) | failed_properties(message)
        return Outcome.failed("Validation failed: " + "; ".join(p.message for p in checked.problems))
    writes[deal.id] = validation_properties(checked)
    return None


def _customers(portal, account, hubspot, ready: list[Deal], outcomes: dict, writes: dict) -> dict[str, str]:
    """The billwerk customer of each deal: its company's linked one, else the import flow finds or
    creates it and links it (for all these deals' companies at once)."""
    found = {d.id: d.cart.customer_id for d in ready if d.cart.customer_id}
    for deal in ready:
        row = order_of(portal, deal.id)
        if deal.id not in found and row is not None and row.billwerk_customer_id and row.status != "new":
            found[deal.id] = row.billwerk_customer_id
    missing = [d for d in ready if d.id not in found]
    if not missing:
        return found
    items, seen = [], set()
    for deal in missing:
        if deal.cart.company_id not in seen:
            seen.add(deal.cart.company_id)
            items.append(Prepared(deal.cart.company_id, dict(deal.records.company or {}), deal.records.contact_id,
                                  deal.records.contact, deal.id))
    db.session.commit()   # no open write across the calls to billwerk and HubSpot
    try:
        imported = import_prepared(portal, account, hubspot, items)
    except FlowError as exc:
        for deal in missing:
            outcomes[deal.id] = Outcome.failed(exc.message, retriable=exc.retriable)
        return found
    for deal in missing:
        company = deal.cart.company_id
        if company in imported.customer_ids:
            found[deal.id] = imported.customer_ids[company]
        elif company in imported.problems:
            reasons = "; ".join(p.message for p in imported.problems[company])
            message = f"billwerk cannot create the customer: {reasons}. Fix the company, {AGAIN}."
            writes[deal.id] = failed_properties(message)
            outcomes[deal.id] = Outcome.failed(message)
        else:
            error = imported.errors.get(company) or "the customer could not be created"
            outcomes[deal.id] = Outcome.failed(f"{error}; the contract creation will be retried.", retriable=True)
    return found


def _apply(portal, account, deal: Deal, customer_id: str | None, writes: dict) -> tuple[Outcome, ContractLink | None]:
    cart = deal.cart
    try:
        applied = apply_order(portal, account, deal_id=deal.id, kind="signup", entity_id=cart.entity_id, cart_hash=deal.hash,
                              build=lambda: build_signup_order(cart, customer_id=customer_id,
                                                               contract_custom_fields=deal.custom_fields))
    except ApplyRefused as exc:
        message = f"{exc.message}. Change the deal, {AGAIN}."
        writes[deal.id] = failed_properties(message)
        return Outcome.failed(message), None
    except FlowError as exc:
        return Outcome.failed(exc.message, retriable=exc.retriable), None
    link = _link(portal, deal, applied)
    writes[deal.id] = applied_properties(link)
    log.info("flow.create_contract.applied", extra={"hub_id": portal.hub_id, "deal_id": deal.id,
                                                    "contract_id": link.billwerk_contract_id})
    return Outcome.ok(applied=1, contract_id=link.billwerk_contract_id, customer_id=link.billwerk_customer_id,
                      order_id=link.billwerk_order_id), link


def _link(portal, deal: Deal, applied) -> ContractLink:
    link = contract_link(portal, deal.id)
    if link is not None:
        return link
    link = ContractLink(portal_id=portal.id, entity_id=applied.order.entity_id, hubspot_deal_id=deal.id,
                        billwerk_contract_id=applied.contract_id, billwerk_customer_id=applied.customer_id,
                        billwerk_order_id=applied.order_id)
    db.session.add(link)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        link = contract_link(portal, deal.id)
    return link

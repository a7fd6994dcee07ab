"""Validation of deals by billwerk: the order the deal would place, checked with billwerk's order
preview (nothing is stored in billwerk), then ``billwerk_validation`` = ``valid`` or ``invalid``
with ``billwerk_validation_message`` (one reason a line), and the priced preview kept for the
deal card.

Started by ``billwerk_validation`` = ``request`` (webhook), the card's ``request-validation`` and
the workflow action ``validate-deal``. A deal that was valid becomes ``outdated`` when its cart
or an input of the order changes (:func:`check_deal_cart`, started by the property changes and
by HubSpot recalculating ``amount`` when line items change).

Idempotent on the deal: validating twice asks billwerk twice and writes the same answer.
"""
from __future__ import annotations

import logging

from backend.extensions import db
from backend.flows.batches import Outcome, batch_of
from backend.flows.context import portal_context
from backend.flows.deals import Deal, check_cart, load_deals, preview_of, store_check, validation_properties, write_deals
from backend.flows.upgrade_validation import check_upgrade
from backend.models import ContractLink, SyncRun

log = logging.getLogger(__name__)

FLOW = "validate_deal"
OUTDATED_FLOW = "check_deal_cart"


def validate_deal(run: SyncRun) -> dict | None:
    """Validate the run's deal, and with it every deal whose validation waits in the queue."""
    portal, account, hubspot = portal_context(run, "deals cannot be validated yet.")
    with batch_of(run) as batch:
        deals = load_deals(portal, account, hubspot, batch.object_ids)
        # Runs started by the property itself validate only while it still says ``request``;
        # a button or a workflow action validates in any case.
        asked = {str(r.object_id) for r in batch.runs if (r.params or {}).get("when") != "requested"}
        outcomes, writes, catalogues = {}, {}, {}
        for deal_id in batch.object_ids:
            deal = deals.get(deal_id)
            if deal is None:
                outcomes[deal_id] = Outcome.skipped(f"Deal {deal_id} no longer exists.")
                continue
            if deal_id not in asked and deal.props.get("billwerk_validation") != "request":
                outcomes[deal_id] = Outcome.skipped("billwerk validation is no longer set to Request validation.")
                continue
            outcomes[deal_id], props = validate_one(portal, account, deal, catalogues)
            if props:
                writes[deal_id] = props
        for deal_id, why in write_deals(hubspot, writes).items():
            outcomes[deal_id] = Outcome.failed(f"Validated, but {why}; replay the run to write it again.", retriable=True)
        return batch.finish(outcomes)


def validate_one(portal, account, deal: Deal, catalogues: dict | None = None) -> tuple[Outcome, dict | None]:
    """(how the run ends, the deal properties to write); ``catalogues`` is shared by the deals of
    one batch (an up-/downgrade reads billwerk's catalogue once per entity)."""
    if (deal.props.get("billwerk_sync_stopped") or "").lower() == "true":
        return Outcome.skipped("The contract moved to a newer up-/downgrade deal; this deal is not validated any more."), None
    if deal.cart.deal_type == "upgrade":
        if ContractLink.for_deal(portal.id, deal.id) is not None:   # the request is answered with the last verdict
            row = preview_of(portal, deal.id)
            props = {"billwerk_validation": row.status, "billwerk_validation_message": row.message or ""} if row else None
            return Outcome.skipped("The up-/downgrade is executed; changes now need a new up-/downgrade deal."), props
        checked = check_upgrade(portal, account, deal, catalogues)
    else:
        checked = check_cart(account, deal)
    if checked.status == "error":
        return Outcome.failed(f"{checked.error}; the validation will be retried.", retriable=checked.retriable), None
    store_check(portal, deal, checked)
    log.info("flow.validate_deal.checked", extra={"hub_id": portal.hub_id, "deal_id": deal.id, "status": checked.status,
                                                  "problems": len(checked.problems)})
    props = validation_properties(checked)
    if checked.status == "invalid":
        return Outcome.failed("Validation failed: " + "; ".join(p.message for p in checked.problems)), props
    shown = checked.shown or {}
    total = shown.get("firstInvoice", {}).get("gross")
    return Outcome.ok(valid=1, first_invoice_gross=total, warnings=len(shown.get("warnings") or [])), props


def check_deal_cart(run: SyncRun) -> dict | None:
    """A cart input of a validated deal changed: still the validated cart, or ``outdated``?"""
    portal, account, hubspot = portal_context(run, "nothing to check.")
    with batch_of(run) as batch:
        ids = [i for i in batch.object_ids if (row := preview_of(portal, i)) is not None and row.status == "valid"]
        deals = load_deals(portal, account, hubspot, ids) if ids else {}
        outcomes, writes = {}, {}
        for deal_id in batch.object_ids:
            deal, row = deals.get(deal_id), preview_of(portal, deal_id)
            if deal is None or row is None or row.status != "valid":
                outcomes[deal_id] = Outcome.skipped("The deal has no valid validation to compare with.")
            elif deal.hash == row.cart_hash:
                outcomes[deal_id] = Outcome.skipped("The cart is still the validated one.")
            else:
                row.status = "outdated"
                writes[deal_id] = {"billwerk_validation": "outdated",
                                   "billwerk_validation_message": "The cart or its inputs changed since the validation: request it again"}
                outcomes[deal_id] = Outcome.ok(outdated=1)
        db.session.commit()
        for deal_id, why in write_deals(hubspot, writes).items():
            outcomes[deal_id] = Outcome.failed(f"The deal is outdated, but {why}.", retriable=True)
        return batch.finish(outcomes)


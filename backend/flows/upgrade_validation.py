"""Validating an up-/downgrade deal by billwerk: the upgrade order for the origin deal's contract
(``ContractId``, the new plan variant, the components to add with their quantities, the
subscriptions to end, ``ChangeDate`` = ``billwerk_start_date`` else now) checked with billwerk's
order preview, and the card's before/after comparison kept with the preview.

:func:`check_upgrade` is what the validation flow calls for an upgrade deal instead of the
signup order; the execution builds its order with :func:`read_contract` + :func:`order_now` from
the contract as it is at that moment.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from backend.clients.base import ApiError, NotFound as ApiNotFound
from backend.clients.billwerk import client_for
from backend.extensions import db
from backend.flows.deals import Checked, Deal, check_cart
from backend.mapping.dates import to_billwerk_datetime
from backend.mapping.problems import Problem
from backend.mapping.upgrade_order import (ContractState, UpgradeChange, build_order, catalogue_prices, comparison,
                                           contract_state, upgrade_change)
from backend.models import BillwerkAccount, ContractLink, Portal, utcnow

log = logging.getLogger(__name__)

NOTHING_CHANGES = ("The cart is the contract as it is today: change the plan variant, a component or its quantity "
                   "(components left out of the cart are ended)")


@dataclass
class Planned:
    state: ContractState
    change: UpgradeChange
    order: dict


def read_contract(billwerk, contract_id: str, *, with_discounts: bool) -> ContractState:
    """Today's contract: its plan variant, active component subscriptions (from the contract, else
    its list) and, when the cart has discounts, its active discount subscriptions."""
    contract = billwerk.get_contract(contract_id)
    subs = None if "ComponentSubscriptions" in contract else list(
        billwerk.iter_all(f"/contracts/{contract_id}/componentSubscriptions"))
    discounts = list(billwerk.iter_all(f"/contracts/{contract_id}/discountSubscriptions")) if with_discounts else []
    return contract_state(contract, at=utcnow(), component_subscriptions=subs, discount_subscriptions=discounts)


def order_now(deal: Deal, state: ContractState) -> Planned:
    change = upgrade_change(deal.cart, state)
    order = build_order(deal.cart, state, change, now=to_billwerk_datetime(utcnow()), contract_custom_fields=deal.custom_fields)
    return Planned(state, change, order)


def holder_of(portal: Portal, contract_id: str) -> ContractLink | None:
    """The deal link that holds the contract now (the newest, not stopped)."""
    return db.session.execute(db.select(ContractLink).where(
        ContractLink.portal_id == portal.id, ContractLink.billwerk_contract_id == contract_id,
        ContractLink.sync_stopped.is_(False)).order_by(ContractLink.id.desc()).limit(1)).scalar_one_or_none()


def origin_problem(portal: Portal, deal: Deal) -> Problem | None:
    """An upgrade deal changes the contract its origin deal holds; once the contract moved on to
    another deal, that deal's up-/downgrade is the one to change it."""
    origin_id = (deal.props.get("billwerk_origin_deal_id") or "").strip()
    origin = ContractLink.for_deal(portal.id, origin_id) if origin_id else None
    if origin is None or not origin.sync_stopped:
        return None
    holder = holder_of(portal, origin.billwerk_contract_id)
    where = f"deal {holder.hubspot_deal_id}" if holder is not None else "a newer deal"
    return Problem("billwerk_origin_deal_id", f"The contract of the origin deal has moved to {where}: start the "
                                              "up-/downgrade from that deal", "deal", deal.id)


def check_upgrade(portal: Portal, account: BillwerkAccount, deal: Deal, catalogues: dict | None = None) -> Checked:
    """billwerk's preview of the deal's upgrade order, with the before/after comparison in
    ``shown["upgrade"]``. Costs two billwerk calls (contract, preview), one more for the catalogue
    (``/productinfo``, read once per entity for the deals checked together, who pass one
    ``catalogues`` dict) and one more when the contract's subscriptions must be listed apart or the
    cart has discounts."""
    cart = deal.cart
    if cart.problems:
        return Checked("invalid", problems=list(cart.problems))
    moved = origin_problem(portal, deal)
    if moved is not None:
        return Checked("invalid", problems=[moved])
    billwerk = client_for(account, cart.entity_id)
    try:
        state = read_contract(billwerk, cart.contract_id, with_discounts=bool(cart.discounts))
        catalogues = {} if catalogues is None else catalogues
        if cart.entity_id not in catalogues:
            catalogues[cart.entity_id] = catalogue_prices(billwerk.product_info())
        prices = catalogues[cart.entity_id]
    except ApiNotFound:
        return Checked("invalid", problems=[Problem("billwerk_origin_deal_id", f"billwerk has no contract {cart.contract_id} "
                                                    "(any more): this deal cannot change it", "deal", deal.id)])
    except ApiError as exc:
        return Checked("error", error=f"billwerk could not check the deal ({exc.message})", retriable=exc.retriable)
    if state.ended:
        return Checked("invalid", problems=[Problem("billwerk_origin_deal_id", f"Contract {state.contract_id} has ended in "
                                                    "billwerk and can no longer be changed", "deal", deal.id)])
    planned = order_now(deal, state)
    if planned.change.empty:
        return Checked("invalid", problems=[Problem("line_items", NOTHING_CHANGES, "deal", deal.id)])
    checked = check_cart(account, deal, planned.order)
    if checked.status == "valid":
        checked.shown = dict(checked.shown or {}, upgrade=comparison(state, cart, prices, checked.response))
    log.info("flow.upgrade.checked", extra={"deal_id": deal.id, "contract_id": state.contract_id, "status": checked.status,
                                            "ended": len(planned.change.end), "added": len(planned.change.add)})
    return checked

"""An up-/downgrade deal's cart against today's contract -> billwerk's upgrade order and the deal
card's before/after comparison (pure: the flow reads the contract and the catalogue).

The cart is the contract *after* the change (CONTRACT §6). The order says only what changes, so
billwerk ends and adds exactly that and nothing is subscribed twice:

* the plan variant when it differs from the contract's (``Cart.PlanVariantId``);
* a component of the cart the contract does not have: subscribed with the cart's quantity;
* a component whose quantity differs: its subscription is ended and it is subscribed again with
  the new quantity (billwerk adds a subscription per ``ComponentSubscriptions`` entry; it has no
  "change the quantity" in an order);
* a component of the contract that is not in the cart: ended (``Cart.EndComponentSubscriptions``);
* a discount of the cart the contract does not have yet: subscribed;
* ``ChangeDate``: ``billwerk_start_date``, else the caller's "now".

The comparison prices both sides with billwerk's catalogue (plan variant ``RecurringFee`` per its
``FeePeriod``, component ``PricePerUnit`` x quantity; metered components count 0 until used), the
"after" side with the prices billwerk's preview of this order quoted where it quoted one.
Discounts are left out of both sides.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping

from .catalog import iso_duration, localized
from .dates import parse_billwerk_datetime
from .deal_cart import Cart, build_upgrade_order
from .deal_preview import _lines_of, period_label
from .numbers import decimal_or_none


@dataclass(frozen=True)
class Subscription:
    id: str
    component_id: str
    quantity: float


@dataclass
class ContractState:
    """Today's contract as far as an up-/downgrade changes it."""

    contract_id: str
    customer_id: str | None
    plan_variant_id: str | None
    subscriptions: list[Subscription] = field(default_factory=list)   # the active component subscriptions
    discount_ids: frozenset[str] = frozenset()                        # the active discount subscriptions
    ended: bool = False


@dataclass
class UpgradeChange:
    plan_variant_id: str | None                                       # None: the plan variant stays
    add: list[tuple[str, float]] = field(default_factory=list)        # (component id, quantity)
    end: list[str] = field(default_factory=list)                      # component subscription ids
    discount_ids: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.plan_variant_id or self.add or self.end or self.discount_ids)


def _active(item: Mapping[str, Any], at: datetime) -> bool:
    end = item.get("EndDate")
    if not end:
        return True
    try:
        return parse_billwerk_datetime(str(end)) > at
    except ValueError:
        return True


def contract_state(contract: Mapping[str, Any], *, at: datetime, component_subscriptions: Iterable[Mapping] | None = None,
                   discount_subscriptions: Iterable[Mapping] = ()) -> ContractState:
    """The contract as billwerk's GET returns it (``ComponentSubscriptions`` inside, or passed
    apart from ``/contracts/{id}/componentSubscriptions``); subscriptions ended by ``at`` are gone."""
    subs = contract.get("ComponentSubscriptions") if component_subscriptions is None else component_subscriptions
    active = [Subscription(str(s["Id"]), str(s.get("ComponentId") or ""), float(s.get("Quantity") or 0))
              for s in subs or [] if s.get("Id") and _active(s, at)]
    discounts = frozenset(str(d.get("DiscountId")) for d in discount_subscriptions or [] if d.get("DiscountId") and _active(d, at))
    plan = contract.get("PlanVariantId") or (contract.get("CurrentPhase") or {}).get("PlanVariantId")
    return ContractState(contract_id=str(contract.get("Id") or ""), customer_id=contract.get("CustomerId"),
                         plan_variant_id=str(plan) if plan else None, subscriptions=active, discount_ids=discounts,
                         ended=str(contract.get("LifecycleStatus") or "") == "Ended")


def wanted_components(cart: Cart) -> dict[str, float]:
    """``component id -> quantity`` of the cart (two line items of one component add up)."""
    out: dict[str, float] = {}
    for line in cart.components:
        out[line.billwerk_id] = out.get(line.billwerk_id, 0.0) + float(line.quantity)
    return out


def upgrade_change(cart: Cart, state: ContractState) -> UpgradeChange:
    wanted = wanted_components(cart)
    current: dict[str, list[Subscription]] = {}
    for sub in state.subscriptions:
        current.setdefault(sub.component_id, []).append(sub)
    variant = cart.plan_variant.billwerk_id if cart.plan_variant else None
    change = UpgradeChange(plan_variant_id=variant if variant and variant != state.plan_variant_id else None)
    for component_id, subs in current.items():
        quantity = wanted.get(component_id)
        if quantity is None or abs(sum(s.quantity for s in subs) - quantity) > 1e-9:
            change.end += [s.id for s in subs]
            if quantity is not None:
                change.add.append((component_id, quantity))
    change.add += [(c, q) for c, q in wanted.items() if c not in current]
    change.discount_ids = [d.billwerk_id for d in cart.discounts if d.billwerk_id not in state.discount_ids]
    return change


def build_order(cart: Cart, state: ContractState, change: UpgradeChange, *, now: str,
                contract_custom_fields: Mapping[str, Any] | None = None) -> dict:
    """The order body: the change only (see the module docstring), for the contract of ``state``."""
    lines = {line.billwerk_id: line for line in cart.components}
    delta = replace(cart, plan_variant=cart.plan_variant if change.plan_variant_id else None,
                    components=[replace(lines[c], quantity=q) for c, q in change.add],
                    discounts=[d for d in cart.discounts if d.billwerk_id in change.discount_ids])
    return build_upgrade_order(delta, contract_id=state.contract_id, change_date=now,
                               end_component_subscriptions=change.end, contract_custom_fields=contract_custom_fields)


# -- before / after ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Priced:
    name: str
    price: Decimal
    period: str | None
    metered: bool = False
    on_off: bool = False


def catalogue_prices(product_info: Mapping[str, Any], language: str | None = None) -> dict[str, Priced]:
    """``billwerk id -> Priced`` of every plan variant and component of ``/productinfo``."""
    plans = {p.get("Id"): localized(p.get("Name"), language) or str(p.get("InternalName") or "")
             for p in product_info.get("Plans") or []}
    out: dict[str, Priced] = {}
    for v in product_info.get("PlanVariants") or []:
        name = localized(v.get("Name"), language) or str(v.get("InternalName") or v.get("Id"))
        plan = plans.get(v.get("PlanId")) or ""
        label = name if not plan or name.casefold().startswith(plan.casefold()) else f"{plan} \u2013 {name}"
        out[str(v["Id"])] = Priced(label, decimal_or_none(v.get("RecurringFee")) or Decimal(0),
                                   iso_duration(v.get("FeePeriod") or v.get("BillingPeriod")))
    for c in product_info.get("Components") or []:
        kind = str(c.get("ComponentType") or "")
        out[str(c["Id"])] = Priced(localized(c.get("Name"), language) or str(c.get("InternalName") or c.get("Id")),
                                   decimal_or_none(c.get("PricePerUnit")) or Decimal(0), iso_duration(c.get("FeePeriod")),
                                   metered=kind == "Metered", on_off=kind == "OnOff")
    return out


def _snapshot(plan_variant_id: str | None, components: list[tuple[str, float]], prices: Mapping[str, Priced],
              names: Mapping[str, str], vat_percentage: Decimal | None) -> tuple[dict, dict[str, Decimal], str | None]:
    fees: dict[str, Decimal] = {}
    variant = prices.get(plan_variant_id or "")
    main = variant.period if variant else None
    if variant is not None and variant.period:
        fees[variant.period] = variant.price
    shown = []
    for component_id, quantity in components:
        item = prices.get(component_id)
        shown.append({"name": item.name if item else (names.get(component_id) or component_id), "quantity": quantity})
        if item is None or item.metered:
            continue
        amount = item.price if item.on_off else item.price * Decimal(str(quantity))
        period = item.period or main
        if period:
            fees[period] = fees.get(period, Decimal(0)) + amount
    recurring = []
    for period, net in sorted(fees.items(), key=lambda kv: (kv[0] != main, kv[0])):
        gross = (net * (1 + vat_percentage / 100)).quantize(Decimal("0.01")) if vat_percentage is not None else None
        recurring.append({"period": period, "label": period_label(period), "net": float(net.quantize(Decimal("0.01"))),
                          "gross": float(gross) if gross is not None else None})
    name = variant.name if variant else (names.get(plan_variant_id or "") or plan_variant_id or "–")
    return {"planVariant": name, "components": shown, "recurring": recurring}, fees, main


def _in_period(fees: Mapping[str, Decimal], period: str) -> Decimal:
    """The fees of every period as one amount per ``period`` (``P1M`` fees x 12 in ``P12M``);
    a fee counted in days is not comparable with one counted in months and is left out."""
    total = Decimal(0)
    for own, amount in fees.items():
        if own == period:
            total += amount
        elif own[-1] == period[-1] and own[1:-1].isdigit() and period[1:-1].isdigit() and int(own[1:-1]):
            total += amount * Decimal(int(period[1:-1])) / Decimal(int(own[1:-1]))
    return total


def comparison(state: ContractState, cart: Cart, prices: Mapping[str, Priced], preview: Mapping[str, Any] | None = None) -> dict:
    """The card's ``UpgradeComparison``: today's contract, the contract after the change, and the
    difference (net) per period of the plan variant after the change."""
    quoted = dict(prices)
    vat = None
    if preview:
        fee = preview.get("RecurringFee") if isinstance(preview.get("RecurringFee"), Mapping) else {}
        vat = decimal_or_none(fee.get("VatPercentage")) if fee else None
        for ln in _lines_of(preview):
            product, unit = str(ln.get("ProductId") or ""), decimal_or_none(ln.get("PricePerUnit"))
            if product in quoted and unit is not None and ln.get("Type") in ("RecurringFee", "Component"):
                quoted[product] = replace(quoted[product], price=unit)
    today: dict[str, float] = {}
    for sub in state.subscriptions:
        today[sub.component_id] = today.get(sub.component_id, 0.0) + sub.quantity
    before, before_fees, _ = _snapshot(state.plan_variant_id, list(today.items()), prices, {}, vat)
    names = {line.billwerk_id: line.name for line in cart.lines}
    after_variant = cart.plan_variant.billwerk_id if cart.plan_variant else state.plan_variant_id
    after, after_fees, main = _snapshot(after_variant, list(wanted_components(cart).items()), quoted, names, vat)
    period = main or next(iter(after_fees), None) or next(iter(before_fees), None) or "P1M"
    difference = _in_period(after_fees, period) - _in_period(before_fees, period)
    return {"before": before, "after": after, "differencePerPeriod": float(difference.quantize(Decimal("0.01"))),
            "period": period, "periodLabel": period_label(period)}

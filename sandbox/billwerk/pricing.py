"""Prices, VAT and totals of an order (reference §7.2, §7.9).

Deliberately simple and documented rather than a copy of billwerk's rating engine:

* **Lines.** Signup: the plan variant's ``RecurringFee`` for one fee period plus its
  ``SetupFee``. Up/downgrade: the new variant's ``RecurringFee`` (no setup fee).
  Components: ``QuantityBased`` = ``PricePerUnit × Quantity``; ``OnOff`` = ``PricePerUnit``;
  ``Metered`` = 0 at order time (usage is billed later).
* **Proration** (``fraction``): the recurring lines of the first invoice cover only the part of
  the billing period that is left — a signup whose ``StartDate`` falls inside a period of an
  aligned plan variant, an up/downgrade whose ``ChangeDate`` falls inside the contract's current
  period. An up/downgrade to another plan variant also credits the old variant's fee for that
  part (``credit``: a negative line). Setup fees are never prorated; ``NextTotalGross`` is the
  full recurring amount. See :func:`proration`.
* **Discounts** (from ``Cart.DiscountSubscriptions`` and the coupon's discount): ``Relative``
  reduces the recurring lines it targets (``Targets`` empty = all recurring lines, plus the setup
  fee when ``IncludeSetup``) by ``ReductionPercent``; ``Absolute`` subtracts ``FixedAmount``,
  never below zero.
* **Trial.** A variant with ``TrialPeriod`` charges only its setup fee now (``IsTrial: true``)
  unless ``PreviewAfterTrial`` is true; ``NextTotalGross`` is the recurring amount afterwards.
* **VAT** from the customer's country and VAT id versus the entity's country: same country →
  that country's standard rate (DE 19 %, GB 20 %, …); another EU country with a VAT id → 0 %
  (reverse charge); another EU country without → the destination's rate (OSS); outside the EU
  → 0 % (export). Amounts are rounded half-up to cents; ``Total`` is net,
  ``TotalGross = Total + TotalVat``.
"""
from __future__ import annotations

from datetime import datetime

from .formats import EU_COUNTRIES, VAT_RATES, add_period, money


def vat_rate(entity_country: str, customer_country: str | None, vat_id: str | None) -> float:
    country = (customer_country or entity_country or "").upper()
    home = (entity_country or "").upper()
    if country == home:
        return VAT_RATES.get(home, 0.0)
    if country in EU_COUNTRIES and home in EU_COUNTRIES:
        return 0.0 if vat_id else VAT_RATES.get(country, 0.0)
    return 0.0


def _name(obj: dict) -> str:
    for key in ("Name", "Description"):
        value = obj.get(key)
        if isinstance(value, dict) and value.get("_c"):
            return value["_c"]
    return obj.get("InternalName") or obj["Id"]


#: ``BillingDateAlignment`` values that make billing periods start on the first of a month
#: (the sandbox's spelling; billwerk's enum values are not documented). ``None``: periods start
#: on the contract's start date, so a signup is never prorated.
MONTH_ALIGNED = ("FirstDayOfMonth", "MonthStart")


def billing_period_of(variant: dict | None) -> dict:
    return (variant or {}).get("BillingPeriod") or {"Unit": "Month", "Quantity": 1}


def signup_period(variant: dict | None, start: datetime) -> tuple[datetime, datetime]:
    """The billing period a signup starting at ``start`` falls in: it begins on the start date,
    or on the first of the month for month-aligned plan variants."""
    period = billing_period_of(variant)
    if (variant or {}).get("BillingDateAlignment") in MONTH_ALIGNED:
        begin = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return begin, add_period(begin, period)
    return start, add_period(start, period)


def proration(begin: datetime, end: datetime, at: datetime) -> float:
    """Share of the period ``[begin, end)`` left from ``at`` on, counted in days (0..1)."""
    total = (end - begin).total_seconds()
    if total <= 0:
        return 1.0
    left = (end - max(at, begin)).total_seconds()
    return round(min(1.0, max(0.0, left / total)), 6)


def price(plan_variant: dict | None, components: list[tuple[dict, float]], discounts: list[dict], *,
          signup: bool, rate: float, preview_after_trial: bool = False, fraction: float = 1.0,
          credit: dict | None = None) -> dict:
    """Compute lines and totals. ``components`` are (component, quantity) pairs; ``fraction``
    prorates the recurring lines of the first invoice; ``credit`` is the plan variant an
    up/downgrade replaces (its unused share comes back as a negative line)."""
    lines: list[dict] = []
    trial = bool(plan_variant and plan_variant.get("TrialPeriod")) and signup
    charge_recurring = not trial or preview_after_trial
    share = fraction if charge_recurring else 0.0
    if plan_variant:
        fee = float(plan_variant.get("RecurringFee") or 0)
        lines.append({"Type": "RecurringFee", "ProductId": plan_variant["Id"], "Description": _name(plan_variant),
                      "Quantity": 1.0, "PricePerUnit": fee, "TotalNet": money(fee * share),
                      "_recurring": money(fee)})
        setup = float(plan_variant.get("SetupFee") or 0)
        if signup and setup:
            lines.append({"Type": "SetupFee", "ProductId": plan_variant["Id"], "Description": _name(plan_variant) + " (setup)",
                          "Quantity": 1.0, "PricePerUnit": setup, "TotalNet": money(setup), "_recurring": 0.0,
                          "_setup": True})
    for comp, qty in components:
        ctype = comp.get("ComponentType")
        unit = float(comp.get("PricePerUnit") or 0)
        if ctype == "Metered":
            amount = 0.0
        elif ctype == "OnOff":
            amount = unit
        else:
            amount = unit * qty
        lines.append({"Type": "Component", "ProductId": comp["Id"], "Description": _name(comp), "Quantity": qty,
                      "PricePerUnit": unit, "TotalNet": money(amount * share),
                      "_recurring": money(amount)})
    if credit is not None and fraction > 0:
        old = float(credit.get("RecurringFee") or 0)
        lines.append({"Type": "Credit", "ProductId": credit["Id"], "Description": _name(credit) + " (credit)",
                      "Quantity": 1.0, "PricePerUnit": -old, "TotalNet": -money(old * fraction), "_recurring": 0.0,
                      "_credit": True})
    for disc in discounts:
        effect = disc.get("Effect") or {}
        targets = {k for k, v in (disc.get("Targets") or {}).items() if v}
        for field in ("TotalNet", "_recurring"):
            base_lines = [ln for ln in lines if ln["Type"] != "Discount" and not ln.get("_credit")
                          and (not ln.get("_setup") or disc.get("IncludeSetup"))
                          and (not targets or ln["ProductId"] in targets)]
            base = sum(ln[field] for ln in base_lines)
            if effect.get("Type") == "Absolute":
                reduction = min(float(effect.get("FixedAmount") or 0), base)
            else:
                reduction = base * float(effect.get("ReductionPercent") or 0) / 100
            if field == "TotalNet":
                line = {"Type": "Discount", "ProductId": disc["Id"], "Description": _name(disc), "Quantity": 1.0,
                        "PricePerUnit": -money(reduction), "TotalNet": -money(reduction)}
            else:
                line["_recurring"] = -money(reduction)
        lines.append(line)
    for ln in lines:
        ln["VatPercentage"] = rate
        ln["TotalVat"] = money(ln["TotalNet"] * rate / 100)
    net = money(sum(ln["TotalNet"] for ln in lines))
    vat = money(sum(ln["TotalVat"] for ln in lines))
    next_net = money(sum(ln["_recurring"] for ln in lines))
    return {
        "lines": lines, "Total": net, "TotalVat": vat, "TotalGross": money(net + vat),
        "NextTotalGross": money(next_net + next_net * rate / 100), "IsTrial": trial, "VatPercentage": rate,
    }


def public_lines(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in ln.items() if not k.startswith("_")} for ln in lines]

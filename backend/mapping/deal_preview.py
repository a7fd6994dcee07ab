"""billwerk's order preview of a deal, as the deal card shows it (pure): the first invoice's
lines with billwerk's prices, net/VAT/gross, the recurring fee per period, and warnings where
HubSpot's line items say something else (billwerk's prices apply; a difference is never a failure).

Reads billwerk's shape (the order inside ``{"Order": …}``, lines in ``RecurringFee.LineItems``)
and, for robustness, a bare order with a flat ``LineItems`` list.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from .catalog import iso_duration
from .dates import parse_billwerk_datetime
from .deal_cart import Cart, CartLine, _num
from .numbers import decimal_or_none

_CENT = Decimal("0.005")


def _number(value: Any) -> float:
    number = decimal_or_none(value)
    return float(number) if number is not None else 0.0


def _fmt(value: Decimal | float) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01')):f}"


def period_label(period: str | None) -> str:
    """``P1M`` -> "per month", ``P12M`` -> "per year", ``P3M`` -> "per 3 months"."""
    if not period:
        return ""
    unit = period[-1]
    try:
        n = int(period[1:-1])
    except ValueError:
        return period
    if unit == "M":
        if n % 12 == 0:
            return "per year" if n == 12 else f"per {n // 12} years"
        return "per month" if n == 1 else f"per {n} months"
    if unit == "D":
        if n % 7 == 0:
            return "per week" if n == 7 else f"per {n // 7} weeks"
        return "per day" if n == 1 else f"per {n} days"
    return period


def _lines_of(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    fee = order.get("RecurringFee")
    if isinstance(fee, Mapping) and isinstance(fee.get("LineItems"), list):
        return fee["LineItems"]
    if isinstance(fee, list):   # a fee per period
        return [ln for f in fee if isinstance(f, Mapping) for ln in (f.get("LineItems") or [])]
    return order.get("LineItems") or []


def read_preview(order: Mapping[str, Any], cart: Cart, at: datetime | None = None) -> dict:
    """billwerk's order preview (the order inside ``{"Order": …}``) as the deal card shows it:
    the first invoice's lines with billwerk's prices, net/VAT/gross, the recurring fee per
    period, and warnings where HubSpot's line items say something else."""
    kinds = {line.billwerk_id: line.kind for line in cart.lines}
    fee = order.get("RecurringFee") if isinstance(order.get("RecurringFee"), Mapping) else {}
    fee_period = iso_duration(fee.get("FeePeriod")) if fee else None
    lines = []
    for ln in _lines_of(order):
        product = str(ln.get("ProductId") or "")
        recurring = ln.get("PeriodEnd") is not None or (ln.get("Type") in ("RecurringFee", "Component"))
        lines.append({
            "kind": kinds.get(product, "other"),
            "description": str(ln.get("Description") or ""),
            "quantity": _number(ln.get("Quantity") if ln.get("Quantity") is not None else 1),
            "unitPrice": _number(ln.get("PricePerUnit")),
            "total": _number(ln.get("TotalNet")),
            "period": fee_period if recurring else None,
        })
    vat_rate = _number(fee.get("VatPercentage")) if fee else 0.0
    next_gross = order.get("NextTotalGross")
    recurring = []
    if next_gross is not None and fee_period:
        gross = _number(next_gross)
        recurring.append({"period": fee_period, "label": period_label(fee_period),
                          "net": round(gross / (1 + vat_rate / 100), 2), "gross": gross})
    next_date = order.get("NextTotalGrossDate")
    return {
        "at": (at or datetime.now(timezone.utc)).isoformat(),
        "outdated": False,
        "currency": str(order.get("Currency") or ""),
        "lines": lines,
        "firstInvoice": {"net": _number(order.get("Total")), "vat": _number(order.get("TotalVat")),
                         "gross": _number(order.get("TotalGross"))},
        "recurring": recurring,
        "nextTotalGross": _number(next_gross) if next_gross is not None else None,
        "nextTotalGrossDate": _date_only(next_date),
        "warnings": list(cart.warnings) + price_warnings(cart, order),
    }


def _date_only(value: Any) -> str | None:
    if not value:
        return None
    try:
        return parse_billwerk_datetime(str(value)).date().isoformat()
    except ValueError:
        return None


def price_warnings(cart: Cart, order: Mapping[str, Any]) -> list[str]:
    """Where a line item's price or discount differs from billwerk's: billwerk's applies."""
    billwerk_price: dict[str, Decimal] = {}
    for ln in _lines_of(order):
        product = str(ln.get("ProductId") or "")
        unit = decimal_or_none(ln.get("PricePerUnit"))
        if product and unit is not None and product not in billwerk_price:
            billwerk_price[product] = unit
    currency = str(order.get("Currency") or "")
    warnings = []
    for line in cart.plan_variant and [cart.plan_variant] or []:
        warnings += _line_warnings(line, billwerk_price.get(line.billwerk_id), currency)
    for line in cart.components:
        warnings += _line_warnings(line, billwerk_price.get(line.billwerk_id), currency)
    for line in cart.discounts:
        if line.discount or line.discount_percentage:
            warnings.append(f"Line item '{line.name}' carries its own discount in HubSpot; billwerk applies the "
                            "discount as billwerk defines it")
    coupon = order.get("Coupon")
    if isinstance(coupon, Mapping) and coupon.get("ErrorCode"):
        warnings.append(str(coupon.get("ErrorMessage") or f"Coupon {coupon.get('CouponCode')} is not valid"))
    return warnings


def _line_warnings(line: CartLine, billwerk: Decimal | None, currency: str) -> list[str]:
    out = []
    money = f" {currency}" if currency else ""
    if billwerk is not None and line.price is not None and abs(line.price - billwerk) >= _CENT:
        out.append(f"Line item '{line.name}' costs {_fmt(line.price)}{money} in HubSpot, billwerk charges "
                   f"{_fmt(billwerk)}{money}: billwerk's price applies")
    if line.discount or line.discount_percentage:
        what = f"{_num(line.discount_percentage)} %" if line.discount_percentage else f"{_fmt(line.discount)}{money} per unit"
        out.append(f"Line item '{line.name}' has a discount of {what} in HubSpot, which billwerk does not apply: "
                   "add a billwerk discount product instead")
    return out

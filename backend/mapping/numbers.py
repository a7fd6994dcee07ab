"""Amounts and quantities as both APIs send them: numbers, numeric strings or nothing."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def decimal_or_none(value: Any) -> Decimal | None:
    """``value`` as a finite Decimal; None for nothing, "", a bool, text that is no number, NaN or infinity."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def hubspot_number(value: Decimal | float | int | str | None) -> str:
    """A number as HubSpot stores it: plain decimal notation, no exponent, no trailing zeros,
    ``0`` rather than ``-0``; empty for none."""
    number = decimal_or_none(value)
    if number is None:
        return ""
    if number == 0:
        return "0"
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text

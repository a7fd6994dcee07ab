"""billwerk catalogue item -> HubSpot product properties (the 12-hourly product sync).

Plan variants, components and discounts each become one HubSpot product, upserted on the
unique ``billwerk_id``. Every value is a string because HubSpot stores strings and
returns strings: building them as strings here makes :func:`content_hash` of what we send equal
to the hash of what HubSpot gives back, so an unchanged product is not written again (HubSpot
counts every write against the portal's rate limit). A property with no value is omitted;
:data:`PRODUCT_PROPERTIES` lists all the sync owns, for a caller that wants to clear the rest.
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from .numbers import hubspot_number

#: Every product property this mapping may write.
PRODUCT_PROPERTIES: tuple[str, ...] = (
    "billwerk_id", "billwerk_object_type", "billwerk_entity", "name", "description", "price", "hs_sku",
    "recurringbillingfrequency", "hs_recurring_billing_period",
)

#: HubSpot's ``recurringbillingfrequency`` options by period length; billwerk periods that are
#: none of these (2 months, 10 days, …) leave the frequency out rather than round it.
_FREQUENCY_BY_MONTHS: dict[int, str] = {
    1: "monthly", 3: "quarterly", 6: "per_six_months", 12: "annually", 24: "per_two_years",
    36: "per_three_years", 48: "per_four_years", 60: "per_five_years",
}
_FREQUENCY_BY_DAYS: dict[int, str] = {7: "weekly", 14: "biweekly"}

NAME_SEPARATOR = " \u2013 "  # "Pro – monthly"


def localized(text: Any, language: str | None) -> str:
    """A billwerk localized text ``{"_c": …, "de": …}`` in ``language``, else its ``_c``.

    ``language`` may be ``"de"`` or ``"de-DE"``; a plain string is returned as it is.
    """
    if text is None:
        return ""
    if isinstance(text, str):
        return text.strip()
    if not isinstance(text, Mapping):
        return ""
    candidates: list[str] = []
    if language:
        lang = language.strip()
        candidates += [lang, lang.replace("_", "-"), lang.split("-")[0].split("_")[0].lower()]
    candidates.append("_c")
    for key in candidates:
        value = text.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _period(period: Any) -> tuple[str, int] | None:
    """``{"Unit": "Month", "Quantity": 3}`` -> ``("month", 3)``; years count as 12 months and
    weeks as 7 days, which is how HubSpot's options and ISO durations line up."""
    if not isinstance(period, Mapping):
        return None
    unit = str(period.get("Unit") or "").strip().lower().rstrip("s")
    try:
        quantity = Decimal(str(period.get("Quantity")))
    except InvalidOperation:
        return None
    if not quantity.is_finite() or quantity <= 0 or quantity != quantity.to_integral_value():
        return None
    n = int(quantity)
    if unit == "year":
        return "month", n * 12
    if unit == "month":
        return "month", n
    if unit == "week":
        return "day", n * 7
    if unit == "day":
        return "day", n
    return None


def recurring_frequency(period: Any) -> str | None:
    """HubSpot ``recurringbillingfrequency`` for a billwerk period, ``None`` when none fits."""
    parsed = _period(period)
    if parsed is None:
        return None
    unit, n = parsed
    return (_FREQUENCY_BY_MONTHS if unit == "month" else _FREQUENCY_BY_DAYS).get(n)


def iso_duration(period: Any) -> str | None:
    """ISO-8601 duration for HubSpot's ``hs_recurring_billing_period`` ("P12M"); HubSpot counts
    terms in months, so years become months."""
    parsed = _period(period)
    if parsed is None:
        return None
    unit, n = parsed
    return f"P{n}M" if unit == "month" else f"P{n}D"


def _base(item: Mapping[str, Any], object_type: str, entity_id: str | int) -> dict[str, str]:
    item_id = str(item.get("Id") or "").strip()
    if not item_id:
        raise ValueError(f"billwerk {object_type} without an Id")
    return {
        "billwerk_id": item_id,
        "billwerk_object_type": object_type,
        "billwerk_entity": str(entity_id),
        # The SKU reps know is billwerk's ExternalId; the id keeps the SKU unique without one.
        "hs_sku": str(item.get("ExternalId") or "").strip() or item_id,
    }


def _name(item: Mapping[str, Any], language: str | None) -> str:
    return localized(item.get("Name"), language) or str(item.get("InternalName") or "").strip()


def _finish(properties: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in properties.items() if v not in (None, "")}


def _variant_label(plan_name: str, variant_name: str) -> str:
    """What tells this variant apart from its plan's others: the variant's name without the
    plan's name in front ("Pro (monthly)" under "Pro" -> "monthly")."""
    if plan_name and variant_name.casefold().startswith(plan_name.casefold()):
        rest = variant_name[len(plan_name):].strip(" -\u2013:,")
        if rest.startswith("(") and rest.endswith(")"):
            rest = rest[1:-1].strip()
        return rest
    return variant_name


def product_from_plan_variant(variant: Mapping[str, Any], plan: Mapping[str, Any] | None, *,
                              entity_id: str | int, language: str | None) -> dict[str, str]:
    """Product for a plan variant, named "<plan> – <variant>" ("Pro – monthly").

    Price is the ``RecurringFee`` per ``FeePeriod`` (the period the fee is quoted for, which
    billwerk may bill in a different ``BillingPeriod``, the fallback); the term is the first
    ``ContractPeriod``.
    """
    plan = plan or {}
    plan_name = _name(plan, language)
    variant_name = _name(variant, language)
    label = _variant_label(plan_name, variant_name) if variant_name else ""
    name = NAME_SEPARATOR.join(part for part in (plan_name, label) if part) or variant_name
    description = (localized(variant.get("Description"), language)
                   or localized(plan.get("Description"), language)
                   or localized(plan.get("PlanDescription"), language))
    period = variant.get("FeePeriod") or variant.get("BillingPeriod")
    return _finish({
        **_base(variant, "plan_variant", entity_id),
        "name": name,
        "description": description,
        "price": hubspot_number(variant.get("RecurringFee")),
        "recurringbillingfrequency": recurring_frequency(period),
        "hs_recurring_billing_period": iso_duration(variant.get("ContractPeriod")),
    })


def product_from_component(component: Mapping[str, Any], *, entity_id: str | int,
                           language: str | None) -> dict[str, str]:
    """Product for a component: its ``PricePerUnit`` per ``FeePeriod``. No term: a component
    runs as long as the contract it is booked on."""
    return _finish({
        **_base(component, "component", entity_id),
        "name": _name(component, language),
        "description": localized(component.get("Description"), language),
        "price": hubspot_number(component.get("PricePerUnit")),
        "recurringbillingfrequency": recurring_frequency(component.get("FeePeriod")),
    })


def discount_amount(discount: Mapping[str, Any]) -> str:
    """Negative fixed amount of an absolute discount ("-5"), ``""`` for a percentage.

    billwerk documents only ``Relative`` effects; the sandbox's absolute effect carries
    ``FixedAmount`` (``Amount`` is accepted too). The sign is negative so that a deal's amount
    in HubSpot goes down, as the invoice will.
    """
    effect = discount.get("Effect") or {}
    if not isinstance(effect, Mapping) or str(effect.get("Type") or "").lower() != "absolute":
        return ""
    amount = hubspot_number(effect.get("FixedAmount", effect.get("Amount")))
    if not amount or amount == "0":
        return ""
    return amount if amount.startswith("-") else "-" + amount


def product_from_discount(discount: Mapping[str, Any], *, entity_id: str | int,
                          language: str | None) -> dict[str, str]:
    """Product for a discount: a price only for a fixed-amount discount (see
    :func:`discount_amount`), no frequency and no term."""
    return _finish({
        **_base(discount, "discount", entity_id),
        "name": _name(discount, language),
        "description": localized(discount.get("Description"), language),
        "price": discount_amount(discount),
    })


def content_hash(properties: Mapping[str, Any]) -> str:
    """Stable SHA-256 of product properties: key order does not matter, values compare as
    the strings HubSpot stores, and empty values count as absent (HubSpot returns them as
    ``""`` or null)."""
    canonical = {str(k): str(v) for k, v in properties.items() if v is not None and v != ""}
    blob = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def is_hidden(item: Mapping[str, Any], *parents: Mapping[str, Any] | None) -> bool:
    """Whether the item's product belongs archived: hidden in billwerk (``Hidden``), or
    deleted (``DeletedAt``), itself or through a given parent (a variant of a hidden plan)."""
    return any(_flag(obj.get("Hidden")) or bool(obj.get("DeletedAt"))
               for obj in (item, *parents) if obj)

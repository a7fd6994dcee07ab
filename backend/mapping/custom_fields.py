"""Custom-field values: HubSpot property values -> billwerk custom-field values (pure).

HubSpot hands every property value over as a string: numbers as decimal text, booleans as
``"true"``/``"false"``, date properties as ``YYYY-MM-DD`` (or, in webhook events, epoch
milliseconds at midnight UTC), datetimes as ISO-8601 or epoch milliseconds. billwerk custom fields
are flat JSON values typed ``String``, ``Number``, ``Boolean`` or ``Date`` (``YYYY-MM-DD``).

Which HubSpot type can feed which billwerk type is decided once, when the mapping is made
(:func:`carry_problem`); converting a value can then only fail on a value that does not parse.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Iterable, Protocol

BILLWERK_TYPES = ("String", "Number", "Boolean", "Date")
#: HubSpot property types that can be mapped at all (``object_coordinates``, ``json`` … cannot).
HUBSPOT_TYPES = ("string", "number", "bool", "date", "datetime", "enumeration", "phone_number")

#: billwerk type -> the HubSpot types whose values it can hold.
_CARRIES = {
    "String": set(HUBSPOT_TYPES),
    "Number": {"number"},
    "Boolean": {"bool"},
    "Date": {"date", "datetime"},
}

_HUBSPOT_LABELS = {"string": "text", "number": "number", "bool": "checkbox (true/false)", "date": "date picker",
                   "datetime": "date and time", "enumeration": "dropdown / multiple choice",
                   "phone_number": "phone number"}


class Mapping(Protocol):
    hubspot_property: str
    billwerk_field: str
    hubspot_type: str
    billwerk_type: str | None


class CustomFieldValueError(ValueError):
    """A HubSpot value that cannot become the billwerk field's value; the message says which."""


@dataclass(frozen=True)
class ValueProblem:
    hubspot_property: str
    billwerk_field: str
    message: str


def carry_problem(hubspot_property: str, hubspot_type: str, billwerk_field: str, billwerk_type: str | None) -> str | None:
    """Why a HubSpot property of ``hubspot_type`` cannot feed the billwerk field, or ``None``.

    ``billwerk_type`` ``None`` means billwerk did not say (no listing): any mappable HubSpot type is
    accepted and the value travels as its natural JSON type; billwerk's own check decides.
    """
    if hubspot_type not in HUBSPOT_TYPES:
        return (f"HubSpot property {hubspot_property} is of type {hubspot_type!r}, which cannot be carried to a "
                "billwerk custom field; use a text, number, checkbox, date or dropdown property.")
    if billwerk_type is None:
        return None
    if billwerk_type not in _CARRIES:
        return f"billwerk field {billwerk_field} has type {billwerk_type!r}, which the connector does not know."
    if hubspot_type not in _CARRIES[billwerk_type]:
        fitting = ", ".join(_HUBSPOT_LABELS[t] for t in HUBSPOT_TYPES if t in _CARRIES[billwerk_type])
        return (f"HubSpot property {hubspot_property} is a {_HUBSPOT_LABELS[hubspot_type]} property but billwerk "
                f"field {billwerk_field} holds a {billwerk_type.lower()}; map a {fitting} property to it instead.")
    return None


def _as_date(raw: str, what: str) -> date:
    text = raw.strip()
    if text.lstrip("-").isdigit():  # epoch milliseconds (webhook events, some reads)
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc).date()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).date()
    except ValueError:
        raise CustomFieldValueError(f"{what} is not a date: {raw!r}.") from None


def _as_datetime_text(raw: str, what: str) -> str:
    text = raw.strip()
    if text.lstrip("-").isdigit():
        moment = datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise CustomFieldValueError(f"{what} is not a date and time: {raw!r}.") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _as_number(raw: str, what: str) -> int | float:
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        raise CustomFieldValueError(f"{what} is not a number: {raw!r}.") from None
    if not number.is_finite():
        raise CustomFieldValueError(f"{what} is not a number: {raw!r}.")
    return int(number) if number == number.to_integral_value() else float(number)


def _as_bool(raw: str, what: str) -> bool:
    text = raw.strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise CustomFieldValueError(f"{what} is not true or false: {raw!r}.")


def convert(raw: str | None, hubspot_type: str, billwerk_type: str | None, what: str = "The value"):
    """One HubSpot value as the billwerk field's value; ``None`` for an empty HubSpot value."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    raw = str(raw)
    if billwerk_type == "Date" or (billwerk_type is None and hubspot_type == "date"):
        return _as_date(raw, what).isoformat()
    if billwerk_type == "Number" or (billwerk_type is None and hubspot_type == "number"):
        return _as_number(raw, what)
    if billwerk_type == "Boolean" or (billwerk_type is None and hubspot_type == "bool"):
        return _as_bool(raw, what)
    # String (or untyped text): dates as ISO dates, datetimes as ISO moments in UTC, the rest as HubSpot has it.
    if hubspot_type == "date":
        return _as_date(raw, what).isoformat()
    if hubspot_type == "datetime":
        return _as_datetime_text(raw, what)
    if hubspot_type == "number":
        return str(_as_number(raw, what))
    if hubspot_type == "bool":
        return "true" if _as_bool(raw, what) else "false"
    return raw


def custom_field_values(mappings: Iterable[Mapping], properties: dict, *, keep_empty: bool = False
                        ) -> tuple[dict, list[ValueProblem]]:
    """The billwerk ``CustomFields`` object for one record's HubSpot ``properties``.

    Empty HubSpot values are left out when creating (``keep_empty=False``) and sent as ``null`` —
    which clears the field in billwerk — when updating (``keep_empty=True``), so a value the rep
    removed in HubSpot is removed in billwerk too.
    """
    values: dict = {}
    problems: list[ValueProblem] = []
    for m in mappings:
        what = f"HubSpot property {m.hubspot_property} (billwerk field {m.billwerk_field})"
        try:
            value = convert(properties.get(m.hubspot_property), m.hubspot_type, m.billwerk_type, what)
        except CustomFieldValueError as exc:
            problems.append(ValueProblem(m.hubspot_property, m.billwerk_field, str(exc)))
            continue
        if value is None and not keep_empty:
            continue
        values[m.billwerk_field] = value
    return values, problems

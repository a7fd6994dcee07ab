"""Custom fields: a catalogue per account of the customer and contract fields an admin defined.

billwerk keeps custom fields as a flat object ``{"apiName": value}`` on customers and contracts,
and only keys defined in the account's settings are accepted. How billwerk lists the definitions
over the API is not documented; the sandbox serves them at ``GET /api/v1/CustomFields`` (a guess,
listed in the README) and can switch that listing off (``custom_fields_listable``) so a client's
fallback — a typed key checked by an order preview — can be tested.

A definition is ``{"Key", "Label", "Type", "Object"}`` with ``Type`` one of ``String``, ``Number``,
``Boolean``, ``Date`` and ``Object`` one of ``Customer``, ``Contract``. A key starts with a letter or
an underscore and continues with letters, digits and underscores.
"""
from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, g, has_request_context

from .common import list_response, sandbox
from .errors import ApiError, invalid

bp = Blueprint("billwerk_custom_fields", __name__)

TYPES = ("String", "Number", "Boolean", "Date")
OBJECTS = ("Customer", "Contract")
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Every new account starts with these definitions (the seed's values use some of them).
DEFAULT_DEFINITIONS = (
    ("Customer", "segment", "Segment", "String"),
    ("Customer", "crmRating", "CRM rating", "Number"),
    ("Customer", "newsletter", "Newsletter", "Boolean"),
    ("Customer", "onboardedAt", "Onboarded at", "Date"),
    ("Customer", "CSDpaAccepted", "DPA accepted", "Number"),
    ("Contract", "costcenter", "Cost center", "String"),
    ("Contract", "salesRep", "Sales rep", "String"),
    ("Contract", "seatsCommitted", "Seats committed", "Number"),
    ("Contract", "renewalDate", "Renewal date", "Date"),
    ("Contract", "autoRenew", "Auto renew", "Boolean"),
)


def normalize_object(value) -> str:
    for o in OBJECTS:
        if isinstance(value, str) and value.lower() == o.lower():
            return o
    raise ValueError(f"object must be one of {', '.join(OBJECTS)}; got {value!r}")


def define(catalogue: dict, obj: str, key: str, label: str | None = None, type_: str = "String") -> dict:
    """Add or replace a definition in ``catalogue`` (``{"Customer": {key: def}, "Contract": {...}}``)."""
    obj = normalize_object(obj)
    if not isinstance(key, str) or not KEY.match(key):
        raise ValueError(f"custom field key {key!r} must start with a letter or an underscore and contain only "
                         "letters, digits and underscores")
    if type_ not in TYPES:
        raise ValueError(f"custom field type must be one of {', '.join(TYPES)}; got {type_!r}")
    definition = {"Key": key, "Label": label or key, "Type": type_, "Object": obj}
    catalogue.setdefault(obj, {})[key] = definition
    return dict(definition)


def default_catalogue() -> dict:
    catalogue: dict = {o: {} for o in OBJECTS}
    for obj, key, label, type_ in DEFAULT_DEFINITIONS:
        define(catalogue, obj, key, label, type_)
    return catalogue


def _type_ok(type_: str, value) -> bool:
    if value is None:
        return True  # clears the field
    if type_ == "String":
        return isinstance(value, str)
    if type_ == "Number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_ == "Boolean":
        return isinstance(value, bool)
    if type_ == "Date":
        if not isinstance(value, str):
            return False
        try:
            date.fromisoformat(value[:10])
        except ValueError:
            return False
        return len(value) == 10 or value[10] == "T"
    return False


def check(values: dict, obj: str, field: str) -> None:
    """422 for a key the account did not define or a value of the wrong type. Outside a request
    of an authenticated account (seeding, control API) nothing is checked."""
    account = getattr(g, "account", None) if has_request_context() else None
    if account is None:
        return
    defined = account.custom_fields.get(obj, {})
    for key, value in values.items():
        definition = defined.get(key)
        if definition is None:
            known = ", ".join(sorted(defined)) or "none"
            raise invalid(f"{field}.{key} is not a custom field defined for {obj.lower()}s in this account "
                          f"(defined: {known}).")
        if not _type_ok(definition["Type"], value):
            raise invalid(f"{field}.{key} must be a {definition['Type'].lower()}"
                          f"{' (YYYY-MM-DD)' if definition['Type'] == 'Date' else ''}; got {value!r}.")


@bp.get("/api/v1/customfields")
def list_definitions():
    sb = sandbox()
    if not sb.settings.custom_fields_listable:
        raise ApiError(404, "Resource not found")
    account = g.account
    rows = [dict(d) for obj in OBJECTS for d in account.custom_fields.get(obj, {}).values()]
    return list_response(rows)

"""Property values: how HubSpot coerces and refuses them.

* Values are stored and returned as strings. Numbers and booleans sent as JSON are accepted
  and stored as their string form (``12`` -> ``"12"``, ``true`` -> ``"true"``); ``null`` and
  ``""`` clear a value. Objects and arrays are refused.
* ``number``: must parse as a decimal number (``INVALID_INTEGER`` for integer-only
  properties, ``INVALID_FLOAT`` otherwise).
* ``bool``: ``true`` / ``false`` (any case), stored lower-case (``INVALID_BOOLEAN``).
* ``date``: epoch milliseconds, ``YYYY-MM-DD`` or an ISO timestamp, which must be exactly
  midnight UTC (``INVALID_DATE`` "… is at 22:18:55.865 UTC, not midnight!"); stored as
  ``YYYY-MM-DD``.
* ``datetime``: epoch milliseconds or ISO 8601; stored as ``2026-01-05T10:00:00Z``
  (``INVALID_DATETIME``).
* ``enumeration``: each ``;``-separated value must be an option value (``INVALID_OPTION``),
  except properties with external options (owner, deal stage, pipeline), which are checked
  elsewhere.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DIGITS = re.compile(r"^-?\d+$")


def iso_ms(ms: int) -> str:
    """``2026-01-05T10:00:00.000Z`` (record ``createdAt`` / ``updatedAt``)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_instant(value: str) -> datetime | None:
    """Epoch ms, ``YYYY-MM-DD`` or ISO 8601 (``Z`` or offset) -> aware UTC datetime."""
    value = value.strip()
    try:
        if _DIGITS.match(value):
            return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
        if _DATE_ONLY.match(value):
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def to_epoch_ms(value: str) -> int | None:
    dt = parse_instant(value)
    return None if dt is None else int(dt.timestamp() * 1000)


def raw_to_string(value) -> str | None:
    """JSON value as HubSpot stores it; ``None`` for objects/arrays (refused)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def normalise(prop: dict, raw) -> tuple[str | None, tuple[str, str] | None]:
    """(stored string, None) or (None, (code, message)) for one value of property ``prop``."""
    name = prop["name"]
    value = raw_to_string(raw)
    if value is None:
        return None, ("INVALID_PROPERTY_VALUE", f"{json.dumps(raw)} is not a valid value for {name}; send a string.")
    if value == "":
        return "", None
    ptype = prop["type"]
    if ptype == "number":
        v = value.strip()
        if not _NUMBER.match(v):
            code = "INVALID_INTEGER" if prop.get("_integer") else "INVALID_FLOAT"
            return None, (code, f"{value} was not a valid {'integer' if prop.get('_integer') else 'number'}.")
        if prop.get("_integer") and not re.match(r"^[+-]?\d+(\.0*)?$", v):
            return None, ("INVALID_INTEGER", f"{value} was not a valid integer.")
        return v, None
    if ptype == "bool":
        if value.lower() not in ("true", "false"):
            return None, ("INVALID_BOOLEAN", f"{value} was not a valid boolean. Valid values are true and false.")
        return value.lower(), None
    if ptype == "date":
        dt = parse_instant(value)
        if dt is None:
            return None, ("INVALID_DATE", f"{value} is not a valid date. Use midnight UTC as epoch milliseconds or YYYY-MM-DD.")
        if (dt.hour, dt.minute, dt.second, dt.microsecond) != (0, 0, 0, 0):
            clock = dt.strftime("%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"
            return None, ("INVALID_DATE", f"{value} is at {clock} UTC, not midnight!")
        return dt.strftime("%Y-%m-%d"), None
    if ptype == "datetime":
        dt = parse_instant(value)
        if dt is None:
            return None, ("INVALID_DATETIME", f"{value} is not a valid datetime. Use epoch milliseconds or ISO 8601.")
        return iso_ms(int(dt.timestamp() * 1000)), None
    if ptype == "enumeration":
        if prop.get("externalOptions"):
            return value, None
        allowed = [o["value"] for o in prop.get("options", [])]
        parts = value.split(";") if prop.get("fieldType") == "checkbox" else [value]
        for part in parts:
            if part not in allowed:
                return None, ("INVALID_OPTION",
                              f"{part} was not one of the allowed options: [{', '.join(allowed)}]")
        return value, None
    if len(value) > 65536:
        return None, ("INVALID_STRING", f"value of {name} is longer than 65536 characters")
    return value, None


def compare_key(prop: dict | None, value: str):
    """Sort/compare key: numbers numerically, dates by instant, others case-insensitively."""
    ptype = (prop or {}).get("type")
    if ptype == "number":
        try:
            return (0, float(value))
        except ValueError:
            return (1, value.lower())
    if ptype in ("date", "datetime"):
        ms = to_epoch_ms(value)
        return (0, ms) if ms is not None else (1, value.lower())
    return (0, value.lower())

"""Dates between billwerk and HubSpot. HubSpot date properties hold midnight UTC of the day.

billwerk writes .NET timestamps, ``2014-05-23T13:12:47.0760000Z`` (seven fraction digits), but
also sends ``2013-12-22T11:11:11Z``, ``2020-03-09T10:58:11.799Z`` and bare ``2012-08-02``;
Python's ``fromisoformat`` refuses seven digits, hence the own parser. HubSpot ``date``
properties refuse anything but midnight UTC (``INVALID_DATE … is at 22:18:55.865 UTC, not
midnight!``) and come back as epoch milliseconds or ISO strings. A billwerk timestamp becomes
the UTC calendar date, never the local one (a contract starting at 00:30 in Berlin starts the day before in UTC).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS_PER_DAY = 86_400_000

_BILLWERK = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,7}))?)?"
    r"\s*(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_DIGITS = re.compile(r"^[+-]?\d+$")


def parse_billwerk_datetime(s: str) -> datetime:
    """An aware UTC datetime from a billwerk timestamp or date.

    Accepts 0–7 fraction digits (the seventh, 100 ns, is below Python's resolution and is
    dropped), ``Z`` or a ``±hh:mm`` / ``±hhmm`` / ``±hh`` offset, and bare dates (midnight
    UTC). A timestamp without a zone is UTC: billwerk documents all its timestamps as UTC.
    Raises ``ValueError`` for anything else.
    """
    match = _BILLWERK.match(s.strip()) if isinstance(s, str) else None
    if match is None:
        raise ValueError(f"not a billwerk timestamp: {s!r}")
    day = date.fromisoformat(match["date"])
    if match["h"] is None:
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    micro = int((match["frac"] or "").ljust(7, "0")[:6])
    tz = timezone.utc
    if match["tz"] and match["tz"] not in ("Z", "z"):
        sign = -1 if match["tz"][0] == "-" else 1
        digits = match["tz"][1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if offset >= timedelta(hours=24):
            raise ValueError(f"not a billwerk timestamp: {s!r}")
        tz = timezone(sign * offset)
    try:
        value = datetime(day.year, day.month, day.day, int(match["h"]), int(match["m"]), int(match["s"] or 0),
                         micro, tzinfo=tz)
        return value.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # 25:00, or an offset that leaves years 1–9999
        raise ValueError(f"not a billwerk timestamp: {s!r}") from None


def _as_utc(value: datetime | date | str) -> datetime:
    """Any accepted input as an aware UTC datetime; naive datetimes are taken as UTC."""
    if isinstance(value, str):
        return parse_billwerk_datetime(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    raise TypeError(f"expected a datetime, date or timestamp string, got {type(value).__name__}")


def to_billwerk_datetime(dt_or_date: datetime | date) -> str:
    """``2014-05-23T13:12:47.0760000Z``: billwerk's own format, UTC, seven fraction digits.

    A date is its midnight UTC; a naive datetime is taken as UTC.
    """
    value = _as_utc(dt_or_date)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def utc_date(value: datetime | date | str) -> date:
    """The UTC calendar date of a datetime, date or billwerk timestamp."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return _as_utc(value).date()


def hubspot_date(value: datetime | date | str) -> str:
    """``YYYY-MM-DD`` for a HubSpot ``date`` property: the UTC calendar date, so HubSpot
    never sees a time that is not midnight UTC."""
    return utc_date(value).isoformat()


def hubspot_date_ms(value: datetime | date | str) -> str:
    """The same date as HubSpot's other accepted form: midnight UTC in epoch milliseconds,
    as a string (HubSpot values are strings)."""
    return str((utc_date(value) - date(1970, 1, 1)).days * _MS_PER_DAY)


def parse_hubspot_date(value: str | int | None) -> date | None:
    """The UTC date of a HubSpot ``date``/``datetime`` value; ``None`` when empty.

    HubSpot returns epoch milliseconds (``"1767571200000"``) or ISO strings (``"2026-01-05"``,
    ``"2026-01-05T00:00:00.000Z"``) depending on API and version; both are read. Epoch values
    are always milliseconds (HubSpot never sends seconds). Raises ``ValueError`` otherwise.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a HubSpot date: {value!r}")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"not a HubSpot date: {value!r}")
    if not text:
        return None
    if _DIGITS.match(text):
        try:
            return (_EPOCH + timedelta(milliseconds=int(text))).date()
        except OverflowError:
            raise ValueError(f"not a HubSpot date: {value!r}") from None
    try:
        return parse_billwerk_datetime(text).date()
    except ValueError:
        raise ValueError(f"not a HubSpot date: {value!r}") from None

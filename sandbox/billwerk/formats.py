"""Wire formats shared by every module: ids, timestamps, periods, money, country codes.

billwerk speaks PascalCase JSON with 24-hex MongoDB-style ids and UTC timestamps with seven
fractional digits (``2014-05-23T13:12:47.0760000Z``). Requests may carry 0-7 fractional digits,
an offset instead of ``Z``, or a bare date; :func:`parse_ts` accepts all of them.
"""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

ID_RE = re.compile(r"^[0-9a-f]{24}$")

_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?)?$"
)


def is_id(value) -> bool:
    return isinstance(value, str) and bool(ID_RE.match(value.lower()))


def fmt_ts(dt: datetime | None) -> str | None:
    """Format as billwerk does: UTC, seven fractional digits, ``Z``."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond:06d}0Z"


def parse_ts(value) -> datetime:
    """Parse a request timestamp (0-7 fraction digits, ``Z``/offset/none, or a bare date).

    Returns a naive UTC datetime. Raises ``ValueError`` on anything else.
    """
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("not a string")
    m = _TS_RE.match(value.strip())
    if not m:
        raise ValueError(f"not an ISO 8601 date: {value!r}")
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0),
                  int((frac or "0").ljust(7, "0")[:6]))
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        dt -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return dt


def add_period(dt: datetime, period: dict | None, times: int = 1) -> datetime:
    """Add a billwerk period ``{"Unit": "Month", "Quantity": 3}`` (Day/Week/Month/Year)."""
    if not period:
        return dt
    unit = str(period.get("Unit", "Month")).lower()
    qty = int(period.get("Quantity", 1) or 0) * times
    if unit in ("day", "days"):
        return dt + timedelta(days=qty)
    if unit in ("week", "weeks"):
        return dt + timedelta(weeks=qty)
    months = qty * 12 if unit in ("year", "years") else qty
    total = dt.month - 1 + months
    y, mo = dt.year + total // 12, total % 12 + 1
    return dt.replace(year=y, month=mo, day=min(dt.day, calendar.monthrange(y, mo)[1]))


def money(value) -> float:
    """Round half-up to cents and return a float (billwerk emits JSON numbers)."""
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def as_date(dt: datetime) -> date:
    return dt.date()


#: ISO 3166-1 alpha-2 codes (officially assigned), used to validate ``Address.Country``.
ISO_COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())

#: EU member states (for the reverse-charge / destination VAT rule in :mod:`.pricing`).
EU_COUNTRIES = frozenset("AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split())

#: Standard VAT rates in percent. Anything missing falls back to 0 (export).
VAT_RATES = {
    "DE": 19.0, "AT": 20.0, "FR": 20.0, "GB": 20.0, "NL": 21.0, "BE": 21.0, "IT": 22.0,
    "ES": 21.0, "PL": 23.0, "SE": 25.0, "DK": 25.0, "FI": 25.5, "IE": 23.0, "LU": 17.0,
    "PT": 23.0, "CZ": 21.0, "CH": 8.1, "NO": 25.0,
}


def canon_keys(obj, _skip=("CustomFields", "ContractCustomFields", "Targets")):
    """Normalise request keys the way billwerk's (case-insensitive) JSON binder does.

    ``{"url": …, "events": […]}`` (as n8n sends) becomes ``{"Url": …, "Events": […]}``;
    camelCase becomes PascalCase. Values of free-form maps (custom fields, discount targets)
    are left alone.
    """
    if isinstance(obj, list):
        return [canon_keys(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        key = k[:1].upper() + k[1:] if isinstance(k, str) and k and k[0] != "_" else k
        out[key] = v if key in _skip else canon_keys(v)
    return out

"""List paging as billwerk does it: bare JSON arrays, ``take``/``skip``/``from``.

* ``take``: page size. billwerk documents "500 max." ([C-3p] n8n). Larger values are **clamped**
  to 500 (the checklist allows clamp or 422; clamping is what a client that asks for 1000 and
  loops on short pages copes with best). The default when ``take`` is absent is [NF]; the sandbox
  uses 100 so a client that forgets ``take`` still notices paging.
* ``skip``: offset, "limited to 1000 elements" — more → 400.
* ``from=<Id>``: inclusive cursor in id order (the object with that id is the first returned).
"""
from __future__ import annotations

from datetime import timedelta

from flask import request

from .errors import bad_request
from .formats import is_id, parse_ts

MAX_TAKE = 500
DEFAULT_TAKE = 100
MAX_SKIP = 1000


def _int_arg(name: str, default: int) -> int:
    raw = _arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"The query parameter '{name}' must be an integer.")
    if value < 0:
        raise bad_request(f"The query parameter '{name}' must not be negative.")
    return value


def _arg(name: str):
    """Query parameters are matched case-insensitively (``externalId`` = ``externalid``)."""
    lname = name.lower()
    for k, v in request.args.items():
        if k.lower() == lname:
            return v
    return None


def arg(name: str):
    return _arg(name)


def from_cursor() -> str | None:
    raw = _arg("from")
    if raw in (None, ""):
        return None
    if not is_id(raw):
        raise bad_request("The query parameter 'from' must be a 24-hex id.")
    return raw.lower()


def date_arg(name: str, end_of_day: bool = False):
    """A date query parameter as a naive UTC datetime (400 when malformed).

    With ``end_of_day`` a bare date (``dateTo=2024-05-31``) means the whole day, inclusive.
    """
    raw = _arg(name)
    if raw in (None, ""):
        return None
    try:
        value = parse_ts(raw)
    except ValueError:
        raise bad_request(f"The query parameter '{name}' is not a valid date.")
    if end_of_day and len(raw.strip()) == 10:
        value += timedelta(days=1, microseconds=-1)
    return value


def page(items) -> list:
    """Apply ``skip`` and ``take`` to an iterable already filtered and cursored."""
    take = min(_int_arg("take", DEFAULT_TAKE), MAX_TAKE)
    skip = _int_arg("skip", 0)
    if skip > MAX_SKIP:
        raise bad_request(f"'skip' is limited to {MAX_SKIP} elements; use the 'from' cursor.")
    out = []
    for i, obj in enumerate(items):
        if i < skip:
            continue
        if len(out) >= take:
            break
        out.append(obj)
    return out

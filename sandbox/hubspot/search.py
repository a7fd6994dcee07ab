"""CRM search: ``POST /crm/v3/objects/{type}/search`` (reference §7.3).

* ``filterGroups``: at most 5 groups, 6 filters per group, 18 filters in all; groups are
  OR-ed, filters inside a group AND-ed.
* Operators EQ, NEQ, LT, LTE, GT, GTE, BETWEEN (``value`` + ``highValue``), IN / NOT_IN
  (``values``), HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN (``*``
  wildcards). Numbers compare numerically, date/datetime properties by instant (filter
  values as epoch ms or ISO), strings case-insensitively.
* ``query``: case-insensitive token-prefix match over the type's default searchable properties.
* ``sorts``: ``["-createdate"]``, ``["name"]`` or ``[{"propertyName", "direction"}]``; default id ascending.
* ``limit`` ≤ 200 (default 10), ``after`` is an offset. Only the first 10,000 results are
  reachable: ``after`` ≥ 10,000 is a 400; pages stop at 10,000. ``total`` is the real count.
* Rate: the per-portal secondly limit (see :mod:`ratelimit`); no rate-limit headers.
* Eventual consistency: with ``search_delay_s`` > 0, records created less than that many
  seconds ago are not found yet (default 0: search sees every write at once).
"""
from __future__ import annotations

import re

from flask import Blueprint, g

from .app import body_json, json_response, object_scopes, require_scopes, resolve_object_type, sandbox
from .errors import validation
from .schema import OBJECT_TYPES
from .values import compare_key

bp = Blueprint("search", __name__)

MAX_RESULTS = 10_000
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
_TOKEN = re.compile(r"[\w@.+-]+", re.UNICODE)


def _value(rec, name: str) -> str:
    if name in ("hs_object_id", "id"):
        return rec.id
    return rec.properties.get(name, "")


def _tokens(text: str) -> list[str]:
    out = []
    for tok in _TOKEN.findall(text.lower()):
        out.append(tok)
        out.extend(p for p in re.split(r"[@.+-]", tok) if p)
    return out


def _matches(pdefs: dict, rec, f: dict) -> bool:
    name = f.get("propertyName")
    op = f.get("operator", "EQ")
    val = _value(rec, name)
    pdef = pdefs.get(name)
    if op == "HAS_PROPERTY":
        return val != ""
    if op == "NOT_HAS_PROPERTY":
        return val == ""
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(f.get("value", "")).lower()
        regex = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")
        found = bool(val) and (any(regex.match(t) for t in _tokens(val)) or bool(regex.match(val.lower())))
        return found if op == "CONTAINS_TOKEN" else not found
    if op in ("IN", "NOT_IN"):
        values = [str(v) for v in (f.get("values") or [])]
        hit = val != "" and any(compare_key(pdef, val) == compare_key(pdef, v) for v in values)
        return hit if op == "IN" else not hit
    if op == "NEQ":
        return val == "" or compare_key(pdef, val) != compare_key(pdef, str(f.get("value", "")))
    if val == "":
        return False
    left = compare_key(pdef, val)
    right = compare_key(pdef, str(f.get("value", "")))
    if left[0] != right[0]:
        return False
    if op == "EQ":
        return left == right
    if op == "LT":
        return left < right
    if op == "LTE":
        return left <= right
    if op == "GT":
        return left > right
    if op == "GTE":
        return left >= right
    if op == "BETWEEN":
        high = compare_key(pdef, str(f.get("highValue", "")))
        return right <= left <= high
    return False


def _validate(body: dict, pdefs: dict) -> tuple[list, int, int]:
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise validation("filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise validation(f"Too many filter groups: {len(groups)} (at most {MAX_GROUPS} are allowed)")
    total = 0
    for grp in groups:
        filters = grp.get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation(f"Too many filters in a group: {len(filters)} (at most {MAX_FILTERS_PER_GROUP})")
        total += len(filters)
        for f in filters:
            op = f.get("operator", "EQ")
            if op not in OPERATORS:
                raise validation(f"Unknown operator {op!r}; one of {sorted(OPERATORS)}")
            if op in ("IN", "NOT_IN") and not isinstance(f.get("values"), list):
                raise validation(f"operator {op} needs 'values' (a list)")
            if op == "BETWEEN" and ("value" not in f or "highValue" not in f):
                raise validation("operator BETWEEN needs 'value' and 'highValue'")
    if total > MAX_FILTERS:
        raise validation(f"Too many filters: {total} (at most {MAX_FILTERS} in all)")
    try:
        limit = int(body.get("limit", 10) or 10)
        after = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise validation("limit and after must be numbers") from None
    if limit < 1 or limit > 200:
        raise validation(f"limit must be between 1 and 200, got {limit}")
    if after < 0:
        raise validation("after must not be negative")
    if after >= MAX_RESULTS:
        raise validation(f"Search results are limited to {MAX_RESULTS} per query; after={after} is past the end. "
                         f"Narrow the filters (e.g. by hs_object_id or a date window) instead of paging further.",
                         context={"after": [str(after)]})
    return groups, limit, after


def _sort_spec(sorts) -> list[tuple[str, bool]]:
    out = []
    for s in sorts or []:
        if isinstance(s, str):
            out.append((s[1:], True) if s.startswith("-") else (s, False))
        elif isinstance(s, dict) and s.get("propertyName"):
            out.append((s["propertyName"], str(s.get("direction", "ASCENDING")).upper().startswith("DESC")))
    return out


@bp.route("/crm/v3/objects/<otype>/search", methods=["POST"])
def search(otype):
    otype = resolve_object_type(otype)
    require_scopes(*object_scopes(otype, False))
    hs = sandbox()
    body = body_json(required=False) or {}
    pdefs = g.portal.properties[otype]
    groups, limit, after = _validate(body, pdefs)
    query = str(body.get("query") or "").strip().lower()
    q_tokens = _tokens(query) if query else []
    search_props = OBJECT_TYPES[otype].search_properties

    hidden_after = hs.store.now_ms() - int(hs.settings.search_delay_s * 1000)

    def keep(rec) -> bool:
        if rec.archived:
            return False
        if hs.settings.search_delay_s and rec.created_at > hidden_after:
            return False        # not indexed yet: search is eventually consistent
        if groups and not any(all(_matches(pdefs, rec, f) for f in (grp.get("filters") or [])) for grp in groups):
            return False
        if q_tokens:
            words = [t for p in search_props for t in _tokens(rec.properties.get(p, ""))]
            return all(any(w.startswith(q) for w in words) for q in q_tokens)
        return True

    recs = [r for r in g.portal.table(otype).records.values() if keep(r)]
    recs.sort(key=lambda r: int(r.id))
    for name, desc in reversed(_sort_spec(body.get("sorts"))):
        pdef = pdefs.get(name)
        present = [r for r in recs if _value(r, name) != ""]
        absent = [r for r in recs if _value(r, name) == ""]
        present.sort(key=lambda r: compare_key(pdef, _value(r, name)), reverse=desc)
        recs = present + absent
    total = len(recs)
    end = min(after + limit, MAX_RESULTS, total)
    page = recs[after:end]
    props = body.get("properties") or None
    out = {"total": total, "results": [hs.crm.render(g.portal, otype, r, props) for r in page]}
    if end < min(total, MAX_RESULTS):
        out["paging"] = {"next": {"after": str(end), "link": f"?after={end}"}}
    return json_response(out)

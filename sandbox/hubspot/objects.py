"""CRM v3 objects: basic and batch endpoints for contacts, companies, deals, products and
line items (also addressed by type id ``0-1``, ``0-2``, ``0-3``, ``0-7``, ``0-8``).

Batch failure semantics (reference §7.2, field notes #2):

* **create** answers 207 multi-status. ``settings.batch_errors == "partial"`` (default): every
  input is judged on its own; good inputs are written, bad ones are reported in ``errors``
  (``numErrors``), each entry carrying ``context.objectWriteTraceId`` (when the input had one)
  -- HubSpot's behaviour when inputs carry ``objectWriteTraceId``. ``"strict"``: when an input
  is bad and *not* every input carries an ``objectWriteTraceId``, the whole batch is refused
  with that input's error and nothing is written.
* **update** and **upsert** fail as a whole: one bad input refuses the batch and nothing is
  written -- 400 ``VALIDATION_ERROR`` for a bad value, 400 ``OBJECT_NOT_FOUND`` naming the
  ids that do not exist (update, or upsert by ``hs_object_id``), 409 ``CONFLICT`` for a unique
  value another record holds. The refusal does not say which input was bad (apart from
  missing ids), so a client has to split the batch to find it. ``objectWriteTraceId`` changes
  nothing here: HubSpot documents per-input reporting for batch create only.

Batch-level problems are always whole-batch 400s: more than 100 inputs, duplicate ids in
update/upsert, an ``idProperty`` that is not a unique property.

Unique values: only live records hold them. An archived record's unique value is free, so an
upsert on an archived product's ``billwerk_id`` creates a new record (as HubSpot does: archived
records are in the recycle bin and invisible to ``idProperty`` look-ups).
"""
from __future__ import annotations

import time

from flask import Blueprint, g, request

from . import schema
from .app import (batch_inputs, body_json, bool_param, json_response, list_param, no_content,
                  object_scopes, require_scopes, resolve_object_type, sandbox)
from .errors import ApiError, PropertyErrors, not_found, validation
from .values import iso_ms

bp = Blueprint("objects", __name__)

BASE = "/crm/v3/objects/<otype>"


def _now_iso() -> str:
    return iso_ms(int(time.time() * 1000))


def _type(otype: str, write: bool) -> str:
    name = resolve_object_type(otype)
    require_scopes(*object_scopes(name, write))
    return name


def _all_props(rec) -> list[str]:
    return list(rec.properties)


def batch_response(results: list, errors: list, started: str, ok_status: int):
    body = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now_iso()}
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
        return json_response(body, 207)
    return json_response(body, ok_status)


def standard_error(err: Exception, trace_id: str | None = None, ids: list | None = None) -> dict:
    if isinstance(err, PropertyErrors):
        api = err.to_api_error()
    else:
        api = err
    context = dict(api.context or {})
    if trace_id:
        context["objectWriteTraceId"] = [trace_id]
    if ids:
        context["ids"] = [str(i) for i in ids]
    return {"status": "error", "category": api.category or "VALIDATION_ERROR", "message": api.message,
            "errors": api.errors or [], "context": context, "links": {}, "statusCode": api.status}


def _strict_fail(inputs: list, failures: list) -> None:
    hs = sandbox()
    if failures and hs.settings.batch_errors == "strict" and \
            not all(isinstance(i, dict) and i.get("objectWriteTraceId") for i in inputs):
        err = failures[0][1]
        raise err.to_api_error() if isinstance(err, PropertyErrors) else err


def _whole_batch(err: Exception) -> ApiError:
    """The refusal of a whole update/upsert batch for one bad input."""
    return err.to_api_error() if isinstance(err, PropertyErrors) else err


def _missing_objects(otype: str, ids: list[str]) -> ApiError:
    return ApiError(400, f"Could not get some {schema.OBJECT_TYPES[otype].singular.upper()} objects, they may be "
                         f"deleted or not exist. Check that ids are valid.", "OBJECT_NOT_FOUND",
                    context={"ids": ids})


# --- basic ---------------------------------------------------------------------------------------

@bp.route(BASE, methods=["GET"])
def list_objects(otype):
    otype = _type(otype, False)
    hs = sandbox()
    try:
        limit = int(request.args.get("limit", 10))
    except ValueError:
        raise validation("limit must be a number") from None
    if limit < 1 or limit > 100:
        raise validation(f"limit must be between 1 and 100, got {limit}")
    after = request.args.get("after")
    archived = bool_param("archived")
    recs = sorted((r for r in g.portal.table(otype).records.values() if r.archived == archived),
                  key=lambda r: int(r.id))
    if after:
        try:
            cursor = int(after)
        except ValueError:
            raise validation(f"after must be a cursor returned by a previous call, got {after!r}") from None
        recs = [r for r in recs if int(r.id) > cursor]
    page = recs[:limit]
    props, assocs = list_param("properties"), list_param("associations")
    out = {"results": [hs.crm.render(g.portal, otype, r, props, assocs) for r in page]}
    if len(recs) > limit:
        nxt = page[-1].id
        link = f"{hs.base_url or ''}{request.path}?limit={limit}&after={nxt}"
        out["paging"] = {"next": {"after": nxt, "link": link}}
    return json_response(out)


@bp.route(BASE, methods=["POST"])
def create_object(otype):
    otype = _type(otype, True)
    hs = sandbox()
    body = body_json()
    if not isinstance(body, dict):
        raise validation("body must be an object with properties")
    rec = hs.crm.create(g.portal, otype, body.get("properties") or {}, g.source, body.get("associations"))
    return json_response(hs.crm.render(g.portal, otype, rec, _all_props(rec)), 201)


@bp.route(BASE + "/<oid>", methods=["GET"])
def get_object(otype, oid):
    otype = _type(otype, False)
    hs = sandbox()
    rec = hs.crm.get(g.portal, otype, oid, request.args.get("idProperty"), bool_param("archived"))
    if rec is None:
        raise not_found("Object not found.  objectId are usually numeric.")
    return json_response(hs.crm.render(g.portal, otype, rec, list_param("properties"), list_param("associations")))


@bp.route(BASE + "/<oid>", methods=["PATCH"])
def update_object(otype, oid):
    otype = _type(otype, True)
    hs = sandbox()
    body = body_json()
    rec = hs.crm.get(g.portal, otype, oid, request.args.get("idProperty"))
    if rec is None:
        raise not_found("Object not found.  objectId are usually numeric.")
    hs.crm.update(g.portal, otype, rec, (body or {}).get("properties") or {}, g.source)
    return json_response(hs.crm.render(g.portal, otype, rec, _all_props(rec)))


@bp.route(BASE + "/<oid>", methods=["DELETE"])
def archive_object(otype, oid):
    otype = _type(otype, True)
    hs = sandbox()
    rec = hs.crm.get(g.portal, otype, oid)
    if rec is not None:
        hs.crm.archive(g.portal, otype, rec, g.source)
    return no_content()


# --- batch ---------------------------------------------------------------------------------------

@bp.route(BASE + "/batch/read", methods=["POST"])
def batch_read(otype):
    otype = _type(otype, False)
    hs = sandbox()
    started = _now_iso()
    body = body_json()
    inputs = batch_inputs(body)
    id_prop = body.get("idProperty")
    if id_prop and id_prop != "hs_object_id":
        hs.crm.require_unique_property(g.portal, otype, id_prop)
    archived = bool_param("archived")
    props = body.get("properties") or None
    results, missing = [], []
    for item in inputs:
        oid = str(item.get("id", "")) if isinstance(item, dict) else ""
        rec = hs.crm.get(g.portal, otype, oid, id_prop, archived)
        if rec is None:
            missing.append(oid)
        else:
            results.append(hs.crm.render(g.portal, otype, rec, props))
    errors = []
    if missing:
        errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                       "message": f"Could not get some {schema.OBJECT_TYPES[otype].singular.upper()} objects, they may "
                                  f"be deleted or not exist. Check that ids are valid.",
                       "context": {"ids": missing}, "errors": [], "links": {}})
    return batch_response(results, errors, started, 200)


@bp.route(BASE + "/batch/create", methods=["POST"])
def batch_create(otype):
    otype = _type(otype, True)
    hs = sandbox()
    started = _now_iso()
    inputs = batch_inputs(body_json())
    portal = g.portal
    pending: dict = {}
    claimed: set = set()          # line items an earlier input already gives a parent deal
    planned, failures = [], []
    for idx, item in enumerate(inputs):
        trace = item.get("objectWriteTraceId") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise validation("each input must be an object")
            clean = hs.crm.clean(portal, otype, item.get("properties") or {}, None)
            hs.crm.check_unique(portal, otype, clean, None, pending)
            hs.crm.parse_create_associations(portal, otype, item.get("associations") or [], claimed)
            for prop in portal.table(otype).unique:
                if clean.get(prop):
                    pending[(prop, clean[prop])] = f"input-{idx}"
            planned.append((item, clean))
        except (ApiError, PropertyErrors) as err:
            failures.append((trace, err, None))
    _strict_fail(inputs, failures)
    results = []
    for item, clean in planned:
        rec = hs.crm.create(portal, otype, None, g.source, item.get("associations"), validated=clean)
        out = hs.crm.render(portal, otype, rec, _all_props(rec))
        if item.get("objectWriteTraceId"):
            out["objectWriteTraceId"] = item["objectWriteTraceId"]
        results.append(out)
    errors = [standard_error(err, trace, ids) for trace, err, ids in failures]
    return batch_response(results, errors, started, 201)


def _duplicates(ids: list[str]) -> None:
    seen, dups = set(), []
    for i in ids:
        if i in seen and i not in dups:
            dups.append(i)
        seen.add(i)
    if dups:
        raise validation(f"Duplicate IDs found in batch input: {dups}. IDs must be unique",
                         context={"ids": dups})


@bp.route(BASE + "/batch/update", methods=["POST"])
def batch_update(otype):
    otype = _type(otype, True)
    hs = sandbox()
    started = _now_iso()
    inputs = batch_inputs(body_json())
    portal = g.portal
    if not all(isinstance(i, dict) for i in inputs):
        raise validation("each input must be an object with id and properties")
    _duplicates([f"{i.get('idProperty') or ''}:{i.get('id')}" for i in inputs])
    targets = [hs.crm.get(portal, otype, str(i.get("id", "")), i.get("idProperty")) for i in inputs]
    missing = [str(i.get("id", "")) for i, rec in zip(inputs, targets) if rec is None]
    if missing:
        raise _missing_objects(otype, missing)
    planned, pending = [], {}
    for item, rec in zip(inputs, targets):
        try:
            clean = hs.crm.clean(portal, otype, item.get("properties") or {}, rec)
            hs.crm.check_unique(portal, otype, clean, rec.id, pending)
        except (ApiError, PropertyErrors) as err:
            raise _whole_batch(err) from None
        for prop in portal.table(otype).unique:
            if clean.get(prop):
                pending[(prop, clean[prop])] = rec.id
        planned.append((item, rec, clean))
    results = []
    for item, rec, clean in planned:
        hs.crm.update(portal, otype, rec, None, g.source, validated=clean)
        out = hs.crm.render(portal, otype, rec, _all_props(rec))
        if item.get("objectWriteTraceId"):
            out["objectWriteTraceId"] = item["objectWriteTraceId"]
        results.append(out)
    return batch_response(results, [], started, 200)


@bp.route(BASE + "/batch/upsert", methods=["POST"])
def batch_upsert(otype):
    otype = _type(otype, True)
    hs = sandbox()
    started = _now_iso()
    inputs = batch_inputs(body_json())
    portal = g.portal
    for item in inputs:
        if not isinstance(item, dict) or "id" not in item:
            raise validation("each upsert input needs id (the unique value) and idProperty")
        id_prop = item.get("idProperty")
        if id_prop and id_prop != "hs_object_id":
            hs.crm.require_unique_property(portal, otype, id_prop)
    _duplicates([f"{i.get('idProperty') or ''}:{i.get('id')}" for i in inputs])
    keyed = []
    for item in inputs:
        id_prop = item.get("idProperty") or "hs_object_id"
        key = str(item["id"])
        keyed.append((item, key, id_prop, hs.crm.get(portal, otype, key, id_prop if id_prop != "hs_object_id" else None)))
    missing = [key for _i, key, id_prop, rec in keyed if rec is None and id_prop == "hs_object_id"]
    if missing:
        raise _missing_objects(otype, missing)
    planned, pending = [], {}
    for idx, (item, key, id_prop, rec) in enumerate(keyed):
        props = dict(item.get("properties") or {})
        if rec is None:
            props[id_prop] = key
        try:
            clean = hs.crm.clean(portal, otype, props, rec)
            hs.crm.check_unique(portal, otype, clean, rec.id if rec else None, pending)
        except (ApiError, PropertyErrors) as err:
            raise _whole_batch(err) from None
        for prop in portal.table(otype).unique:
            if clean.get(prop):
                pending[(prop, clean[prop])] = rec.id if rec else f"input-{idx}"
        planned.append((item, rec, clean))
    results = []
    for item, rec, clean in planned:
        is_new = rec is None
        if is_new:
            rec = hs.crm.create(portal, otype, None, g.source, None, validated=clean)
        else:
            hs.crm.update(portal, otype, rec, None, g.source, validated=clean)
        out = hs.crm.render(portal, otype, rec, _all_props(rec))
        out["new"] = is_new
        if item.get("objectWriteTraceId"):
            out["objectWriteTraceId"] = item["objectWriteTraceId"]
        results.append(out)
    return batch_response(results, [], started, 200)


@bp.route(BASE + "/batch/archive", methods=["POST"])
def batch_archive(otype):
    otype = _type(otype, True)
    hs = sandbox()
    inputs = batch_inputs(body_json())
    for item in inputs:
        rec = hs.crm.get(g.portal, otype, str(item.get("id", ""))) if isinstance(item, dict) else None
        if rec is not None:
            hs.crm.archive(g.portal, otype, rec, g.source)
    return no_content()

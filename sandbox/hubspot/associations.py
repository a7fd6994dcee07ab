"""Associations v4 (reference §7.4).

HUBSPOT_DEFINED type ids follow HubSpot's table (deal→company 341 / primary 5, deal→contact 3,
deal→line_item 19, contact→company 279 / primary 1, company→contact 280 / primary 2, …). Every
association is stored with its inverse (deal→company 341 ⇔ company→deal 342). A primary type
(1, 2, 5, 6) moves: setting a new primary company removes the old one's primary flag, and a
contact's ``associatedcompanyid`` follows its primary company. Associations to archived records
are hidden. Limits: GET ≤ 500 per page; batch read ≤ 1000 inputs; other batches ≤ 100.

Every type spec needs both ``associationCategory`` and ``associationTypeId`` (a missing one
fails the whole request, as HubSpot's JSON binding does), and the category must be the one the
type id is defined in. A line item belongs to exactly one parent object: associating it with
a second deal is refused (400; per input in the batch endpoints).
"""
from __future__ import annotations

import time

from flask import Blueprint, g, request

from . import schema
from .app import batch_inputs, body_json, json_response, no_content, object_scopes, require_scopes, \
    resolve_object_type, sandbox
from .crm import association_spec, check_category
from .errors import ApiError, validation
from .values import iso_ms

bp = Blueprint("associations", __name__)


def _types(ftype: str, ttype: str, write: bool) -> tuple[str, str]:
    f, t = resolve_object_type(ftype), resolve_object_type(ttype)
    require_scopes(*object_scopes(f, write))
    if not schema.association_types(f, t):
        raise validation(f"Associations from {f} to {t} are not supported")
    return f, t


def _now() -> str:
    return iso_ms(int(time.time() * 1000))


def _require(otype: str, oid: str, status: int = 404):
    rec = sandbox().crm.get(g.portal, otype, str(oid))
    if rec is None:
        raise ApiError(status, f"{schema.OBJECT_TYPES[otype].label} {oid} not found", "OBJECT_NOT_FOUND",
                       context={"id": [str(oid)]})
    return rec


def _type_ids(ftype: str, ttype: str, specs) -> list[int]:
    """Type ids of a list of ``{associationCategory, associationTypeId}``: both fields required,
    the id must be a type of this pair and the category the one it is defined in."""
    specs = _specs(specs)
    valid = {tid for tid, _l, _p in schema.association_types(ftype, ttype)}
    out = []
    for tid, category in specs:
        if tid not in valid:
            raise validation(f"associationTypeId {tid} ({category}) is not valid for {ftype} → {ttype}; "
                             f"valid HUBSPOT_DEFINED ids: {sorted(valid)}")
        check_category(ftype, ttype, tid, category)
        out.append(tid)
    return out


def _specs(specs) -> list[tuple[int, str]]:
    """The shape of a types list; a malformed one fails the whole request, as a JSON error would."""
    if not isinstance(specs, list) or not specs:
        raise validation("Association types are required: a list of {associationCategory, associationTypeId}")
    return [association_spec(spec) for spec in specs]


def _spec_rows(ftype: str, ttype: str, type_ids) -> list[dict]:
    return [{"category": "HUBSPOT_DEFINED", "typeId": tid, "label": schema.association_label(ftype, ttype, tid)}
            for tid in sorted(type_ids)]


def _labels_pair(ftype, fid, ttype, tid, type_ids) -> dict:
    return {"fromObjectTypeId": schema.OBJECT_TYPES[ftype].type_id, "fromObjectId": int(fid),
            "toObjectTypeId": schema.OBJECT_TYPES[ttype].type_id, "toObjectId": int(tid),
            "labels": [lbl for lbl in (schema.association_label(ftype, ttype, t) for t in sorted(type_ids)) if lbl]}


def _default_rows(ftype, fid, ttype, tid) -> list[dict]:
    fwd = schema.default_association_type(ftype, ttype)
    back = schema.default_association_type(ttype, ftype)
    return [{"from": {"id": str(fid)}, "to": {"id": str(tid)},
             "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": fwd}},
            {"from": {"id": str(tid)}, "to": {"id": str(fid)},
             "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": back}}]


# --- single-object routes ---------------------------------------------------------------------------

@bp.route("/crm/v4/objects/<ftype>/<fid>/associations/default/<ttype>/<tid>", methods=["PUT"])
def put_default(ftype, fid, ttype, tid):
    ftype, ttype = _types(ftype, ttype, True)
    _require(ftype, fid)
    _require(ttype, tid)
    hs = sandbox()
    hs.crm.associate(g.portal, ftype, str(fid), ttype, str(tid), [schema.default_association_type(ftype, ttype)],
                     g.source)
    started = _now()
    return json_response({"status": "COMPLETE", "results": _default_rows(ftype, fid, ttype, tid),
                          "startedAt": started, "completedAt": _now()})


@bp.route("/crm/v4/objects/<ftype>/<fid>/associations/<ttype>/<tid>", methods=["PUT"])
def put_labelled(ftype, fid, ttype, tid):
    ftype, ttype = _types(ftype, ttype, True)
    type_ids = _type_ids(ftype, ttype, body_json())
    _require(ftype, fid)
    _require(ttype, tid)
    hs = sandbox()
    hs.crm.associate(g.portal, ftype, str(fid), ttype, str(tid), type_ids, g.source)
    current = g.portal.assoc[(ftype, str(fid))][(ttype, str(tid))]
    return json_response(_labels_pair(ftype, fid, ttype, tid, current), 201)


@bp.route("/crm/v4/objects/<ftype>/<fid>/associations/<ttype>/<tid>", methods=["DELETE"])
def delete_pair(ftype, fid, ttype, tid):
    ftype, ttype = _types(ftype, ttype, True)
    sandbox().crm.disassociate(g.portal, ftype, str(fid), ttype, str(tid), None, g.source)
    return no_content()


@bp.route("/crm/v4/objects/<ftype>/<fid>/associations/<ttype>", methods=["GET"])
def list_for_object(ftype, fid, ttype):
    ftype, ttype = _types(ftype, ttype, False)
    _require(ftype, fid)
    try:
        limit = int(request.args.get("limit", 500))
    except ValueError:
        raise validation("limit must be a number") from None
    if limit < 1 or limit > 500:
        raise validation(f"limit must be between 1 and 500, got {limit}")
    after = request.args.get("after")
    rows = sandbox().crm.associated(g.portal, ftype, str(fid), ttype)
    if after:
        rows = [r for r in rows if int(r[0]) > int(after)]
    page = rows[:limit]
    out = {"results": [{"toObjectId": int(tid), "associationTypes": _spec_rows(ftype, ttype, types)}
                       for tid, types in page]}
    if len(rows) > limit:
        out["paging"] = {"next": {"after": page[-1][0], "link": f"?after={page[-1][0]}"}}
    return json_response(out)


# --- batch routes -------------------------------------------------------------------------------------

def _batch(results, errors, ok_status, started):
    body = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
    if errors:
        body.update(errors=errors, numErrors=len(errors))
        return json_response(body, 207)
    return json_response(body, ok_status)


def _err(err: ApiError, ids: list) -> dict:
    return {"status": "error", "category": err.category, "message": err.message,
            "context": {"ids": [str(i) for i in ids]}, "errors": err.errors or [], "links": {}}


def _pair(item) -> tuple[str, str]:
    try:
        return str(item["from"]["id"]), str(item["to"]["id"])
    except (KeyError, TypeError):
        raise validation("Each input needs from.id and to.id") from None


@bp.route("/crm/v4/associations/<ftype>/<ttype>/batch/create", methods=["POST"])
def batch_create(ftype, ttype):
    return _associate_each(
        ftype, ttype, 201,
        type_ids_of=lambda f, t, item: _type_ids(f, t, item.get("types")),
        rows_of=lambda f, fid, t, tid: [_labels_pair(f, fid, t, tid, g.portal.assoc[(f, fid)][(t, tid)])],
    )


@bp.route("/crm/v4/associations/<ftype>/<ttype>/batch/associate/default", methods=["POST"])
def batch_default(ftype, ttype):
    return _associate_each(
        ftype, ttype, 200,
        type_ids_of=_default_type,
        rows_of=_default_rows,
    )


def _default_type(ftype, ttype, _item) -> list[int]:
    return [schema.default_association_type(ftype, ttype)]


def _associate_each(ftype, ttype, status, *, type_ids_of, rows_of):
    """The batch-associate loop both endpoints share: per-input errors, the rest associated."""
    ftype, ttype = _types(ftype, ttype, True)
    started = _now()
    hs = sandbox()
    inputs = batch_inputs(body_json())
    pairs = [_pair(item) for item in inputs]
    if type_ids_of is not _default_type:
        for item in inputs:
            _specs(item.get("types"))
    results, errors = [], []
    for item, (fid, tid) in zip(inputs, pairs):
        try:
            type_ids = type_ids_of(ftype, ttype, item)
            _require(ftype, fid, 400)
            _require(ttype, tid, 400)
            hs.crm.check_single_parent(g.portal, ftype, fid, ttype, tid)
        except ApiError as err:
            errors.append(_err(err, [fid, tid]))
            continue
        hs.crm.associate(g.portal, ftype, fid, ttype, tid, type_ids, g.source)
        results += rows_of(ftype, fid, ttype, tid)
    return _batch(results, errors, status, started)


@bp.route("/crm/v4/associations/<ftype>/<ttype>/batch/read", methods=["POST"])
def batch_read(ftype, ttype):
    ftype, ttype = _types(ftype, ttype, False)
    started = _now()
    hs = sandbox()
    results, errors = [], []
    for item in batch_inputs(body_json(), max_inputs=1000):
        fid = str((item or {}).get("id", ""))
        rows = hs.crm.associated(g.portal, ftype, fid, ttype)
        after = (item or {}).get("after")
        if after:
            rows = [r for r in rows if int(r[0]) > int(after)]
        if not rows:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                           "message": f"No {schema.OBJECT_TYPES[ttype].singular} is associated with "
                                      f"{schema.OBJECT_TYPES[ftype].singular} {fid}.",
                           "context": {"fromObjectId": [fid]}, "errors": [], "links": {}})
            continue
        page = rows[:500]
        entry = {"from": {"id": fid}, "to": [{"toObjectId": int(tid), "associationTypes": _spec_rows(ftype, ttype, t)}
                                             for tid, t in page]}
        if len(rows) > 500:
            entry["paging"] = {"next": {"after": page[-1][0]}}
        results.append(entry)
    return _batch(results, errors, 200, started)


@bp.route("/crm/v4/associations/<ftype>/<ttype>/batch/archive", methods=["POST"])
def batch_archive(ftype, ttype):
    ftype, ttype = _types(ftype, ttype, True)
    hs = sandbox()
    for item in batch_inputs(body_json()):
        fid = str(((item or {}).get("from") or {}).get("id", ""))
        for to in (item or {}).get("to") or []:
            hs.crm.disassociate(g.portal, ftype, fid, ttype, str(to.get("id")), None, g.source)
    return no_content()


@bp.route("/crm/v4/associations/<ftype>/<ttype>/batch/labels/archive", methods=["POST"])
def batch_labels_archive(ftype, ttype):
    ftype, ttype = _types(ftype, ttype, True)
    hs = sandbox()
    for item in batch_inputs(body_json()):
        fid, tid = _pair(item)
        hs.crm.disassociate(g.portal, ftype, fid, ttype, tid, _type_ids(ftype, ttype, item.get("types")), g.source)
    return no_content()


@bp.route("/crm/v4/associations/<ftype>/<ttype>/labels", methods=["GET"])
def labels(ftype, ttype):
    ftype, ttype = _types(ftype, ttype, False)
    return json_response({"results": [{"category": "HUBSPOT_DEFINED", "typeId": tid, "label": label}
                                      for tid, label, _p in schema.association_types(ftype, ttype)]})

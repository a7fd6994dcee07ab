"""CRM pipelines v3 for deals (reference §7.6).

The default deal pipeline ``default`` ("Sales Pipeline") has stages appointmentscheduled 0.2,
qualifiedtobuy 0.4, presentationscheduled 0.6, decisionmakerboughtin 0.8, contractsent 0.9,
closedwon 1.0 (closed) and closedlost 0.0 (closed); stage ``metadata`` values are strings
(``{"probability": "1.0", "isClosed": "true"}``). Created pipelines and stages get numeric
string ids, as in HubSpot. Deal stages need ``metadata.probability`` between 0.0 and 1.0.
"""
from __future__ import annotations

import time

from flask import Blueprint, g

from .app import body_json, json_response, no_content, object_scopes, require_scopes, resolve_object_type, \
    schema_scopes
from .errors import ApiError, not_found, validation
from .values import iso_ms

bp = Blueprint("pipelines", __name__)
BASE = "/crm/v3/pipelines/<otype>"


def _type(otype: str, write: bool) -> str:
    name = resolve_object_type(otype)
    require_scopes(*(schema_scopes(name, True) if write else object_scopes(name, False)))
    if name != "deals":
        raise validation(f"Object type {name} does not support pipelines in this sandbox (deals only)")
    return name


def _next_id(portal) -> str:
    portal.pipeline_seq += 1
    return str(portal.pipeline_seq)


def build_stage(portal, body: dict, order: int) -> dict:
    if not isinstance(body, dict) or not body.get("label"):
        raise validation("Each stage needs a label")
    meta = dict(body.get("metadata") or {})
    if "probability" not in meta:
        raise validation("Deal stages need metadata.probability (0.0 to 1.0)",
                         errors=[{"message": "metadata.probability is required", "code": "REQUIRED_FIELD",
                                  "context": {"field": ["metadata.probability"]}}])
    try:
        prob = float(meta["probability"])
    except (TypeError, ValueError):
        raise validation(f"metadata.probability {meta['probability']!r} is not a number") from None
    if not 0.0 <= prob <= 1.0:
        raise validation(f"metadata.probability must be between 0.0 and 1.0, got {prob}")
    now = iso_ms(int(time.time() * 1000))
    meta = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in meta.items()}
    meta["probability"] = str(prob)
    meta.setdefault("isClosed", "false")
    return {"id": str(body.get("id") or _next_id(portal)), "label": body["label"],
            "displayOrder": int(body.get("displayOrder", order)), "metadata": meta, "archived": False,
            "createdAt": now, "updatedAt": now, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}


def create_pipeline(portal, body: dict, pipeline_id: str | None = None) -> dict:
    if not isinstance(body, dict) or not body.get("label"):
        raise validation("label is required")
    stages = body.get("stages")
    if not isinstance(stages, list) or not stages:
        raise validation("A pipeline needs at least one stage")
    pipelines = portal.pipelines["deals"]
    if any(p["label"] == body["label"] and not p["archived"] for p in pipelines.values()):
        raise ApiError(409, f"A pipeline with label '{body['label']}' already exists.", "OBJECT_ALREADY_EXISTS")
    now = iso_ms(int(time.time() * 1000))
    pipeline = {"id": pipeline_id or _next_id(portal), "label": body["label"],
                "displayOrder": int(body.get("displayOrder", len(pipelines))), "archived": False,
                "createdAt": now, "updatedAt": now,
                "stages": [build_stage(portal, s, i) for i, s in enumerate(stages)]}
    pipelines[pipeline["id"]] = pipeline
    return pipeline


def _pipeline(portal, pipeline_id: str) -> dict:
    p = portal.pipelines["deals"].get(pipeline_id)
    if p is None or p["archived"]:
        raise not_found(f"Unable to find pipeline {pipeline_id}")
    return p


def _stage(pipeline: dict, stage_id: str) -> dict:
    s = next((s for s in pipeline["stages"] if s["id"] == stage_id and not s["archived"]), None)
    if s is None:
        raise not_found(f"Unable to find stage {stage_id} in pipeline {pipeline['id']}")
    return s


def _public(pipeline: dict) -> dict:
    return dict(pipeline, stages=[s for s in pipeline["stages"] if not s["archived"]])


@bp.route(BASE, methods=["GET"])
def list_pipelines(otype):
    _type(otype, False)
    return json_response({"results": [_public(p) for p in g.portal.pipelines["deals"].values() if not p["archived"]]})


@bp.route(BASE, methods=["POST"])
def post_pipeline(otype):
    _type(otype, True)
    return json_response(_public(create_pipeline(g.portal, body_json())), 201)


@bp.route(BASE + "/<pipeline_id>", methods=["GET"])
def get_pipeline(otype, pipeline_id):
    _type(otype, False)
    return json_response(_public(_pipeline(g.portal, pipeline_id)))


@bp.route(BASE + "/<pipeline_id>", methods=["PATCH"])
def patch_pipeline(otype, pipeline_id):
    _type(otype, True)
    p = _pipeline(g.portal, pipeline_id)
    body = body_json()
    for key in ("label", "displayOrder"):
        if key in (body or {}):
            p[key] = body[key]
    p["updatedAt"] = iso_ms(int(time.time() * 1000))
    return json_response(_public(p))


@bp.route(BASE + "/<pipeline_id>", methods=["DELETE"])
def delete_pipeline(otype, pipeline_id):
    _type(otype, True)
    p = _pipeline(g.portal, pipeline_id)
    if pipeline_id == "default":
        raise validation("The default pipeline cannot be deleted")
    p["archived"] = True
    return no_content()


@bp.route(BASE + "/<pipeline_id>/stages", methods=["GET"])
def list_stages(otype, pipeline_id):
    _type(otype, False)
    return json_response({"results": _public(_pipeline(g.portal, pipeline_id))["stages"]})


@bp.route(BASE + "/<pipeline_id>/stages", methods=["POST"])
def post_stage(otype, pipeline_id):
    _type(otype, True)
    p = _pipeline(g.portal, pipeline_id)
    stage = build_stage(g.portal, body_json(), len(p["stages"]))
    p["stages"].append(stage)
    return json_response(stage, 201)


@bp.route(BASE + "/<pipeline_id>/stages/<stage_id>", methods=["GET"])
def get_stage(otype, pipeline_id, stage_id):
    _type(otype, False)
    return json_response(_stage(_pipeline(g.portal, pipeline_id), stage_id))


@bp.route(BASE + "/<pipeline_id>/stages/<stage_id>", methods=["PATCH"])
def patch_stage(otype, pipeline_id, stage_id):
    _type(otype, True)
    stage = _stage(_pipeline(g.portal, pipeline_id), stage_id)
    body = body_json() or {}
    if "metadata" in body:
        merged = dict(stage["metadata"], **{k: str(v).lower() if isinstance(v, bool) else str(v)
                                            for k, v in body["metadata"].items()})
        stage["metadata"] = build_stage(g.portal, {"label": stage["label"], "metadata": merged}, 0)["metadata"]
    for key in ("label", "displayOrder"):
        if key in body:
            stage[key] = body[key]
    stage["updatedAt"] = iso_ms(int(time.time() * 1000))
    return json_response(stage)


@bp.route(BASE + "/<pipeline_id>/stages/<stage_id>", methods=["DELETE"])
def delete_stage(otype, pipeline_id, stage_id):
    _type(otype, True)
    _stage(_pipeline(g.portal, pipeline_id), stage_id)["archived"] = True
    return no_content()

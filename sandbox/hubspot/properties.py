"""CRM properties v3 and property groups (reference §7.5).

Custom properties take effect at once: object writes validate against them, and a property
created with ``hasUniqueValue: true`` becomes usable as ``idProperty`` (upsert, read).
``hasUniqueValue`` cannot be changed afterwards (PATCH -> 400). A duplicate name -> 409.
HubSpot-defined properties cannot be archived or have their type changed.
"""
from __future__ import annotations

import re
import time

from flask import Blueprint, g, request

from .app import batch_inputs, body_json, bool_param, json_response, no_content, require_scopes, \
    resolve_object_type, schema_scopes
from .errors import ApiError, not_found, validation
from .values import iso_ms

bp = Blueprint("properties", __name__)

TYPES = {"bool", "date", "datetime", "enumeration", "number", "phone_number", "string"}
FIELD_TYPES = {"booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html", "number",
               "phonenumber", "radio", "select", "text", "textarea"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
BASE = "/crm/v3/properties/<otype>"


def public(prop: dict) -> dict:
    return {k: v for k, v in prop.items() if not k.startswith("_")}


def _type(otype: str, write: bool) -> str:
    name = resolve_object_type(otype)
    require_scopes(*schema_scopes(name, write))
    return name


def _options(raw, ptype: str) -> list:
    if raw is None:
        if ptype == "enumeration":
            return []
        return []
    if not isinstance(raw, list):
        raise validation("options must be a list")
    out, seen = [], set()
    for i, opt in enumerate(raw):
        if not isinstance(opt, dict) or not str(opt.get("label", "")).strip() or "value" not in opt \
                or str(opt.get("value", "")) == "":
            raise validation(f"Option {i} is invalid: every option needs a non-empty label and value",
                             errors=[{"message": "option label and value are required", "code": "INVALID_OPTION",
                                      "context": {"option": [str(opt)]}}])
        value = str(opt["value"])
        if value in seen:
            raise validation(f"Duplicate option value {value!r}")
        seen.add(value)
        out.append({"label": str(opt["label"]), "value": value, "description": opt.get("description", ""),
                    "displayOrder": int(opt.get("displayOrder", i)), "hidden": bool(opt.get("hidden", False))})
    return out


def create_property(portal, otype: str, body: dict) -> dict:
    if not isinstance(body, dict):
        raise validation("body must be an object")
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise validation(f"Missing required fields: {', '.join(missing)}",
                         errors=[{"message": f"{k} is required", "code": "REQUIRED_FIELD",
                                  "context": {"field": [k]}} for k in missing])
    name = body["name"]
    if not _NAME.match(name):
        raise validation(f"Property name {name!r} is invalid: use lower-case letters, digits and underscores")
    existing = portal.properties[otype].get(name)
    if existing is not None and not existing["archived"]:
        raise ApiError(409, f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS",
                       context={"name": [name]})
    if body["type"] not in TYPES:
        raise validation(f"type {body['type']!r} is not one of {sorted(TYPES)}")
    if body["fieldType"] not in FIELD_TYPES:
        raise validation(f"fieldType {body['fieldType']!r} is not one of {sorted(FIELD_TYPES)}")
    if body["groupName"] not in portal.groups[otype] or portal.groups[otype][body["groupName"]]["archived"]:
        raise validation(f"Property group {body['groupName']!r} does not exist for {otype}")
    options = _options(body.get("options"), body["type"])
    now = iso_ms(int(time.time() * 1000))
    unique = bool(body.get("hasUniqueValue", False))
    prop = {
        "name": name, "label": body["label"], "type": body["type"], "fieldType": body["fieldType"],
        "description": body.get("description", ""), "groupName": body["groupName"], "options": options,
        "displayOrder": int(body.get("displayOrder", -1)), "calculated": False, "externalOptions": False,
        "hasUniqueValue": unique, "hidden": bool(body.get("hidden", False)), "hubspotDefined": False,
        "formField": bool(body.get("formField", False)), "archived": False, "createdAt": now, "updatedAt": now,
        "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
        "_integer": False,
    }
    for key in ("numberDisplayHint", "textDisplayHint", "dataSensitivity", "referencedObjectType"):
        if key in body:
            prop[key] = body[key]
    portal.properties[otype][name] = prop
    if unique:
        portal.table(otype).add_unique_index(name)
    return prop


def _get(portal, otype, name, archived=False) -> dict:
    prop = portal.properties[otype].get(name)
    if prop is None or prop["archived"] != archived:
        raise not_found(f"Unable to find property {name} for object type {otype}")
    return prop


@bp.route(BASE, methods=["GET"])
def list_properties(otype):
    otype = _type(otype, False)
    archived = bool_param("archived")
    return json_response({"results": [public(p) for p in g.portal.properties[otype].values()
                                      if p["archived"] == archived]})


@bp.route(BASE, methods=["POST"])
def post_property(otype):
    otype = _type(otype, True)
    return json_response(public(create_property(g.portal, otype, body_json())), 201)


@bp.route(BASE + "/<name>", methods=["GET"])
def get_property(otype, name):
    otype = _type(otype, False)
    return json_response(public(_get(g.portal, otype, name, bool_param("archived"))))


@bp.route(BASE + "/<name>", methods=["PATCH"])
def patch_property(otype, name):
    otype = _type(otype, True)
    prop = _get(g.portal, otype, name)
    body = body_json()
    if not isinstance(body, dict):
        raise validation("body must be an object")
    if "hasUniqueValue" in body and bool(body["hasUniqueValue"]) != prop["hasUniqueValue"]:
        raise validation(f"hasUniqueValue of {name} cannot be changed after the property was created",
                         errors=[{"message": "hasUniqueValue is immutable", "code": "INVALID_UPDATE",
                                  "context": {"propertyName": [name]}}])
    if prop["hubspotDefined"] and any(k in body for k in ("type", "fieldType", "name")):
        raise validation(f"{name} is a HubSpot-defined property; its type cannot be changed")
    if "type" in body and body["type"] not in TYPES:
        raise validation(f"type {body['type']!r} is not one of {sorted(TYPES)}")
    if "fieldType" in body and body["fieldType"] not in FIELD_TYPES:
        raise validation(f"fieldType {body['fieldType']!r} is not one of {sorted(FIELD_TYPES)}")
    if "groupName" in body and body["groupName"] not in g.portal.groups[otype]:
        raise validation(f"Property group {body['groupName']!r} does not exist for {otype}")
    if "options" in body:
        prop["options"] = _options(body["options"], body.get("type", prop["type"]))
    for key in ("label", "description", "groupName", "displayOrder", "hidden", "formField", "type", "fieldType",
                "numberDisplayHint", "textDisplayHint", "calculationFormula"):
        if key in body:
            prop[key] = body[key]
    prop["updatedAt"] = iso_ms(int(time.time() * 1000))
    return json_response(public(prop))


def _archive(portal, otype, name) -> None:
    prop = portal.properties[otype].get(name)
    if prop is None or prop["archived"]:
        return
    if prop["hubspotDefined"]:
        raise validation(f"{name} is a HubSpot-defined property and cannot be archived")
    prop["archived"] = True
    prop["archivedAt"] = iso_ms(int(time.time() * 1000))
    portal.table(otype).unique.pop(name, None)


@bp.route(BASE + "/<name>", methods=["DELETE"])
def delete_property(otype, name):
    otype = _type(otype, True)
    _get(g.portal, otype, name)
    _archive(g.portal, otype, name)
    return no_content()


def _batch_result(results, errors, ok_status):
    now = iso_ms(int(time.time() * 1000))
    body = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if errors:
        body.update(errors=errors, numErrors=len(errors))
        return json_response(body, 207)
    return json_response(body, ok_status)


@bp.route(BASE + "/batch/create", methods=["POST"])
def batch_create(otype):
    otype = _type(otype, True)
    results, errors = [], []
    for item in batch_inputs(body_json()):
        try:
            results.append(public(create_property(g.portal, otype, item)))
        except ApiError as err:
            errors.append({"status": "error", "category": err.category, "message": err.message,
                           "context": dict(err.context or {}, name=[str((item or {}).get("name"))]),
                           "errors": err.errors or [], "links": {}})
    return _batch_result(results, errors, 201)


@bp.route(BASE + "/batch/read", methods=["POST"])
def batch_read(otype):
    otype = _type(otype, False)
    body = body_json()
    archived = bool(body.get("archived", False)) if isinstance(body, dict) else False
    results, missing = [], []
    for item in batch_inputs(body):
        prop = g.portal.properties[otype].get(str((item or {}).get("name")))
        if prop is None or prop["archived"] != archived:
            missing.append(str((item or {}).get("name")))
        else:
            results.append(public(prop))
    errors = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Some properties were not found",
               "context": {"names": missing}, "errors": [], "links": {}}] if missing else []
    return _batch_result(results, errors, 200)


@bp.route(BASE + "/batch/archive", methods=["POST"])
def batch_archive(otype):
    otype = _type(otype, True)
    for item in batch_inputs(body_json()):
        _archive(g.portal, otype, str((item or {}).get("name")))
    return no_content()


# --- groups ----------------------------------------------------------------------------------------

def _group(portal, otype, name) -> dict:
    grp = portal.groups[otype].get(name)
    if grp is None or grp["archived"]:
        raise not_found(f"Unable to find property group {name} for object type {otype}")
    return grp


@bp.route(BASE + "/groups", methods=["GET"])
def list_groups(otype):
    otype = _type(otype, False)
    return json_response({"results": [dict(grp) for grp in g.portal.groups[otype].values() if not grp["archived"]]})


@bp.route(BASE + "/groups", methods=["POST"])
def create_group(otype):
    otype = _type(otype, True)
    body = body_json()
    if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
        raise validation("name and label are required")
    name = body["name"]
    if not _NAME.match(name):
        raise validation(f"Group name {name!r} is invalid: use lower-case letters, digits and underscores")
    existing = g.portal.groups[otype].get(name)
    if existing is not None and not existing["archived"]:
        raise ApiError(409, f"A property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
    grp = {"name": name, "label": body["label"], "displayOrder": int(body.get("displayOrder", -1)), "archived": False}
    g.portal.groups[otype][name] = grp
    return json_response(dict(grp), 201)


@bp.route(BASE + "/groups/<name>", methods=["GET"])
def get_group(otype, name):
    otype = _type(otype, False)
    return json_response(dict(_group(g.portal, otype, name)))


@bp.route(BASE + "/groups/<name>", methods=["PATCH"])
def patch_group(otype, name):
    otype = _type(otype, True)
    grp = _group(g.portal, otype, name)
    body = body_json()
    for key in ("label", "displayOrder"):
        if key in (body or {}):
            grp[key] = body[key]
    return json_response(dict(grp))


@bp.route(BASE + "/groups/<name>", methods=["DELETE"])
def delete_group(otype, name):
    otype = _type(otype, True)
    grp = _group(g.portal, otype, name)
    if any(p["groupName"] == name and not p["archived"] for p in g.portal.properties[otype].values()) \
            and request.args.get("force") != "true":
        raise validation(f"Property group {name} still holds properties; move or archive them first")
    grp["archived"] = True
    return no_content()

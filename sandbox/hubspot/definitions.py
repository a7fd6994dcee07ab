"""Workflow custom-action definitions (Automation Actions v4, reference §3.1/§3.2).

``/automation/v4/actions/{appId}``: ``POST`` (create, 201), ``GET`` (list, ``limit`` ≤ 100,
``after``, ``archived``); ``/automation/v4/actions/{appId}/{definitionId}``: ``GET``, ``PATCH``
(200, a new ``revisionId``), ``DELETE`` (204, archived: ``archivedAt`` set, listed only with
``archived=true``). These are developer-account calls: they authenticate with the developer API
key as ``?hapikey=`` (``settings.developer_api_key``), not with an account's OAuth token, and
are not rate limited per account. An ``appId`` other than the app's → 404.

A definition is checked the way HubSpot's schema ``PublicActionDefinitionEgg`` states it:
``actionUrl`` (an http(s) URL), ``published`` (bool), ``objectTypes`` (≥ 1 known type),
``inputFields`` and ``functions`` (lists) and ``labels`` (≥ 1 locale, each with
``actionName``) are required; every input field needs ``isRequired`` and a ``typeDefinition``
with a unique ``name`` and a known ``type`` (and ``fieldType``, when given); an enumeration needs
``options`` (or ``optionsUrl``); ``supportedValueTypes`` are HubSpot's; output fields need a
``typeDefinition`` with ``name`` and ``type``; the label maps (``inputFieldLabels``,
``outputFieldLabels``, ``inputFieldDescriptions``, ``inputFieldOptionLabels``) may only name fields
the definition has; ``objectRequestOptions.properties`` is a list of names. Every problem is
listed in one 400 ``VALIDATION_ERROR`` (``errors[]`` with ``in`` naming the field).
"""
from __future__ import annotations

import copy
import re

from flask import Blueprint, request

from .app import body_json, json_response, no_content, sandbox
from .errors import ApiError, not_found, validation

bp = Blueprint("definitions", __name__)

BASE = "/automation/v4/actions/<app_id>"

INPUT_TYPES = ("bool", "date", "datetime", "enumeration", "json", "number", "object_coordinates", "phone_number",
               "string")
OUTPUT_TYPES = INPUT_TYPES + ("currency_number",)
FIELD_TYPES = ("booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html", "number", "phonenumber",
               "radio", "select", "text", "textarea")
VALUE_TYPES = ("STATIC_VALUE", "OBJECT_PROPERTY", "FIELD_DATA", "FETCHED_OBJECT_PROPERTY", "ENROLLMENT_EVENT_PROPERTY")
FUNCTION_TYPES = ("PRE_ACTION_EXECUTION", "POST_ACTION_EXECUTION", "PRE_FETCH_OPTIONS", "POST_FETCH_OPTIONS")
OBJECT_TYPES = ("CONTACT", "COMPANY", "DEAL", "TICKET", "QUOTE", "LINE_ITEM", "PRODUCT")
OBJECT_TYPE_IDS = {"0-1": "CONTACT", "0-2": "COMPANY", "0-3": "DEAL", "0-5": "TICKET", "0-7": "PRODUCT",
                   "0-8": "LINE_ITEM", "0-14": "QUOTE"}
REQUIRED = ("actionUrl", "published", "objectTypes", "inputFields", "functions", "labels")
PATCHABLE = ("actionUrl", "published", "objectTypes", "inputFields", "outputFields", "labels", "objectRequestOptions",
             "executionRules", "inputFieldDependencies")
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


# --- validation ----------------------------------------------------------------------------------

def check_definition(body) -> list[dict]:
    """Every problem of a definition (create body, or the result of a patch), as HubSpot error details."""
    if not isinstance(body, dict):
        return [_problem("", "the body must be a JSON object (an action definition)")]
    problems = [_problem(key, f"{key} is required") for key in REQUIRED if key not in body or body[key] is None]
    url = body.get("actionUrl")
    if url is not None and not (isinstance(url, str) and _URL.match(url)):
        problems.append(_problem("actionUrl", f"actionUrl must be an http(s) URL, got {url!r}"))
    if "published" in body and not isinstance(body["published"], bool):
        problems.append(_problem("published", "published must be true or false"))
    problems += _object_types(body.get("objectTypes"))
    inputs, in_problems = _fields(body.get("inputFields"), "inputFields", INPUT_TYPES, inputs=True)
    outputs, out_problems = _fields(body.get("outputFields") or [], "outputFields", OUTPUT_TYPES, inputs=False)
    problems += in_problems + out_problems
    problems += _functions(body.get("functions"))
    problems += _labels(body.get("labels"), inputs, outputs)
    options = body.get("objectRequestOptions")
    if options is not None and not (isinstance(options, dict) and isinstance(options.get("properties", []), list)
                                    and all(isinstance(p, str) for p in options.get("properties", []))):
        problems.append(_problem("objectRequestOptions", "objectRequestOptions must be {\"properties\": [names]}"))
    rules = body.get("executionRules")
    if rules is not None and not (isinstance(rules, list) and all(isinstance(r, dict) and r.get("labelName")
                                                                  for r in rules)):
        problems.append(_problem("executionRules", "each execution rule needs labelName and conditions"))
    return problems


def _problem(where: str, message: str) -> dict:
    return {"message": message, "code": "INVALID_DEFINITION" if where else "INVALID_INPUT", "in": where}


def _object_types(value) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        return [_problem("objectTypes", "objectTypes must list at least one object type, e.g. [\"DEAL\"]")]
    bad = [v for v in value if not isinstance(v, str) or (v.upper() not in OBJECT_TYPES and v not in OBJECT_TYPE_IDS)]
    return [_problem("objectTypes", f"unknown object types {bad}; known: {list(OBJECT_TYPES)}")] if bad else []


def _fields(value, where: str, types: tuple, *, inputs: bool) -> tuple[dict, list[dict]]:
    """({name: typeDefinition}, problems) of inputFields / outputFields."""
    if value is None:
        return {}, []
    if not isinstance(value, list):
        return {}, [_problem(where, f"{where} must be a list")]
    names, problems = {}, []
    for n, field in enumerate(value):
        at = f"{where}[{n}]"
        if not isinstance(field, dict) or not isinstance(field.get("typeDefinition"), dict):
            problems.append(_problem(at, f"{at}.typeDefinition is required"))
            continue
        td = field["typeDefinition"]
        name = td.get("name")
        if not isinstance(name, str) or not name:
            problems.append(_problem(f"{at}.typeDefinition.name", "every field needs typeDefinition.name"))
        elif name in names:
            problems.append(_problem(f"{at}.typeDefinition.name", f"field name {name!r} is used twice"))
        else:
            names[name] = td
        if td.get("type") not in types:
            problems.append(_problem(f"{at}.typeDefinition.type",
                                     f"type {td.get('type')!r} is not one of {list(types)}"))
        if td.get("fieldType") is not None and td["fieldType"] not in FIELD_TYPES:
            problems.append(_problem(f"{at}.typeDefinition.fieldType",
                                     f"fieldType {td['fieldType']!r} is not one of {list(FIELD_TYPES)}"))
        options = td.get("options")
        if options is not None and not (isinstance(options, list) and all(
                isinstance(o, dict) and isinstance(o.get("label"), str) and isinstance(o.get("value"), str)
                for o in options)):
            problems.append(_problem(f"{at}.typeDefinition.options", "each option needs a label and a value (strings)"))
        elif inputs and td.get("type") == "enumeration" and not options and not td.get("optionsUrl") \
                and not td.get("externalOptions"):
            problems.append(_problem(f"{at}.typeDefinition.options",
                                     f"enumeration field {name!r} needs options (or an optionsUrl)"))
        if inputs:
            if not isinstance(field.get("isRequired"), bool):
                problems.append(_problem(f"{at}.isRequired", f"input field {name!r} needs isRequired (true/false)"))
            supported = field.get("supportedValueTypes", ["STATIC_VALUE"])
            if not isinstance(supported, list) or not supported or any(v not in VALUE_TYPES for v in supported):
                problems.append(_problem(f"{at}.supportedValueTypes",
                                         f"supportedValueTypes must be a non-empty subset of {list(VALUE_TYPES)}"))
    return names, problems


def _functions(value) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [_problem("functions", "functions must be a list")]
    problems = []
    for n, fn in enumerate(value):
        if not isinstance(fn, dict) or fn.get("functionType") not in FUNCTION_TYPES \
                or not isinstance(fn.get("functionSource"), str):
            problems.append(_problem(f"functions[{n}]", f"a function needs functionType (one of {list(FUNCTION_TYPES)}) "
                                                        f"and functionSource"))
    return problems


def _labels(value, inputs: dict, outputs: dict) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, dict) or not value:
        return [_problem("labels", "labels must map at least one locale (e.g. \"en\") to labels")]
    problems = []
    for locale, labels in value.items():
        at = f"labels.{locale}"
        if not isinstance(labels, dict) or not isinstance(labels.get("actionName"), str) or not labels["actionName"]:
            problems.append(_problem(f"{at}.actionName", f"{at} needs actionName"))
            continue
        for key, fields in (("inputFieldLabels", inputs), ("inputFieldDescriptions", inputs),
                            ("inputFieldOptionLabels", inputs), ("outputFieldLabels", outputs)):
            named = labels.get(key) or {}
            if not isinstance(named, dict):
                problems.append(_problem(f"{at}.{key}", f"{at}.{key} must map field names to labels"))
                continue
            unknown = sorted(set(named) - set(fields))
            if unknown:
                problems.append(_problem(f"{at}.{key}", f"{at}.{key} names fields the definition does not have: "
                                                        f"{unknown}"))
    return problems


# --- storage -------------------------------------------------------------------------------------

def _normalised(body: dict) -> dict:
    """The stored form: what HubSpot fills in (options, externalOptions, outputFields)."""
    out = copy.deepcopy({k: v for k, v in body.items() if k in REQUIRED + PATCHABLE})
    out.setdefault("outputFields", [])
    for field in out["inputFields"]:
        field.setdefault("supportedValueTypes", ["STATIC_VALUE"])
    for field in out["inputFields"] + out["outputFields"]:
        field["typeDefinition"].setdefault("options", [])
        field["typeDefinition"].setdefault("externalOptions", False)
    out["objectTypes"] = [OBJECT_TYPE_IDS.get(t, t.upper()) for t in out["objectTypes"]]
    return out


def _refuse(problems: list[dict]) -> ApiError:
    first = problems[0]["message"]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return validation(f"Invalid action definition: {first}{more}", errors=problems)


def _app(app_id: str) -> None:
    hs = sandbox()
    if str(app_id) != str(hs.settings.app_id):
        raise not_found(f"App {app_id} not found for this developer account")


def _definition(definition_id: str, archived: bool = False) -> dict:
    hs = sandbox()
    found = hs.store.action_definitions.get(str(definition_id))
    if found is None or (found.get("archivedAt") is not None) != archived:
        raise not_found(f"Action definition {definition_id} not found")
    return found


def _render(defn: dict) -> dict:
    return copy.deepcopy(defn)


# --- routes --------------------------------------------------------------------------------------

@bp.route(BASE, methods=["POST"])
def create(app_id):
    _app(app_id)
    body = body_json()
    problems = check_definition(body)
    if problems:
        raise _refuse(problems)
    hs = sandbox()
    store = hs.store
    store.action_definition_seq += 1
    defn = _normalised(body)
    defn["functions"] = [{"functionType": f["functionType"], "id": f.get("id") or str(n)}
                         for n, f in enumerate(body["functions"])]
    defn.update(id=str(store.action_definition_seq), revisionId="1")
    store.action_definitions[defn["id"]] = defn
    store.action_functions[defn["id"]] = copy.deepcopy(body["functions"])
    return json_response(_render(defn), 201)


@bp.route(BASE, methods=["GET"])
def list_definitions(app_id):
    _app(app_id)
    hs = sandbox()
    try:
        limit = int(request.args.get("limit", 100))
        after = int(request.args.get("after", 0))
    except ValueError:
        raise validation("limit and after must be numbers") from None
    if limit < 1 or limit > 100:
        raise validation(f"limit must be between 1 and 100, got {limit}")
    archived = request.args.get("archived", "false").lower() == "true"
    rows = sorted((d for d in hs.store.action_definitions.values()
                   if (d.get("archivedAt") is not None) == archived and int(d["id"]) > after), key=lambda d: int(d["id"]))
    page = rows[:limit]
    out = {"results": [_render(d) for d in page]}
    if len(rows) > limit:
        out["paging"] = {"next": {"after": page[-1]["id"], "link": f"?after={page[-1]['id']}"}}
    return json_response(out)


@bp.route(BASE + "/<definition_id>", methods=["GET"])
def get_definition(app_id, definition_id):
    _app(app_id)
    archived = request.args.get("archived", "false").lower() == "true"
    return json_response(_render(_definition(definition_id, archived)))


@bp.route(BASE + "/<definition_id>", methods=["PATCH"])
def update_definition(app_id, definition_id):
    _app(app_id)
    current = _definition(definition_id)
    body = body_json()
    if not isinstance(body, dict):
        raise _refuse([_problem("", "the body must be a JSON object")])
    unknown = sorted(set(body) - set(PATCHABLE))
    if unknown:
        raise _refuse([_problem(k, f"{k} cannot be changed with PATCH" if k in ("functions", "id", "revisionId")
                                else f"unknown field {k}") for k in unknown])
    merged = {**current, **copy.deepcopy(body), "functions": sandbox().store.action_functions[current["id"]]}
    problems = check_definition(merged)
    if problems:
        raise _refuse(problems)
    updated = _normalised(merged)
    updated.update(functions=current["functions"], id=current["id"], revisionId=str(int(current["revisionId"]) + 1))
    sandbox().store.action_definitions[current["id"]] = updated
    return json_response(_render(updated))


@bp.route(BASE + "/<definition_id>", methods=["DELETE"])
def archive_definition(app_id, definition_id):
    _app(app_id)
    defn = _definition(definition_id)
    defn["archivedAt"] = sandbox().store.now_ms()
    return no_content()


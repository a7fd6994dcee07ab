"""The control API under ``/_sandbox`` (no authentication, JSON): drive and inspect the sandbox.

Every route has a Python twin on :class:`~sandbox.hubspot.HubSpotSandbox`; see README.md.
"""
from __future__ import annotations

from flask import Blueprint, request

from .app import json_response, no_content, sandbox
from .errors import ApiError, PropertyErrors, not_found, validation

bp = Blueprint("control", __name__, url_prefix="/_sandbox")


def _body() -> dict:
    data = request.get_json(force=True, silent=True)
    return data if isinstance(data, dict) else {}


def _strict_body(allowed: set[str], shape: str) -> dict:
    """The JSON object a user-facing route expects, or a 400 that shows the expected shape.

    An edit with a body the route does not understand must not answer 200 and change nothing:
    ``{"dealstage": "closedwon"}`` sent where ``{"properties": {...}}`` belongs is the classic case.
    The Content-Type header is not required (``curl -d`` without ``-H`` still works).
    """
    raw = request.get_data(as_text=True)
    if not raw.strip():
        data = {}
    else:
        data = request.get_json(force=True, silent=True)
        if data is None:
            raise validation(f"the body is not valid JSON; expected {shape}")
    if not isinstance(data, dict):
        raise validation(f"the body must be a JSON object; expected {shape}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise validation(f"unknown field(s) {', '.join(unknown)}; expected {shape}")
    if "properties" in allowed and not isinstance(data.get("properties", {}), dict):
        raise validation(f"properties must be an object of property names to values; expected {shape}")
    return data


def _pid():
    raw = request.args.get("portal_id") or _body().get("portal_id")
    return int(raw) if raw else None


@bp.route("/", methods=["GET"])
def index():
    hs = sandbox()
    return json_response({"name": "HubSpot sandbox", "app_id": hs.app_id, "client_id": hs.client_id,
                          "developer_api_key": hs.settings.developer_api_key,
                          "default_portal_id": hs.default_portal_id, "portals": hs.portals()})


@bp.route("/health", methods=["GET"])
def health():
    return json_response({"status": "ok", "service": "hubspot-sandbox"})


@bp.route("/seed", methods=["POST"])
def seed():
    body = _body()
    body.pop("portal_id", None)
    return json_response(sandbox().seed(portal_id=_pid(), **body))


@bp.route("/reset", methods=["POST"])
def reset():
    sandbox().reset()
    return no_content()


@bp.route("/state", methods=["GET"])
def state():
    return json_response(sandbox().state(_pid()))


@bp.route("/state/objects/<otype>", methods=["GET"])
def state_objects(otype):
    """Every record of a type; any other query parameter filters on a property (``?dealstage=contractsent``)."""
    filters = {k: v for k, v in request.args.items() if k not in ("portal_id", "archived")}
    try:
        records = sandbox().objects(otype, _pid(), request.args.get("archived") == "true")
    except ValueError as exc:
        raise validation(str(exc)) from None
    return json_response({"results": [r for r in records
                                      if all((r["properties"].get(k) or "") == v for k, v in filters.items())]})


@bp.route("/state/objects/<otype>/<oid>", methods=["GET"])
def state_object(otype, oid):
    obj = sandbox().get_object(otype, oid, _pid())
    if obj is None:
        raise not_found(f"no {otype} {oid}")
    return json_response(obj)


@bp.route("/state/properties/<otype>", methods=["GET"])
def state_properties(otype):
    return json_response({"results": list(sandbox().properties(otype, _pid()).values())})


@bp.route("/state/installs", methods=["GET"])
def state_installs():
    return json_response({"results": sandbox().portals()})


@bp.route("/state/callbacks", methods=["GET"])
def state_callbacks():
    return json_response({"results": list(sandbox().callbacks().values())})


@bp.route("/state/webhooks", methods=["GET"])
def state_webhooks():
    return json_response({"results": sandbox().webhook_deliveries})


@bp.route("/calls", methods=["GET"])
def calls():
    return json_response({"results": sandbox().calls})


@bp.route("/calls", methods=["DELETE"])
def reset_calls():
    sandbox().reset_calls()
    return no_content()


@bp.route("/faults", methods=["GET"])
def list_faults():
    return json_response({"results": sandbox().faults()})


@bp.route("/faults", methods=["POST"])
def add_fault():
    body = _body()
    allowed = {"path_prefix", "method", "status", "times", "delay_s", "message", "drop_webhooks", "category"}
    unknown = set(body) - allowed
    if unknown:
        raise validation(f"unknown fault fields {sorted(unknown)}; allowed: {sorted(allowed)}")
    return json_response(sandbox().add_fault(**body), 201)


@bp.route("/faults", methods=["DELETE"])
def clear_faults():
    sandbox().clear_faults()
    return no_content()


@bp.route("/limits", methods=["GET"])
def get_limits():
    s = sandbox().settings
    return json_response({"rate_limit": s.rate_limit, "rate_window_s": s.rate_window_s,
                          "search_rate_per_s": s.search_rate_per_s})


@bp.route("/limits", methods=["POST"])
def limits():
    body = _strict_body({"rate_limit", "rate_window_s", "search_rate_per_s"},
                        '{"rate_limit": 20, "rate_window_s": 10, "search_rate_per_s": 5} (any of them)')
    return json_response(sandbox().set_limits(**{k: body[k] for k in ("rate_limit", "rate_window_s",
                                                                      "search_rate_per_s") if k in body}))


@bp.route("/settings", methods=["GET"])
def get_settings():
    return json_response(sandbox().settings.public())


@bp.route("/settings", methods=["POST"])
def settings():
    try:
        return json_response(sandbox().configure(**_body()))
    except ValueError as exc:
        raise validation(str(exc)) from None


@bp.route("/time", methods=["POST"])
def advance_time():
    sandbox().advance_time(float(_strict_body({"advance_s"}, '{"advance_s": 3600}').get("advance_s", 0)))
    return json_response({"now": sandbox().store.now()})


@bp.route("/portals", methods=["GET"])
def portals():
    return json_response({"results": sandbox().portals()})


@bp.route("/portals", methods=["POST"])
def create_portal():
    body = _body()
    if not body.get("portal_id"):
        raise validation("portal_id is required")
    return json_response(sandbox().create_portal(int(body["portal_id"]), body.get("name")), 201)


@bp.route("/tokens", methods=["POST"])
def tokens():
    body = _body()
    return json_response(sandbox().issue_tokens(body.get("portal_id"), body.get("scopes")))


@bp.route("/portals/<int:portal_id>/uninstall", methods=["POST"])
def uninstall(portal_id):
    sandbox().uninstall(portal_id)
    return no_content()


@bp.route("/subscriptions", methods=["GET"])
def subscriptions():
    return json_response({"results": sandbox().subscriptions()})


@bp.route("/subscriptions", methods=["PUT"])
def replace_subscriptions():
    """Replace every subscription: ``{"subscriptions": [...]}``, ``{"hsmeta": {...}}`` (a
    webhooks-hsmeta.json document) or ``{"project_file": true}`` (the configured or the
    connector's own file again)."""
    body = _body()
    try:
        if body.get("project_file"):
            return json_response({"results": sandbox().load_subscriptions()})
        entries = body["hsmeta"] if "hsmeta" in body else body.get("subscriptions")
        if entries is None:
            raise ValueError("send subscriptions (a list), hsmeta (a webhooks-hsmeta.json document) or project_file")
        return json_response({"results": sandbox().set_subscriptions(entries)})
    except ValueError as exc:
        raise validation(str(exc)) from None


@bp.route("/subscriptions", methods=["POST"])
def set_subscription():
    body = _body()
    try:
        return json_response({"results": sandbox().set_subscription(body.get("subscriptionType", ""),
                                                                    body.get("active", True),
                                                                    body.get("properties"))})
    except ValueError as exc:
        raise validation(str(exc)) from None


@bp.route("/webhooks/flush", methods=["POST"])
def flush_webhooks():
    ok = sandbox().flush_webhooks(float(_body().get("timeout", 5.0)))
    return json_response({"flushed": ok})


def _user_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except PropertyErrors as err:
        raise err.to_api_error() from None
    except KeyError as exc:
        raise not_found(str(exc)) from None
    except ValueError as exc:
        raise validation(str(exc)) from None


@bp.route("/objects/<otype>", methods=["POST"])
def user_create(otype):
    body = _strict_body({"properties", "associations", "portal_id", "user_id"},
                        '{"properties": {"name": "ACME GmbH"}, "associations": [...]} (associations optional)')
    return json_response(_user_call(sandbox().user_create, otype, body.get("properties") or {}, _pid(),
                                    body.get("associations"), body.get("user_id")), 201)


@bp.route("/objects/<otype>/<oid>", methods=["PATCH"])
def user_update(otype, oid):
    body = _strict_body({"properties", "portal_id", "user_id"}, '{"properties": {"dealstage": "closedwon"}}')
    if not body.get("properties"):
        if _user_call(sandbox().get_object, otype, oid, _pid()) is None:
            raise not_found(f"no {otype} {oid}")
        raise validation('no properties to change; expected {"properties": {"dealstage": "closedwon"}}')
    return json_response(_user_call(sandbox().user_update, otype, oid, body.get("properties") or {}, _pid(),
                                    body.get("user_id")))


@bp.route("/objects/<otype>/<oid>", methods=["DELETE"])
def user_archive(otype, oid):
    _user_call(sandbox().user_archive, otype, oid, _pid())
    return no_content()


@bp.route("/associations", methods=["POST"])
def user_associate():
    b = _strict_body({"from_type", "from_id", "to_type", "to_id", "type_ids", "portal_id"},
                     '{"from_type": "deals", "from_id": "…", "to_type": "companies", "to_id": "…", "type_ids": [341]}')
    _user_call(sandbox().user_associate, b.get("from_type"), b.get("from_id"), b.get("to_type"), b.get("to_id"),
               b.get("type_ids"), _pid())
    return no_content()


@bp.route("/workflow-actions/execute", methods=["POST"])
def execute_workflow_action():
    b = _body()
    for key in ("action_url", "object_type", "object_id"):
        if key not in b:
            raise validation(f"{key} is required")
    resp = sandbox().execute_workflow_action(int(b.get("portal_id") or sandbox().default_portal_id), b["action_url"],
                                             b["object_type"], b["object_id"], b.get("input_fields") or {},
                                             b.get("properties"))
    return json_response({"status": resp.status_code, "body": resp.text})


@bp.route("/cards/call", methods=["POST"])
def call_card():
    b = _body()
    if "url" not in b:
        raise validation("url is required")
    resp = sandbox().call_card(int(b.get("portal_id") or sandbox().default_portal_id), b.get("method", "GET"),
                               b["url"], b.get("body"))
    return json_response({"status": resp.status_code, "body": resp.text})


@bp.errorhandler(TypeError)
def _bad_args(exc):
    err = ApiError(400, f"bad arguments: {exc}", "VALIDATION_ERROR")
    return json_response(err.body(), 400)

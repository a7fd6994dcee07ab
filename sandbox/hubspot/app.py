"""The Flask application factory and the request pipeline shared by every API route.

Pipeline of one request (``before_request`` in this order):

1. faults configured through the control API (delay and/or forced status);
2. for workflow-action definitions (``/automation/v4/actions/{appId}…``): the developer API
   key (``?hapikey=``); for other API paths (``/crm/``, ``/automation/``, ``/appinstalls/``,
   ``/account-info/``): bearer-token authentication (401 ``INVALID_AUTHENTICATION`` /
   ``EXPIRED_AUTHENTICATION``), then the portal's rolling rate limit and, for search, the
   secondly search limit (429);
3. the route handler runs under the store lock;
4. ``after_request`` adds the rate-limit headers and appends the call to the call log
   (every call except ``/_sandbox/…`` and the record pages of :mod:`ui`).
"""
from __future__ import annotations

import hmac
import json
import logging
import time

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from .errors import ApiError, PropertyErrors
from .ratelimit import rate_limit_error, search_limit_error

log = logging.getLogger("sandbox.hubspot")

API_PREFIXES = ("/crm/", "/automation/", "/appinstalls/", "/account-info/")
CONTROL_PREFIX = "/_sandbox"
UI_PREFIX = "/contacts/"          # record pages (ui.py): not an API
# Action definitions are managed by the developer account (?hapikey=), callbacks by the account's token.
DEVELOPER_PREFIX = "/automation/v4/actions/"
CALLBACKS_PREFIX = "/automation/v4/actions/callbacks/"


class SandboxFlask(Flask):
    """Flask that runs route handlers under the sandbox's store lock."""

    unlocked_endpoints: set[str] = set()

    def dispatch_request(self):  # noqa: D401 - Flask hook
        if request.endpoint in self.unlocked_endpoints:
            return super().dispatch_request()
        with self.extensions["hubspot_sandbox"].store.lock:
            return super().dispatch_request()


def sandbox():
    """The :class:`HubSpotSandbox` serving the current request."""
    return current_app.extensions["hubspot_sandbox"]


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers, mimetype="application/json")


def no_content() -> Response:
    return Response(status=204)


def body_json(required: bool = True):
    """The parsed JSON body; 400 in HubSpot's shape when it is missing or invalid."""
    raw = request.get_data(cache=True)
    if not raw:
        if required:
            raise ApiError(400, "Invalid input JSON: request body is empty", "VALIDATION_ERROR")
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid input JSON on line {getattr(exc, 'lineno', 1)}, column "
                            f"{getattr(exc, 'colno', 1)}: {exc}", "VALIDATION_ERROR") from None


def _batch_size() -> int | None:
    if request.method not in ("POST", "PUT", "PATCH") or not request.is_json:
        return None
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("inputs"), list):
        return len(data["inputs"])
    return None


def create_app(hs) -> Flask:
    """Build the WSGI app for a :class:`~sandbox.hubspot.HubSpotSandbox`."""
    from . import (associations, automation, control, definitions, objects, oauth,  # noqa: PLC0415
                   pipelines, properties, search, ui)

    app = SandboxFlask("sandbox.hubspot")
    app.extensions["hubspot_sandbox"] = hs
    app.url_map.strict_slashes = False
    for module in (oauth, search, objects, properties, pipelines, associations, automation, definitions, control, ui):
        app.register_blueprint(module.bp)
    app.unlocked_endpoints = {"control.flush_webhooks", "control.execute_workflow_action", "control.call_card"}

    @app.before_request
    def _pipeline():
        g.started = time.time()
        path = request.path
        if path.startswith((CONTROL_PREFIX, UI_PREFIX)):
            return None
        _apply_faults(hs, path)
        if path.startswith(DEVELOPER_PREFIX) and not path.startswith(CALLBACKS_PREFIX):
            _developer_key(hs)
        elif path.startswith(API_PREFIXES):
            hs.authenticate_request()
            _rate_limit(hs, path)
        return None

    @app.after_request
    def _after(resp: Response):
        rate = g.get("rate")
        if rate:
            resp.headers["X-HubSpot-RateLimit-Max"] = str(rate[0])
            resp.headers["X-HubSpot-RateLimit-Remaining"] = str(rate[1])
            resp.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(rate[2])
        if not request.path.startswith((CONTROL_PREFIX, UI_PREFIX)):
            hs.log_call({"method": request.method, "path": request.path,
                         "query": request.args.to_dict(flat=True), "status": resp.status_code,
                         "portal_id": g.get("portal_id") or hs.peek_portal_id(), "batch_size": _batch_size(),
                         "ts": hs.store.now()})
        return resp

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return json_response(err.body(), err.status, err.headers)

    @app.errorhandler(PropertyErrors)
    def _prop_error(err: PropertyErrors):
        api = err.to_api_error()
        return json_response(api.body(), api.status)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        if err.code == 404:
            api = ApiError(404, f"Unable to route {request.method} {request.path}: no such endpoint",
                           "OBJECT_NOT_FOUND")
        elif err.code == 405:
            api = ApiError(405, f"Method {request.method} is not allowed for {request.path}", "VALIDATION_ERROR")
        else:
            api = ApiError(err.code or 500, err.description or "error", "VALIDATION_ERROR")
        return json_response(api.body(), api.status)

    @app.errorhandler(Exception)
    def _crash(err: Exception):
        log.exception("sandbox handler crashed")
        api = ApiError(500, "internal error", "INTERNAL_ERROR")
        return json_response(api.body(), 500)

    return app


def _apply_faults(hs, path: str) -> None:
    fault = hs.take_fault(request.method, path)
    if fault is None:
        return
    if fault.get("delay_s"):
        time.sleep(float(fault["delay_s"]))
    status = fault.get("status")
    if not status:
        return
    status = int(status)
    if status == 429:
        s = hs.store.settings
        raise rate_limit_error(s.rate_limit, s.rate_window_s)
    message = fault.get("message") or {500: "internal error", 502: "Bad Gateway", 503: "Service Unavailable",
                                       504: "Gateway Timeout"}.get(status, f"fault {status}")
    category = fault.get("category") or ("INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR")
    raise ApiError(status, message, category)


def _developer_key(hs) -> None:
    key = request.args.get("hapikey", "")
    if not hmac.compare_digest(key.encode(), hs.settings.developer_api_key.encode()):
        raise ApiError(401, "The developer API key (hapikey) is missing or invalid; action definitions are managed "
                            "with the developer account's key, not an account's OAuth token.",
                       "INVALID_AUTHENTICATION")


def _rate_limit(hs, path: str) -> None:
    s = hs.store.settings
    now = hs.store.now()
    pid = g.portal_id
    if path.endswith("/search") and path.startswith("/crm/v3/objects/"):
        ok, _ = hs.search_window.hit(pid, now, s.search_rate_per_s, 1.0)
        if not ok:
            raise search_limit_error()
        ok, _remaining = hs.rate_window.hit(pid, now, s.rate_limit, s.rate_window_s)
        if not ok:
            raise rate_limit_error(s.rate_limit, s.rate_window_s)
        return  # HubSpot sends no rate-limit headers on search responses
    ok, remaining = hs.rate_window.hit(pid, now, s.rate_limit, s.rate_window_s)
    if not ok:
        raise rate_limit_error(s.rate_limit, s.rate_window_s)
    g.rate = (s.rate_limit, remaining, int(s.rate_window_s * 1000))


def require_scopes(*any_of: str) -> None:
    """403 MISSING_SCOPES unless the token has one of ``any_of`` (when enforcement is on)."""
    hs = sandbox()
    if not hs.settings.enforce_scopes:
        return
    granted = set(g.get("scopes") or ())
    if granted & set(any_of):
        return
    raise ApiError(403, "This app hasn't been granted all required scopes to make this call. Read more about "
                        "required scopes here: https://developers.hubspot.com/scopes.", "MISSING_SCOPES",
                   errors=[{"message": "One or more of the following scopes are required.",
                            "context": {"requiredGranularScopes": list(any_of)}}])


def object_scopes(otype: str, write: bool) -> tuple[str, ...]:
    rw = "write" if write else "read"
    scopes = [f"crm.objects.{otype}.{rw}"]
    if otype in ("products", "line_items"):
        scopes.append("e-commerce")
    return tuple(scopes)


def schema_scopes(otype: str, write: bool) -> tuple[str, ...]:
    if otype in ("products", "line_items"):
        return ("e-commerce",) if write else ("e-commerce", f"crm.objects.{otype}.read", f"crm.schemas.{otype}.read")
    if write:
        return (f"crm.schemas.{otype}.write",)
    return (f"crm.objects.{otype}.read", f"crm.schemas.{otype}.read", f"crm.schemas.{otype}.write")


def list_param(name: str) -> list[str] | None:
    """A list query parameter given as ``a,b`` and/or repeated ``?x=a&x=b``."""
    values = [v for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]
    return [v.strip() for v in values] or None


def bool_param(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    return default if raw is None else raw.lower() == "true"


def resolve_object_type(name: str):
    from .schema import resolve_type  # noqa: PLC0415
    ot = resolve_type(name)
    if ot is None:
        raise ApiError(400, f"Unable to infer object type from: {name}", "VALIDATION_ERROR")
    return ot.name


def batch_inputs(body, max_inputs: int = 100) -> list:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise ApiError(400, "Invalid input JSON: 'inputs' must be a list", "VALIDATION_ERROR")
    inputs = body["inputs"]
    if len(inputs) > max_inputs:
        raise ApiError(400, f"Too many inputs: {len(inputs)} inputs were sent but at most {max_inputs} are "
                            f"allowed per batch request.", "VALIDATION_ERROR",
                       context={"maxInputs": [str(max_inputs)]})
    return inputs

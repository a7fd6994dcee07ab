"""Control API under ``/_sandbox`` (no auth, JSON) — the HTTP twin of ``BillwerkSandbox``'s methods.

| method, path | body / query | does |
|---|---|---|
| POST `/_sandbox/seed` | `{"catalog_items", "customers", "contracts_per_customer", "client_id", "entity_ids"}` | seed data |
| GET `/_sandbox/state` | `?kind=customers` (or contracts, orders, invoices, catalog, plan_variants, webhooks, deliveries, …) | dump state |
| POST `/_sandbox/accounts` | `{"client_id", "client_secret", "entities": [{"id", "name", "public_api_key", "country"}], "production"?}` | add account (`production`: may post letters) |
| GET / DELETE `/_sandbox/calls` | — | call log / clear it |
| GET / POST / DELETE `/_sandbox/faults` | `{"path_prefix", "method", "status", "times", "delay_s", "body"}` or `{"drop_webhooks": n}`, `{"duplicate_webhooks": n}`, `{"reorder_webhooks": true}`, `{"pause_webhooks": true}`, `{"reorder_contract_webhooks": id}`, `{"late_webhooks": n, "late_by_s", "late_retry_count"}`, `{"legacy_webhooks": true}` | faults |
| GET / POST `/_sandbox/limits` | `{"rate_limit", "window_s", "style", "token_ttl_s"}` | limits |
| POST `/_sandbox/trigger` | `{"event": "PaymentEscalated", "contract_id": …, "trigger_days": …}` | emit an event |
| POST `/_sandbox/hidden` | `{"kind": "plan_variant", "id": …, "hidden": true}` | hide / show |
| POST `/_sandbox/tokens/revoke` | `{"client_id"?, "token"?}` (empty = all) | revoke tokens |
| POST `/_sandbox/clock` | `{"advance_s": 3600}` | move the clock |
| POST `/_sandbox/webhooks` | `{"url", "events", "username", "password", "client_id", "entity_id"}` | register (with Basic auth) |
| POST `/_sandbox/webhooks/flush` | `{"timeout": 5}` | wait for deliveries |
| GET `/_sandbox/deliveries` | — | delivery log |
| GET / POST / DELETE `/_sandbox/custom-fields` | `{"object": "customer" or "contract", "key", "label", "type": "String", "Number", "Boolean" or "Date", "client_id"?}` (DELETE: `object`, `key`) | the account's custom-field catalogue |
| POST `/_sandbox/reset` | — | forget everything |
"""
from __future__ import annotations

import json

from flask import Blueprint, request

from .common import sandbox
from .errors import ApiError, json_response

bp = Blueprint("billwerk_control", __name__, url_prefix="/_sandbox")


def _body() -> dict:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "Body is not valid JSON.")
    if not isinstance(data, dict):
        raise ApiError(400, "Body must be a JSON object.")
    return data


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except KeyError as exc:
        raise ApiError(404, f"Not found: {exc.args[0] if exc.args else exc}")
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc))


@bp.get("/health")
def health():
    return json_response({"status": "ok", "service": "billwerk-sandbox"})


@bp.post("/seed")
def seed():
    return json_response(_call(sandbox().seed, **_body()))


@bp.get("/state")
def state():
    return json_response(_call(sandbox().state, request.args.get("kind")))


@bp.post("/accounts")
def add_account():
    b = _body()
    if not b.get("client_id") or not b.get("client_secret"):
        raise ApiError(400, "client_id and client_secret are required.")
    return json_response(_call(sandbox().add_account, b["client_id"], b["client_secret"], b.get("entities"),
                               bool(b.get("production"))), 201)


@bp.get("/calls")
def calls():
    return json_response(sandbox().calls)


@bp.delete("/calls")
def clear_calls():
    sandbox().reset_calls()
    return "", 204


@bp.get("/faults")
def list_faults():
    return json_response(sandbox().faults.list())


@bp.post("/faults")
def add_fault():
    return json_response(_call(sandbox().add_fault, **_body()), 201)


@bp.delete("/faults")
def clear_faults():
    sandbox().clear_faults()
    return "", 204


@bp.get("/limits")
def get_limits():
    return json_response(sandbox().limits())


@bp.post("/limits")
def set_limits():
    return json_response(_call(sandbox().set_limits, **_body()))


@bp.post("/trigger")
def trigger():
    b = _body()
    event = b.pop("event", None)
    if not event:
        raise ApiError(400, "event is required.")
    return json_response(_call(sandbox().trigger, event, **b))


@bp.post("/hidden")
def hidden():
    b = _body()
    return json_response(_call(sandbox().set_hidden, b.get("kind", ""), b.get("id", ""), bool(b.get("hidden", True))))


@bp.post("/tokens/revoke")
def revoke():
    b = _body()
    return json_response({"revoked": sandbox().revoke_tokens(b.get("client_id"), b.get("token"))})


@bp.post("/clock")
def clock():
    b = _body()
    sandbox().advance_clock(float(b.get("advance_s", 0)))
    return json_response({"now": sandbox().now().isoformat() + "Z"})


@bp.post("/webhooks")
def register_webhook():
    b = _body()
    return json_response(_call(sandbox().register_webhook, b.get("url"), b.get("events") or [], b.get("username"),
                               b.get("password"), b.get("client_id"), b.get("entity_id")), 201)


@bp.post("/webhooks/flush")
def flush():
    return json_response({"idle": sandbox().flush_webhooks(float(_body().get("timeout", 5.0)))})


@bp.get("/deliveries")
def deliveries():
    return json_response(sandbox().deliveries)


@bp.post("/reset")
def reset():
    sandbox().reset()
    return "", 204


@bp.get("/custom-fields")
def custom_fields():
    return json_response(_call(sandbox().custom_field_definitions, request.args.get("client_id")))


@bp.post("/custom-fields")
def define_custom_field():
    b = _body()
    if not b.get("object") or not b.get("key"):
        raise ApiError(400, 'object ("customer" or "contract") and key are required.')
    return json_response(_call(sandbox().define_custom_field, b["object"], b["key"], b.get("label"),
                               b.get("type", "String"), b.get("client_id")), 201)


@bp.delete("/custom-fields")
def remove_custom_field():
    b = _body()
    if not b.get("object") or not b.get("key"):
        raise ApiError(400, 'object ("customer" or "contract") and key are required.')
    if not _call(sandbox().remove_custom_field, b["object"], b["key"], b.get("client_id")):
        raise ApiError(404, f"No {b['object']} custom field {b['key']!r}.")
    return json_response({"removed": b["key"]})

"""Request helpers shared by the API blueprints: JSON bodies, ETags, list responses."""
from __future__ import annotations

import hashlib
import json

from flask import current_app, g, request

from .errors import ApiError, bad_request, json_response
from .formats import canon_keys


def sandbox():
    """The :class:`~sandbox.billwerk.sandbox.BillwerkSandbox` serving this request."""
    return current_app.extensions["billwerk_sandbox"]


def entity_id() -> str:
    """The legal entity the request acts on (see :func:`.auth.select_entity`)."""
    return g.entity_id


def read_json(default: dict | None = None) -> dict:
    """The request body as a dict with PascalCase keys; 400 when it is not a JSON object.

    An empty body counts as ``default`` when one is given (e.g. ``{}`` for commit).
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        if default is not None:
            return dict(default)
        raise bad_request("The request body is empty; a JSON object is required.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}")
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return canon_keys(data)


def strip_nulls(value):
    """billwerk omits unset fields; so does the sandbox (recursively)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def etag_of(obj: dict) -> str:
    digest = hashlib.sha1(f"{obj['Id']}:{obj.get('_version', 1)}".encode()).hexdigest()[:20]
    return f'"{digest}"'


def check_if_match(obj: dict) -> None:
    """412 when ``If-Match`` is present and names another version (Customer and Contract only).

    ``If-Match`` compares strongly (RFC 9110 §13.1.1): billwerk's ETags are strong, and a weak
    tag (``W/"…"``) never matches, so a client cannot pass a stale or weakened tag off as current.
    """
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return
    current = etag_of(obj)
    wanted = [t.strip() for t in header.split(",")]
    if current not in wanted:
        raise ApiError(412, "The resource has been modified since it was read (If-Match does not match the current ETag).")


def object_response(data: dict, status: int = 200, etag: str | None = None):
    headers = {"ETag": etag} if etag else None
    return json_response(strip_nulls(data), status, headers)


def list_response(items: list):
    g.batch_size = len(items)
    return json_response(strip_nulls(items))


def parse_bool_arg(value) -> bool | None:
    if value is None:
        return None
    return str(value).lower() in ("1", "true", "yes")

"""Error responses in billwerk's REST shape.

The real error body is not documented ([NF]); billwerk's Ruby client reads ``Message`` (plus an
optional ``errors`` array), so every sandbox error is ``{"Message": "…"}`` with the status codes
of the reference (§4.2): 400 bad JSON, 401 no/invalid token, 403 entity not in account,
404 unknown route or object, 405 wrong verb, 409 conflict, 412 stale ``If-Match``,
422 invalid fields, 429 rate limit.
"""
from __future__ import annotations

import json

from flask import Flask, Response
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """Raise anywhere inside a request to answer ``{"Message": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict | None = None, body: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.body = body


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(kind: str, id_: str) -> ApiError:
    return ApiError(404, f"{kind} with id {id_} not found")


def invalid(message: str) -> ApiError:
    return ApiError(422, message)


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    resp = Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return json_response(err.body if err.body is not None else {"Message": err.message}, err.status, err.headers)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        messages = {
            404: "No HTTP resource was found that matches the request URI.",
            405: "The requested resource does not support this HTTP method.",
        }
        return json_response({"Message": messages.get(err.code, err.description or err.name)}, err.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):  # pragma: no cover - last resort, never a stack trace
        app.logger.exception("billwerk sandbox: unhandled error")
        return json_response({"Message": "An error has occurred."}, 500)

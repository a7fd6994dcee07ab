"""The clients' pure helpers: URL normalisation, Retry-After, error parsing, batch error matching."""
from __future__ import annotations

import json

import pytest
import requests

from backend.clients.base import ApiError, Conflict, ValidationFailed, parse_retry_after
from backend.clients.billwerk import InvalidBillwerkUrl, normalize_base_url, unwrap_order
from backend.clients.hubspot import HubSpotClient
from backend.clients.hubspot_auth import is_invalid_grant
from backend.clients.hubspot_batch import match_errors as _match_errors, merge_by_id as _merge_by_id
from backend.errors import HubwerkError


@pytest.mark.parametrize("typed, root", [
    ("sandbox", "https://sandbox.billwerk.com"),
    ("sandbox.billwerk.com", "https://sandbox.billwerk.com"),
    (" app.billwerk.com/ ", "https://app.billwerk.com"),
    ("https://app.billwerk.com/api/v1/", "https://app.billwerk.com"),
    ("custom.billwerk.com", "https://custom.billwerk.com"),
    ("https://Custom.Billwerk.com/oauth/token/", "https://custom.billwerk.com"),
    ("http://127.0.0.1:8099", "http://127.0.0.1:8099"),
])
def test_normalize_base_url(typed, root):
    assert normalize_base_url(typed) == root


@pytest.mark.parametrize("typed", ["", "   ", "http://app.billwerk.com", "ftp://app.billwerk.com",
                                   "https://app.billwerk.com/?x=1", "https://user:pw@app.billwerk.com"])
def test_normalize_base_url_refuses(typed):
    with pytest.raises(InvalidBillwerkUrl) as exc:
        normalize_base_url(typed)
    assert isinstance(exc.value, HubwerkError) and isinstance(exc.value, ValueError)


def test_parse_retry_after():
    assert parse_retry_after("10") == 10.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now=lambda: 0.0) == 30.0


def test_unwrap_order_accepts_wrapped_and_bare():
    order = {"Id": "o1", "Total": 7.0}
    assert unwrap_order({"Order": order}) == order
    assert unwrap_order(order) == order
    assert unwrap_order(None) == {}


def _response(status: int, body: dict, headers: dict | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body).encode()
    resp.headers.update(headers or {})
    return resp


def test_hubspot_rate_limit_delays():
    delay = HubSpotClient.rate_limit_delay
    client = type("C", (), {"backoff": lambda self, attempt: 0.5})()
    ten = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
           "policyName": "TEN_SECONDLY_ROLLING"}
    assert delay(client, _response(429, ten), ten, 0) == 10.0
    assert delay(client, _response(429, ten, {"Retry-After": "3"}), ten, 0) == 3.0
    secondly = {"message": "You have reached your secondly limit."}
    assert delay(client, _response(429, secondly), secondly, 0) == 1.0
    daily = {"message": "You have reached your daily limit.", "policyName": "DAILY"}
    assert delay(client, _response(429, daily, {"Retry-After": "5"}), daily, 0) is None


def test_conflict_existing_id_and_field_errors():
    err = Conflict("x", provider="hubspot", method="POST", path="/p", provider_message="Contact already exists. Existing ID: 51")
    assert err.existing_id == "51"
    by_context = Conflict("x", provider="hubspot", method="POST", path="/p", body={"context": {"existingId": ["7"]}})
    assert by_context.existing_id == "7"
    invalid = ValidationFailed("x", provider="hubspot", method="POST", path="/p",
                               errors=[{"message": "not a number", "code": "INVALID_INTEGER",
                                        "context": {"propertyName": ["amount"]}}])
    assert invalid.field_errors == {"amount": ["not a number"]}
    assert isinstance(invalid, HubwerkError) and invalid.code == "provider_validation_failed"


def test_invalid_grant_detection():
    def err(status, body):
        return ApiError("x", provider="hubspot", method="POST", path="/oauth/v1/token", provider_status=status, body=body)
    assert is_invalid_grant(err(400, {"status": "BAD_REFRESH_TOKEN", "error": "invalid_grant"}))
    assert not is_invalid_grant(err(400, {"status": "BAD_CLIENT_SECRET", "error": "invalid_client"}))
    assert not is_invalid_grant(err(500, {"error": "invalid_grant"}))


def test_batch_errors_are_matched_to_inputs():
    chunk = [{"objectWriteTraceId": "a", "properties": {}}, {"objectWriteTraceId": "b", "id": "2"}, {"id": "3"}]
    errors = [
        {"status": "error", "category": "VALIDATION_ERROR", "message": "bad", "context": {"objectWriteTraceId": ["b"]},
         "errors": [{"code": "INVALID_OPTION"}]},
        {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "gone", "context": {"ids": ["3", "99"]}},
        {"status": "error", "category": "VALIDATION_ERROR", "message": "batch-level", "context": {}},
    ]
    matched = _match_errors(errors, chunk, offset=100)
    assert [(e.index, e.category) for e in matched] == [(101, "VALIDATION_ERROR"), (102, "OBJECT_NOT_FOUND"),
                                                        (None, "VALIDATION_ERROR")]
    assert matched[0].code == "INVALID_OPTION" and matched[0].trace_id == "b"


def test_merge_by_id_combines_duplicate_inputs():
    merged = _merge_by_id([{"id": 1, "properties": {"a": "1"}}, {"id": "2", "properties": {}},
                           {"id": "1", "properties": {"b": "2"}}], "email")
    assert merged == [{"id": "1", "idProperty": "email", "properties": {"a": "1", "b": "2"}},
                      {"id": "2", "idProperty": "email", "properties": {}}]

"""HubSpotClient against the HubSpot sandbox: retries, errors, tokens, batches, search, associations."""
from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask, request as flask_request

from backend.clients.base import (AuthError, Conflict, Forbidden, NotFound, RateLimited, ServerError, Unavailable,
                                  ValidationFailed)
from backend.clients.hubspot import HubSpotClient, PortalDisconnected, SearchCapReached
from backend.clients.hubspot_auth import HubSpotOAuth
from backend.extensions import db
from backend.models import Portal
from sandbox.server import ServerThread
from tests.clients.conftest import NO_LIMIT, calls, make_portal

DEALS = "/crm/v3/objects/deals"


def _deal(hubspot, name="ACME – Pro"):
    return hubspot.create_object("deals", {"dealname": name, "amount": "1200"})


# --- retries and backoff ---------------------------------------------------------------------------

def test_get_retries_injected_500s_with_growing_backoff(hubspot, hubspot_sandbox, sleeps):
    deal = _deal(hubspot)
    hubspot_sandbox.reset_calls()
    hubspot_sandbox.add_fault(path_prefix=DEALS, method="GET", status=500, times=2)

    got = hubspot.get_object("deals", deal["id"], ["dealname"])

    assert got["properties"]["dealname"] == "ACME – Pro"
    assert [c["status"] for c in calls(hubspot_sandbox, DEALS)] == [500, 500, 200]
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_persistent_500_becomes_retriable_server_error(hubspot, hubspot_sandbox, sleeps):
    deal = _deal(hubspot)
    hubspot_sandbox.reset_calls()
    hubspot_sandbox.add_fault(path_prefix=DEALS, method="GET", status=503, times=None)

    with pytest.raises(ServerError) as exc:
        hubspot.get_object("deals", deal["id"])

    err = exc.value
    assert err.retriable and err.provider_status == 503 and err.provider == "hubspot"
    assert err.correlation_id
    assert len(calls(hubspot_sandbox, DEALS)) == hubspot.max_retries + 1
    assert "HTTP 503" in err.message and "try again later" in err.message


def test_batch_create_is_not_retried_after_500(hubspot, hubspot_sandbox, sleeps):
    hubspot_sandbox.add_fault(path_prefix=DEALS + "/batch/create", status=500, times=1)

    with pytest.raises(ServerError):
        hubspot.batch_create("deals", [{"properties": {"dealname": "once"}}])

    assert len(calls(hubspot_sandbox, DEALS + "/batch/create")) == 1
    assert sleeps == []


def test_upsert_and_search_posts_are_retried_after_500(hubspot, hubspot_sandbox, sleeps):
    hubspot_sandbox.add_fault(path_prefix="/crm/v3/objects/contacts/search", status=502, times=1)
    pages = list(hubspot.search("contacts", properties=["email"]))
    assert pages and len(calls(hubspot_sandbox, "/crm/v3/objects/contacts/search")) == 2


def test_429_waits_for_retry_after(hubspot, hubspot_sandbox, sleeps):
    deal = _deal(hubspot)
    hubspot_sandbox.reset_calls()
    hubspot_sandbox.add_fault(path_prefix=DEALS, method="GET", status=429, times=1)

    hubspot.get_object("deals", deal["id"])

    assert [c["status"] for c in calls(hubspot_sandbox, DEALS)] == [429, 200]
    assert len(sleeps) == 1 and 10.0 <= sleeps[0] <= 11.0      # Retry-After: 10 (TEN_SECONDLY_ROLLING)


def test_search_secondly_limit_waits_one_second(make_hubspot, portal, hubspot_sandbox, sleeps):
    hubspot_sandbox.set_limits(search_rate_per_s=1)
    client = make_hubspot(portal, search_rate=None)          # no local search limiter: let HubSpot refuse

    list(client.search("contacts"))
    list(client.search("contacts"))

    statuses = [c["status"] for c in calls(hubspot_sandbox, "/crm/v3/objects/contacts/search")]
    assert statuses == [200, 429, 200]
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 1.1


def test_rate_limited_after_retries_is_retriable_with_retry_after(make_hubspot, portal, hubspot_sandbox):
    client = make_hubspot(portal, max_retries=1)
    hubspot_sandbox.add_fault(path_prefix="/crm/v3/pipelines", status=429, times=None)

    with pytest.raises(RateLimited) as exc:
        client.pipelines("deals")

    assert exc.value.retriable and exc.value.retry_after == pytest.approx(10.0, abs=1.1)
    assert len(calls(hubspot_sandbox, "/crm/v3/pipelines")) == 2


def test_timeouts_are_retried_then_unavailable(make_hubspot, portal, hubspot_sandbox, sleeps):
    client = make_hubspot(portal, timeout=(2, 0.2), max_retries=1)
    hubspot_sandbox.add_fault(path_prefix="/crm/v3/pipelines", delay_s=0.6, times=2)

    with pytest.raises(Unavailable) as exc:
        client.pipelines("deals")

    assert exc.value.retriable and "did not answer in time" in exc.value.message
    assert len(sleeps) == 1


# --- error translation -------------------------------------------------------------------------------

def test_404_is_not_found_with_correlation_id_and_a_log_line(hubspot, portal, caplog):
    caplog.set_level(logging.INFO, logger="hubwerk.clients")
    with pytest.raises(NotFound) as exc:
        hubspot.get_object("deals", "999999")

    err = exc.value
    assert not err.retriable and err.provider_status == 404 and err.correlation_id
    assert err.message.startswith("HubSpot has nothing at GET /crm/v3/objects/deals/999999")
    failed = [r for r in caplog.records if r.getMessage() == "client.request.failed"]
    assert len(failed) == 1
    assert failed[0].correlation_id == err.correlation_id and failed[0].status == 404
    text = " ".join(json.dumps(vars(r), default=str) for r in caplog.records)
    assert portal.access_token not in text and portal.refresh_token not in text


def test_400_is_validation_failed_with_field_errors(hubspot):
    with pytest.raises(ValidationFailed) as exc:
        hubspot.create_object("deals", {"dealname": "x", "no_such_property": "1"})

    err = exc.value
    assert err.provider_status == 400 and not err.retriable
    assert "no_such_property" in err.field_errors
    assert err.message.startswith("HubSpot rejected POST /crm/v3/objects/deals")


def test_409_keeps_the_body_and_names_the_existing_id(hubspot):
    first = hubspot.create_object("contacts", {"email": "jane@example.com"})
    with pytest.raises(Conflict) as exc:
        hubspot.create_object("contacts", {"email": "jane@example.com"})

    assert exc.value.existing_id == first["id"]
    assert exc.value.body["category"] == "CONFLICT"


def test_403_missing_scopes_is_forbidden(ctx, hubspot_sandbox, make_hubspot):
    portal = make_portal(hubspot_sandbox)
    hubspot_sandbox.issue_tokens(hubspot_sandbox.default_portal_id, scopes=["oauth"])   # reinstall with fewer scopes
    tokens = hubspot_sandbox.issue_tokens(hubspot_sandbox.default_portal_id, scopes=["oauth"])
    portal.access_token = tokens["access_token"]
    db.session.commit()

    with pytest.raises(Forbidden) as exc:
        make_hubspot(portal).get_properties("deals")
    assert exc.value.category == "MISSING_SCOPES" and isinstance(exc.value, AuthError)


# --- tokens ------------------------------------------------------------------------------------------

def _token_calls(hubspot_sandbox):
    return calls(hubspot_sandbox, "/oauth/v1/token", "POST")


def test_refreshes_ahead_of_expiry(ctx, hubspot_sandbox, make_hubspot):
    portal = make_portal(hubspot_sandbox, expires_in=200)      # less than five minutes left
    old = portal.access_token

    make_hubspot(portal).pipelines("deals")

    assert len(_token_calls(hubspot_sandbox)) == 1
    db.session.expire_all()
    fresh = db.session.get(Portal, portal.id)
    assert fresh.access_token != old
    assert fresh.access_token_expires_at > datetime.now(timezone.utc) + timedelta(minutes=25)


def test_refreshes_once_after_401_and_retries(ctx, hubspot_sandbox, make_hubspot):
    portal = make_portal(hubspot_sandbox)
    client = make_hubspot(portal)
    hubspot_sandbox.advance_time(1801)      # HubSpot thinks the token expired; our database does not

    assert client.pipelines("deals")

    assert [c["status"] for c in calls(hubspot_sandbox, "/crm/v3/pipelines")] == [401, 200]
    assert len(_token_calls(hubspot_sandbox)) == 1


def test_concurrent_workers_share_one_refresh(app, hubspot_sandbox, hs_settings, redis):
    with app.app_context():
        portal_id = make_portal(hubspot_sandbox, expires_in=60).id
    hubspot_sandbox.add_fault(path_prefix="/oauth/v1/token", delay_s=0.3, times=1)   # a slow refresh
    barrier = threading.Barrier(2)
    errors, tokens = [], []

    def worker():
        try:
            with app.app_context():
                client = HubSpotClient(portal_id, settings=hs_settings, redis=redis, rate_limit=NO_LIMIT)
                barrier.wait()
                client.pipelines("deals")
                tokens.append(client.tokens.access_token())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert errors == []
    assert len(_token_calls(hubspot_sandbox)) == 1
    assert tokens[0] == tokens[1]


def test_invalid_grant_disconnects_the_portal(ctx, hubspot_sandbox, make_hubspot):
    portal = make_portal(hubspot_sandbox)
    client = make_hubspot(portal)
    hubspot_sandbox.uninstall(hubspot_sandbox.default_portal_id)   # every token dies

    with pytest.raises(PortalDisconnected) as exc:
        client.pipelines("deals")

    assert not exc.value.retriable and "reinstall" in exc.value.message
    db.session.expire_all()
    stored = db.session.get(Portal, portal.id)
    assert stored.status == "disconnected" and "reinstall" in stored.status_reason
    assert stored.access_token is None
    before = len(hubspot_sandbox.calls)
    with pytest.raises(PortalDisconnected):
        make_hubspot(portal).pipelines("deals")
    assert len(hubspot_sandbox.calls) == before      # no further call to HubSpot


def test_oauth_helpers(ctx, hubspot_sandbox, hs_settings, portal):
    oauth = HubSpotOAuth.from_settings(hs_settings)
    info = oauth.token_info(portal.access_token)
    assert info["hub_id"] == portal.hub_id and info["app_id"] == hubspot_sandbox.app_id

    refreshed = oauth.refresh(portal.refresh_token)
    assert refreshed["access_token"] and refreshed["expires_in"] == 1800

    assert oauth.delete_refresh_token(portal.refresh_token) is True
    assert oauth.delete_refresh_token(portal.refresh_token) is False
    logged = [c["path"] for c in calls(hubspot_sandbox, "/oauth/v1/refresh-tokens")]
    assert len(logged) == 2


def test_oauth_logs_never_show_tokens(ctx, hubspot_sandbox, hs_settings, caplog):
    caplog.set_level(logging.INFO, logger="hubwerk.clients")
    oauth = HubSpotOAuth.from_settings(hs_settings)
    with pytest.raises(NotFound) as exc:
        oauth.token_info("CN-secret-token-value")
    assert "CN-secret-token-value" not in exc.value.message
    assert exc.value.path == "/oauth/v1/access-tokens/[redacted]"
    ours = [json.dumps(vars(r), default=str) for r in caplog.records if r.name.startswith("hubwerk")]
    assert ours and not any("CN-secret-token-value" in line for line in ours)


def test_uninstall(hubspot, hubspot_sandbox):
    hubspot.uninstall()
    assert hubspot_sandbox.portal_info(hubspot_sandbox.default_portal_id)["installed"] is False


# --- batches --------------------------------------------------------------------------------------------

def test_batch_create_chunks_to_100_with_trace_ids(hubspot, hubspot_sandbox):
    inputs = [{"properties": {"dealname": f"Deal {i}"}} for i in range(250)]

    result = hubspot.batch_create("deals", inputs)

    assert result.ok and len(result.results) == 250
    assert [c["batch_size"] for c in calls(hubspot_sandbox, DEALS + "/batch/create")] == [100, 100, 50]
    assert len(result.by_trace_id()) == 250
    assert len(hubspot_sandbox.objects("deals")) == 250


def test_207_partial_failure_is_reported_per_input(hubspot, hubspot_sandbox):
    inputs = [{"properties": {"dealname": f"Deal {i}"}} for i in range(10)]
    inputs[3]["properties"]["no_such_property"] = "x"
    inputs[7]["properties"]["dealstage"] = "not-a-stage"

    result = hubspot.batch_create("deals", inputs)

    assert calls(hubspot_sandbox, DEALS + "/batch/create")[0]["status"] == 207
    assert not result.ok and len(result.results) == 8
    assert sorted(e.index for e in result.errors) == [3, 7]
    by_index = {e.index: e for e in result.errors}
    assert by_index[3].input["properties"]["no_such_property"] == "x"
    assert by_index[7].code == "INVALID_OPTION"
    with pytest.raises(Exception, match="2 of the records"):
        result.raise_for_errors()


def test_whole_batch_400_is_split_to_isolate_the_bad_input(hubspot, hubspot_sandbox):
    hubspot_sandbox.configure(batch_errors="strict")      # without trace ids one bad input fails the batch
    inputs = [{"properties": {"dealname": f"Deal {i}"}} for i in range(8)]
    inputs[5]["properties"]["no_such_property"] = "x"

    with pytest.raises(ValidationFailed):
        hubspot.batch_create("deals", inputs, trace_ids=False)
    result = hubspot.batch_create("deals", inputs, trace_ids=False, split_on_error=True)

    assert [e.index for e in result.errors] == [5]
    assert len(result.results) == 7
    assert len(hubspot_sandbox.objects("deals")) == 7


def test_upsert_read_update_archive(hubspot, hubspot_sandbox):
    inputs = [{"id": f"jane{i}@example.com", "properties": {"firstname": f"Jane {i}"}} for i in range(3)]
    inputs.append({"id": "jane0@example.com", "properties": {"lastname": "Doe"}})   # same record twice

    created = hubspot.batch_upsert("contacts", inputs, "email")
    assert created.ok and len(created.results) == 3 and all(r["new"] for r in created.results)
    again = hubspot.batch_upsert("contacts", inputs[:1], "email")
    assert again.results[0]["new"] is False

    ids = [r["id"] for r in created.results]
    read = hubspot.batch_read("contacts", ids + ["424242"], ["firstname", "lastname"])
    assert len(read.results) == 3
    assert [(e.ids, e.category, e.index) for e in read.errors] == [(["424242"], "OBJECT_NOT_FOUND", 3)]
    jane0 = next(r for r in read.results if r["properties"]["firstname"] == "Jane 0")
    assert jane0["properties"]["lastname"] == "Doe"

    by_email = hubspot.batch_read("contacts", ["jane1@example.com"], ["firstname"], id_property="email")
    assert by_email.results[0]["properties"]["firstname"] == "Jane 1"

    updated = hubspot.batch_update("contacts", [{"id": ids[0], "properties": {"firstname": "Janet"}}])
    assert updated.ok and updated.results[0]["properties"]["firstname"] == "Janet"

    assert hubspot.batch_archive("contacts", ids).ok
    assert hubspot_sandbox.objects("contacts") == []


# --- search ------------------------------------------------------------------------------------------------

def test_search_pages_through_results(hubspot, hubspot_sandbox):
    hubspot.batch_create("contacts", [{"properties": {"email": f"p{i}@example.com"}} for i in range(450)])

    pages = list(hubspot.search("contacts", properties=["email"], sorts=["hs_object_id"]))

    assert [len(p.results) for p in pages] == [200, 200, 50]
    assert pages[0].total == 450 and pages[1].after == "200"
    assert len({r["id"] for p in pages for r in p.results}) == 450


@pytest.mark.slow
def test_search_stops_at_the_10000_cap(hubspot, hubspot_sandbox):
    hubspot_sandbox.set_limits(search_rate_per_s=1000)
    for i in range(10_050):
        hubspot_sandbox.user_create("contacts", {"email": f"cap{i}@example.com"})

    seen = []
    with pytest.raises(SearchCapReached) as exc:
        for record in hubspot.search_all("contacts", properties=["email"]):
            seen.append(record["id"])

    assert len(seen) == 10_000 and exc.value.total == 10_050 and exc.value.fetched == 10_000
    assert exc.value.last["id"] == seen[-1]
    assert len(calls(hubspot_sandbox, "/crm/v3/objects/contacts/search")) == 50
    assert all(c["status"] == 200 for c in calls(hubspot_sandbox, "/crm/v3/objects/contacts/search"))
    assert sum(len(p.results) for p in hubspot.search("contacts", on_cap="stop")) == 10_000


# --- associations -------------------------------------------------------------------------------------------

def test_associations_batch_read_chunks_to_1000(hubspot, hubspot_sandbox):
    deal = _deal(hubspot)
    company = hubspot.create_object("companies", {"name": "ACME"})
    hubspot.associate_default("deals", deal["id"], "companies", company["id"])
    ids = [deal["id"]] + [str(900000 + i) for i in range(2499)]

    result = hubspot.associations_batch_read("deals", "companies", ids)

    assert [c["batch_size"] for c in calls(hubspot_sandbox, "/crm/v4/associations/deals/companies/batch/read")] \
        == [1000, 1000, 500]
    assert HubSpotClient.association_ids(result) == {deal["id"]: [company["id"]]}
    assert len(result.errors) == 2499 and {e.category for e in result.errors} == {"OBJECT_NOT_FOUND"}


def test_associate_default_batch(hubspot, hubspot_sandbox):
    deals = hubspot.batch_create("deals", [{"properties": {"dealname": f"D{i}"}} for i in range(3)]).results
    company = hubspot.create_object("companies", {"name": "ACME"})
    result = hubspot.associate_default_batch("deals", "companies", [(d["id"], company["id"]) for d in deals])
    assert result.ok
    got = hubspot.associations_batch_read("deals", "companies", [d["id"] for d in deals])
    assert set(HubSpotClient.association_ids(got)) == {d["id"] for d in deals}


# --- schema and callbacks ---------------------------------------------------------------------------------------

def test_properties_groups_and_pipelines(hubspot):
    group = hubspot.create_property_group("deals", {"name": "billwerk", "label": "billwerk", "displayOrder": -1})
    assert group["name"] == "billwerk"
    spec = {"name": "billwerk_contract_id", "label": "billwerk contract ID", "type": "string", "fieldType": "text",
            "groupName": "billwerk", "hasUniqueValue": True}
    first = hubspot.batch_create_properties("deals", [spec])
    assert first.ok and first.results[0]["hasUniqueValue"] is True
    second = hubspot.batch_create_properties("deals", [dict(spec, name="billwerk_plan"), spec])
    assert len(second.results) == 1
    assert [(e.index, e.category) for e in second.errors] == [(1, "OBJECT_ALREADY_EXISTS")]

    changed = hubspot.update_property("deals", "billwerk_plan", {"label": "billwerk plan"})
    assert changed["label"] == "billwerk plan"
    names = {p["name"] for p in hubspot.get_properties("deals")}
    assert {"billwerk_contract_id", "billwerk_plan", "dealname"} <= names

    pipelines = hubspot.pipelines("deals")
    assert any(p["id"] == "default" for p in pipelines)


def test_complete_callback(hubspot, hubspot_sandbox):
    app = Flask("action")

    @app.post("/action")
    def action():
        return {"outputFields": {"hs_execution_state": "BLOCK"}}

    with ServerThread(app) as server:
        hubspot_sandbox.execute_workflow_action(hubspot_sandbox.default_portal_id, server.url + "/action", "deals",
                                                1, {"mode": "validate"})
    callback_id = next(iter(hubspot_sandbox.callbacks()))

    hubspot.complete_callback(callback_id, {"hs_execution_state": "SUCCESS", "billwerk_order_id": "o-1"})

    cb = hubspot_sandbox.callbacks()[callback_id]
    assert cb["state"] == "COMPLETED" and cb["outputFields"]["billwerk_order_id"] == "o-1"
    with pytest.raises(NotFound):
        hubspot.complete_callback("ap-unknown", {"hs_execution_state": "SUCCESS"})

"""Workflow-action executions as HubSpot runs them: retried on 5xx, BLOCK that expires, a
callback that completes once."""
import json

import pytest
import requests


def _complete(api, cb, state="SUCCESS"):
    return api.post(f"/automation/v4/actions/callbacks/{cb}/complete",
                    json={"outputFields": {"hs_execution_state": state}, "typedOutputs": {}})


def test_a_callback_completes_once(hubspot_sandbox, receiver, api):
    hs = hubspot_sandbox
    receiver.response_body = {"outputFields": {"hs_execution_state": "BLOCK"}}
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 1, {})
    cb = next(iter(hs.callbacks()))
    assert _complete(api, cb).status_code == 204
    twice = _complete(api, cb, "FAIL_CONTINUE")
    assert twice.status_code == 400 and "already completed" in twice.json()["message"]
    assert hs.callbacks()[cb]["outputFields"]["hs_execution_state"] == "SUCCESS"
    batch = api.post("/automation/v4/actions/callbacks/complete", json={"inputs": [
        {"callbackId": cb, "outputFields": {"hs_execution_state": "SUCCESS"}}]})
    assert batch.status_code == 400


def test_a_synchronous_answer_leaves_nothing_to_complete(hubspot_sandbox, receiver, api):
    hs = hubspot_sandbox
    receiver.response_body = {"outputFields": {"hs_execution_state": "SUCCESS"}}
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 1, {})
    cb = next(iter(hs.callbacks()))
    assert _complete(api, cb).status_code == 400


def test_a_batch_with_one_completed_callback_completes_none(hubspot_sandbox, receiver, api):
    hs = hubspot_sandbox
    receiver.response_body = {"outputFields": {"hs_execution_state": "BLOCK"}}
    for deal in (1, 2):
        hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", deal, {})
    first, second = list(hs.callbacks())
    assert _complete(api, first).status_code == 204
    r = api.post("/automation/v4/actions/callbacks/complete", json={"inputs": [
        {"callbackId": second, "outputFields": {"hs_execution_state": "SUCCESS"}},
        {"callbackId": first, "outputFields": {"hs_execution_state": "SUCCESS"}}]})
    assert r.status_code == 400 and hs.callbacks()[second]["state"] == "PENDING"


@pytest.mark.parametrize("duration, seconds", [(None, 7 * 86400), ("PT2H", 7200), ("P1WT1H", 7 * 86400 + 3600),
                                               ("P1D", 86400)])
def test_block_expires(hubspot_sandbox, receiver, api, duration, seconds):
    hs = hubspot_sandbox
    out = {"hs_execution_state": "BLOCK"}
    if duration:
        out["hs_expiration_duration"] = duration
    receiver.response_body = {"outputFields": out}
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 1, {})
    cb = next(iter(hs.callbacks()))
    hs.advance_time(seconds - 5)
    assert hs.callbacks()[cb]["state"] == "PENDING"
    hs.advance_time(10)
    assert hs.callbacks()[cb]["state"] == "EXPIRED"
    api.session.headers["Authorization"] = "Bearer " + hs.issue_tokens()["access_token"]   # a week later
    late = _complete(api, cb)
    assert late.status_code == 400 and "expired" in late.json()["message"]


def test_a_bad_expiration_duration_fails_the_execution(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    receiver.response_body = {"outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "1 week"}}
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 1, {})
    cb = next(iter(hs.callbacks().values()))
    assert cb["state"] == "FAILED" and "hs_expiration_duration" in cb["error"]


def test_executions_are_retried_on_5xx_with_the_same_callback(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    receiver.statuses = [500, 503]
    receiver.response_body = {"outputFields": {"hs_execution_state": "SUCCESS"}}
    resp = hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 1, {"mode": "x"})
    assert resp.status_code == 200
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert len(bodies) == 3 and len({b["callbackId"] for b in bodies}) == 1
    cb = next(iter(hs.callbacks().values()))
    assert [a["status"] for a in cb["attempts"]] == [500, 503, 200] and cb["state"] == "COMPLETED"


def test_4xx_is_not_retried_and_429_is(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    receiver.statuses = [400]
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 1, {})
    assert len(receiver.requests) == 1 and next(iter(hs.callbacks().values()))["state"] == "FAILED"
    receiver.statuses = [429]
    receiver.response_body = {"outputFields": {"hs_execution_state": "SUCCESS"}}
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 2, {})
    assert len(receiver.requests) == 3


def test_retries_stop_after_the_last_attempt(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    hs.configure(action_max_attempts=3)
    receiver.statuses = [500] * 5
    resp = hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 1, {})
    assert resp.status_code == 500 and len(receiver.requests) == 3
    assert next(iter(hs.callbacks().values()))["state"] == "FAILED"


def test_connection_errors_are_retried_then_raised(hubspot_sandbox):
    hs = hubspot_sandbox
    hs.configure(action_max_attempts=2)
    with pytest.raises(requests.ConnectionError):
        hs.execute_workflow_action(hs.default_portal_id, "http://127.0.0.1:9/a", "deals", 1, {})
    cb = next(iter(hs.callbacks().values()))
    assert cb["state"] == "FAILED" and [a["error"] for a in cb["attempts"]] == ["ConnectionError"] * 2

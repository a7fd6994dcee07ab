"""App-card calls (signature v3), workflow-action executions (v2) and callback completion."""
import json
from urllib.parse import parse_qs

import requests
from hubspot.utils.signature import Signature

from sandbox.hubspot import signing

SECRET = "hubwerk-sandbox-client-secret"


def test_call_card_signed_v3_with_query(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    resp = hs.call_card(hs.default_portal_id, "POST", receiver.url + "/api/cards/deals/12/refresh?x=1",
                        body={"a": "ü"}, user_id=77, user_email="rep@example.com")
    assert resp.status_code == 200
    req = receiver.requests[0]
    q = parse_qs(req["query"])
    assert q["portalId"] == [str(hs.default_portal_id)] and q["userId"] == ["77"] and q["x"] == ["1"]
    assert q["userEmail"] == ["rep@example.com"] and q["appId"] == ["4242"]
    h = req["headers"]
    uri = receiver.url + req["path"] + "?" + req["query"]     # the raw URI as sent (query not decoded)
    assert signing.verify("v3", SECRET, h["X-Hubspot-Signature-V3"], method="POST", uri=uri, body=req["body"],
                          timestamp=h["X-Hubspot-Request-Timestamp"])
    assert Signature.is_valid(h["X-Hubspot-Signature-V3"], SECRET, req["body"].decode(), uri, "POST", "v3",
                              h["X-Hubspot-Request-Timestamp"])


def test_get_card_without_body(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    hs.call_card(hs.default_portal_id, "GET", receiver.url + "/api/cards/deals/12")
    req = receiver.requests[0]
    assert req["body"] == b"" and signing.verify("v3", SECRET, req["headers"]["X-Hubspot-Signature-V3"], method="GET",
                                                 uri=receiver.url + req["path"] + "?" + req["query"], body=b"",
                                                 timestamp=req["headers"]["X-Hubspot-Request-Timestamp"])


def test_workflow_action_payload_and_block_then_callback(hubspot_sandbox, receiver, api):
    hs = hubspot_sandbox
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "WF"}}).json()["id"]
    receiver.response_body = {"outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "P1WT1H"}}
    url = receiver.url + "/api/workflow-actions/validate-deal"
    resp = hs.execute_workflow_action(hs.default_portal_id, url, "deals", deal, {"mode": "preview"},
                                      properties=["dealname"])
    assert resp.status_code == 200
    req = receiver.requests[0]
    payload = json.loads(req["body"])
    assert payload["origin"]["portalId"] == hs.default_portal_id and payload["context"]["source"] == "WORKFLOWS"
    assert payload["object"] == {"objectId": int(deal), "objectType": "DEAL",
                                 "properties": {"hs_object_id": deal, "dealname": "WF"}}
    assert payload["inputFields"] == payload["fields"] == {"mode": "preview"}
    assert payload["typedInputs"]["mode"] == {"value": "preview", "type": "STRING"}
    h = req["headers"]
    assert h["X-Hubspot-Signature-Version"] == "v2"
    assert Signature.is_valid(h["X-Hubspot-Signature"], SECRET, req["body"].decode(), url, "POST", "v2")
    cb = payload["callbackId"]
    assert hs.callbacks()[cb]["state"] == "PENDING"
    done = api.post(f"/automation/v4/actions/callbacks/{cb}/complete",
                    json={"outputFields": {"hs_execution_state": "SUCCESS", "result": "success"}, "typedOutputs": {}})
    assert done.status_code == 204
    assert hs.callbacks()[cb]["state"] == "COMPLETED" and hs.callbacks()[cb]["outputFields"]["result"] == "success"
    state = requests.get(hs.base_url + "/_sandbox/state/callbacks").json()["results"]
    assert state[0]["callbackId"] == cb
    assert api.post("/automation/v4/actions/callbacks/nope/complete", json={"outputFields": {}}).status_code == 404


def test_sync_answer_completes_and_batch_complete(hubspot_sandbox, receiver, api):
    hs = hubspot_sandbox
    receiver.response_body = {"outputFields": {"hs_execution_state": "SUCCESS"}}
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 1, {})
    assert list(hs.callbacks().values())[0]["state"] == "COMPLETED"
    receiver.response_body = {"outputFields": {"hs_execution_state": "BLOCK"}}
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 2, {})
    cb = [c for c in hs.callbacks().values() if c["state"] == "PENDING"][0]["callbackId"]
    r = api.post("/automation/v4/actions/callbacks/complete",
                 json={"inputs": [{"callbackId": cb, "outputFields": {"hs_execution_state": "FAIL_CONTINUE"}}]})
    assert r.status_code == 204 and hs.callbacks()[cb]["outputFields"]["hs_execution_state"] == "FAIL_CONTINUE"


def test_callbacks_are_per_portal(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    hs.create_portal(200002)
    hs.execute_workflow_action(200002, receiver.url + "/a", "deals", 1, {})
    cb = list(hs.callbacks())[0]
    tok = hs.issue_tokens(hs.default_portal_id)
    r = requests.post(f"{hs.base_url}/automation/v4/actions/callbacks/{cb}/complete",
                      headers={"Authorization": "Bearer " + tok["access_token"]}, json={"outputFields": {}})
    assert r.status_code == 404

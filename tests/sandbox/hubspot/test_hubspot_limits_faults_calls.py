"""Rate limit, faults and the call log."""
import time

import requests


def test_rate_limit_headers_and_429(api, hubspot_sandbox):
    hubspot_sandbox.set_limits(rate_limit=5, rate_window_s=10.0)
    responses = [api.get("/crm/v3/objects/companies") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    first = responses[0].headers
    assert first["X-HubSpot-RateLimit-Max"] == "5" and first["X-HubSpot-RateLimit-Remaining"] == "4"
    assert first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    body = responses[5].json()
    assert body["status"] == "error" and body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING" and body["correlationId"]
    hubspot_sandbox.advance_time(10.01)
    assert api.get("/crm/v3/objects/companies").status_code == 200


def test_rate_limit_is_per_portal(hubspot_sandbox):
    hs = hubspot_sandbox
    hs.set_limits(rate_limit=2)
    hs.create_portal(200002, "B")
    a, b = hs.issue_tokens(hs.default_portal_id), hs.issue_tokens(200002)
    get = lambda tok: requests.get(hs.base_url + "/crm/v3/objects/deals",
                                   headers={"Authorization": "Bearer " + tok["access_token"]}).status_code
    assert [get(a), get(a), get(a)] == [200, 200, 429]
    assert get(b) == 200


def test_limits_via_control_api(hubspot_sandbox, api):
    r = requests.post(hubspot_sandbox.base_url + "/_sandbox/limits", json={"rate_limit": 1})
    assert r.json()["rate_limit"] == 1
    assert [api.get("/crm/v3/objects/deals").status_code for _ in range(2)] == [200, 429]


def test_call_log_exact(api, hubspot_sandbox):
    hubspot_sandbox.reset_calls()
    api.get("/crm/v3/objects/deals", params={"limit": 5})
    api.post("/crm/v3/objects/deals/batch/create", json={"inputs": [{"properties": {"dealname": str(i)}} for i in range(3)]})
    api.get("/crm/v3/objects/deals/99999999")
    requests.get(hubspot_sandbox.base_url + "/_sandbox/state")   # control calls are not logged
    calls = hubspot_sandbox.calls
    assert [(c["method"], c["path"], c["status"], c["batch_size"]) for c in calls] == [
        ("GET", "/crm/v3/objects/deals", 200, None),
        ("POST", "/crm/v3/objects/deals/batch/create", 201, 3),
        ("GET", "/crm/v3/objects/deals/99999999", 404, None)]
    assert calls[0]["query"] == {"limit": "5"} and all(c["portal_id"] == hubspot_sandbox.default_portal_id for c in calls)
    assert requests.get(hubspot_sandbox.base_url + "/_sandbox/calls").json()["results"][1]["batch_size"] == 3
    assert requests.delete(hubspot_sandbox.base_url + "/_sandbox/calls").status_code == 204
    assert hubspot_sandbox.calls == []


def test_fault_status_fires_times(api, hubspot_sandbox):
    r = requests.post(hubspot_sandbox.base_url + "/_sandbox/faults", json={
        "path_prefix": "/crm/v3/objects/products/batch/upsert", "method": "POST", "status": 500, "times": 1})
    assert r.status_code == 201
    body = {"inputs": [{"id": "1", "properties": {}}]}
    first = api.post("/crm/v3/objects/products/batch/upsert", json=body)
    assert first.status_code == 500 and first.json()["correlationId"]
    assert api.post("/crm/v3/objects/products/batch/upsert", json=body).status_code != 500
    assert hubspot_sandbox.faults() == []
    assert [c["status"] for c in hubspot_sandbox.calls][-2] == 500


def test_fault_429_and_method_filter(api, hubspot_sandbox):
    hubspot_sandbox.add_fault(path_prefix="/crm/v3/objects/deals", method="POST", status=429, times=2)
    assert api.get("/crm/v3/objects/deals").status_code == 200
    r = api.post("/crm/v3/objects/deals", json={"properties": {}})
    assert r.status_code == 429 and r.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert api.post("/crm/v3/objects/deals", json={"properties": {}}).status_code == 429
    assert api.post("/crm/v3/objects/deals", json={"properties": {}}).status_code == 201


def test_fault_delay_causes_timeout(api, hubspot_sandbox):
    hubspot_sandbox.add_fault(path_prefix="/crm/v3/objects/companies", delay_s=0.3, times=1)
    t = time.monotonic()
    try:
        api.get("/crm/v3/objects/companies", timeout=0.1)
        raise AssertionError("expected a timeout")
    except requests.Timeout:
        pass
    assert time.monotonic() - t < 0.3
    time.sleep(0.3)
    assert api.get("/crm/v3/objects/companies").status_code == 200


def test_unlimited_fault_until_cleared(api, hubspot_sandbox):
    hubspot_sandbox.add_fault(path_prefix="/crm/", status=503, times=None)
    assert [api.get("/crm/v3/objects/deals").status_code for _ in range(3)] == [503] * 3
    requests.delete(hubspot_sandbox.base_url + "/_sandbox/faults")
    assert api.get("/crm/v3/objects/deals").status_code == 200

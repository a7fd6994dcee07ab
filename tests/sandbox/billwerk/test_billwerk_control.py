"""Control API and Python twin: call log, faults, rate limit, seed, hiding, state, reset."""
from __future__ import annotations

import time

import pytest
import requests

from billwerk_helpers import ROOT, UK, Api
from sandbox.billwerk import BillwerkSandbox


def _strip_ts(calls):
    for c in calls:
        assert isinstance(c.pop("ts"), float)
    return calls


def test_call_log_is_exact(seeded, api):
    api.fetch_token()
    seeded.reset_calls()
    api.get("customers", params={"take": 2})
    api.get("Contracts/ffffffffffffffffffffffff", entity=UK)
    api.post("orders/preview", {})
    requests.get(f"{seeded.base_url}/api/v1/customers")                 # no token
    requests.get(f"{seeded.base_url}/_sandbox/calls")                    # control calls are not logged
    assert _strip_ts(seeded.calls) == [
        {"method": "GET", "path": "/api/v1/customers", "query": {"take": "2"}, "status": 200, "entity_id": ROOT,
         "batch_size": 2},
        {"method": "GET", "path": "/api/v1/Contracts/ffffffffffffffffffffffff", "query": {}, "status": 404,
         "entity_id": UK},
        {"method": "POST", "path": "/api/v1/orders/preview", "query": {}, "status": 422, "entity_id": ROOT},
        {"method": "GET", "path": "/api/v1/customers", "query": {}, "status": 401, "entity_id": None},
    ]
    assert _strip_ts(requests.get(f"{seeded.base_url}/_sandbox/calls").json()) == _strip_ts(seeded.calls)
    assert requests.delete(f"{seeded.base_url}/_sandbox/calls").status_code == 204
    assert seeded.calls == []


def test_status_faults(seeded, api):
    seeded.add_fault(path_prefix="/api/v1/orders", method="POST", status=500, times=1)
    body = {"CustomerId": "ffffffffffffffffffffffff", "Cart": {}}
    r = api.post("Orders", body)
    assert r.status_code == 500 and r.json() == {"Message": "Injected fault"}
    assert api.post("Orders", body).status_code == 422                     # fault used up
    assert api.get("orders").status_code == 200                            # GET never matched
    r = requests.post(f"{seeded.base_url}/_sandbox/faults", json={"path_prefix": "/api/v1/customers", "status": 429,
                                                                  "times": 2})
    assert r.status_code == 201
    for _ in range(2):
        r = api.get("customers")
        assert r.status_code == 429
        assert r.headers["X-RateLimit-Remaining"] == "0" and r.headers["X-RateLimit-Limit"] == "10000"
    assert api.get("customers").status_code == 200
    seeded.add_fault(path_prefix="/oauth/token", status=503, times=None)
    assert requests.post(f"{seeded.base_url}/oauth/token", data={"grant_type": "client_credentials"}).status_code == 503
    assert len(requests.get(f"{seeded.base_url}/_sandbox/faults").json()) == 1
    requests.delete(f"{seeded.base_url}/_sandbox/faults")
    assert seeded.faults.list() == []
    assert [c["status"] for c in seeded.calls] == [200, 500, 422, 200, 429, 429, 200, 503]


def test_delay_fault_times_the_client_out(seeded, api):
    api.fetch_token()
    seeded.add_fault(path_prefix="/api/v1/contracts", delay_s=0.6)
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.get(f"{seeded.base_url}/api/v1/contracts", headers={"Authorization": f"Bearer {api.token}"},
                        timeout=0.2)
    assert time.monotonic() - t0 < 0.5
    assert api.get("contracts").status_code == 200


def test_rate_limit_and_headers(bw, api):
    api.fetch_token()
    bw.set_limits(rate_limit=3, window_s=60)
    remaining = [api.get("customers").headers["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    r = api.get("customers")
    assert r.status_code == 429 and "Message" in r.json()
    assert (r.headers["X-RateLimit-Limit"], r.headers["X-RateLimit-Remaining"]) == ("3", "0")
    other = Api(bw, entity=UK)                      # same account, other entity: same budget
    assert other.get("customers").status_code == 429
    bw.advance_clock(61)
    api.fetch_token()
    assert api.get("customers").status_code == 200
    requests.post(f"{bw.base_url}/_sandbox/limits", json={"rate_limit": 1, "style": "403"})
    api.get("customers")
    r = api.get("customers")
    assert r.status_code == 403 and r.json() == {"Message": "rate limit exceeded"}
    assert requests.get(f"{bw.base_url}/_sandbox/limits").json()["rate_limit"] == 1


def test_seed_is_deterministic_and_fast():
    a, b = BillwerkSandbox(), BillwerkSandbox()
    try:
        t0 = time.monotonic()
        summary = a.seed(catalog_items=5000, customers=50)
        assert time.monotonic() - t0 < 5
        b.seed(catalog_items=5000, customers=50)
        per_entity = summary[ROOT]
        assert per_entity["plan_variants"] + per_entity["components"] + per_entity["discounts"] == 5000
        sa, sb_ = a.state(), b.state()
        for key in ("customers", "contracts"):
            assert [(o["Id"], o.get("CompanyName"), o.get("PlanVariantId")) for o in sa[key]] == \
                   [(o["Id"], o.get("CompanyName"), o.get("PlanVariantId")) for o in sb_[key]]
        assert sa["catalog"] == sb_["catalog"]
        variants = [v for v in sa["catalog"]["plan_variants"] if v["EntityId"] == ROOT]
        comps = [c for c in sa["catalog"]["components"] if c["EntityId"] == ROOT]
        assert any(v["Hidden"] for v in variants) and any(not v["Hidden"] for v in variants)
        assert {c["ComponentType"] for c in comps} == {"QuantityBased", "OnOff", "Metered"}
        assert any(v["AllowWithoutPaymentData"] for v in variants) and not all(v["AllowWithoutPaymentData"] for v in variants)
        assert {p["Unit"] for p in (v["BillingPeriod"] for v in variants)} == {"Month", "Year"}
        assert set(variants[0]["Description"]) == {"_c", "de", "en"}
        assert {c["Code"] for c in sa["catalog"]["coupons"] if c["EntityId"] == ROOT} == {"WELCOME10", "SAVE5"}
        discounts = [d for d in sa["catalog"]["discounts"] if d["EntityId"] == ROOT]
        assert {d["Effect"]["Type"] for d in discounts} == {"Relative", "Absolute"}
    finally:
        a.stop()
        b.stop()


def test_seed_over_http_and_productinfo(bw, api):
    r = requests.post(f"{bw.base_url}/_sandbox/seed", json={"catalog_items": 30, "customers": 2})
    assert r.status_code == 200 and r.json()[ROOT]["customers"] == 2
    info = api.get("productinfo").json()
    assert set(info) == {"PlanGroups", "Plans", "PlanVariants", "Components", "Discounts", "Coupons"}
    assert len(info["PlanVariants"]) + len(info["Components"]) + len(info["Discounts"]) == 30
    assert len(api.get("planGroups").json()) == len(info["PlanGroups"])
    assert len(api.get("plans").json()) == len(info["Plans"])
    plan = info["Plans"][0]
    assert all(v["PlanId"] == plan["Id"] for v in api.get("planVariants", params={"planId": plan["Id"]}).json())


def test_hide_and_show(seeded, api):
    variant = api.get("planVariants").json()[0]
    assert variant["Hidden"] is False
    seeded.set_hidden("plan_variant", variant["Id"], True)
    listed = api.get("planVariants").json()
    assert listed[0]["Id"] == variant["Id"] and listed[0]["Hidden"] is True        # still listed
    comp = api.get("components").json()[0]
    r = requests.post(f"{seeded.base_url}/_sandbox/hidden", json={"kind": "component", "id": comp["Id"], "hidden": True})
    assert r.status_code == 200 and r.json()["Hidden"] is True
    assert api.get(f"components/{comp['Id']}").json()["Hidden"] is True
    seeded.set_hidden("plan_variant", variant["Id"], False)
    assert api.get(f"planVariants/{variant['Id']}").json()["Hidden"] is False
    disc = api.get("discounts").json()[0]
    seeded.set_hidden("discount", disc["Id"])
    assert api.get(f"discounts/{disc['Id']}").json()["Hidden"] is True
    assert requests.post(f"{seeded.base_url}/_sandbox/hidden", json={"kind": "order", "id": "x"}).status_code == 400
    assert requests.post(f"{seeded.base_url}/_sandbox/hidden",
                         json={"kind": "discount", "id": "ffffffffffffffffffffffff"}).status_code == 404


def test_state_accounts_trigger_clock_and_reset_over_http(seeded):
    base = seeded.base_url + "/_sandbox"
    state = requests.get(f"{base}/state").json()
    assert {"accounts", "customers", "contracts", "orders", "invoices", "catalog", "webhooks", "deliveries"} <= set(state)
    assert state["accounts"][0]["entities"][0] == {"Id": ROOT, "Name": "Sandbox GmbH",
                                                   "PublicApiKey": "5f00000000000000000000a1", "Country": "DE",
                                                   "Currency": "EUR"}
    assert len(requests.get(f"{base}/state", params={"kind": "customers"}).json()["customers"]) == 20
    assert requests.get(f"{base}/state", params={"kind": "nope"}).status_code == 404
    r = requests.post(f"{base}/accounts", json={"client_id": "c2", "client_secret": "s2",
                                                "entities": [{"id": "6c0000000000000000000001", "name": "C"}]})
    assert r.status_code == 201
    assert requests.post(f"{base}/accounts", json={"client_id": "c2", "client_secret": "s2"}).status_code == 400
    assert Api(seeded, "c2", "s2").get("customers").json() == []
    contract = state["contracts"][0]
    r = requests.post(f"{base}/trigger", json={"event": "PaymentEscalated", "contract_id": contract["Id"]})
    assert r.json()["TriggerDays"] == 5 and r.json()["EntityId"] == ROOT
    r = requests.post(f"{base}/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["CustomerChanged"],
                                                "username": "u", "password": "p"})
    assert r.status_code == 201 and r.json()["AuthenticationType"] == "BasicAuth" and "password" not in str(r.json())
    assert requests.post(f"{base}/webhooks/flush", json={"timeout": 1}).json() == {"idle": True}
    assert requests.get(f"{base}/deliveries").json() == []
    assert requests.post(f"{base}/clock", json={"advance_s": 10}).status_code == 200
    assert requests.post(f"{base}/reset").status_code == 204
    after = requests.get(f"{base}/state").json()
    assert after["customers"] == [] and [a["client_id"] for a in after["accounts"]] == ["hubwerk-sandbox-billwerk-client"]
    assert requests.post(f"{base}/seed", data="{bad").status_code == 400

"""Seed data and the control API."""
import time

import requests

from sandbox.hubspot import HubSpotSandbox


def test_seed_deterministic_and_realistic():
    a, b = HubSpotSandbox(), HubSpotSandbox()
    try:
        ra, rb = a.seed(companies=60), b.seed(companies=60)
        assert ra == rb
        assert a.objects("companies") == b.objects("companies")
        assert a.objects("deals") == b.objects("deals")
        assert ra["companies"] == 60 and ra["contacts"] == 120 and ra["closed_won_companies"] == 18
        comps = a.objects("companies")
        countries = {c["properties"]["country"] for c in comps}
        assert {"DE", "US", "GB", "FR"} <= countries
        addresses = [c["properties"]["address"] or "" for c in comps]
        assert any(x[0].isdigit() for x in addresses) and any(x.split()[-1].isdigit() for x in addresses)
        assert sum(ra["broken_addresses"].values()) > 0
        contacts = a.objects("contacts")
        assert any(c["properties"]["email"] is None for c in contacts)
        assert all(c["properties"]["associatedcompanyid"] for c in contacts)
        won = [d for d in a.objects("deals") if d["properties"]["hs_is_closed_won"] == "true"]
        assert len(won) == 18 and {d["properties"]["pipeline"] for d in won} == {"default", ra["enterprise_pipeline_id"]}
        deal = a.get_object("deals", won[0]["id"])
        assert deal["associations"]["companies"][0]["typeIds"] == [5, 341]
        assert deal["associations"]["line_items"]
    finally:
        a.close()
        b.close()


def test_seed_broken_variants_present():
    hs = HubSpotSandbox()
    try:
        report = hs.seed(companies=400)
        assert all(n > 0 for n in report["broken_addresses"].values()), report["broken_addresses"]
        props = [c["properties"] for c in hs.objects("companies")]
        assert any(p["country"] == "UK" for p in props) and any(p["state"] == "XX" for p in props)
        assert any(p["country"] == "Germany" for p in props) and any(p["zip"] is None for p in props)
        assert any(p["country"] == "US" and not p["state"] for p in props)
        assert any("straße" in (p["address"] or "") for p in props)
    finally:
        hs.close()


def test_seed_benchmark_size_is_fast():
    hs = HubSpotSandbox()
    try:
        t = time.monotonic()
        report = hs.seed(companies=2000, closed_won_ratio=1.0)
        assert time.monotonic() - t < 3.0
        assert report["closed_won_companies"] == 2000 and len(report["closed_won_company_ids"]) == 2000
        assert hs.state()["counts"]["contacts"] == 4000
    finally:
        hs.close()


def test_control_api_roundtrip(hubspot_sandbox):
    hs = hubspot_sandbox
    base = hs.base_url + "/_sandbox"
    seeded = requests.post(base + "/seed", json={"companies": 5, "closed_won_ratio": 0.4}).json()
    assert seeded["companies"] == 5 and seeded["closed_won_companies"] == 2
    assert requests.get(base + "/state").json()["counts"]["companies"] == 5
    objs = requests.get(base + "/state/objects/companies").json()["results"]
    assert len(objs) == 5
    assert requests.get(f"{base}/state/objects/companies/{objs[0]['id']}").json()["id"] == objs[0]["id"]
    assert requests.post(base + "/portals", json={"portal_id": 300003, "name": "C"}).status_code == 201
    assert {p["portalId"] for p in requests.get(base + "/portals").json()["results"]} == {hs.default_portal_id, 300003}
    tok = requests.post(base + "/tokens", json={"portal_id": 300003}).json()
    assert tok["hub_id"] == 300003
    r = requests.get(hs.base_url + "/crm/v3/objects/companies", headers={"Authorization": "Bearer " + tok["access_token"]})
    assert r.json()["results"] == []     # portal C has no data
    s = requests.post(base + "/settings", json={"auto_approve": True, "token_ttl_s": 60}).json()
    assert s["auto_approve"] is True and s["token_ttl_s"] == 60 and "client_secret" not in s
    assert requests.post(base + "/settings", json={"nope": 1}).status_code == 400
    assert requests.get(base + "/state/installs").json()["results"][1]["installed"] is True
    props = requests.get(base + "/state/properties/deals").json()["results"]
    assert any(p["name"] == "dealstage" for p in props)
    created = requests.post(base + "/objects/deals", json={"properties": {"dealname": "UI"}})
    assert created.status_code == 201
    bad = requests.post(base + "/objects/deals", json={"properties": {"amount": "x"}})
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "INVALID_FLOAT"
    assert requests.patch(base + "/objects/deals/999999", json={"properties": {}}).status_code == 404
    assert requests.post(base + "/associations", json={"from_type": "deals", "from_id": created.json()["id"],
                                                      "to_type": "companies", "to_id": objs[0]["id"]}).status_code == 204
    assert requests.delete(f"{base}/objects/deals/{created.json()['id']}").status_code == 204
    assert requests.post(base + "/time", json={"advance_s": 61}).status_code == 200
    assert requests.post(base + "/faults", json={"bogus": 1}).status_code == 400
    assert requests.post(base + "/webhooks/flush", json={}).json() == {"flushed": True}
    assert requests.post(base + "/reset").status_code == 204
    assert requests.get(base + "/state").json()["counts"]["companies"] == 0
    assert requests.get(base + "/").json()["app_id"] == 4242
    assert requests.get(base + "/health").json()["status"] == "ok"
    assert requests.get(base + "/limits").json() == {"rate_limit": 110, "rate_window_s": 10.0, "search_rate_per_s": 5}


def test_uninstall_via_control_api(hubspot_sandbox, api):
    assert requests.post(f"{hubspot_sandbox.base_url}/_sandbox/portals/{hubspot_sandbox.default_portal_id}/uninstall").status_code == 204
    assert api.get("/crm/v3/objects/deals").status_code == 401

"""The control API refuses bodies it does not understand, and the demo seed keeps the quick start's promises."""
import requests

from backend.mapping.address import validate_address
from sandbox.hubspot import HubSpotSandbox


def _deal(hs) -> str:
    return requests.post(f"{hs.base_url}/_sandbox/objects/deals", timeout=10,
                         json={"properties": {"dealname": "Shape", "pipeline": "default", "dealstage": "contractsent"}}).json()["id"]


def test_patch_with_bare_properties_is_refused_naming_the_expected_shape(hubspot_sandbox):
    deal = _deal(hubspot_sandbox)
    r = requests.patch(f"{hubspot_sandbox.base_url}/_sandbox/objects/deals/{deal}", json={"dealstage": "closedwon"}, timeout=10)
    assert r.status_code == 400
    assert "dealstage" in r.json()["message"] and '{"properties": {"dealstage": "closedwon"}}' in r.json()["message"]
    assert hubspot_sandbox.get_object("deals", deal)["properties"]["dealstage"] == "contractsent"


def test_patch_refuses_empty_and_non_object_bodies(hubspot_sandbox):
    deal = _deal(hubspot_sandbox)
    url = f"{hubspot_sandbox.base_url}/_sandbox/objects/deals/{deal}"
    for body in ("", "{}", '{"properties": {}}', "[1]", "dealstage=closedwon", '{"properties": "closedwon"}'):
        r = requests.patch(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 400 and '"properties"' in r.json()["message"], (body, r.text)


def test_patch_with_the_documented_shape_works_also_without_content_type(hubspot_sandbox):
    deal = _deal(hubspot_sandbox)
    # curl -d without -H sends application/x-www-form-urlencoded; the JSON is still understood.
    r = requests.patch(f"{hubspot_sandbox.base_url}/_sandbox/objects/deals/{deal}",
                       data='{"properties": {"dealstage": "closedwon"}}',
                       headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert r.status_code == 200, r.text
    assert hubspot_sandbox.get_object("deals", deal)["properties"]["dealstage"] == "closedwon"


def test_create_associate_and_limits_refuse_unknown_fields(hubspot_sandbox):
    base = hubspot_sandbox.base_url
    r = requests.post(f"{base}/_sandbox/objects/companies", json={"name": "ACME"}, timeout=10)
    assert r.status_code == 400 and "name" in r.json()["message"] and '"properties"' in r.json()["message"]
    assert hubspot_sandbox.objects("companies") == []
    r = requests.post(f"{base}/_sandbox/associations", json={"from": "deals"}, timeout=10)
    assert r.status_code == 400 and "from_type" in r.json()["message"]
    r = requests.post(f"{base}/_sandbox/limits", json={"window_s": 5}, timeout=10)
    assert r.status_code == 400 and "rate_window_s" in r.json()["message"]


def test_objects_can_be_filtered_by_property(hubspot_sandbox):
    base = hubspot_sandbox.base_url
    open_deal = _deal(hubspot_sandbox)
    requests.post(f"{base}/_sandbox/objects/deals", timeout=10,
                  json={"properties": {"dealname": "Won", "pipeline": "default", "dealstage": "closedwon"}})
    found = requests.get(f"{base}/_sandbox/state/objects/deals", params={"dealstage": "contractsent"}, timeout=10).json()["results"]
    assert [d["id"] for d in found] == [open_deal]


def test_demo_seed_has_closed_won_companies_with_the_classic_problems_and_an_open_clean_deal():
    hs = HubSpotSandbox()
    try:
        report = hs.seed(companies=10, closed_won_ratio=0.5, demo=True)
        won = set(report["closed_won_company_ids"])
        companies = {c["id"]: c["properties"] for c in hs.objects("companies")}
        problems = {cid: [p.message for p in validate_address(companies[cid], cid)] for cid in won}
        flat = " / ".join(m for messages in problems.values() for m in messages)
        assert sum(1 for messages in problems.values() if messages) == 4, problems
        for expected in ("UK", "Postal code is missing", "State 'XX'", "Street address is missing"):
            assert expected in flat, flat
        deal = hs.get_object("deals", report["demo_deal_id"])
        assert deal["properties"]["dealstage"] == "contractsent" and deal["properties"]["pipeline"] == "default"
        company = deal["associations"]["companies"][0]["id"]
        assert company not in won and validate_address(companies[company], company) == []
        contact = hs.get_object("contacts", deal["associations"]["contacts"][0]["id"])
        assert contact["properties"]["email"]
        # Everything else is what the plain seed gives.
        plain = HubSpotSandbox()
        try:
            assert plain.seed(companies=10, closed_won_ratio=0.5)["closed_won_company_ids"] == report["closed_won_company_ids"]
        finally:
            plain.close()
    finally:
        hs.close()

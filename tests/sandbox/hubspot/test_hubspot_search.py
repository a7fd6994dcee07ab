"""Search: operators, sorting, query, paging, the 10,000 cap and the secondly limit."""
import pytest


@pytest.fixture
def deals(api, hubspot_sandbox):
    hubspot_sandbox.configure(search_rate_per_s=1000)
    hubspot_sandbox.set_limits(search_rate_per_s=1000, rate_limit=10_000)
    rows = [("Alpha deal", "100", "closedwon", "2026-01-10T10:00:00Z"),
            ("Beta deal", "250.5", "appointmentscheduled", "2026-02-10T10:00:00Z"),
            ("Gamma contract", "1000", "closedlost", "2026-03-10T10:00:00Z"),
            ("Delta deal", "", "contractsent", "")]
    ids = []
    for name, amount, stage, close in rows:
        r = api.post("/crm/v3/objects/deals", json={"properties": {
            "dealname": name, "amount": amount, "dealstage": stage, "closedate": close}})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def _search(api, **body):
    r = api.post("/crm/v3/objects/deals/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _names(result):
    return [r["properties"]["dealname"] for r in result["results"]]


def F(prop, op, value=None, **kw):
    f = {"propertyName": prop, "operator": op}
    if value is not None:
        f["value"] = value
    f.update(kw)
    return {"filters": [f]}


@pytest.mark.parametrize("group,expected", [
    (F("dealstage", "EQ", "closedwon"), ["Alpha deal"]),
    (F("dealstage", "NEQ", "closedwon"), ["Beta deal", "Gamma contract", "Delta deal"]),
    (F("amount", "GT", "200"), ["Beta deal", "Gamma contract"]),
    (F("amount", "GTE", "250.5"), ["Beta deal", "Gamma contract"]),
    (F("amount", "LT", "250.5"), ["Alpha deal"]),
    (F("amount", "LTE", "250.5"), ["Alpha deal", "Beta deal"]),
    (F("amount", "BETWEEN", "100", highValue="300"), ["Alpha deal", "Beta deal"]),
    (F("dealstage", "IN", values=["closedwon", "closedlost"]), ["Alpha deal", "Gamma contract"]),
    (F("dealstage", "NOT_IN", values=["closedwon", "closedlost"]), ["Beta deal", "Delta deal"]),
    (F("amount", "HAS_PROPERTY"), ["Alpha deal", "Beta deal", "Gamma contract"]),
    (F("amount", "NOT_HAS_PROPERTY"), ["Delta deal"]),
    (F("dealname", "CONTAINS_TOKEN", "contract"), ["Gamma contract"]),
    (F("dealname", "CONTAINS_TOKEN", "al*"), ["Alpha deal"]),
    (F("dealname", "NOT_CONTAINS_TOKEN", "deal"), ["Gamma contract"]),
    (F("closedate", "GTE", "1768089600000"), ["Beta deal", "Gamma contract"]),       # 2026-01-11 00:00 UTC in ms
    (F("closedate", "LT", "2026-02-01"), ["Alpha deal"]),
])
def test_operators(api, deals, group, expected):
    assert _names(_search(api, filterGroups=[group], properties=["dealname"])) == expected


def test_or_between_groups_and_inside(api, deals):
    res = _search(api, filterGroups=[
        {"filters": [{"propertyName": "amount", "operator": "GT", "value": "50"},
                     {"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"}]},
        F("dealstage", "EQ", "contractsent")], properties=["dealname"])
    assert _names(res) == ["Alpha deal", "Delta deal"] and res["total"] == 2


def test_sorts_query_and_paging(api, deals):
    res = _search(api, sorts=[{"propertyName": "amount", "direction": "DESCENDING"}], properties=["dealname"])
    assert _names(res) == ["Gamma contract", "Beta deal", "Alpha deal", "Delta deal"]
    assert _names(_search(api, sorts=["-createdate"], properties=["dealname"]))[0] == "Delta deal"
    assert _names(_search(api, query="gam", properties=["dealname"])) == ["Gamma contract"]
    page = _search(api, limit=3, properties=["dealname"])
    assert page["total"] == 4 and page["paging"]["next"]["after"] == "3"
    rest = _search(api, limit=3, after="3", properties=["dealname"])
    assert _names(rest) == ["Delta deal"] and "paging" not in rest


def test_limits_and_validation(api, deals):
    assert api.post("/crm/v3/objects/deals/search", json={"limit": 201}).status_code == 400
    assert api.post("/crm/v3/objects/deals/search", json={"limit": 200}).status_code == 200
    six = [F("amount", "HAS_PROPERTY")] * 6
    assert api.post("/crm/v3/objects/deals/search", json={"filterGroups": six}).status_code == 400
    bad = api.post("/crm/v3/objects/deals/search", json={"filterGroups": [F("amount", "LIKE", "1")]})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


def test_10000_result_cap(api, hubspot_sandbox):
    hubspot_sandbox.set_limits(search_rate_per_s=1000)
    hubspot_sandbox.seed(companies=3400, contacts_per_company=3, deals_per_company=0, products=0)
    r = api.post("/crm/v3/objects/contacts/search", json={"limit": 200, "after": "9800", "properties": ["email"]})
    body = r.json()
    assert body["total"] == 10200 and len(body["results"]) == 200 and "paging" not in body
    over = api.post("/crm/v3/objects/contacts/search", json={"limit": 100, "after": "10000"})
    assert over.status_code == 400 and over.json()["category"] == "VALIDATION_ERROR" and over.json()["correlationId"]


def test_search_secondly_limit(api, hubspot_sandbox):
    statuses = [api.post("/crm/v3/objects/companies/search", json={}).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    r = api.post("/crm/v3/objects/companies/search", json={})
    body = r.json()
    assert body["message"] == "You have reached your secondly limit." and body["policyName"] == "SECONDLY"
    assert "X-HubSpot-RateLimit-Max" not in r.headers
    hubspot_sandbox.advance_time(1.1)
    assert api.post("/crm/v3/objects/companies/search", json={}).status_code == 200
    # the main (non-search) API is unaffected
    assert api.get("/crm/v3/objects/companies").status_code == 200

"""Associations v4 and their default type ids."""


def _mk(api, otype, props):
    r = api.post(f"/crm/v3/objects/{otype}", json={"properties": props})
    assert r.status_code == 201
    return r.json()["id"]


def test_default_and_labelled_put_get_delete(api):
    deal, comp, contact = _mk(api, "deals", {"dealname": "D"}), _mk(api, "companies", {"name": "C"}), \
        _mk(api, "contacts", {"email": "x@y.z"})
    r = api.put(f"/crm/v4/objects/deals/{deal}/associations/default/companies/{comp}")
    assert r.status_code == 200
    assert {x["associationSpec"]["associationTypeId"] for x in r.json()["results"]} == {341, 342}
    r = api.put(f"/crm/v4/objects/deals/{deal}/associations/companies/{comp}",
                json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}])
    assert r.status_code == 201 and r.json()["labels"] == ["Primary"] and r.json()["toObjectTypeId"] == "0-2"
    got = api.get(f"/crm/v4/objects/deals/{deal}/associations/companies").json()["results"]
    assert got[0]["toObjectId"] == int(comp)
    assert {t["typeId"] for t in got[0]["associationTypes"]} == {5, 341}
    back = api.get(f"/crm/v4/objects/companies/{comp}/associations/deals").json()["results"]
    assert {t["typeId"] for t in back[0]["associationTypes"]} == {6, 342}
    api.put(f"/crm/v4/objects/deals/{deal}/associations/contacts/{contact}",
            json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}])
    assert api.get(f"/crm/v4/objects/contacts/{contact}/associations/deals").json()["results"][0]["associationTypes"][0]["typeId"] == 4
    bad = api.put(f"/crm/v4/objects/deals/{deal}/associations/contacts/{contact}",
                  json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}])
    assert bad.status_code == 400
    assert api.delete(f"/crm/v4/objects/deals/{deal}/associations/companies/{comp}").status_code == 204
    assert api.get(f"/crm/v4/objects/deals/{deal}/associations/companies").json()["results"] == []
    assert api.put(f"/crm/v4/objects/deals/{deal}/associations/default/companies/999999").status_code == 404


def test_primary_moves_and_associatedcompanyid(api):
    contact = _mk(api, "contacts", {"email": "p@q.r"})
    c1, c2 = _mk(api, "companies", {"name": "1"}), _mk(api, "companies", {"name": "2"})
    for comp in (c1, c2):
        api.put(f"/crm/v4/objects/contacts/{contact}/associations/companies/{comp}",
                json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}])
    rows = {r["toObjectId"]: {t["typeId"] for t in r["associationTypes"]}
            for r in api.get(f"/crm/v4/objects/contacts/{contact}/associations/companies").json()["results"]}
    assert rows[int(c2)] == {1, 279} and rows[int(c1)] == {279}   # the primary label moved; both stay associated
    props = api.get(f"/crm/v3/objects/contacts/{contact}", params={"properties": "associatedcompanyid"}).json()
    assert props["properties"]["associatedcompanyid"] == c2


def test_batch_endpoints(api):
    deal = _mk(api, "deals", {"dealname": "D"})
    items = [_mk(api, "line_items", {"name": str(i)}) for i in range(3)]
    r = api.post("/crm/v4/associations/deals/line_items/batch/create", json={"inputs": [
        {"from": {"id": deal}, "to": {"id": li}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                             "associationTypeId": 19}]} for li in items]
        + [{"from": {"id": deal}, "to": {"id": "999999"}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                                      "associationTypeId": 19}]}]})
    assert r.status_code == 207 and len(r.json()["results"]) == 3 and r.json()["numErrors"] == 1
    other = _mk(api, "deals", {"dealname": "E"})
    rd = api.post("/crm/v4/associations/deals/line_items/batch/read", json={"inputs": [{"id": deal}, {"id": other}]})
    assert rd.status_code == 207
    assert [t["toObjectId"] for t in rd.json()["results"][0]["to"]] == [int(i) for i in items]
    too_many = api.post("/crm/v4/associations/deals/line_items/batch/read", json={"inputs": [{"id": deal}] * 1001})
    assert too_many.status_code == 400
    assert api.post("/crm/v4/associations/deals/line_items/batch/read", json={"inputs": [{"id": deal}] * 1000}).status_code == 200
    comp = _mk(api, "companies", {"name": "C"})
    d = api.post("/crm/v4/associations/deals/companies/batch/associate/default",
                 json={"inputs": [{"from": {"id": deal}, "to": {"id": comp}}]})
    assert d.status_code == 200 and d.json()["results"][0]["associationSpec"]["associationTypeId"] == 341
    arch = api.post("/crm/v4/associations/deals/line_items/batch/archive",
                    json={"inputs": [{"from": {"id": deal}, "to": [{"id": items[0]}]}]})
    assert arch.status_code == 204
    assert len(api.get(f"/crm/v4/objects/deals/{deal}/associations/line_items").json()["results"]) == 2


def test_paging_limit_500(api, hubspot_sandbox):
    deal = _mk(api, "deals", {"dealname": "D"})
    assert api.get(f"/crm/v4/objects/deals/{deal}/associations/contacts", params={"limit": 501}).status_code == 400
    ids = [_mk(api, "contacts", {"firstname": str(i)}) for i in range(3)]
    for c in ids:
        hubspot_sandbox.user_associate("deals", deal, "contacts", c)
    p1 = api.get(f"/crm/v4/objects/deals/{deal}/associations/contacts", params={"limit": 2}).json()
    p2 = api.get(f"/crm/v4/objects/deals/{deal}/associations/contacts",
                 params={"limit": 2, "after": p1["paging"]["next"]["after"]}).json()
    assert [r["toObjectId"] for r in p1["results"] + p2["results"]] == [int(i) for i in ids]


def test_archived_targets_hidden(api):
    deal, comp = _mk(api, "deals", {"dealname": "D"}), _mk(api, "companies", {"name": "C"})
    api.put(f"/crm/v4/objects/deals/{deal}/associations/default/companies/{comp}")
    api.delete(f"/crm/v3/objects/companies/{comp}")
    assert api.get(f"/crm/v4/objects/deals/{deal}/associations/companies").json()["results"] == []


# --- category and type id: both required, and they must match ------------------------------------

HALF_SPECS = [{"associationTypeId": 341}, {"associationCategory": "HUBSPOT_DEFINED"}, {}]


def test_v4_needs_category_and_type_id(api):
    deal, comp = _mk(api, "deals", {"dealname": "D"}), _mk(api, "companies", {"name": "C"})
    for spec in HALF_SPECS:
        r = api.put(f"/crm/v4/objects/deals/{deal}/associations/companies/{comp}", json=[spec])
        assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR", spec
        batch = api.post("/crm/v4/associations/deals/companies/batch/create", json={"inputs": [
            {"from": {"id": deal}, "to": {"id": comp}, "types": [spec]}]})
        assert batch.status_code == 400, spec                       # a malformed body fails the whole request
    mismatch = api.put(f"/crm/v4/objects/deals/{deal}/associations/companies/{comp}",
                       json=[{"associationCategory": "USER_DEFINED", "associationTypeId": 341}])
    assert mismatch.status_code == 400 and "does not match" in mismatch.json()["message"]
    batch = api.post("/crm/v4/associations/deals/companies/batch/create", json={"inputs": [
        {"from": {"id": deal}, "to": {"id": comp},
         "types": [{"associationCategory": "INTEGRATOR_DEFINED", "associationTypeId": 341}]}]})
    assert batch.status_code == 207 and batch.json()["numErrors"] == 1
    assert api.get(f"/crm/v4/objects/deals/{deal}/associations/companies").json()["results"] == []


def test_v3_create_with_associations_needs_category_and_type_id(api, hubspot_sandbox):
    comp = _mk(api, "companies", {"name": "C"})
    for spec in HALF_SPECS + [{"associationCategory": "USER_DEFINED", "associationTypeId": 341}]:
        r = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"},
                                                    "associations": [{"to": {"id": comp}, "types": [spec]}]})
        assert r.status_code == 400, spec
        b = api.post("/crm/v3/objects/deals/batch/create", json={"inputs": [
            {"properties": {"dealname": "D"}, "associations": [{"to": {"id": comp}, "types": [spec]}],
             "objectWriteTraceId": "t"}]})
        assert b.status_code == 207 and b.json()["errors"][0]["context"]["objectWriteTraceId"] == ["t"], spec
    no_types = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"},
                                                       "associations": [{"to": {"id": comp}, "types": []}]})
    assert no_types.status_code == 400
    assert hubspot_sandbox.objects("deals") == []

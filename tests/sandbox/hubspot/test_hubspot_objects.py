"""CRM v3 objects: basic and batch endpoints and the details that break connectors."""
import pytest

UNIQUE_PROP = {"name": "billwerk_id", "label": "billwerk ID", "type": "string", "fieldType": "text",
               "groupName": "productinformation", "hasUniqueValue": True}


def _create(api, otype, props, status=201):
    r = api.post(f"/crm/v3/objects/{otype}", json={"properties": props})
    assert r.status_code == status, r.text
    return r.json()


@pytest.mark.parametrize("otype", ["companies", "contacts", "deals", "products", "line_items"])
def test_crud_roundtrip(api, otype):
    name_prop = {"contacts": "firstname", "deals": "dealname"}.get(otype, "name")
    rec = _create(api, otype, {name_prop: "Alpha"})
    assert rec["id"].isdigit() and rec["properties"][name_prop] == "Alpha"
    assert rec["properties"]["hs_object_id"] == rec["id"] and rec["archived"] is False
    assert rec["createdAt"].endswith("Z") and "createdate" in rec["properties"]
    got = api.get(f"/crm/v3/objects/{otype}/{rec['id']}", params={"properties": name_prop}).json()
    assert got["properties"][name_prop] == "Alpha"
    upd = api.patch(f"/crm/v3/objects/{otype}/{rec['id']}", json={"properties": {name_prop: "Beta"}})
    assert upd.status_code == 200 and upd.json()["properties"][name_prop] == "Beta"
    assert api.delete(f"/crm/v3/objects/{otype}/{rec['id']}").status_code == 204
    assert api.get(f"/crm/v3/objects/{otype}/{rec['id']}").status_code == 404
    archived = api.get(f"/crm/v3/objects/{otype}/{rec['id']}", params={"archived": "true"})
    assert archived.status_code == 200 and archived.json()["archived"] is True


def test_object_type_ids_accepted(api):
    rec = _create(api, "0-2", {"name": "By type id"})
    assert api.get(f"/crm/v3/objects/companies/{rec['id']}").status_code == 200
    assert api.get("/crm/v3/objects/0-3").status_code == 200
    assert api.get("/crm/v3/objects/widgets").status_code == 400


def test_values_are_strings_and_non_strings_are_coerced(api):
    deal = _create(api, "deals", {"dealname": "Numbers", "amount": 1200, "closedate": 1767225600000})
    props = api.get(f"/crm/v3/objects/deals/{deal['id']}", params={"properties": "amount,closedate,hs_is_closed_won"}).json()["properties"]
    assert props["amount"] == "1200"
    assert props["closedate"] == "2026-01-01T00:00:00.000Z"
    assert all(isinstance(v, str) or v is None for v in props.values())
    comp = _create(api, "companies", {"name": "Bool", "hs_is_target_account": True, "numberofemployees": 12.0})
    got = api.get(f"/crm/v3/objects/companies/{comp['id']}",
                  params={"properties": "hs_is_target_account,numberofemployees,phone"}).json()["properties"]
    assert got["hs_is_target_account"] == "true" and got["numberofemployees"] == "12"
    assert got["phone"] is None   # requested but empty: null
    bad = api.post("/crm/v3/objects/companies", json={"properties": {"name": {"nested": 1}}})
    assert bad.status_code == 400


def _assert_validation(resp, code, prop):
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    assert body["correlationId"]
    assert any(e["code"] == code and e["context"]["propertyName"] == [prop] for e in body["errors"]), body
    return body


def test_unknown_property(api):
    r = api.post("/crm/v3/objects/companies", json={"properties": {"name": "x", "billwerk_nope": "1"}})
    _assert_validation(r, "PROPERTY_DOESNT_EXIST", "billwerk_nope")


def test_bad_enumeration_option(api):
    r = api.post("/crm/v3/objects/products", json={"properties": {"name": "p", "recurringbillingfrequency": "yearly"}})
    body = _assert_validation(r, "INVALID_OPTION", "recurringbillingfrequency")
    assert "was not one of the allowed options" in body["message"] and "annually" in body["message"]


def test_date_not_midnight(api, hubspot_sandbox):
    hubspot_sandbox.properties("deals")  # smoke: inspection works
    api.post("/crm/v3/properties/deals", json={"name": "billwerk_start_date", "label": "Start", "type": "date",
                                              "fieldType": "date", "groupName": "dealinformation"})
    r = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "d",
                                                               "billwerk_start_date": "2026-03-01T22:18:55.865Z"}})
    body = _assert_validation(r, "INVALID_DATE", "billwerk_start_date")
    assert "is at 22:18:55.865 UTC, not midnight!" in body["message"]
    ok = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "d", "billwerk_start_date": "1772323200000"}})
    assert ok.status_code == 201 and ok.json()["properties"]["billwerk_start_date"] == "2026-03-01"


def test_non_numeric_number_and_bad_bool(api):
    _assert_validation(api.post("/crm/v3/objects/deals", json={"properties": {"amount": "12,50"}}), "INVALID_FLOAT", "amount")
    _assert_validation(api.post("/crm/v3/objects/line_items", json={"properties": {"hs_product_id": "abc"}}),
                       "INVALID_INTEGER", "hs_product_id")
    _assert_validation(api.post("/crm/v3/objects/companies", json={"properties": {"hs_is_target_account": "yes"}}),
                       "INVALID_BOOLEAN", "hs_is_target_account")


def test_read_only_property_refused(api):
    r = api.post("/crm/v3/objects/deals", json={"properties": {"hs_is_closed_won": "true"}})
    _assert_validation(r, "READ_ONLY_VALUE", "hs_is_closed_won")


def test_deal_stage_must_belong_to_pipeline(api):
    r = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "x", "dealstage": "nostage"}})
    _assert_validation(r, "INVALID_OPTION", "dealstage")
    won = _create(api, "deals", {"dealname": "y", "pipeline": "default", "dealstage": "closedwon"})
    props = api.get(f"/crm/v3/objects/deals/{won['id']}", params={"properties": "hs_is_closed_won,hs_deal_stage_probability"}).json()["properties"]
    assert props["hs_is_closed_won"] == "true" and props["hs_deal_stage_probability"] == "1.0"


def test_duplicate_unique_value_409(api):
    first = _create(api, "contacts", {"email": "a@example.com"})
    r = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "a@example.com"}})
    assert r.status_code == 409
    assert r.json()["category"] == "CONFLICT" and f"Existing ID: {first['id']}" in r.json()["message"]
    other = _create(api, "contacts", {"email": "b@example.com"})
    r = api.patch(f"/crm/v3/objects/contacts/{other['id']}", json={"properties": {"email": "a@example.com"}})
    assert r.status_code == 409


def test_id_property_get_patch_and_non_unique(api):
    c = _create(api, "contacts", {"email": "id@example.com", "firstname": "Id"})
    got = api.get("/crm/v3/objects/contacts/id@example.com", params={"idProperty": "email"})
    assert got.status_code == 200 and got.json()["id"] == c["id"]
    r = api.patch("/crm/v3/objects/contacts/id@example.com", params={"idProperty": "email"},
                  json={"properties": {"firstname": "Changed"}})
    assert r.json()["properties"]["firstname"] == "Changed"
    bad = api.get("/crm/v3/objects/contacts/Id", params={"idProperty": "firstname"})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


def test_list_paging_and_limit(api):
    ids = [_create(api, "companies", {"name": f"C{i}"})["id"] for i in range(5)]
    page1 = api.get("/crm/v3/objects/companies", params={"limit": 3}).json()
    assert [r["id"] for r in page1["results"]] == ids[:3]
    page2 = api.get("/crm/v3/objects/companies", params={"limit": 3, "after": page1["paging"]["next"]["after"]}).json()
    assert [r["id"] for r in page2["results"]] == ids[3:] and "paging" not in page2
    assert api.get("/crm/v3/objects/companies", params={"limit": 101}).status_code == 400


# --- batch -------------------------------------------------------------------------------------------

def test_batch_limit_100(api):
    r = api.post("/crm/v3/objects/companies/batch/create",
                 json={"inputs": [{"properties": {"name": str(i)}} for i in range(101)]})
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    ok = api.post("/crm/v3/objects/companies/batch/create",
                  json={"inputs": [{"properties": {"name": str(i)}} for i in range(100)]})
    assert ok.status_code == 201 and len(ok.json()["results"]) == 100


def test_batch_create_partial_failure_207(api, hubspot_sandbox):
    r = api.post("/crm/v3/objects/products/batch/create", json={"inputs": [
        {"properties": {"name": "good"}, "objectWriteTraceId": "t1"},
        {"properties": {"name": "bad", "recurringbillingfrequency": "yearly"}, "objectWriteTraceId": "t2"},
        {"properties": {"name": "good2"}, "objectWriteTraceId": "t3"}]})
    assert r.status_code == 207
    body = r.json()
    assert body["status"] == "COMPLETE" and body["numErrors"] == 1
    assert sorted(x["properties"]["name"] for x in body["results"]) == ["good", "good2"]
    err = body["errors"][0]
    assert err["category"] == "VALIDATION_ERROR" and err["context"]["objectWriteTraceId"] == ["t2"]
    assert err["errors"][0]["code"] == "INVALID_OPTION"
    assert len(hubspot_sandbox.objects("products")) == 2


def test_batch_strict_mode_fails_whole_batch(api, hubspot_sandbox):
    hubspot_sandbox.configure(batch_errors="strict")
    r = api.post("/crm/v3/objects/products/batch/create", json={"inputs": [
        {"properties": {"name": "good"}}, {"properties": {"name": "bad", "price": "x"}}]})
    assert r.status_code == 400 and hubspot_sandbox.objects("products") == []


def test_batch_read_missing_ids_207(api):
    a = _create(api, "deals", {"dealname": "A"})
    r = api.post("/crm/v3/objects/deals/batch/read", json={"inputs": [{"id": a["id"]}, {"id": "999999"}],
                                                            "properties": ["dealname"]})
    assert r.status_code == 207
    body = r.json()
    assert [x["id"] for x in body["results"]] == [a["id"]]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND" and body["errors"][0]["context"]["ids"] == ["999999"]


def test_batch_update_missing_id_fails_the_whole_batch(api, hubspot_sandbox):
    a = _create(api, "companies", {"name": "A"})
    r = api.post("/crm/v3/objects/companies/batch/update",
                 json={"inputs": [{"id": a["id"], "properties": {"city": "Berlin"}, "objectWriteTraceId": "t1"},
                                  {"id": "424242", "properties": {}, "objectWriteTraceId": "t2"}]})
    assert r.status_code == 400 and r.json()["category"] == "OBJECT_NOT_FOUND"
    assert r.json()["context"]["ids"] == ["424242"]
    assert hubspot_sandbox.get_object("companies", a["id"])["properties"].get("city") is None   # nothing written
    dup = api.post("/crm/v3/objects/companies/batch/update",
                   json={"inputs": [{"id": a["id"], "properties": {}}, {"id": a["id"], "properties": {}}]})
    assert dup.status_code == 400


def test_batch_update_bad_value_fails_the_whole_batch(api, hubspot_sandbox):
    """Batch create reports per input (207); update refuses everything for one bad value, trace ids or not."""
    a, b = _create(api, "deals", {"dealname": "A"}), _create(api, "deals", {"dealname": "B"})
    r = api.post("/crm/v3/objects/deals/batch/update", json={"inputs": [
        {"id": a["id"], "properties": {"dealname": "A2"}, "objectWriteTraceId": "t1"},
        {"id": b["id"], "properties": {"amount": "lots"}, "objectWriteTraceId": "t2"}]})
    assert r.status_code == 400
    body = r.json()
    assert body["category"] == "VALIDATION_ERROR" and body["errors"][0]["code"] == "INVALID_FLOAT"
    assert "results" not in body and "numErrors" not in body
    assert hubspot_sandbox.get_object("deals", a["id"])["properties"]["dealname"] == "A"


def test_batch_upsert_bad_input_fails_the_whole_batch(api, hubspot_sandbox):
    assert api.post("/crm/v3/properties/products", json=UNIQUE_PROP).status_code == 201
    api.post("/crm/v3/objects/products/batch/upsert", json={"inputs": [
        {"id": "pv-held", "idProperty": "billwerk_id", "properties": {"name": "Held"}}]})
    calls = []
    for bad in ({"name": "bad", "recurringbillingfrequency": "yearly"},     # bad option -> 400
                {"name": "bad", "hs_recurring_billing_period": "12 months"}):
        r = api.post("/crm/v3/objects/products/batch/upsert", json={"inputs": [
            {"id": "pv-new", "idProperty": "billwerk_id", "properties": {"name": "New"}, "objectWriteTraceId": "a"},
            {"id": "pv-held", "idProperty": "billwerk_id", "properties": {"name": "Renamed"}},
            {"id": "pv-bad", "idProperty": "billwerk_id", "properties": bad, "objectWriteTraceId": "c"}]})
        calls.append(r.status_code)
        assert r.json()["category"] == "VALIDATION_ERROR"
    assert calls == [400, 400]
    assert [p["properties"]["name"] for p in hubspot_sandbox.objects("products")] == ["Held"]
    conflict = api.post("/crm/v3/objects/products/batch/upsert", json={"inputs": [
        {"id": "pv-x", "idProperty": "billwerk_id", "properties": {"name": "X"}},
        {"id": "pv-held", "idProperty": "billwerk_id", "properties": {"billwerk_id": "pv-x"}}]})
    assert conflict.status_code == 409 and conflict.json()["category"] == "CONFLICT"
    assert len(hubspot_sandbox.objects("products")) == 1
    missing = api.post("/crm/v3/objects/products/batch/upsert", json={"inputs": [
        {"id": "999999", "properties": {"name": "by record id"}}]})
    assert missing.status_code == 400 and missing.json()["context"]["ids"] == ["999999"]


def test_batch_upsert_new_flag_and_archived_key(api, hubspot_sandbox):
    assert api.post("/crm/v3/properties/products", json=UNIQUE_PROP).status_code == 201
    body = {"inputs": [{"id": "pv-1", "idProperty": "billwerk_id", "properties": {"name": "Plan 1", "price": "10"}}]}
    first = api.post("/crm/v3/objects/products/batch/upsert", json=body)
    assert first.status_code == 200 and first.json()["results"][0]["new"] is True
    pid = first.json()["results"][0]["id"]
    second = api.post("/crm/v3/objects/products/batch/upsert", json=body)
    assert second.json()["results"][0]["new"] is False and second.json()["results"][0]["id"] == pid
    api.delete(f"/crm/v3/objects/products/{pid}")
    third = api.post("/crm/v3/objects/products/batch/upsert", json=body)
    assert third.json()["results"][0]["new"] is True and third.json()["results"][0]["id"] != pid


def test_upsert_id_property_must_be_unique(api):
    r = api.post("/crm/v3/objects/products/batch/upsert",
                 json={"inputs": [{"id": "x", "idProperty": "name", "properties": {}}]})
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"


def test_unique_duplicate_within_batch(api):
    api.post("/crm/v3/properties/products", json=UNIQUE_PROP)
    r = api.post("/crm/v3/objects/products/batch/create", json={"inputs": [
        {"properties": {"billwerk_id": "k1"}}, {"properties": {"billwerk_id": "k1"}}]})
    assert r.status_code == 207 and len(r.json()["results"]) == 1 and r.json()["errors"][0]["category"] == "CONFLICT"


def test_batch_archive(api, hubspot_sandbox):
    ids = [_create(api, "deals", {"dealname": str(i)})["id"] for i in range(3)]
    r = api.post("/crm/v3/objects/deals/batch/archive", json={"inputs": [{"id": i} for i in ids[:2]]})
    assert r.status_code == 204
    assert [d["id"] for d in hubspot_sandbox.objects("deals")] == ids[2:]


def test_create_with_associations_and_v3_read(api):
    comp = _create(api, "companies", {"name": "Acme"})
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D"}, "associations": [
        {"to": {"id": comp["id"]}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}]}]})
    assert deal.status_code == 201
    got = api.get(f"/crm/v3/objects/deals/{deal.json()['id']}", params={"associations": "companies"}).json()
    assert got["associations"]["companies"]["results"] == [{"id": comp["id"], "type": "deal_to_company"},
                                                          {"id": comp["id"], "type": "deal_to_company_unlabeled"}]
    bad = api.post("/crm/v3/objects/deals", json={"properties": {}, "associations": [
        {"to": {"id": "1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 9999}]}]})
    assert bad.status_code == 400


def test_line_item_amount_derived(api):
    li = _create(api, "line_items", {"name": "L", "quantity": "3", "price": "10.5"})
    assert li["properties"]["amount"] == "31.5"


def test_error_shape_everywhere(api, hubspot_sandbox):
    for resp in (api.get("/crm/v3/objects/deals/123456789"), api.get("/no/such/route"),
                 api.post("/crm/v3/objects/deals", data="{not json", headers={"Content-Type": "application/json"})):
        body = resp.json()
        assert body["status"] == "error" and body["correlationId"] and body["message"] and body["category"]


def test_batch_create_with_associations(api, hubspot_sandbox):
    comp = _create(api, "companies", {"name": "Acme"})
    r = api.post("/crm/v3/objects/deals/batch/create", json={"inputs": [
        {"properties": {"dealname": "D1"}, "associations": [
            {"to": {"id": comp["id"]}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]}]})
    assert r.status_code == 201
    deal = hubspot_sandbox.get_object("deals", r.json()["results"][0]["id"])
    assert deal["associations"]["companies"] == [{"id": comp["id"], "typeIds": [341]}]


def test_reset_forgets_everything(api, hubspot_sandbox):
    _create(api, "companies", {"name": "gone"})
    hubspot_sandbox.reset()
    assert hubspot_sandbox.objects("companies") == [] and hubspot_sandbox.calls == []
    assert api.get("/crm/v3/objects/companies").status_code == 401    # tokens are gone too

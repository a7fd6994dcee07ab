"""Properties, property groups and pipelines."""

PROP = {"name": "billwerk_customer_id", "label": "billwerk customer ID", "type": "string", "fieldType": "text",
        "groupName": "billwerk", "hasUniqueValue": True}


def test_group_and_property_lifecycle(api):
    g = api.post("/crm/v3/properties/companies/groups", json={"name": "billwerk", "label": "billwerk", "displayOrder": -1})
    assert g.status_code == 201 and g.json() == {"name": "billwerk", "label": "billwerk", "displayOrder": -1, "archived": False}
    assert api.post("/crm/v3/properties/companies/groups", json={"name": "billwerk", "label": "x"}).status_code == 409
    assert api.patch("/crm/v3/properties/companies/groups/billwerk", json={"label": "Billwerk"}).json()["label"] == "Billwerk"
    assert any(x["name"] == "billwerk" for x in api.get("/crm/v3/properties/companies/groups").json()["results"])
    r = api.post("/crm/v3/properties/companies", json=PROP)
    assert r.status_code == 201 and r.json()["hasUniqueValue"] is True and r.json()["hubspotDefined"] is False
    dup = api.post("/crm/v3/properties/companies", json=PROP)
    assert dup.status_code == 409 and dup.json()["correlationId"]
    # takes effect at once
    c = api.post("/crm/v3/objects/companies", json={"properties": {"name": "A", "billwerk_customer_id": "cus-1"}})
    assert c.status_code == 201
    assert api.get("/crm/v3/objects/companies/cus-1", params={"idProperty": "billwerk_customer_id"}).json()["id"] == c.json()["id"]
    # hasUniqueValue is immutable
    assert api.patch("/crm/v3/properties/companies/billwerk_customer_id", json={"hasUniqueValue": False}).status_code == 400
    assert api.patch("/crm/v3/properties/companies/billwerk_customer_id", json={"label": "New"}).json()["label"] == "New"
    assert api.delete("/crm/v3/properties/companies/billwerk_customer_id").status_code == 204
    assert api.get("/crm/v3/properties/companies/billwerk_customer_id").status_code == 404
    assert api.get("/crm/v3/properties/companies/billwerk_customer_id", params={"archived": "true"}).status_code == 200
    assert api.post("/crm/v3/objects/companies", json={"properties": {"billwerk_customer_id": "x"}}).status_code == 400


def test_property_validation(api):
    assert api.post("/crm/v3/properties/deals", json={"name": "x"}).status_code == 400
    bad_opts = dict(PROP, name="billwerk_status", groupName="dealinformation", type="enumeration", fieldType="select",
                    hasUniqueValue=False, options=[{"label": "", "value": "a"}])
    r = api.post("/crm/v3/properties/deals", json=bad_opts)
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    assert api.post("/crm/v3/properties/deals", json=dict(PROP, groupName="nogroup")).status_code == 400
    assert api.post("/crm/v3/properties/deals", json=dict(PROP, groupName="dealinformation", type="text")).status_code == 400
    assert api.delete("/crm/v3/properties/deals/dealname").status_code == 400


def test_enumeration_options_effective(api):
    body = {"name": "billwerk_validation", "label": "v", "type": "enumeration", "fieldType": "select",
            "groupName": "dealinformation", "options": [{"label": "Request validation", "value": "request"},
                                                        {"label": "Valid", "value": "valid"}]}
    assert api.post("/crm/v3/properties/deals", json=body).status_code == 201
    assert api.post("/crm/v3/objects/deals", json={"properties": {"billwerk_validation": "request"}}).status_code == 201
    assert api.post("/crm/v3/objects/deals", json={"properties": {"billwerk_validation": "Request"}}).status_code == 400
    api.patch("/crm/v3/properties/deals/billwerk_validation",
              json={"options": body["options"] + [{"label": "Invalid", "value": "invalid"}]})
    assert api.post("/crm/v3/objects/deals", json={"properties": {"billwerk_validation": "invalid"}}).status_code == 201


def test_property_batch_endpoints(api):
    inputs = [dict(PROP, name=f"billwerk_p{i}", groupName="contactinformation", hasUniqueValue=False) for i in range(3)]
    r = api.post("/crm/v3/properties/contacts/batch/create", json={"inputs": inputs + [inputs[0]]})
    assert r.status_code == 207 and len(r.json()["results"]) == 3 and r.json()["numErrors"] == 1
    rd = api.post("/crm/v3/properties/contacts/batch/read", json={"inputs": [{"name": "billwerk_p0"}, {"name": "email"}],
                                                                  "archived": False})
    assert rd.status_code == 200 and {x["name"] for x in rd.json()["results"]} == {"billwerk_p0", "email"}
    assert api.post("/crm/v3/properties/contacts/batch/archive", json={"inputs": [{"name": "billwerk_p1"}]}).status_code == 204
    names = {p["name"] for p in api.get("/crm/v3/properties/contacts").json()["results"]}
    assert "billwerk_p1" not in names and "billwerk_p2" in names and "email" in names


def test_builtin_properties(api):
    props = {p["name"]: p for p in api.get("/crm/v3/properties/products").json()["results"]}
    freq = props["recurringbillingfrequency"]
    assert freq["type"] == "enumeration" and {"monthly", "annually", "quarterly"} <= {o["value"] for o in freq["options"]}
    assert {"name", "price", "hs_sku", "hs_recurring_billing_period", "hs_object_id"} <= set(props)
    deals = {p["name"]: p for p in api.get("/crm/v3/properties/deals").json()["results"]}
    assert deals["closedate"]["type"] == "datetime" and deals["amount"]["type"] == "number"
    assert {"name", "domain", "address", "address2", "city", "zip", "state", "country", "phone", "industry"} <= \
        {p["name"] for p in api.get("/crm/v3/properties/companies").json()["results"]}


def test_default_pipeline(api):
    pipelines = api.get("/crm/v3/pipelines/deals").json()["results"]
    default = next(p for p in pipelines if p["id"] == "default")
    stages = {s["id"]: s for s in default["stages"]}
    assert stages["closedwon"]["metadata"] == {"probability": "1.0", "isClosed": "true"}
    assert stages["closedlost"]["metadata"] == {"probability": "0.0", "isClosed": "true"}
    assert stages["appointmentscheduled"]["metadata"]["probability"] == "0.2"
    assert api.get("/crm/v3/pipelines/deals/default/stages/closedwon").json()["label"] == "Closed Won"
    assert api.get("/crm/v3/pipelines/deals/nope").status_code == 404


def test_custom_pipeline_and_stage_validation(api):
    r = api.post("/crm/v3/pipelines/deals", json={"label": "Partner", "displayOrder": 2, "stages": [
        {"label": "Open", "displayOrder": 0, "metadata": {"probability": 0.5}},
        {"label": "Won", "displayOrder": 1, "metadata": {"probability": "1.0", "isClosed": "true"}}]})
    assert r.status_code == 201
    p = r.json()
    assert p["id"].isdigit() and p["stages"][0]["metadata"]["probability"] == "0.5"
    won = p["stages"][1]["id"]
    ok = api.post("/crm/v3/objects/deals", json={"properties": {"pipeline": p["id"], "dealstage": won}})
    assert ok.status_code == 201 and ok.json()["properties"]["hs_is_closed_won"] == "true"
    wrong = api.post("/crm/v3/objects/deals", json={"properties": {"pipeline": p["id"], "dealstage": "closedwon"}})
    assert wrong.status_code == 400 and wrong.json()["category"] == "VALIDATION_ERROR"
    assert api.post("/crm/v3/pipelines/deals", json={"label": "X", "stages": [{"label": "s"}]}).status_code == 400
    st = api.post(f"/crm/v3/pipelines/deals/{p['id']}/stages", json={"label": "Lost", "metadata": {"probability": "0.0"}})
    assert st.status_code == 201
    assert len(api.get(f"/crm/v3/pipelines/deals/{p['id']}/stages").json()["results"]) == 3

"""Line items as HubSpot's line-items API treats them: no negative price, ISO-8601 terms, an
existing product behind hs_product_id, the product's values copied, one parent deal."""
import pytest

from sandbox.hubspot.errors import ApiError

LI = "/crm/v3/objects/line_items"


def _mk(api, otype, props, **extra):
    r = api.post(f"/crm/v3/objects/{otype}", json={"properties": props, **extra})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def product(api):
    return _mk(api, "products", {"name": "Pro (annual)", "price": "990", "description": "Pro plan",
                                 "hs_sku": "PRO-Y", "recurringbillingfrequency": "annually",
                                 "hs_recurring_billing_period": "P12M"})


def _codes(resp) -> dict:
    return {e["context"]["propertyName"][0]: e["code"] for e in resp.json()["errors"]}


def test_negative_price_is_refused(api, hubspot_sandbox):
    r = api.post(LI, json={"properties": {"name": "L", "price": "-10"}})
    assert r.status_code == 400 and _codes(r) == {"price": "INVALID_PROPERTY_VALUE"}
    li = _mk(api, "line_items", {"name": "L", "price": "0"})
    assert api.patch(f"{LI}/{li['id']}", json={"properties": {"price": "-0.01"}}).status_code == 400
    assert hubspot_sandbox.get_object("line_items", li["id"])["properties"]["price"] == "0"


@pytest.mark.parametrize("term", ["P12M", "P1Y", "P1Y6M", "P30D", "P2W"])
def test_iso_8601_terms_are_accepted(api, term):
    assert _mk(api, "line_items", {"name": "L", "hs_recurring_billing_period": term})


@pytest.mark.parametrize("term", ["12", "12M", "P", "1 year", "p12m", "P1W2D"])
def test_other_terms_are_refused(api, term):
    r = api.post(LI, json={"properties": {"name": "L", "hs_recurring_billing_period": term}})
    assert r.status_code == 400 and _codes(r) == {"hs_recurring_billing_period": "INVALID_PROPERTY_VALUE"}
    r = api.post("/crm/v3/objects/products", json={"properties": {"name": "P", "hs_recurring_billing_period": term}})
    assert r.status_code == 400


def test_product_id_must_name_a_live_product(api, product):
    r = api.post(LI, json={"properties": {"hs_product_id": "999999", "quantity": "1"}})
    assert r.status_code == 400 and _codes(r) == {"hs_product_id": "INVALID_PROPERTY_VALUE"}
    li = _mk(api, "line_items", {"hs_product_id": product["id"], "quantity": "1"})
    api.delete(f"/crm/v3/objects/products/{product['id']}")
    r = api.patch(f"{LI}/{li['id']}", json={"properties": {"hs_product_id": product["id"]}})
    assert r.status_code == 400
    r = api.post(LI + "/batch/create", json={"inputs": [
        {"properties": {"name": "standalone", "price": "5"}, "objectWriteTraceId": "ok"},
        {"properties": {"hs_product_id": product["id"]}, "objectWriteTraceId": "gone"}]})
    assert r.status_code == 207 and r.json()["errors"][0]["context"]["objectWriteTraceId"] == ["gone"]


def test_new_line_item_takes_over_the_products_values(api, product):
    li = _mk(api, "line_items", {"hs_product_id": product["id"], "quantity": "2"})
    props = api.get(f"{LI}/{li['id']}", params={"properties": "name,price,description,hs_sku,amount,"
                                                              "recurringbillingfrequency,hs_recurring_billing_period"}
                    ).json()["properties"]
    assert props == {**props, "name": "Pro (annual)", "price": "990", "description": "Pro plan", "hs_sku": "PRO-Y",
                     "recurringbillingfrequency": "annually", "hs_recurring_billing_period": "P12M", "amount": "1980"}
    own = _mk(api, "line_items", {"hs_product_id": product["id"], "name": "Pro, negotiated", "price": "900",
                                  "hs_recurring_billing_period": "P24M"})["properties"]
    assert (own["name"], own["price"], own["hs_recurring_billing_period"]) == ("Pro, negotiated", "900", "P24M")


def test_a_product_with_a_negative_price_gives_no_line_item_without_a_price(api):
    discount = _mk(api, "products", {"name": "Launch discount", "price": "-50"})
    r = api.post(LI, json={"properties": {"hs_product_id": discount["id"]}})
    assert r.status_code == 400 and _codes(r) == {"price": "INVALID_PROPERTY_VALUE"}
    assert _mk(api, "line_items", {"hs_product_id": discount["id"], "price": "0", "discount": "50"})


def test_upsert_of_a_new_line_item_copies_too(api, product):
    api.post("/crm/v3/properties/line_items", json={"name": "billwerk_line_id", "label": "x", "type": "string",
                                                    "fieldType": "text", "groupName": "lineiteminformation",
                                                    "hasUniqueValue": True})
    r = api.post(LI + "/batch/upsert", json={"inputs": [
        {"id": "L-1", "idProperty": "billwerk_line_id", "properties": {"hs_product_id": product["id"]}}]})
    assert r.status_code == 200 and r.json()["results"][0]["properties"]["price"] == "990"


# --- one parent --------------------------------------------------------------------------------------

def _assoc(deal_id):
    return [{"to": {"id": deal_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}]}]


def test_a_line_item_belongs_to_one_deal(api, hubspot_sandbox):
    d1, d2 = _mk(api, "deals", {"dealname": "1"})["id"], _mk(api, "deals", {"dealname": "2"})["id"]
    li = _mk(api, "line_items", {"name": "L"}, associations=_assoc(d1))["id"]
    second = api.put(f"/crm/v4/objects/line_items/{li}/associations/deals/{d2}",
                     json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}])
    assert second.status_code == 400 and "exactly one parent" in second.json()["message"]
    assert api.put(f"/crm/v4/objects/deals/{d2}/associations/default/line_items/{li}").status_code == 400
    again = api.put(f"/crm/v4/objects/deals/{d1}/associations/line_items/{li}",
                    json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 19}])
    assert again.status_code == 201                                           # the same parent again is fine
    r = api.post("/crm/v4/associations/deals/line_items/batch/create", json={"inputs": [
        {"from": {"id": d2}, "to": {"id": li}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                          "associationTypeId": 19}]}]})
    assert r.status_code == 207 and r.json()["numErrors"] == 1
    both = api.post(LI, json={"properties": {"name": "M"}, "associations": _assoc(d1) + _assoc(d2)})
    assert both.status_code == 400
    taken = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "3"}, "associations": [
        {"to": {"id": li}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 19}]}]})
    assert taken.status_code == 400
    assert hubspot_sandbox.get_object("line_items", li)["associations"]["deals"] == [{"id": d1, "typeIds": [20]}]
    with pytest.raises(ApiError):
        hubspot_sandbox.user_associate("line_items", li, "deals", d2)
    api.delete(f"/crm/v4/objects/line_items/{li}/associations/deals/{d1}")
    assert api.put(f"/crm/v4/objects/line_items/{li}/associations/default/deals/{d2}").status_code == 200


def test_batch_create_of_deals_cannot_share_a_line_item(api, hubspot_sandbox):
    li = _mk(api, "line_items", {"name": "L"})["id"]
    to_li = [{"to": {"id": li}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 19}]}]
    r = api.post("/crm/v3/objects/deals/batch/create", json={"inputs": [
        {"properties": {"dealname": "a"}, "associations": to_li, "objectWriteTraceId": "a"},
        {"properties": {"dealname": "b"}, "associations": to_li, "objectWriteTraceId": "b"}]})
    assert r.status_code == 207 and r.json()["errors"][0]["context"]["objectWriteTraceId"] == ["b"]
    assert len(hubspot_sandbox.objects("deals")) == 1

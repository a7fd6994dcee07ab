"""HubSpot's official Python SDK (hubspot-api-client) against the sandbox.

Every call goes through the SDK's generated client, so the sandbox's paths, status codes and
payload shapes must deserialize into the SDK's models exactly as the real API's do.
"""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hubspot import HubSpot
from hubspot.automation.actions.exceptions import ApiException as ActionsApiException
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsApiException
from hubspot.crm.deals.exceptions import ApiException as DealsApiException
from hubspot.crm.line_items.exceptions import ApiException as LineItemsApiException
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException

NAME = {"companies": "name", "contacts": "firstname", "deals": "dealname", "products": "name", "line_items": "name"}


@pytest.fixture
def client(hubspot_sandbox, tokens):
    return HubSpot(access_token=tokens["access_token"], host=hubspot_sandbox.base_url)


@pytest.mark.parametrize("otype", list(NAME))
def test_objects_basic_batch_search(client, hubspot_sandbox, otype):
    hubspot_sandbox.set_limits(search_rate_per_s=100)
    api = getattr(client.crm, otype)
    prop = NAME[otype]
    created = api.basic_api.create({"properties": {prop: "SDK one"}})
    assert created.id and created.properties[prop] == "SDK one"
    got = api.basic_api.get_by_id(created.id, properties=[prop])
    assert got.properties[prop] == "SDK one"
    upd = api.basic_api.update(created.id, {"properties": {prop: "SDK two"}})
    assert upd.properties[prop] == "SDK two"
    page = api.basic_api.get_page(limit=10, properties=[prop])
    assert [r.id for r in page.results] == [created.id]
    batch = api.batch_api.create({"inputs": [{"properties": {prop: f"b{i}"}} for i in range(3)]})
    assert batch.status == "COMPLETE" and len(batch.results) == 3
    ids = [r.id for r in batch.results]
    read = api.batch_api.read({"inputs": [{"id": i} for i in ids], "properties": [prop]})
    assert sorted(r.properties[prop] for r in read.results) == ["b0", "b1", "b2"]
    upd = api.batch_api.update({"inputs": [{"id": ids[0], "properties": {prop: "bx"}}]})
    assert upd.results[0].properties[prop] == "bx"
    found = api.search_api.do_search({"filterGroups": [{"filters": [
        {"propertyName": prop, "operator": "EQ", "value": "bx"}]}], "properties": [prop], "limit": 10})
    assert found.total == 1 and found.results[0].id == ids[0]
    api.batch_api.archive({"inputs": [{"id": ids[1]}]})
    api.basic_api.archive(created.id)
    assert len(api.basic_api.get_page(limit=100).results) == 2


def test_generic_objects_api_and_upsert(client):
    client.crm.properties.core_api.create("products", {
        "name": "billwerk_id", "label": "billwerk ID", "type": "string", "fieldType": "text",
        "groupName": "productinformation", "hasUniqueValue": True})
    res = client.crm.objects.batch_api.upsert("products", {"inputs": [
        {"id": "pv-1", "idProperty": "billwerk_id", "properties": {"name": "Plan"}}]})
    assert res.results[0].new is True
    res = client.crm.products.batch_api.upsert({"inputs": [
        {"id": "pv-1", "idProperty": "billwerk_id", "properties": {"name": "Plan 2"}}]})
    assert res.results[0].new is False and res.results[0].properties["name"] == "Plan 2"
    page = client.crm.objects.basic_api.get_page("0-7", properties=["billwerk_id"])
    assert page.results[0].properties["billwerk_id"] == "pv-1"


def test_sdk_sees_errors(client):
    with pytest.raises(ObjectsApiException) as exc:
        client.crm.objects.basic_api.create("deals", {"properties": {"nope": "1"}})
    assert exc.value.status == 400 and "PROPERTY_DOESNT_EXIST" in exc.value.body
    partial = client.crm.deals.batch_api.create({"inputs": [
        {"properties": {"dealname": "ok"}}, {"properties": {"amount": "x"}, "objectWriteTraceId": "t"}]})
    assert partial.num_errors == 1 and partial.errors[0].context["objectWriteTraceId"] == ["t"]


def test_properties_and_groups(client):
    grp = client.crm.properties.groups_api.create("deals", {"name": "billwerk", "label": "billwerk", "displayOrder": -1})
    assert grp.name == "billwerk"
    assert any(g.name == "billwerk" for g in client.crm.properties.groups_api.get_all("deals").results)
    assert client.crm.properties.groups_api.get_by_name("deals", "billwerk").label == "billwerk"
    client.crm.properties.groups_api.update("deals", "billwerk", {"label": "Billwerk"})
    prop = client.crm.properties.core_api.create("deals", {
        "name": "billwerk_lifecycle_status", "label": "Status", "type": "enumeration", "fieldType": "select",
        "groupName": "billwerk", "options": [{"label": "Active", "value": "Active", "hidden": False, "displayOrder": 0}]})
    assert prop.options[0].value == "Active"
    assert client.crm.properties.core_api.get_by_name("deals", "billwerk_lifecycle_status").type == "enumeration"
    client.crm.properties.core_api.update("deals", "billwerk_lifecycle_status", {"label": "Lifecycle"})
    names = {p.name for p in client.crm.properties.core_api.get_all("deals").results}
    assert {"dealname", "billwerk_lifecycle_status"} <= names
    batch = client.crm.properties.batch_api.create("deals", {"inputs": [
        {"name": "billwerk_contract_id", "label": "Contract", "type": "string", "fieldType": "text", "groupName": "billwerk"}]})
    assert batch.results[0].name == "billwerk_contract_id"
    read = client.crm.properties.batch_api.read("deals", {"inputs": [{"name": "billwerk_contract_id"}], "archived": False})
    assert read.results[0].name == "billwerk_contract_id"
    client.crm.properties.batch_api.archive("deals", {"inputs": [{"name": "billwerk_contract_id"}]})
    client.crm.properties.core_api.archive("deals", "billwerk_lifecycle_status")
    with pytest.raises(PropertiesApiException) as exc:
        client.crm.properties.core_api.create("deals", {"name": "dealname", "label": "x", "type": "string",
                                                        "fieldType": "text", "groupName": "dealinformation"})
    assert exc.value.status == 409
    client.crm.properties.groups_api.archive("deals", "billwerk")


def test_pipelines(client):
    pipelines = client.crm.pipelines.pipelines_api.get_all("deals").results
    default = next(p for p in pipelines if p.id == "default")
    won = next(s for s in default.stages if s.id == "closedwon")
    assert won.metadata == {"probability": "1.0", "isClosed": "true"}
    created = client.crm.pipelines.pipelines_api.create("deals", {"label": "Enterprise", "displayOrder": 1, "stages": [
        {"label": "Open", "displayOrder": 0, "metadata": {"probability": "0.2"}},
        {"label": "Won", "displayOrder": 1, "metadata": {"probability": "1.0", "isClosed": "true"}}]})
    assert client.crm.pipelines.pipelines_api.get_by_id("deals", created.id).label == "Enterprise"
    stages = client.crm.pipelines.pipeline_stages_api.get_all("deals", created.id).results
    assert len(stages) == 2
    assert client.crm.pipelines.pipeline_stages_api.get_by_id("deals", created.id, stages[1].id).metadata["probability"] == "1.0"
    st = client.crm.pipelines.pipeline_stages_api.create("deals", created.id, {
        "label": "Lost", "displayOrder": 2, "metadata": {"probability": "0.0", "isClosed": "true"}})
    assert st.id


def test_associations_v4(client):
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "A"}}).id
    comp = client.crm.companies.basic_api.create({"properties": {"name": "B"}}).id
    contact = client.crm.contacts.basic_api.create({"properties": {"email": "c@d.de"}}).id
    assoc = client.crm.associations.v4
    res = assoc.basic_api.create_default("deals", deal, "companies", comp)
    assert res.status == "COMPLETE"
    labelled = assoc.basic_api.create("deals", deal, "companies", comp,
                                      [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}])
    assert labelled.to_object_id == comp and labelled.labels == ["Primary"]
    page = assoc.basic_api.get_page("deals", deal, "companies", limit=500)
    assert page.results[0].to_object_id == comp
    assert sorted(t.type_id for t in page.results[0].association_types) == [5, 341]
    assoc.batch_api.create("deals", "contacts", {"inputs": [
        {"from": {"id": deal}, "to": {"id": contact},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}]})
    read = assoc.batch_api.get_page("deals", "contacts", {"inputs": [{"id": deal}]})
    assert read.results[0].to[0].to_object_id == contact
    assoc.batch_api.create_default("contacts", "companies", {"inputs": [{"from": {"id": contact}, "to": {"id": comp}}]})
    assoc.batch_api.archive("deals", "contacts", {"inputs": [{"from": {"id": deal}, "to": [{"id": contact}]}]})
    assoc.basic_api.archive("deals", deal, "companies", comp)
    assert assoc.basic_api.get_page("deals", deal, "companies").results == []


def test_oauth_tokens_and_info(client, hubspot_sandbox, tokens):
    hs = hubspot_sandbox
    oauth = HubSpot(host=hs.base_url).oauth
    fresh = oauth.tokens_api.create(grant_type="refresh_token", refresh_token=tokens["refresh_token"],
                                    client_id=hs.client_id, client_secret=hs.client_secret)
    assert fresh.access_token and fresh.expires_in == 1800
    info = oauth.access_tokens_api.get(fresh.access_token)
    assert info.hub_id == hs.default_portal_id and info.app_id == 4242
    rt = oauth.refresh_tokens_api.get(tokens["refresh_token"])
    assert rt.hub_id == hs.default_portal_id
    hs.configure(auto_approve=True)
    loc = requests.get(hs.base_url + "/oauth/authorize", params={"client_id": hs.client_id, "redirect_uri": "http://x/cb",
                                                                 "scope": "oauth"}, allow_redirects=False).headers["Location"]
    code = parse_qs(urlsplit(loc).query)["code"][0]
    exchanged = oauth.tokens_api.create(grant_type="authorization_code", code=code, redirect_uri="http://x/cb",
                                        client_id=hs.client_id, client_secret=hs.client_secret)
    assert exchanged.access_token and exchanged.refresh_token   # the SDK model has no hub_id field
    assert oauth.access_tokens_api.get(exchanged.access_token).hub_id == hs.default_portal_id
    oauth.refresh_tokens_api.archive(tokens["refresh_token"])


def test_callbacks_complete(client, hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    receiver.response_body = {"outputFields": {"hs_execution_state": "BLOCK"}}
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 1, {})
    hs.execute_workflow_action(hs.default_portal_id, receiver.url + "/a", "deals", 2, {})
    first, second = list(hs.callbacks())
    client.automation.actions.callbacks_api.complete(first, {"outputFields": {"hs_execution_state": "SUCCESS"}})
    client.automation.actions.callbacks_api.complete_batch({"inputs": [
        {"callbackId": second, "outputFields": {"hs_execution_state": "FAIL_CONTINUE"}}]})
    assert {c["state"] for c in hs.callbacks().values()} == {"COMPLETED"}


# --- the deal side: a deal, its company and its line items ------------------------------------------

def _spec(type_id):
    return [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]


def test_deal_with_line_items_created_and_read_with_associations(client):
    company = client.crm.companies.basic_api.create({"properties": {"name": "ACME GmbH"}}).id
    product = client.crm.products.basic_api.create({"properties": {
        "name": "Pro (monthly)", "price": "99", "hs_sku": "PRO-M", "recurringbillingfrequency": "monthly",
        "hs_recurring_billing_period": "P1M"}}).id
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "ACME – Pro"},
                                              "associations": [{"to": {"id": company}, "types": _spec(5)}]})
    items = client.crm.line_items.batch_api.create({"inputs": [
        {"properties": {"hs_product_id": product, "quantity": "3"},
         "associations": [{"to": {"id": deal.id}, "types": _spec(20)}]},
        {"properties": {"name": "Setup fee", "price": "250", "quantity": "1"},
         "associations": [{"to": {"id": deal.id}, "types": _spec(20)}]}]})
    assert items.status == "COMPLETE" and len(items.results) == 2
    got = client.crm.deals.basic_api.get_by_id(deal.id, properties=["dealname"],
                                               associations=["companies", "line_items"])
    assert got.properties["dealname"] == "ACME – Pro"
    assert {(a.id, a.type) for a in got.associations["companies"].results} == {
        (company, "deal_to_company"), (company, "deal_to_company_unlabeled")}
    assert sorted(a.id for a in got.associations["line_items"].results) == sorted(r.id for r in items.results)
    read = client.crm.line_items.batch_api.read({"inputs": [{"id": r.id} for r in items.results], "properties": [
        "name", "price", "quantity", "amount", "hs_product_id", "hs_sku", "recurringbillingfrequency",
        "hs_recurring_billing_period"]})
    by_name = {r.properties["name"]: r.properties for r in read.results}
    assert by_name["Pro (monthly)"] == {**by_name["Pro (monthly)"], "price": "99", "quantity": "3", "amount": "297",
                                        "hs_product_id": product, "hs_sku": "PRO-M",
                                        "recurringbillingfrequency": "monthly", "hs_recurring_billing_period": "P1M"}
    assert by_name["Setup fee"]["hs_product_id"] is None and by_name["Setup fee"]["amount"] == "250"


def test_line_item_properties_and_refusals(client):
    names = {p.name: p for p in client.crm.properties.core_api.get_all("line_items").results}
    assert {"name", "price", "quantity", "amount", "hs_product_id", "hs_sku", "discount",
            "recurringbillingfrequency", "hs_recurring_billing_period"} <= set(names)
    assert names["amount"].modification_metadata.read_only_value is True
    with pytest.raises(LineItemsApiException) as exc:
        client.crm.line_items.basic_api.create({"properties": {"name": "L", "price": "-1"}})
    assert exc.value.status == 400 and "INVALID_PROPERTY_VALUE" in exc.value.body
    with pytest.raises(LineItemsApiException) as exc:
        client.crm.line_items.basic_api.create({"properties": {"hs_product_id": "424242"}})
    assert exc.value.status == 400
    with pytest.raises(LineItemsApiException):
        client.crm.line_items.basic_api.create({"properties": {"name": "L", "hs_recurring_billing_period": "12"}})


def test_batch_update_fails_as_a_whole(client, hubspot_sandbox):
    ids = [r.id for r in client.crm.deals.batch_api.create({"inputs": [
        {"properties": {"dealname": n}} for n in ("a", "b")]}).results]
    with pytest.raises(DealsApiException) as exc:
        client.crm.deals.batch_api.update({"inputs": [
            {"id": ids[0], "properties": {"dealname": "a2"}, "objectWriteTraceId": "1"},
            {"id": ids[1], "properties": {"amount": "not a number"}, "objectWriteTraceId": "2"}]})
    assert exc.value.status == 400 and "VALIDATION_ERROR" in exc.value.body
    assert sorted(d["properties"]["dealname"] for d in hubspot_sandbox.objects("deals")) == ["a", "b"]
    ok = client.crm.deals.batch_api.update({"inputs": [{"id": i, "properties": {"amount": "10"}} for i in ids]})
    assert ok.status == "COMPLETE" and {r.properties["amount"] for r in ok.results} == {"10"}


def test_v4_deal_to_line_item_associations(client):
    deal = client.crm.deals.basic_api.create({"properties": {"dealname": "D"}}).id
    other = client.crm.deals.basic_api.create({"properties": {"dealname": "E"}}).id
    items = [client.crm.line_items.basic_api.create({"properties": {"name": f"L{i}", "price": "1"}}).id
             for i in range(3)]
    v4 = client.crm.associations.v4
    made = v4.basic_api.create("deals", deal, "line_items", items[0], _spec(19))
    assert made.from_object_type_id == "0-3" and made.to_object_type_id == "0-8" and made.to_object_id == items[0]
    v4.batch_api.create("deals", "line_items", {"inputs": [
        {"from": {"id": deal}, "to": {"id": li}, "types": _spec(19)} for li in items[1:]]})
    page = v4.basic_api.get_page("deals", deal, "line_items", limit=500)
    assert [r.to_object_id for r in page.results] == items
    assert {t.type_id for r in page.results for t in r.association_types} == {19}
    back = v4.batch_api.get_page("line_items", "deals", {"inputs": [{"id": items[0]}]})
    assert back.results[0].to[0].to_object_id == deal and back.results[0].to[0].association_types[0].type_id == 20
    with pytest.raises(AssociationsApiException) as exc:       # a line item has one parent deal
        v4.basic_api.create("line_items", items[0], "deals", other, _spec(20))
    assert exc.value.status == 400
    with pytest.raises(AssociationsApiException) as exc:       # the category must match the type id
        v4.basic_api.create("deals", other, "line_items", items[0],
                            [{"associationCategory": "USER_DEFINED", "associationTypeId": 19}])
    assert exc.value.status == 400
    v4.basic_api.archive("deals", deal, "line_items", items[0])
    assert [r.to_object_id for r in v4.basic_api.get_page("deals", deal, "line_items").results] == items[1:]


# --- workflow-action definitions (a developer-account API, ?hapikey=) -------------------------------

def test_workflow_action_definitions_api(hubspot_sandbox):
    hs = hubspot_sandbox
    definitions = HubSpot(api_key=hs.settings.developer_api_key, host=hs.base_url).automation.actions.definitions_api
    egg = {"actionUrl": "https://connector.example.com/api/workflow-actions/validate-deal", "published": False,
           "objectTypes": ["DEAL"], "functions": [],
           "inputFields": [{"typeDefinition": {"name": "mode", "type": "enumeration", "fieldType": "select",
                                               "options": [{"label": "Preview", "value": "preview"}]},
                            "supportedValueTypes": ["STATIC_VALUE"], "isRequired": True}],
           "outputFields": [{"typeDefinition": {"name": "result", "type": "string", "fieldType": "text"}}],
           "labels": {"en": {"actionName": "billwerk: validate deal", "inputFieldLabels": {"mode": "Mode"}}},
           "objectRequestOptions": {"properties": ["dealname"]}}
    created = definitions.create(hs.app_id, egg)
    assert created.id and created.revision_id == "1" and created.object_types == ["DEAL"]
    assert created.input_fields[0].type_definition.options[0].value == "preview"
    assert created.output_fields[0].type_definition.external_options is False
    assert [d.id for d in definitions.get_page(hs.app_id).results] == [created.id]
    assert definitions.get_by_id(created.id, hs.app_id).labels["en"].action_name == "billwerk: validate deal"
    updated = definitions.update(created.id, hs.app_id, {"published": True})
    assert updated.published is True and updated.revision_id == "2"
    with pytest.raises(ActionsApiException) as exc:
        definitions.create(hs.app_id, {**egg, "labels": {"en": {"actionDescription": "no name"}}})
    assert exc.value.status == 400 and "actionName" in exc.value.body
    definitions.archive(created.id, hs.app_id)
    assert definitions.get_page(hs.app_id).results == []
    assert definitions.get_by_id(created.id, hs.app_id, archived=True).archived_at

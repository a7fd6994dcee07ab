"""Webhooks: payload, change source, signatures, batching, retries, subscriptions, uninstall."""
import json

import requests
from hubspot.utils.signature import Signature

SECRET = "hubwerk-sandbox-client-secret"


# What these tests listen to (the default is the connector's own webhooks-hsmeta.json).
SUBSCRIPTIONS = [{"subscriptionType": f"{obj}.{kind}"} for obj in ("company", "contact", "deal")
                 for kind in ("creation", "deletion", "associationChange")] + [
    {"subscriptionType": f"{obj}.propertyChange", "propertyName": prop}
    for obj, prop in (("company", "name"), ("company", "zip"), ("contact", "email"), ("deal", "dealname"),
                      ("deal", "dealstage"))]


def _setup(hs, receiver):
    hs.set_webhook_target(receiver.url + "/webhooks")
    hs.set_subscriptions(SUBSCRIPTIONS)


def test_api_write_events_are_integration_and_signed(api, hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver)
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "W", "dealstage": "closedwon"}}).json()
    assert hs.flush_webhooks()
    events = receiver.events()
    creation = [e for e in events if e["subscriptionType"] == "deal.creation"]
    assert len(creation) == 1
    ev = creation[0]
    assert ev["objectId"] == int(deal["id"]) and ev["portalId"] == hs.default_portal_id and ev["appId"] == 4242
    assert ev["changeSource"] == "INTEGRATION" and ev["sourceId"] == "4242" and ev["attemptNumber"] == 0
    assert {"eventId", "subscriptionId", "occurredAt", "changeFlag"} <= set(ev)
    stage = [e for e in events if e["subscriptionType"] == "deal.propertyChange" and e["propertyName"] == "dealstage"]
    assert stage and stage[0]["propertyValue"] == "closedwon"
    req = receiver.requests[0]
    body = req["body"].decode()
    h = req["headers"]
    assert h["X-Hubspot-Signature-Version"] == "v1"
    assert Signature.is_valid(h["X-Hubspot-Signature"], SECRET, body, signature_version="v1")
    assert Signature.is_valid(h["X-Hubspot-Signature-V3"], SECRET, body, http_uri=receiver.url + "/webhooks",
                              http_method="POST", signature_version="v3", timestamp=h["X-Hubspot-Request-Timestamp"])


def test_user_edits_are_crm_ui(api, hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver)
    comp = requests.post(hs.base_url + "/_sandbox/objects/companies", json={"properties": {"name": "UI Co"}}).json()
    r = requests.patch(f"{hs.base_url}/_sandbox/objects/companies/{comp['id']}", json={"properties": {"zip": "10115"}})
    assert r.status_code == 200
    hs.flush_webhooks()
    zips = [e for e in receiver.events() if e.get("propertyName") == "zip"]
    assert zips and zips[0]["changeSource"] == "CRM_UI" and zips[0]["sourceId"] == f"userId:{hs.settings.user_id}"
    assert zips[0]["subscriptionType"] == "company.propertyChange" and zips[0]["propertyValue"] == "10115"


def test_no_event_when_value_unchanged_and_deletion_event(api, hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver)
    cid = api.post("/crm/v3/objects/companies", json={"properties": {"name": "Same"}}).json()["id"]
    hs.flush_webhooks()
    receiver.requests.clear()
    api.patch(f"/crm/v3/objects/companies/{cid}", json={"properties": {"name": "Same"}})
    api.delete(f"/crm/v3/objects/companies/{cid}")
    hs.flush_webhooks()
    types = [e["subscriptionType"] for e in receiver.events()]
    assert types == ["company.deletion"]


def test_association_change_events_both_sides(api, hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "A"}}).json()["id"]
    comp = api.post("/crm/v3/objects/companies", json={"properties": {"name": "B"}}).json()["id"]
    _setup(hs, receiver)
    api.put(f"/crm/v4/objects/deals/{deal}/associations/companies/{comp}",
            json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}])
    hs.flush_webhooks()
    events = {e["subscriptionType"]: e for e in receiver.events()}
    assert events["deal.associationChange"]["associationType"] == "DEAL_TO_COMPANY"
    assert events["deal.associationChange"]["toObjectId"] == int(comp)
    assert events["deal.associationChange"]["isPrimaryAssociation"] is True
    assert events["company.associationChange"]["associationType"] == "COMPANY_TO_DEAL"
    assert events["deal.associationChange"]["associationRemoved"] is False


def test_batches_of_at_most_100(api, hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver)
    hs.set_subscription("company.propertyChange", active=False)
    for chunk in range(2):
        api.post("/crm/v3/objects/companies/batch/create",
                 json={"inputs": [{"properties": {"name": f"{chunk}-{i}"}} for i in range(75)]})
    hs.flush_webhooks()
    sizes = [len(json.loads(r["body"])) for r in receiver.requests]
    assert sum(sizes) == 150 and max(sizes) <= 100


def test_retry_on_failure_increments_attempt(api, hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver)
    receiver.statuses = [500, 503]
    api.post("/crm/v3/objects/contacts", json={"properties": {"email": "r@x.de"}})
    assert hs.flush_webhooks()
    attempts = [json.loads(r["body"])[0]["attemptNumber"] for r in receiver.requests]
    assert attempts == [0, 1, 2]
    assert [d["status"] for d in hs.webhook_deliveries] == [500, 503, 200]


def test_retry_on_connection_error_gives_up(hubspot_sandbox, api):
    hs = hubspot_sandbox
    hs.configure(webhook_max_attempts=3, webhook_backoff_s=0.01)
    hs.set_subscriptions(SUBSCRIPTIONS)
    hs.set_webhook_target("http://127.0.0.1:9/webhooks")
    api.post("/crm/v3/objects/contacts", json={"properties": {"email": "c@x.de"}})
    assert hs.flush_webhooks()
    deliveries = hs.webhook_deliveries
    assert [d["attempt"] for d in deliveries] == [0, 1, 2] and all(d["error"] for d in deliveries)


def test_property_subscription_filter(api, hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver)
    r = requests.post(hs.base_url + "/_sandbox/subscriptions",
                      json={"subscriptionType": "deal.propertyChange", "properties": ["dealname"], "active": False})
    assert r.status_code == 200
    api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "F", "dealstage": "qualifiedtobuy", "amount": "5"}})
    hs.flush_webhooks()
    names = {e.get("propertyName") for e in receiver.events() if e["subscriptionType"] == "deal.propertyChange"}
    assert names == {"dealstage"}


def test_uninstall_stops_delivery_and_drop_fault(api, hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver)
    hs.add_fault(drop_webhooks=1)
    api.post("/crm/v3/objects/companies", json={"properties": {"name": "lost"}})
    hs.flush_webhooks()
    assert receiver.requests == [] and hs.webhook_deliveries[0]["error"] == "dropped (fault)"
    api.delete("/appinstalls/v3/external-install")
    hs.user_create("companies", {"name": "after uninstall"})
    hs.flush_webhooks()
    assert receiver.requests == []


def test_portal_isolation(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver)
    hs.create_portal(200002, "B")
    a, b = hs.issue_tokens(hs.default_portal_id), hs.issue_tokens(200002)
    ha = {"Authorization": "Bearer " + a["access_token"]}
    hb = {"Authorization": "Bearer " + b["access_token"]}
    ca = requests.post(hs.base_url + "/crm/v3/objects/companies", headers=ha, json={"properties": {"name": "A"}}).json()
    cb = requests.post(hs.base_url + "/crm/v3/objects/companies", headers=hb, json={"properties": {"name": "B"}}).json()
    assert ca["id"] == cb["id"]   # ids are per portal
    assert requests.get(f"{hs.base_url}/crm/v3/objects/companies/{ca['id']}", headers=hb).json()["properties"]["name"] == "B"
    hs.flush_webhooks()
    portals = {e["portalId"] for e in receiver.events()}
    assert portals == {hs.default_portal_id, 200002}
    assert all(len({e["portalId"] for e in json.loads(r["body"])}) == 1 for r in receiver.requests)

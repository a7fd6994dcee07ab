"""Webhook subscriptions are per event type and, for propertyChange, per property; by default
they are the connector's own project file (webhooks-hsmeta.json)."""
import json

import pytest
import requests

from sandbox.hubspot import subscriptions
from sandbox.hubspot.core import HubSpotSandbox

HSMETA = subscriptions.PROJECT_FILE


def _setup(hs, receiver, subs=None):
    hs.set_webhook_target(receiver.url + "/webhooks")
    if subs is not None:
        hs.set_subscriptions(subs)
    return hs.issue_tokens(hs.default_portal_id)


def test_the_default_is_the_connectors_project_file(hubspot_sandbox):
    project = json.loads(HSMETA.read_text())
    listed = {(s["subscriptionType"], s.get("propertyName"))
              for group in project["config"]["subscriptions"].values() for s in group}
    assert {(s["subscriptionType"], s.get("propertyName")) for s in hubspot_sandbox.subscriptions()} == listed
    assert ("deal.propertyChange", "dealstage") in listed


def test_a_property_without_a_subscription_fires_nothing(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver, [{"subscriptionType": "deal.propertyChange", "propertyName": "dealstage"}])
    deal = hs.user_create("deals", {"dealname": "D", "dealstage": "appointmentscheduled"})
    hs.user_update("deals", deal["id"], {"amount": "100"})
    hs.user_update("deals", deal["id"], {"dealstage": "closedwon"})
    assert hs.flush_webhooks()
    events = receiver.events()
    assert [(e["subscriptionType"], e["propertyName"], e["propertyValue"]) for e in events] == [
        ("deal.propertyChange", "dealstage", "appointmentscheduled"), ("deal.propertyChange", "dealstage", "closedwon")]
    assert {e["subscriptionId"] for e in events} == {hs.subscriptions()[0]["id"]}


def test_event_types_need_their_own_subscription(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver, [{"subscriptionType": "deal.creation"},
                          {"subscriptionType": "company.propertyChange", "propertyName": "zip", "active": False}])
    comp = hs.user_create("companies", {"name": "C", "zip": "10115"})
    hs.user_update("companies", comp["id"], {"zip": "10117"})
    hs.user_archive("companies", comp["id"])
    deal = hs.user_create("deals", {"dealname": "D"})
    hs.user_associate("deals", deal["id"], "companies", hs.user_create("companies", {"name": "E"})["id"])
    assert hs.flush_webhooks()
    assert [(e["subscriptionType"], e["objectId"]) for e in receiver.events()] == [("deal.creation", int(deal["id"]))]


def test_generic_object_subscriptions_say_object_and_the_type_id(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver, {"config": {"subscriptions": {"crmObjects": [
        {"subscriptionType": "object.propertyChange", "objectType": "deal", "propertyName": "dealstage", "active": True},
        {"subscriptionType": "object.creation", "objectType": "0-2", "active": True}]}}})
    hs.user_create("deals", {"dealname": "D", "dealstage": "closedwon"})
    hs.user_create("companies", {"name": "C"})
    assert hs.flush_webhooks()
    assert sorted((e["subscriptionType"], e["objectTypeId"], e.get("propertyName")) for e in receiver.events()) == [
        ("object.creation", "0-2", None), ("object.propertyChange", "0-3", "dealstage")]


@pytest.mark.parametrize("bad", [
    [{"subscriptionType": "deal.propertyChange"}],                                   # no property
    [{"subscriptionType": "deal.propertychange", "propertyName": "dealstage"}],      # a typo
    [{"subscriptionType": "object.creation"}],                                       # no object type
    [{"subscriptionType": "deal.creation"}, {"subscriptionType": "deal.creation"}],  # twice
])
def test_malformed_subscription_lists_are_refused(hubspot_sandbox, bad):
    before = hubspot_sandbox.subscriptions()
    with pytest.raises(ValueError):
        hubspot_sandbox.set_subscriptions(bad)
    r = requests.put(hubspot_sandbox.base_url + "/_sandbox/subscriptions", json={"subscriptions": bad}, timeout=5)
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    assert hubspot_sandbox.subscriptions() == before


def test_control_api_replaces_lists_and_reloads_the_project_file(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    _setup(hs, receiver)
    base = hs.base_url + "/_sandbox/subscriptions"
    r = requests.put(base, json={"subscriptions": [{"subscriptionType": "company.propertyChange",
                                                    "propertyName": "name"}]}, timeout=5)
    assert r.status_code == 200 and [s["propertyName"] for s in r.json()["results"]] == ["name"]
    comp = hs.user_create("companies", {"name": "A", "city": "Berlin"})
    assert hs.flush_webhooks()
    assert [e["propertyName"] for e in receiver.events()] == ["name"]
    one = requests.post(base, json={"subscriptionType": "company.propertyChange", "properties": ["city"]}, timeout=5)
    assert one.status_code == 200
    hs.user_update("companies", comp["id"], {"city": "Hamburg"})
    assert hs.flush_webhooks()
    assert [e["propertyName"] for e in receiver.events()] == ["name", "city"]
    every = requests.post(base, json={"subscriptionType": "company.propertyChange"}, timeout=5)
    assert every.status_code == 400 and "per property" in every.json()["message"]
    reloaded = requests.put(base, json={"project_file": True}, timeout=5).json()["results"]
    assert {(s["subscriptionType"], s.get("propertyName")) for s in reloaded} == \
        {(s["subscriptionType"], s.get("propertyName")) for s in subscriptions.load_file(HSMETA)}


def test_subscriptions_file_setting(tmp_path):
    path = tmp_path / "webhooks-hsmeta.json"
    path.write_text(json.dumps({"uid": "w", "type": "webhooks", "config": {"subscriptions": {"legacyCrmObjects": [
        {"subscriptionType": "contact.propertyChange", "propertyName": "email", "active": True}]}}}))
    hs = HubSpotSandbox(subscriptions_file=str(path))
    try:
        assert [(s["subscriptionType"], s["propertyName"]) for s in hs.subscriptions()] == [
            ("contact.propertyChange", "email")]
        hs.set_subscriptions([{"subscriptionType": "deal.creation"}])
        hs.reset()                                   # a reset goes back to the configured file
        assert [s["subscriptionType"] for s in hs.subscriptions()] == ["contact.propertyChange"]
    finally:
        hs.close()

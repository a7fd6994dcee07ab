"""Workflow custom-action definitions API (/automation/v4/actions/{appId}) and the connector's
own definitions checked against it."""
import copy
import json
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
DEFINITION = {
    "actionUrl": "https://connector.example.com/api/workflow-actions/validate-deal",
    "published": True,
    "objectTypes": ["DEAL"],
    "inputFields": [{"typeDefinition": {"name": "mode", "type": "enumeration", "fieldType": "select",
                                        "options": [{"label": "Preview", "value": "preview"}]},
                     "supportedValueTypes": ["STATIC_VALUE"], "isRequired": True}],
    "outputFields": [{"typeDefinition": {"name": "result", "type": "string", "fieldType": "text"}}],
    "functions": [],
    "labels": {"en": {"actionName": "billwerk: validate deal", "inputFieldLabels": {"mode": "Mode"},
                      "outputFieldLabels": {"result": "Result"}}},
    "objectRequestOptions": {"properties": ["dealname"]},
}


@pytest.fixture
def dev(hubspot_sandbox):
    hs = hubspot_sandbox
    base = f"{hs.base_url}/automation/v4/actions/{hs.app_id}"

    def call(method, path="", **kw):
        kw.setdefault("params", {})["hapikey"] = hs.settings.developer_api_key
        return requests.request(method, base + path, timeout=5, **kw)
    return call


def test_create_list_get_update_delete(dev, hubspot_sandbox):
    created = dev("POST", json=DEFINITION)
    assert created.status_code == 201
    body = created.json()
    assert body["id"] and body["revisionId"] == "1" and body["objectTypes"] == ["DEAL"]
    assert body["outputFields"][0]["typeDefinition"] == {"name": "result", "type": "string", "fieldType": "text",
                                                         "options": [], "externalOptions": False}
    did = body["id"]
    assert [d["id"] for d in dev("GET").json()["results"]] == [did]
    assert dev("GET", f"/{did}").json()["labels"]["en"]["actionName"] == "billwerk: validate deal"
    patched = dev("PATCH", f"/{did}", json={"published": False, "actionUrl": "https://x.example.com/a"})
    assert patched.status_code == 200 and patched.json()["revisionId"] == "2"
    assert patched.json()["published"] is False and patched.json()["inputFields"] == body["inputFields"]
    assert dev("PATCH", f"/{did}", json={"functions": []}).status_code == 400
    assert dev("DELETE", f"/{did}").status_code == 204
    assert dev("GET").json()["results"] == [] and dev("GET", f"/{did}").status_code == 404
    assert [d["id"] for d in dev("GET", params={"archived": "true"}).json()["results"]] == [did]
    assert dev("GET", f"/{did}", params={"archived": "true"}).json()["archivedAt"]


def _without(key):
    d = copy.deepcopy(DEFINITION)
    d.pop(key)
    return d


def _with(path, value):
    d = copy.deepcopy(DEFINITION)
    target = d
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        target.pop(path[-1])
    else:
        target[path[-1]] = value
    return d


@pytest.mark.parametrize("body, where", [
    (_without("actionUrl"), "actionUrl"), (_without("published"), "published"),
    (_without("objectTypes"), "objectTypes"), (_without("inputFields"), "inputFields"),
    (_without("functions"), "functions"), (_without("labels"), "labels"),
    (_with(["actionUrl"], "not a url"), "actionUrl"),
    (_with(["objectTypes"], []), "objectTypes"), (_with(["objectTypes"], ["DEALS"]), "objectTypes"),
    (_with(["inputFields", 0, "isRequired"], KeyError), "inputFields[0].isRequired"),
    (_with(["inputFields", 0, "typeDefinition", "type"], "text"), "inputFields[0].typeDefinition.type"),
    (_with(["inputFields", 0, "typeDefinition", "fieldType"], "dropdown"), "inputFields[0].typeDefinition.fieldType"),
    (_with(["inputFields", 0, "typeDefinition", "options"], []), "inputFields[0].typeDefinition.options"),
    (_with(["inputFields", 0, "supportedValueTypes"], ["ANYTHING"]), "inputFields[0].supportedValueTypes"),
    (_with(["outputFields", 0, "typeDefinition", "name"], KeyError), "outputFields[0].typeDefinition.name"),
    (_with(["labels", "en", "actionName"], KeyError), "labels.en.actionName"),
    (_with(["labels", "en", "inputFieldLabels"], {"modus": "Mode"}), "labels.en.inputFieldLabels"),
    (_with(["labels", "en", "outputFieldLabels"], {"order_id": "x"}), "labels.en.outputFieldLabels"),
    (_with(["functions"], [{"functionType": "PRE_ACTION_EXECUTION"}]), "functions[0]"),
])
def test_definitions_are_validated(dev, body, where):
    r = dev("POST", json=body)
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    assert where in [e["in"] for e in r.json()["errors"]]
    assert dev("GET").json()["results"] == []


def test_auth_and_app_id(hubspot_sandbox, tokens, dev):
    hs = hubspot_sandbox
    url = f"{hs.base_url}/automation/v4/actions/{hs.app_id}"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, params={"hapikey": "wrong"}, timeout=5).status_code == 401
    oauth = requests.get(url, headers={"Authorization": "Bearer " + tokens["access_token"]}, timeout=5)
    assert oauth.status_code == 401                      # a developer-account call, not an account's token
    assert requests.get(f"{hs.base_url}/automation/v4/actions/999", timeout=5,
                        params={"hapikey": hs.settings.developer_api_key}).status_code == 404


def _connector_definitions():
    return sorted((REPO / "workflows").glob("*.json"))


@pytest.mark.parametrize("path", _connector_definitions(), ids=lambda p: p.name)
def test_the_connectors_definitions_are_accepted(dev, path):
    """Every workflow-action definition the connector ships registers with HubSpot as it is."""
    body = json.loads(path.read_text())
    r = dev("POST", json=body)
    assert r.status_code == 201, r.json()
    assert dev("GET", f"/{r.json()['id']}").json()["actionUrl"] == body["actionUrl"]


def test_there_are_connector_definitions_to_check():
    assert _connector_definitions()

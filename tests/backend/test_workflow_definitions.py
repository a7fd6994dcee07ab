"""The workflow actions HubSpot offers (crm_cards/src/app/workflow-actions/*-hsmeta.json, registered by
`hs project upload`) are exactly the connector's seven actions, each backend action has one, and
workflows/ holds the same definitions in the v4 API's form (written by `npm run workflows` from
the hsmeta files; the cards' tests check the generated text, this checks the meaning)."""
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from backend.flows.workflow_actions import ACTIONS

ROOT = Path(__file__).resolve().parents[2]
HSMETA_DIR = ROOT / "crm_cards" / "src" / "app" / "workflow-actions"
V4_DIR = ROOT / "workflows"
CARD_CONFIG = ROOT / "crm_cards" / "src" / "app" / "cards" / "lib" / "config.ts"

# The connector's public workflow actions.
CONTRACT_ACTIONS = {
    "validate-deal", "create-contract", "update-customer-from-company", "update-customer-from-contact",
    "create-upgrade-deal", "execute-upgrade", "import-customer",
}
ID_OUTPUTS = {"customer_id", "contract_id", "order_id", "deal_id"}
LOCALES = ("en", "de")


def _load(directory: Path, pattern: str) -> dict[str, dict]:
    found = {}
    for path in sorted(directory.glob(pattern)):
        document = json.loads(path.read_text())
        config = document.get("config", document)
        found[urlsplit(config["actionUrl"]).path.rsplit("/", 1)[-1]] = document
    return found


HSMETA = _load(HSMETA_DIR, "*-hsmeta.json")
V4 = _load(V4_DIR, "*.json")


def test_there_is_a_project_component_and_a_v4_definition_per_action():
    assert set(HSMETA) == CONTRACT_ACTIONS
    assert set(V4) == CONTRACT_ACTIONS
    for name in CONTRACT_ACTIONS:
        assert (HSMETA_DIR / f"{name}-hsmeta.json").is_file()
        assert (V4_DIR / f"{name}.json").is_file()


def test_every_action_the_backend_serves_has_a_definition():
    assert set(ACTIONS) <= set(HSMETA), f"served without a definition: {sorted(set(ACTIONS) - set(HSMETA))}"


def test_the_backend_route_serves_the_action_urls(app):
    backend_url = re.search(r"^export const BACKEND_URL = '([^']*)';$", CARD_CONFIG.read_text(), re.M).group(1)
    assert any(rule.rule == "/api/workflow-actions/<action>" and "POST" in rule.methods for rule in app.url_map.iter_rules())
    for name, meta in HSMETA.items():
        assert meta["config"]["actionUrl"] == f"{backend_url}/api/workflow-actions/{name}"


@pytest.mark.parametrize("name", sorted(CONTRACT_ACTIONS))
def test_v4_definition_says_what_the_hsmeta_says(name):
    config, v4 = HSMETA[name]["config"], V4[name]
    assert v4["actionUrl"] == config["actionUrl"]
    assert v4["published"] is config["isPublished"] is True
    for key in ("objectTypes", "inputFields", "outputFields", "labels"):
        assert v4[key] == config[key], key
    assert v4["functions"] == []
    assert HSMETA[name]["uid"] == "hubwerk_" + name.replace("-", "_")
    assert HSMETA[name]["type"] == "workflow-action"
    assert config["supportedClients"] == [{"client": "WORKFLOWS"}]


@pytest.mark.parametrize("name", sorted(CONTRACT_ACTIONS))
def test_definition_shape(name):
    config = HSMETA[name]["config"]
    assert set(config["objectTypes"]) <= {"DEAL", "COMPANY", "CONTACT"} and config["objectTypes"]
    outputs = [field["typeDefinition"] for field in config["outputFields"]]
    names = [field["name"] for field in outputs]
    assert names[:2] == ["result", "message"], "result and message come first, on every action"
    assert set(names[2:]) <= ID_OUTPUTS and len(names) == len(set(names))
    assert [o["value"] for o in outputs[0]["options"]] == ["success", "failed"]
    inputs = [field["typeDefinition"]["name"] for field in config["inputFields"]]
    for field in config["inputFields"]:
        # the backend works without them: an input only refines what the deal already says
        assert field["isRequired"] is False, field
    for locale in LOCALES:
        labels = config["labels"][locale]
        assert labels["actionName"].startswith("billwerk: ") and labels["actionDescription"]
        assert set(labels["outputFieldLabels"]) == set(names), locale
        assert set(labels.get("inputFieldLabels", {})) == set(inputs), locale
    assert config["labels"]["en"]["actionName"] != config["labels"]["de"]["actionName"]

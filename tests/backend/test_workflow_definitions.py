"""Every workflow-action definition in workflows/ points at an action the connector implements, and
declares the output fields the connector returns (CONTRACT §3)."""
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from backend.flows.workflow_actions import ACTIONS

DEFINITIONS = sorted((Path(__file__).resolve().parents[2] / "workflows").glob("*.json"))


def test_there_is_a_definition_per_action():
    assert {urlsplit(json.loads(p.read_text())["actionUrl"]).path.rsplit("/", 1)[-1] for p in DEFINITIONS} == set(ACTIONS)


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_definition_shape(path):
    definition = json.loads(path.read_text())
    for key in ("actionUrl", "published", "objectTypes", "inputFields", "labels", "functions"):
        assert key in definition
    assert urlsplit(definition["actionUrl"]).path.startswith("/api/workflow-actions/")
    outputs = {f["typeDefinition"]["name"] for f in definition["outputFields"]}
    assert {"result", "message"} <= outputs
    assert definition["labels"]["en"]["actionName"]

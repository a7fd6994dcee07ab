"""Regression tests for what the security review found."""
import time

from backend.extensions import db
from backend.models import BillwerkAccount, InboxEvent, Portal
from backend.security.hubspot_signature import SignatureError, verify
from tests.helpers import basic

PASSWORD = "correct horse battery"


def test_reinstalling_does_not_allow_resetting_the_password(connector):
    connector.install(password=PASSWORD)
    attacker = connector.app.test_client()
    connector.client = attacker  # a HubSpot user who may install apps, without the connector password
    connector.install(password="attacker's new password")
    assert attacker.get("/setup/password").status_code == 302
    attacker.post("/setup/password", data={"password": "attacker's new password", "confirm": "attacker's new password"})
    assert attacker.post("/login", data={"hub_id": "100001", "password": "attacker's new password"}).status_code == 401
    assert attacker.post("/login", data={"hub_id": "100001", "password": PASSWORD}).status_code == 302


def test_sessions_end_when_the_password_changes_or_access_is_revoked(connector):
    connector.install(password=PASSWORD)
    other = connector.app.test_client()
    assert other.post("/login", data={"hub_id": "100001", "password": PASSWORD}).status_code == 302
    assert other.get("/").status_code == 200
    connector.client.post("/login", data={"hub_id": "100001", "password": PASSWORD})
    connector.client.post("/setup/password", data={"password": "another long password", "confirm": "another long password"})
    assert other.get("/").status_code == 302  # logged out by the change
    assert connector.client.get("/").status_code == 200  # the session that changed it stays


def test_stored_secret_is_only_sent_to_where_it_came_from(connector):
    from backend.billwerk_connection import EntityInput, connect_billwerk
    from backend.errors import HubwerkError

    portal = connector.install()
    connector.connect_billwerk(portal)
    connector.billwerk.reset_calls()
    try:
        connect_billwerk(portal, base_url="https://billwerk.attacker.example", client_id="hubwerk-sandbox-billwerk-client",
                         client_secret="", entities=[EntityInput("5f0000000000000000000001", "k", "Root")])
    except HubwerkError as exc:
        assert "Enter the client secret again" in exc.message
    else:
        raise AssertionError("an empty secret with a new base URL must be refused")
    assert db.session.execute(db.select(BillwerkAccount)).scalar_one().base_url == connector.billwerk.base_url


def test_entity_ids_are_stored_in_billwerk_spelling(connector):
    from backend.billwerk_connection import EntityInput, connect_billwerk

    portal = connector.install()
    account = connect_billwerk(portal, base_url=connector.billwerk.base_url, client_id="hubwerk-sandbox-billwerk-client",
                               client_secret="hubwerk-sandbox-billwerk-secret",
                               entities=[EntityInput("5F0000000000000000000001", "5f00000000000000000000a1", "Root")])
    assert account.entities[0].entity_id == "5f0000000000000000000001"
    hook = connector.client.post("/api/webhook/billwerk/events", json={"Event": "ContractChanged", "EntityId": "5f0000000000000000000001"},
                                 headers=basic(account.webhook_username, account.webhook_password))
    assert hook.status_code == 200


def test_login_throttle_counts_one_portal_however_it_is_spelled(connector):
    connector.install(password=PASSWORD)
    for spelling in ("100001", "0100001", "00100001", "000100001", "0000100001"):
        assert connector.client.post("/login", data={"hub_id": spelling, "password": "wrong"}).status_code == 401
    assert connector.client.post("/login", data={"hub_id": "100001", "password": PASSWORD}).status_code == 429


def test_a_huge_v3_timestamp_is_refused_not_a_crash():
    headers = {"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": "9" * 5000}
    try:
        verify(secret="s", method="POST", uri="https://x/y", body=b"", headers=headers, now_ms=int(time.time() * 1000), accept=("v3",))
    except SignatureError:
        pass
    else:
        raise AssertionError("must be refused")


def test_workflow_retries_of_one_callback_start_one_run(connector):
    from backend.models import SyncRun
    from tests.e2e.records import GOOD_DE, company_with_deal

    portal = connector.install()
    connector.connect_billwerk(portal)
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    url = f"{connector.url}/api/workflow-actions/import-customer"
    first = connector.hubspot.execute_workflow_action(100001, url, "COMPANY", ids["company"], {})
    assert first.json()["outputFields"]["hs_execution_state"] == "BLOCK"
    stored = db.session.execute(db.select(InboxEvent).where(InboxEvent.source == "hubspot_workflow")).scalar_one()
    import requests
    from sandbox.hubspot.signing import signed_headers
    retry = requests.post(url, data=stored.body.encode(), timeout=10, headers={"Content-Type": "application/json"} | signed_headers(
        connector.hubspot.client_secret, versions=("v2",), method="POST", uri=url, body=stored.body.encode()))
    assert retry.status_code == 200 and retry.json()["outputFields"]["hs_execution_state"] == "BLOCK"
    assert db.session.execute(db.select(db.func.count(SyncRun.id)).where(SyncRun.flow == "import_company")).scalar_one() == 1
    malformed = requests.post(url, data=b'{"callbackId": "x", "origin": [1], "object": {}}', timeout=10, headers={"Content-Type": "application/json"} | signed_headers(
        connector.hubspot.client_secret, versions=("v2",), method="POST", uri=url, body=b'{"callbackId": "x", "origin": [1], "object": {}}'))
    assert malformed.status_code == 400

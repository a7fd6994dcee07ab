"""Install -> password -> billwerk -> stages, through the real HTTP endpoints and the sandboxes."""
from backend.extensions import db
from backend.models import BillwerkAccount, Portal
from backend.setup.properties import PROPERTIES


def test_install_provisions_properties_and_stores_encrypted_tokens(connector):
    portal = connector.install()
    assert portal.status == "active" and portal.access_token and portal.refresh_token
    assert portal.password_hash and portal.properties_provisioned_at
    for object_type, specs in PROPERTIES.items():
        have = connector.hubspot.properties(object_type)
        assert {s.name for s in specs} <= set(have), object_type
    assert connector.hubspot.properties("companies")["billwerk_customer_id"].get("hasUniqueValue") is True


def test_provisioning_again_creates_nothing_and_repairs_options(connector):
    portal = connector.install()
    from backend.clients.hubspot import HubSpotClient
    from backend.setup.provisioning import provision

    client = HubSpotClient(portal)
    connector.hubspot.reset_calls()
    assert provision(portal, client) == {"groups_created": 0, "properties_created": 0, "properties_repaired": 0}
    writes = [c for c in connector.hubspot.calls if c["method"] != "GET"]
    assert writes == []
    # an admin deletes an option in HubSpot; the next run puts it back
    prop = connector.hubspot.properties("deals")["billwerk_validation"]
    options = [o for o in prop["options"] if o["value"] != "invalid"]
    client.update_property("deals", "billwerk_validation", {"options": options})
    assert provision(portal, client)["properties_repaired"] == 1
    assert "invalid" in {o["value"] for o in connector.hubspot.properties("deals")["billwerk_validation"]["options"]}


def test_connecting_billwerk_sets_entity_options(connector):
    portal = connector.install()
    account = connector.connect_billwerk(portal)
    assert [e.entity_id for e in account.entities] == ["5f0000000000000000000001", "5f0000000000000000000002"]
    options = {o["value"]: o["label"] for o in connector.hubspot.properties("companies")["billwerk_entity"]["options"]}
    assert options == {"5f0000000000000000000001": "Sandbox GmbH", "5f0000000000000000000002": "Sandbox Ltd (UK)"}


def test_wrong_billwerk_secret_is_a_message_not_an_account(connector):
    from backend.setup.billwerk_connection import EntityInput, connect_billwerk
    from backend.errors import HubwerkError

    portal = connector.install()
    try:
        connect_billwerk(portal, base_url=connector.billwerk.base_url, client_id="hubwerk-sandbox-billwerk-client",
                         client_secret="wrong", entities=[EntityInput("5f0000000000000000000001", "k", "Root")])
    except HubwerkError as exc:
        assert "billwerk refused the client id or secret" in exc.message
    else:
        raise AssertionError("a wrong secret must be refused")
    assert db.session.execute(db.select(BillwerkAccount)).first() is None


def test_connect_billwerk_cli_prints_stable_credentials(connector):
    connector.install()
    runner = connector.app.test_cli_runner()
    args = ["connect-billwerk", "--portal-id", "100001", "--base-url", connector.billwerk.base_url,
            "--client-id", "hubwerk-sandbox-billwerk-client", "--client-secret", "hubwerk-sandbox-billwerk-secret",
            "--entity", "5f0000000000000000000001:5f00000000000000000000a1:Sandbox GmbH"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    lines = first.stdout.strip().splitlines()  # the three lines on stdout; notes go to stderr
    assert [l.split(":", 1)[0] for l in lines] == ["webhook_url", "username", "password"]
    assert "could not be proven" in first.stderr
    assert lines[0] == f"webhook_url: {connector.url}/api/webhook/billwerk/events"
    again = runner.invoke(args=args)
    assert again.output == first.output
    rotated = runner.invoke(args=args + ["--rotate-webhook-credentials"])
    assert rotated.output.splitlines()[2] != lines[2]
    wrong = runner.invoke(args=[("nope" if a == "hubwerk-sandbox-billwerk-secret" else a) for a in args])
    assert wrong.exit_code == 1 and wrong.output.startswith("error: billwerk refused")
    unknown = runner.invoke(args=["connect-billwerk", "--portal-id", "999", "--base-url", "sandbox.billwerk.com",
                                  "--client-id", "x", "--client-secret", "y", "--entity", "a:b"])
    assert unknown.exit_code == 1 and "Portal 999 has not installed the connector" in unknown.output


def test_closed_won_stages_default_to_won_stages_and_can_be_chosen(connector):
    connector.install()
    connector.client.post("/login", data={"hub_id": "100001", "password": "correct horse battery"})
    page = connector.client.get("/settings/stages")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="closedwon" checked' in html
    saved = connector.client.post("/settings/stages", data={"stage": ["closedwon"]})
    assert saved.status_code == 302
    portal = db.session.execute(db.select(Portal)).scalar_one()
    db.session.refresh(portal)
    assert portal.closed_won_stages == ["closedwon"]
    refused = connector.client.post("/settings/stages", data={"stage": ["nope"]})
    assert refused.status_code == 400


def test_reinstall_updates_the_portal(connector):
    first = connector.install()
    old_token = first.access_token
    again = connector.install()
    assert again.id == first.id and again.access_token != old_token
    assert db.session.execute(db.select(db.func.count(Portal.id))).scalar_one() == 1


def test_billwerk_page_never_shows_stored_keys_and_empty_keeps_them(connector):
    portal = connector.install()
    connector.connect_billwerk(portal)
    connector.client.post("/login", data={"hub_id": "100001", "password": "correct horse battery"})
    html = connector.client.get("/settings/billwerk").get_data(as_text=True)
    assert "5f00000000000000000000a1" not in html and "hubwerk-sandbox-billwerk-secret" not in html
    assert "stored — leave empty to keep" in html
    saved = connector.client.post("/settings/billwerk", data={
        "base_url": connector.billwerk.base_url, "client_id": "hubwerk-sandbox-billwerk-client", "client_secret": "",
        "entity_id": ["5f0000000000000000000001", "5f0000000000000000000002"], "public_api_key": ["", ""],
        "entity_name": ["Sandbox GmbH (renamed)", "Sandbox Ltd (UK)"]})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    db.session.expire_all()
    account = db.session.execute(db.select(BillwerkAccount)).scalar_one()
    assert [(e.name, e.public_api_key) for e in account.entities] == [
        ("Sandbox GmbH (renamed)", "5f00000000000000000000a1"), ("Sandbox Ltd (UK)", "5f00000000000000000000a2")]


def test_revoke_uninstalls_disables_webhooks_and_keeps_history(connector):
    from backend.models import InboxEvent, SyncRun
    from tests.helpers import basic

    portal = connector.install()
    account = connector.connect_billwerk(portal)
    username, password = account.webhook_username, account.webhook_password
    runs_before = db.session.execute(db.select(db.func.count(SyncRun.id))).scalar_one()
    connector.client.post("/login", data={"hub_id": "100001", "password": "correct horse battery"})
    refused = connector.client.post("/settings/revoke", data={"confirm": "nope"})
    assert refused.status_code == 302 and db.session.get(Portal, portal.id).status == "active"
    connector.hubspot.reset_calls()
    done = connector.client.post("/settings/revoke", data={"confirm": "REVOKE"})
    assert done.status_code == 200 and "Connected apps" in done.get_data(as_text=True)
    calls = {(c["method"], c["path"]) for c in connector.hubspot.calls}
    assert ("DELETE", "/appinstalls/v3/external-install") in calls
    assert any(m == "DELETE" and p.startswith("/oauth/v1/refresh-tokens/") for m, p in calls)
    db.session.expire_all()
    portal = db.session.get(Portal, portal.id)
    assert portal.status == "revoked" and portal.access_token is None and portal.refresh_token is None
    assert db.session.execute(db.select(db.func.count(SyncRun.id))).scalar_one() == runs_before  # history kept
    hook = connector.client.post("/api/webhook/billwerk/events", json={"Event": "ContractChanged", "EntityId": "5f0000000000000000000001"},
                                 headers=basic(username, password))
    assert hook.status_code == 401 and db.session.execute(db.select(InboxEvent)).first() is None
    card = connector.hubspot.call_card(100001, "GET", f"{connector.url}/api/cards/companies/1")
    assert card.status_code == 404 and card.json()["error"] == "portal_not_installed"
    assert connector.client.post("/login", data={"hub_id": "100001", "password": "correct horse battery"}).status_code == 401
    again = connector.install()  # installing again works, with a new password
    assert again.status == "active"

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
    from backend.setup.billwerk_connection import EntityInput, connect_billwerk
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
    from backend.setup.billwerk_connection import EntityInput, connect_billwerk

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


# -- flows ------------------------------------------------------------------------------------------

def _ready(connector):
    portal = connector.install()
    connector.connect_billwerk(portal)
    return portal


def test_a_failed_write_back_is_repaired_by_the_replay(connector):
    from backend.jobs.runs import replay_run
    from backend.models import CustomerLink, SyncRun
    from tests.e2e.records import GOOD_DE, company_with_deal

    _ready(connector)
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    connector.deliver()
    connector.hubspot.add_fault(path_prefix="/crm/v3/objects/companies/batch/update", method="POST", status=403, times=1)
    connector.hubspot.user_update("deals", ids["deal"], {"dealstage": "closedwon"})
    connector.deliver()
    runs = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "import_customer_for_deal")).scalars().all()
    run = next(r for r in runs if r.status == "failed")  # the write-back of the first run to import failed
    assert run.retriable and "status update" in run.error
    assert db.session.execute(db.select(CustomerLink)).scalar_one()  # billwerk side done and linked
    assert not connector.hubspot.get_object("companies", ids["company"])["properties"].get("billwerk_customer_id")
    replay_run(run)
    connector.work()
    db.session.refresh(run)
    assert run.status == "succeeded" and run.counts["already_linked"] == 1
    props = connector.hubspot.get_object("companies", ids["company"])["properties"]
    assert props["billwerk_import_status"] == "imported" and props["billwerk_customer_id"]
    assert len(connector.billwerk.state()["customers"]) == 1


def test_a_queued_run_whose_job_was_lost_absorbs_nothing_and_is_requeued(connector):
    from datetime import timedelta

    from rq.job import Job

    from backend.jobs.runs import recover_stuck_runs, start_run
    from backend.models import SyncRun, utcnow

    portal = _ready(connector)
    lost = start_run("provision_properties", portal_id=portal.id, object_type="portal", object_id="100001")
    Job.fetch(lost.job_id, connection=connector.app.extensions["hubwerk.redis"]()).delete()  # e.g. Redis lost it
    again = start_run("provision_properties", portal_id=portal.id, object_type="portal", object_id="100001")
    assert again.id != lost.id
    lost.created_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert recover_stuck_runs()["requeued"] == 1
    connector.work()
    db.session.refresh(lost)
    assert lost.status == "succeeded"


def test_a_run_whose_process_died_becomes_retriable(connector):
    from datetime import timedelta

    from backend.jobs.runs import recover_stuck_runs
    from backend.models import SyncRun, utcnow

    portal = _ready(connector)
    run = SyncRun(portal_id=portal.id, flow="import_company", object_type="company", object_id="1", status="running",
                  attempts=1, started_at=utcnow() - timedelta(hours=2), params={})
    db.session.add(run)
    db.session.commit()
    assert recover_stuck_runs()["interrupted"] == 1
    db.session.refresh(run)
    assert run.status == "failed" and run.retriable and run.next_retry_at is not None


def test_a_company_that_names_its_billwerk_customer_keeps_it(connector):
    from backend.clients.billwerk import client_for
    from tests.e2e.records import GOOD_DE, company_with_deal

    portal = _ready(connector)
    existing = client_for(portal.billwerk_account).create_customer({"CompanyName": "Nordlicht (from billwerk)", "ExternalCustomerId": "legacy-7"})["Id"]
    ids = company_with_deal(connector.hubspot, GOOD_DE | {"billwerk_customer_id": existing}, stage="closedwon")
    connector.deliver()
    assert [c["Id"] for c in connector.billwerk.state()["customers"]] == [existing]
    assert connector.hubspot.get_object("companies", ids["company"])["properties"]["billwerk_import_status"] == "imported"


def test_two_companies_claiming_one_external_id_get_a_problem_not_a_crash(connector):
    from backend.models import SyncRun
    from tests.e2e.records import GOOD_DE, GOOD_US, company_with_deal

    _ready(connector)
    company_with_deal(connector.hubspot, GOOD_DE | {"billwerk_external_customer_id": "ACME-1"}, stage="closedwon")
    connector.deliver()
    second = company_with_deal(connector.hubspot, GOOD_US | {"billwerk_external_customer_id": "ACME-1"}, stage="closedwon")
    connector.deliver()
    props = connector.hubspot.get_object("companies", second["company"])["properties"]
    assert props["billwerk_import_status"] == "invalid" and "already linked to company" in props["billwerk_import_errors"]
    runs = db.session.execute(db.select(SyncRun).where(SyncRun.object_id == second["deal"])).scalars().all()
    assert runs and all("Internal error" not in (r.error or "") for r in runs)


def test_a_deal_without_its_company_yet_is_retried(connector):
    from backend.models import SyncRun

    _ready(connector)
    deal = connector.hubspot.user_create("deals", {"dealname": "Early bird", "pipeline": "default", "dealstage": "closedwon"})
    connector.deliver()
    run = db.session.execute(db.select(SyncRun).where(SyncRun.object_id == deal["id"])).scalar_one()
    assert run.status == "failed" and run.retriable and "no company yet" in run.error

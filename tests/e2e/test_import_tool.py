"""The import tool, the customers page, ``import-customers`` and the ``import-customer`` workflow action."""
import pytest

from backend.extensions import db
from backend.models import CustomerLink, ImportCandidate, InboxEvent, SyncRun
from tests.e2e.records import BROKEN, GOOD_DE, GOOD_US, company_with_deal

PASSWORD = "correct horse battery"


@pytest.fixture
def admin(connector):
    portal = connector.install(password=PASSWORD)
    connector.connect_billwerk(portal)
    assert connector.client.post("/login", data={"hub_id": "100001", "password": PASSWORD}).status_code == 302
    return connector, portal


def customers(connector):
    return connector.billwerk.state()["customers"]


def test_scan_lists_ready_and_invalid_with_reasons_then_imports_all_valid(admin):
    connector, portal = admin
    good = company_with_deal(connector.hubspot, GOOD_DE, stage="closedwon")
    bad = company_with_deal(connector.hubspot, BROKEN, stage="closedwon")
    company_with_deal(connector.hubspot, GOOD_US)  # not closed-won: not listed
    connector.hubspot.flush_webhooks(timeout=10)
    db.session.execute(db.delete(InboxEvent))  # this test drives the tool, not the webhooks
    db.session.commit()
    connector.billwerk.reset_calls()
    assert connector.client.post("/import/scan").status_code == 302
    connector.work()
    rows = {r.hubspot_company_id: r for r in db.session.execute(db.select(ImportCandidate)).scalars()}
    assert set(rows) == {good["company"], bad["company"]}
    assert rows[good["company"]].status == "ready"
    assert rows[bad["company"]].status == "invalid"
    page = connector.client.get("/import").get_data(as_text=True)
    assert "Postal code is missing" in page and "Country &#39;UK&#39; is not an ISO code: use GB" in page
    assert f"/contacts/100001/record/0-2/{bad['company']}" in page and "Open in HubSpot" in page
    assert customers(connector) == [] and [c for c in connector.billwerk.calls if "/customers" in c["path"]] == []  # scanning imports nothing
    assert connector.client.post("/import/run", data={"scope": "all"}).status_code == 302
    connector.work()
    [customer] = customers(connector)
    assert customer["ExternalCustomerId"] == good["company"]
    db.session.expire_all()
    assert db.session.get(ImportCandidate, rows[good["company"]].id).status == "imported"
    # fixed in HubSpot, reloaded, imported as selected
    connector.hubspot.user_update("companies", bad["company"], {"zip": "EC1A 1BB", "country": "GB"})
    connector.hubspot.flush_webhooks(timeout=10)
    assert connector.client.post(f"/import/reload/{bad['company']}").status_code == 302
    db.session.expire_all()
    assert db.session.get(ImportCandidate, rows[bad["company"]].id).status == "ready"
    connector.client.post("/import/run", data={"company_id": [bad["company"]]})
    connector.work()
    assert len(customers(connector)) == 2


def test_import_customers_cli_imports_and_summarizes(admin):
    connector, portal = admin
    good = company_with_deal(connector.hubspot, GOOD_DE, stage="closedwon")
    company_with_deal(connector.hubspot, BROKEN, stage="closedwon")
    connector.hubspot.flush_webhooks(timeout=10)
    db.session.execute(db.delete(InboxEvent))
    db.session.commit()
    runner = connector.app.test_cli_runner()
    result = runner.invoke(args=["import-customers", "--portal-id", "100001"])
    assert result.exit_code == 0, result.output
    assert "imported 1," in result.output and "need fixing in HubSpot 1," in result.output
    assert [c["ExternalCustomerId"] for c in customers(connector)] == [good["company"]]
    again = runner.invoke(args=["import-customers", "--portal-id", "100001"])
    assert "imported 0," in again.output and len(customers(connector)) == 1
    queued = runner.invoke(args=["import-customers", "--portal-id", "100001", "--enqueue"])
    assert queued.exit_code == 0 and queued.output.startswith("queued run ")
    missing = runner.invoke(args=["import-customers", "--portal-id", "4"])
    assert missing.exit_code == 1 and missing.output.startswith("error: Portal 4 has not installed")


def test_customers_page_links_by_search_and_unlinks(admin):
    connector, portal = admin
    ids = company_with_deal(connector.hubspot, GOOD_US)
    existing = connector.billwerk.state()["customers"]
    customer_id = existing[0]["Id"] if existing else None
    if customer_id is None:
        from backend.clients.billwerk import client_for
        customer_id = client_for(portal.billwerk_account).create_customer({"CompanyName": "Blue Harbor Inc.", "EmailAddress": "ap@blueharbor.example"})["Id"]
    page = connector.client.get("/customers").get_data(as_text=True)
    assert customer_id in page and "Link to HubSpot" in page
    search = connector.client.get(f"/customers/{customer_id}/link?q=Blue%20Harbor").get_data(as_text=True)
    assert "Blue Harbor Inc." in search
    linked = connector.client.post(f"/customers/{customer_id}/link", data={"company_id": ids["company"], "q": "Blue Harbor"})
    assert linked.status_code == 302
    link = db.session.execute(db.select(CustomerLink)).scalar_one()
    assert (link.hubspot_company_id, link.billwerk_customer_id, link.origin) == (ids["company"], customer_id, "manual")
    props = connector.hubspot.get_object("companies", ids["company"])["properties"]
    assert props["billwerk_import_status"] == "linked" and props["billwerk_customer_id"] == customer_id
    assert f"/contacts/100001/record/0-2/{ids['company']}" in connector.client.get("/customers").get_data(as_text=True)
    connector.client.post(f"/customers/unlink/{ids['company']}")
    assert db.session.execute(db.select(CustomerLink)).first() is None


def test_workflow_action_blocks_then_completes_the_callback(admin):
    connector, portal = admin
    ids = company_with_deal(connector.hubspot, GOOD_DE, stage="closedwon")
    connector.hubspot.flush_webhooks(timeout=10)
    db.session.execute(db.delete(InboxEvent))
    db.session.commit()
    url = f"{connector.url}/api/workflow-actions/import-customer"
    answer = connector.hubspot.execute_workflow_action(100001, url, "COMPANY", ids["company"], {})
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputFields"]["hs_execution_state"] == "BLOCK"
    connector.work()
    [callback] = [c for c in connector.hubspot.callbacks().values() if c["objectId"] == ids["company"]]
    assert callback["state"] == "COMPLETED"
    out = callback["outputFields"]
    assert out["result"] == "success" and out["hs_execution_state"] == "SUCCESS"
    assert out["customer_id"] == customers(connector)[0]["Id"]
    run = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "import_company")).scalar_one()
    assert run.params["callback_id"]


def test_workflow_action_failure_ends_in_fail_continue(admin):
    connector, portal = admin
    ids = company_with_deal(connector.hubspot, BROKEN, stage="closedwon")
    connector.hubspot.flush_webhooks(timeout=10)
    url = f"{connector.url}/api/workflow-actions/import-customer"
    connector.hubspot.execute_workflow_action(100001, url, "DEAL", ids["deal"], {})
    connector.work()
    [callback] = [c for c in connector.hubspot.callbacks().values() if c["objectId"] == ids["deal"]]
    assert callback["outputFields"]["hs_execution_state"] == "FAIL_CONTINUE"
    assert callback["outputFields"]["result"] == "failed" and "Postal code is missing" in callback["outputFields"]["message"]


def test_workflow_action_refusals(admin):
    connector, portal = admin
    assert connector.client.post("/api/workflow-actions/import-customer", json={"callbackId": "x"}).status_code == 401
    unknown = connector.hubspot.execute_workflow_action(100001, f"{connector.url}/api/workflow-actions/no-such-action", "COMPANY", "1", {})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_action"

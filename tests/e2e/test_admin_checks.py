"""What a new admin trips over, held by tests: honest billwerk checks, required webhook events,
reset-password, the customers and runs pages, browser-friendly errors."""
import socket
import time

import pytest

from backend.extensions import db
from backend.models import BillwerkAccount, Portal, SyncRun
from tests.e2e.conftest import BILLWERK_CLIENT_ID, BILLWERK_CLIENT_SECRET, ROOT_ENTITY, SUB_ENTITY
from tests.e2e.records import BROKEN, GOOD_DE, company_with_deal

PASSWORD = "correct horse battery"


@pytest.fixture
def installed(connector):
    portal = connector.install(password=PASSWORD)
    assert connector.client.post("/login", data={"hub_id": "100001", "password": PASSWORD}).status_code == 302
    return connector, portal


@pytest.fixture
def admin(installed):
    connector, portal = installed
    connector.connect_billwerk(portal)
    return connector, portal


def save_billwerk(connector, base_url=None, entities=(ROOT_ENTITY,), secret=BILLWERK_CLIENT_SECRET):
    form = {"base_url": base_url or connector.billwerk.base_url, "client_id": BILLWERK_CLIENT_ID, "client_secret": secret,
            "entity_id": [e[0] for e in entities], "public_api_key": [e[1] for e in entities], "entity_name": [e[2] for e in entities]}
    return connector.client.post("/settings/billwerk", data=form, follow_redirects=True)


def page_text(response) -> str:
    return response.get_data(as_text=True)


# -- billwerk connection ---------------------------------------------------------------------------

def test_a_wrong_public_api_key_is_saved_but_never_called_verified(installed):
    connector, portal = installed
    wrong_key = (ROOT_ENTITY[0], "5f00000000000000000000ff", ROOT_ENTITY[2])
    page = page_text(save_billwerk(connector, entities=[wrong_key]))
    assert "Verified with billwerk: the client id and secret, and the entity Sandbox GmbH" in page
    assert "The public API keys could not be proven" in page
    assert "verified and saved" not in page
    billwerk_page = page_text(connector.client.get("/settings/billwerk"))
    assert "could not be proven" in billwerk_page


def test_an_entity_id_billwerk_refuses_is_named_not_blamed_on_the_secret(installed):
    connector, portal = installed
    stranger = ("5f00000000000000000000ee", "5f00000000000000000000e1", "Someone Else AG")
    response = save_billwerk(connector, entities=[ROOT_ENTITY, stranger])
    assert response.status_code == 400
    page = page_text(response)
    assert "billwerk refused entity 5f00000000000000000000ee (Someone Else AG)" in page
    assert "client id or secret" not in page
    assert db.session.execute(db.select(BillwerkAccount)).first() is None


def test_copy_and_paste_slips_in_keys_are_refused(installed):
    connector, portal = installed
    same = page_text(save_billwerk(connector, entities=[ROOT_ENTITY, (SUB_ENTITY[0], ROOT_ENTITY[1], SUB_ENTITY[2])]))
    assert "have the same public API key" in same
    id_as_key = page_text(save_billwerk(connector, entities=[(ROOT_ENTITY[0], ROOT_ENTITY[0], ROOT_ENTITY[2])]))
    assert "is an entity id" in id_as_key


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("typed, expected", [
    ("http//127.0.0.1:{port}", "write 'http://127.0.0.1:{port}'"),
    ("http://127.0.0.1:{closed}", "nothing answers on port {closed} of 127.0.0.1"),
    ("https://sandbox.bilwerk.invalid", "sandbox.bilwerk.invalid"),
    ("{hubspot}", "not as a billwerk API"),
])
def test_base_url_typos_are_answered_quickly_with_what_is_wrong(installed, typed, expected):
    connector, portal = installed
    port, closed = connector.billwerk.base_url.rsplit(":", 1)[1], _closed_port()
    values = {"port": port, "closed": closed, "hubspot": connector.hubspot.base_url}
    started = time.monotonic()
    response = save_billwerk(connector, base_url=typed.format(**values))
    assert time.monotonic() - started < 4.0
    assert response.status_code == 400
    page = page_text(response)
    assert expected.format(**values).replace("'", "&#39;") in page, page
    assert "try again later" not in page


def test_connect_billwerk_cli_says_the_keys_could_not_be_proven(installed):
    connector, portal = installed
    result = connector.app.test_cli_runner().invoke(args=[
        "connect-billwerk", "--portal-id", "100001", "--base-url", connector.billwerk.base_url, "--client-id", BILLWERK_CLIENT_ID,
        "--client-secret", BILLWERK_CLIENT_SECRET, "--entity", ":".join(ROOT_ENTITY)])
    assert result.exit_code == 0, result.output
    assert "could not be proven" in result.output


# -- webhook events ----------------------------------------------------------------------------------

def test_required_webhook_events_cannot_be_unticked(admin):
    connector, portal = admin
    from backend.setup.billwerk_connection import REQUIRED_EVENTS

    page = page_text(connector.client.get("/settings/webhooks"))
    for event in REQUIRED_EVENTS:
        assert f'id="event-{event}" checked disabled' in page
    refused = connector.client.post("/settings/webhooks", data={"action": "events", "event": ["ContractCancelled"]})
    assert refused.status_code == 400
    assert "ContractCreated, ContractChanged, InvoiceCreated, OrderSucceeded, PaymentEscalated, PaymentEscalationReset are required" in page_text(refused)
    db.session.expire_all()
    assert set(REQUIRED_EVENTS) <= set(db.session.execute(db.select(BillwerkAccount)).scalar_one().webhook_events)
    saved = connector.client.post("/settings/webhooks", data={"action": "events", "event": list(REQUIRED_EVENTS) + ["ContractCancelled"]})
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.execute(db.select(BillwerkAccount)).scalar_one().webhook_events == list(REQUIRED_EVENTS) + ["ContractCancelled"]


# -- reset-password ------------------------------------------------------------------------------------

def test_reset_password_asks_twice_and_ends_old_sessions(installed):
    connector, portal = installed
    runner = connector.app.test_cli_runner()
    differ = runner.invoke(args=["reset-password", "--portal-id", "100001"], input="a new password 1\nanother password\n")
    assert differ.exit_code == 1 and "error: The two passwords differ" in differ.output
    short = runner.invoke(args=["reset-password", "--portal-id", "100001"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    done = runner.invoke(args=["reset-password", "--portal-id", "100001"], input="a brand new password\na brand new password\n")
    assert done.exit_code == 0, done.output
    assert "a brand new password" not in done.output
    # the session logged in with the old password has ended; the new password logs in, the old no longer
    assert connector.client.get("/").status_code == 302
    assert connector.client.post("/login", data={"hub_id": "100001", "password": PASSWORD}).status_code == 401
    assert connector.client.post("/login", data={"hub_id": "100001", "password": "a brand new password"}).status_code == 302
    unknown = runner.invoke(args=["reset-password", "--portal-id", "4"], input="a brand new password\na brand new password\n")
    assert unknown.exit_code == 1 and "Portal 4 has not installed" in unknown.output


def test_reset_password_clears_the_failed_login_count(installed):
    connector, portal = installed
    connector.client.post("/logout")
    for _ in range(6):
        connector.client.post("/login", data={"hub_id": "100001", "password": "not it at all"})
    assert connector.client.post("/login", data={"hub_id": "100001", "password": PASSWORD}).status_code == 429
    runner = connector.app.test_cli_runner()
    assert runner.invoke(args=["reset-password", "--portal-id", "100001"], input="a brand new password\na brand new password\n").exit_code == 0
    assert connector.client.post("/login", data={"hub_id": "100001", "password": "a brand new password"}).status_code == 302


def test_login_page_tells_the_way_back_in(connector):
    assert "reset-password --portal-id" in page_text(connector.client.get("/login"))


# -- customers page ------------------------------------------------------------------------------------

def test_customers_page_names_the_linked_company_and_link_pages_of_unknown_customers_are_404(admin):
    connector, portal = admin
    ids = company_with_deal(connector.hubspot, GOOD_DE, stage="closedwon")
    connector.deliver()
    page = page_text(connector.client.get("/customers"))
    assert "Nordlicht Software GmbH" in page and f"/contacts/100001/record/0-2/{ids['company']}" in page
    missing = connector.client.get("/customers/5f0000000000000000000bad/link", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "<html" in page_text(missing) and "5f0000000000000000000bad" in page_text(missing)
    garbage = connector.client.get("/customers/not-an-id/link", headers={"Accept": "text/html"})
    assert garbage.status_code == 404


def test_link_and_unlink_messages_name_company_and_customer(admin):
    connector, portal = admin
    from backend.clients.billwerk import client_for

    ids = company_with_deal(connector.hubspot, {**GOOD_DE, "name": "Eichenhof Analytics GmbH"})
    customer = client_for(portal.billwerk_account).create_customer({"CompanyName": "Eichenhof Analytics", "EmailAddress": "ap@eichenhof.example"})
    linked = page_text(connector.client.post(f"/customers/{customer['Id']}/link", data={"company_id": ids["company"]}, follow_redirects=True))
    assert f"billwerk customer Eichenhof Analytics ({customer['Id']}) linked to HubSpot company Eichenhof Analytics GmbH" in linked
    assert "confirm(" in linked  # unlink asks first
    unlinked = page_text(connector.client.post(f"/customers/unlink/{ids['company']}", follow_redirects=True))
    assert f"HubSpot company Eichenhof Analytics GmbH ({ids['company']}) unlinked from billwerk customer {customer['Id']}" in unlinked


# -- runs ------------------------------------------------------------------------------------------------

def test_a_company_with_address_problems_is_a_run_that_found_problems_with_a_page(admin):
    connector, portal = admin
    ids = company_with_deal(connector.hubspot, BROKEN, stage="closedwon")
    connector.deliver()
    run = db.session.execute(db.select(SyncRun).where(SyncRun.object_id == ids["deal"])).scalar_one()
    assert run.status == "succeeded" and run.counts["invalid"] == 1
    listing = page_text(connector.client.get("/sync-runs"))
    assert "found problems" in listing and "Customer import" in listing and "import_customer_for_deal" not in listing
    assert "run(s) failed" not in listing
    page = page_text(connector.client.get(f"/sync-runs/{run.id}"))
    assert "What needs fixing" in page and "Postal code is missing" in page
    assert "What started it" in page and "inbox event" in page and ids["deal"] in page


def test_a_failed_run_has_a_page_with_its_error_and_replay(admin):
    connector, portal = admin
    connector.hubspot.add_fault(path_prefix="/crm/v3/objects/products/batch", status=400, times=None, message="Property values were not valid")
    connector.billwerk.seed(catalog_items=5, customers=0)
    connector.client.post("/products/sync")
    connector.work()
    connector.hubspot.clear_faults()
    run = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "sync_products")).scalar_one()
    assert run.status == "failed"
    page = page_text(connector.client.get(f"/sync-runs/{run.id}"))
    assert "Product sync" in page and "Error" in page and "HubSpot refused" in page and "Replay" in page
    assert f'action="/sync-runs/{run.id}/replay"' in page
    assert f'href="/sync-runs/{run.id}"' in page_text(connector.client.get("/sync-runs"))


def test_run_pages_of_other_portals_and_unknown_runs_are_404(admin):
    connector, portal = admin
    from backend.jobs.runs import start_run

    other = Portal(hub_id=555, status="active")
    db.session.add(other)
    db.session.commit()
    foreign = start_run("worker_probe", portal_id=other.id, queue="high", coalesce=False)
    for run_id in (foreign.id, 999999):
        response = connector.client.get(f"/sync-runs/{run_id}", headers={"Accept": "text/html"})
        assert response.status_code == 404 and "There is no sync run" in page_text(response)


# -- errors for browsers -----------------------------------------------------------------------------

def test_unknown_pages_are_html_for_browsers_and_json_for_machines(connector):
    browser = connector.client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 404 and browser.mimetype == "text/html"
    assert "Page not found" in page_text(browser) and "/no-such-page" in page_text(browser)
    machine = connector.client.get("/no-such-page", headers={"Accept": "application/json"})
    assert machine.status_code == 404 and machine.get_json()["error"] == "not_found"
    api = connector.client.get("/api/no-such-endpoint", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.get_json()["error"] == "not_found"


def test_favicon(connector):
    icon = connector.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert icon.data[:4] == b"\x00\x00\x01\x00"
    assert 'rel="icon"' in page_text(connector.client.get("/login"))

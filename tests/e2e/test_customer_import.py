"""Customer import end to end: signed webhooks from the HubSpot sandbox, the worker, the billwerk sandbox."""
import threading

import pytest
import requests

from sandbox.hubspot.signing import signed_headers

from backend.extensions import db
from backend.models import CustomerLink, InboxEvent, SyncRun
from tests.e2e.records import BROKEN, GOOD_DE, GOOD_US, company_with_deal


@pytest.fixture
def ready(connector):
    portal = connector.install()
    connector.connect_billwerk(portal)
    return connector, portal


def customers(connector, entity=None):
    return [c for c in connector.billwerk.state()["customers"] if entity is None or c.get("EntityId") == entity]


def company(connector, company_id):
    return connector.hubspot.get_object("companies", company_id)["properties"]


def test_closed_won_deal_imports_its_company_once(ready):
    connector, portal = ready
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    connector.deliver()
    assert customers(connector) == []  # not closed-won yet
    connector.hubspot.user_update("deals", ids["deal"], {"dealstage": "closedwon"})
    connector.deliver()
    [customer] = customers(connector)
    assert customer["ExternalCustomerId"] == ids["company"]
    assert customer["CompanyName"] == "Nordlicht Software GmbH"
    assert customer["Address"] == {"Street": "Friedrichstraße", "HouseNumber": "123", "PostalCode": "10117", "City": "Berlin", "Country": "DE"} | \
        {k: v for k, v in customer["Address"].items() if k not in ("Street", "HouseNumber", "PostalCode", "City", "Country")}
    assert (customer["FirstName"], customer["LastName"], customer["EmailAddress"]) == ("Anna", "Schmidt", "anna@nordlichtsoftwaregmb.example")
    props = company(connector, ids["company"])
    assert props["billwerk_customer_id"] == customer["Id"]
    assert props["billwerk_import_status"] == "imported"
    assert not props.get("billwerk_import_errors")
    link = db.session.execute(db.select(CustomerLink)).scalar_one()
    assert (link.hubspot_company_id, link.billwerk_customer_id, link.origin) == (ids["company"], customer["Id"], "import")


def test_the_same_webhook_three_times_gives_one_customer(ready):
    connector, portal = ready
    ids = company_with_deal(connector.hubspot, GOOD_US)
    connector.deliver()
    connector.hubspot.user_update("deals", ids["deal"], {"dealstage": "closedwon"})
    assert connector.hubspot.flush_webhooks(timeout=10)
    stored = db.session.execute(db.select(InboxEvent).order_by(InboxEvent.id.desc())).scalars().first()
    assert "closedwon" in stored.body
    url = f"{connector.url}/api/webhook/hubspot/events"
    for _ in range(2):  # HubSpot delivers the same events again (retries, duplicates), signed anew
        headers = signed_headers(connector.hubspot.client_secret, versions=("v1", "v3"), method="POST", uri=url, body=stored.body.encode())
        assert requests.post(url, data=stored.body.encode(), headers=headers | {"Content-Type": "application/json"}, timeout=10).status_code == 200
    connector.work()
    assert len(customers(connector)) == 1
    assert db.session.execute(db.select(db.func.count(CustomerLink.id))).scalar_one() == 1


def test_broken_company_gets_no_customer_and_every_reason(ready):
    connector, portal = ready
    ids = company_with_deal(connector.hubspot, BROKEN, stage="closedwon")
    connector.deliver()
    assert customers(connector) == []
    props = company(connector, ids["company"])
    assert props["billwerk_import_status"] == "invalid"
    errors = props["billwerk_import_errors"].splitlines()
    assert "Postal code is missing" in errors
    assert "Country 'UK' is not an ISO code: use GB" in errors
    run = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "import_customer_for_deal")).scalar_one()
    # a run that found problems, not a failure: nothing to retry, the problems are its message
    assert run.status == "succeeded" and run.found_problems and "Postal code is missing" in run.error and not run.retriable
    assert run.counts["invalid"] == 1
    # the card shows the same reasons, each with a link to the record
    card = connector.hubspot.call_card(100001, "GET", f"{connector.url}/api/cards/companies/{ids['company']}")
    assert card.status_code == 200, card.text
    body = card.json()
    assert body["status"] == "invalid"
    messages = {e["message"]: e["url"] for e in body["errors"]}
    assert messages["Postal code is missing"].endswith(f"/contacts/100001/record/0-2/{ids['company']}")
    assert {a["id"] for a in body["actions"]} >= {"import", "link", "refresh"}


def test_fixing_the_address_imports_the_invalid_company(ready):
    connector, portal = ready
    ids = company_with_deal(connector.hubspot, BROKEN, stage="closedwon")
    connector.deliver()
    connector.hubspot.user_update("companies", ids["company"], {"zip": "EC1A 1BB", "country": "GB"})
    connector.deliver()
    [customer] = customers(connector)
    assert customer["Address"]["Country"] == "GB"
    assert company(connector, ids["company"])["billwerk_import_status"] == "imported"


def test_own_writes_are_not_processed_again(ready):
    from backend.clients.hubspot import HubSpotClient

    connector, portal = ready
    ids = company_with_deal(connector.hubspot, GOOD_DE, stage="closedwon")
    connector.deliver()
    before = db.session.execute(db.select(db.func.count(SyncRun.id))).scalar_one()
    # The app's own write of a property it is subscribed to comes back as a webhook
    # (changeSource INTEGRATION, sourceId our app id) and must not start anything.
    HubSpotClient(portal).update_object("companies", ids["company"], {"city": "Berlin-Mitte"})
    connector.deliver()
    assert db.session.execute(db.select(db.func.count(SyncRun.id))).scalar_one() == before
    echoes = db.session.execute(db.select(InboxEvent).order_by(InboxEvent.id.desc())).scalars().first()
    assert '"INTEGRATION"' in echoes.body and '"city"' in echoes.body and echoes.status == "ignored"


def test_company_card_buttons(ready):
    connector, portal = ready
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    url = f"{connector.url}/api/cards/companies/{ids['company']}"
    card = connector.hubspot.call_card(100001, "GET", url).json()
    assert card["status"] == "ready" and card["entity"]["name"] == "Sandbox GmbH"
    imported = connector.hubspot.call_card(100001, "POST", f"{url}/import", body={})
    assert imported.status_code == 200, imported.text
    assert imported.json()["status"] == "imported" and imported.json()["message"] == "Imported into billwerk"
    customer_id = imported.json()["billwerk"]["customerId"]
    unlinked = connector.hubspot.call_card(100001, "POST", f"{url}/unlink", body={}).json()
    assert unlinked["status"] == "ready" and company(connector, ids["company"]).get("billwerk_customer_id") in (None, "")
    linked = connector.hubspot.call_card(100001, "POST", f"{url}/link", body={"billwerkCustomerId": customer_id})
    assert linked.json()["status"] == "linked"
    assert company(connector, ids["company"])["billwerk_import_status"] == "linked"
    missing = connector.hubspot.call_card(100001, "POST", f"{url}/unlink", body={})
    assert missing.status_code == 200
    bad = connector.hubspot.call_card(100001, "POST", f"{url}/link", body={"billwerkCustomerId": "5f00000000000000000000ff"})
    assert bad.status_code == 404 and bad.json()["error"] == "customer_not_found"
    assert len(customers(connector)) == 1


def test_a_link_hubspot_refuses_is_taken_back(ready):
    """HubSpot refuses the whole write-back batch when another company already holds the unique
    billwerk_customer_id: the card says so and no link stays behind in the connector."""
    connector, portal = ready
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    url = f"{connector.url}/api/cards/companies/{ids['company']}"
    customer_id = connector.hubspot.call_card(100001, "POST", f"{url}/import", body={}).json()["billwerk"]["customerId"]
    connector.hubspot.call_card(100001, "POST", f"{url}/unlink", body={})
    other = connector.hubspot.user_create("companies", {"name": "Typed by hand", "billwerk_customer_id": customer_id})
    refused = connector.hubspot.call_card(100001, "POST", f"{url}/link", body={"billwerkCustomerId": customer_id})
    assert refused.status_code == 409 and refused.json()["error"] == "hubspot_refused", refused.text
    assert "already exists" in refused.json()["message"]
    assert db.session.execute(db.select(CustomerLink).where(CustomerLink.hubspot_company_id == ids["company"])).first() is None
    assert company(connector, ids["company"]).get("billwerk_customer_id") in (None, "")
    assert company(connector, other["id"])["billwerk_customer_id"] == customer_id


def test_card_for_another_portals_company_is_404(ready):
    connector, portal = ready
    connector.hubspot.create_portal(100002, "Other Portal")
    connector.install(100002)
    other = company_with_deal(connector.hubspot, GOOD_US, portal_id=100002)
    response = connector.hubspot.call_card(100001, "GET", f"{connector.url}/api/cards/companies/{other['company']}")
    assert response.status_code == 404


def test_card_refusals(ready):
    connector, portal = ready
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    url = f"{connector.url}/api/cards/companies/{ids['company']}"
    assert connector.hubspot.call_card(100001, "GET", url, app_id=999).status_code == 401
    not_installed = connector.hubspot.call_card(100099, "GET", url)
    assert not_installed.status_code == 404 and not_installed.json()["error"] == "portal_not_installed"
    assert connector.client.get(f"/api/cards/companies/{ids['company']}?portalId=100001").status_code == 401


def test_racing_workers_create_one_customer(ready):
    connector, portal = ready
    ids = company_with_deal(connector.hubspot, GOOD_DE, stage="closedwon")
    from backend.jobs.runs import execute_run

    runs = []
    for flow, object_type, object_id in [("import_customer_for_deal", "deal", ids["deal"]), ("import_company", "company", ids["company"])] * 2:
        run = SyncRun(portal_id=portal.id, flow=flow, object_type=object_type, object_id=object_id, status="queued", params={})
        db.session.add(run)
        runs.append(run)
    db.session.commit()
    run_ids = [r.id for r in runs]

    def execute(run_id):
        with connector.app.app_context():
            execute_run(run_id)
            db.session.remove()

    threads = [threading.Thread(target=execute, args=(rid,)) for rid in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(customers(connector)) == 1
    assert db.session.execute(db.select(db.func.count(CustomerLink.id))).scalar_one() == 1


def test_closed_won_deals_past_the_search_cap_are_all_read(ready, monkeypatch):
    """HubSpot stops a search at 10,000 results; the import reads on in windows after the last id.
    The cap is shrunk to 400 on both sides so the test needs 1,000 deals, not 10,000."""
    import backend.clients.hubspot as hubspot_client
    import sandbox.hubspot.search as sandbox_search
    from backend.clients.hubspot import HubSpotClient
    from backend.flows.records import closed_won_deals
    from backend.setup.stages import closed_won_stages

    connector, portal = ready
    monkeypatch.setattr(sandbox_search, "MAX_RESULTS", 400)
    monkeypatch.setattr(hubspot_client, "SEARCH_RESULT_CAP", 400)
    report = connector.hubspot.seed(companies=1000, closed_won_ratio=0.5, seed=7)
    hubspot = HubSpotClient(portal)
    stages = closed_won_stages(portal, hubspot)
    assert len(stages) == 2  # the default pipeline's and the custom "Enterprise" pipeline's won stage
    connector.hubspot.reset_calls()
    ids = [d["id"] for d in closed_won_deals(hubspot, stages)]
    assert len(ids) == len(set(ids)) == report["closed_won_companies"] == 500
    searches = [c for c in connector.hubspot.calls if c["path"].endswith("/search")]
    assert all(c["status"] == 200 for c in searches)  # never paged into HubSpot's 400 past the cap
    assert len(searches) >= 3  # 400 in the first window, the rest in the next


def test_deal_card_shows_the_deal_and_its_companys_customer(ready):
    connector, portal = ready
    ids = company_with_deal(connector.hubspot, GOOD_DE, stage="closedwon")
    connector.deliver()
    card = connector.hubspot.call_card(100001, "GET", f"{connector.url}/api/cards/deals/{ids['deal']}")
    assert card.status_code == 200, card.text
    body = card.json()
    assert body["deal"]["closedWon"] is True and body["status"] == "draft"      # not validated yet
    assert body["company"]["id"] == ids["company"] and body["company"]["billwerkCustomerId"] == customers(connector)[0]["Id"]
    refreshed = connector.hubspot.call_card(100001, "POST", f"{connector.url}/api/cards/deals/{ids['deal']}/refresh", body={})
    assert refreshed.status_code == 200 and refreshed.json()["message"] == "Refreshed"
    unknown = connector.hubspot.call_card(100001, "POST", f"{connector.url}/api/cards/deals/{ids['deal']}/frobnicate", body={})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_action"


def test_portal_a_cannot_read_portal_b_deal(ready):
    connector, portal = ready
    connector.hubspot.create_portal(100002, "Other Portal")
    connector.install(100002)
    other = company_with_deal(connector.hubspot, GOOD_US, portal_id=100002)
    theirs = connector.hubspot.call_card(100002, "GET", f"{connector.url}/api/cards/deals/{other['deal']}")
    assert theirs.status_code == 200  # the deal exists, in B
    response = connector.hubspot.call_card(100001, "GET", f"{connector.url}/api/cards/deals/{other['deal']}")
    assert response.status_code == 404 and response.json()["error"] == "not_found"

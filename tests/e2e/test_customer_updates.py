"""Customer updates end to end: a linked company's or its person contact's change in the HubSpot
sandbox reaches the billwerk sandbox's customer; the outcome is on the record."""
from __future__ import annotations

import pytest

from backend.clients import billwerk as billwerk_client
from backend.clients.billwerk import client_for
from backend.extensions import db
from backend.models import CustomerLink, SyncRun
from tests.e2e.records import GOOD_DE, company_with_deal


@pytest.fixture
def ready(connector):
    portal = connector.install()
    account = connector.connect_billwerk(portal)
    return connector, portal, account


def linked(connector, company=GOOD_DE, contact=None) -> dict:
    """A company imported by its closed-won deal: ids plus its billwerk customer id."""
    ids = company_with_deal(connector.hubspot, company, stage="closedwon", contact=contact)
    connector.deliver()
    props = connector.hubspot.get_object("companies", ids["company"])["properties"]
    assert props["billwerk_import_status"] == "imported", props
    return ids | {"customer": props["billwerk_customer_id"]}


def customer(connector, customer_id) -> dict:
    return next(c for c in connector.billwerk.state()["customers"] if c["Id"] == customer_id)


def props(connector, kind, record_id) -> dict:
    return connector.hubspot.get_object(kind, record_id)["properties"]


def billwerk_user_edits(account, customer_id, changes):
    """Someone changes the customer in billwerk's UI (fields the connector does not own)."""
    bw = client_for(account)
    current = bw.get_customer(customer_id)
    bw.patch_customer(customer_id, changes, if_match=current.etag)


def writes(connector, customer_id):
    return [c for c in connector.billwerk.calls if c["method"] in ("PATCH", "PUT") and customer_id in c["path"]]


def test_an_address_change_reaches_the_customer_and_the_company_says_updated(ready):
    connector, portal, account = ready
    ids = linked(connector)
    billwerk_user_edits(account, ids["customer"], {"Notes": "VIP – call before dunning", "Tag": "key-account",
                                                   "AdditionalEmailAddresses": [{"EmailAddress": "ap@nordlicht.example"}]})
    connector.hubspot.user_update("companies", ids["company"], {"address": "Unter den Linden 5", "zip": "10117", "city": "Berlin"})
    connector.deliver()
    got = customer(connector, ids["customer"])
    assert (got["Address"]["Street"], got["Address"]["HouseNumber"], got["Address"]["City"]) == ("Unter den Linden", "5", "Berlin")
    # fields changed in billwerk that the connector does not own are unchanged
    assert (got["Notes"], got["Tag"], got["AdditionalEmailAddresses"]) == (
        "VIP – call before dunning", "key-account", [{"EmailAddress": "ap@nordlicht.example"}])
    assert (got["FirstName"], got["EmailAddress"]) == ("Anna", "anna@nordlichtsoftwaregmb.example")
    company = props(connector, "companies", ids["company"])
    assert company["billwerk_customer_update_status"] == "updated" and not company.get("billwerk_customer_update_message")
    run = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "update_customer_from_company")).scalar_one()
    assert run.status == "succeeded" and not run.error and run.counts["sent"] == 1


def test_only_changed_owned_fields_are_sent(ready):
    connector, portal, account = ready
    ids = linked(connector)
    connector.billwerk.reset_calls()
    connector.hubspot.user_update("companies", ids["company"], {"city": "Potsdam", "billwerk_vat_id": "DE 136 695 976"})
    connector.deliver()
    [patch] = writes(connector, ids["customer"])
    assert patch["method"] == "PATCH"
    got = customer(connector, ids["customer"])
    assert got["Address"]["City"] == "Potsdam" and got["VatId"] == "DE136695976"
    assert got["CompanyName"] == "Nordlicht Software GmbH" and got["ExternalCustomerId"] == ids["company"]


def test_an_incomplete_einvoicing_setup_fails_with_what_is_missing_and_sends_nothing(ready):
    connector, portal, account = ready
    ids = linked(connector)
    connector.billwerk.reset_calls()
    connector.hubspot.user_update("companies", ids["company"], {"billwerk_default_bearer_medium": "EInvoicing",
                                                                "billwerk_einvoicing_receiver_id": "0088:4012345000009"})
    connector.deliver()
    company = props(connector, "companies", ids["company"])
    assert company["billwerk_customer_update_status"] == "failed"
    assert company["billwerk_customer_update_message"].splitlines() == [
        "E-invoicing needs an E-Invoicing Network (Peppol or Finvoice)", "E-invoicing needs a Buyer Reference"]
    assert connector.billwerk.calls == []        # nothing read, nothing sent
    assert customer(connector, ids["customer"])["DefaultBearerMedium"] == "Email"
    # completing it is the next change: it is sent and the company says updated
    connector.hubspot.user_update("companies", ids["company"], {"billwerk_einvoicing_network": "Peppol",
                                                                "billwerk_buyer_reference": "PO-2026-17"})
    connector.deliver()
    got = customer(connector, ids["customer"])
    assert (got["DefaultBearerMedium"], got["EInvoiceReceiverId"], got["EInvoicingNetwork"], got["BuyerReference"]) == (
        "EInvoicing", "0088:4012345000009", "Peppol", "PO-2026-17")
    assert props(connector, "companies", ids["company"])["billwerk_customer_update_status"] == "updated"


def test_snail_mail_on_a_sandbox_account_says_why(ready):
    connector, portal, account = ready
    ids = linked(connector)
    connector.hubspot.user_update("companies", ids["company"], {"billwerk_default_bearer_medium": "SnailMail"})
    connector.deliver()
    company = props(connector, "companies", ids["company"])
    assert company["billwerk_customer_update_status"] == "failed"
    assert "only available on production accounts" in company["billwerk_customer_update_message"]
    assert "billwerk prints and posts letters only for production accounts" in company["billwerk_customer_update_message"]
    assert customer(connector, ids["customer"])["DefaultBearerMedium"] == "Email"


def test_dispatch_by_email_needs_an_email_address(ready):
    connector, portal, account = ready
    ids = linked(connector, contact={"firstname": "Ole", "lastname": "Ohnemail"})
    connector.hubspot.user_update("companies", ids["company"], {"billwerk_default_bearer_medium": "Email"})
    connector.deliver()
    company = props(connector, "companies", ids["company"])
    assert company["billwerk_customer_update_status"] == "failed"
    assert company["billwerk_customer_update_message"].startswith("Invoice dispatch Email needs an e-mail address")


def test_the_address_rule_applies_and_nothing_is_sent(ready):
    connector, portal, account = ready
    ids = linked(connector)
    connector.billwerk.reset_calls()
    connector.hubspot.user_update("companies", ids["company"], {"country": "UK", "zip": ""})
    connector.deliver()
    company = props(connector, "companies", ids["company"])
    assert company["billwerk_customer_update_status"] == "failed"
    assert company["billwerk_customer_update_message"].splitlines() == ["Postal code is missing", "Country 'UK' is not an ISO code: use GB"]
    assert connector.billwerk.calls == []
    assert company["billwerk_import_status"] == "imported"     # a linked company is not re-imported


def test_a_contacts_new_email_reaches_the_customer(ready):
    connector, portal, account = ready
    ids = linked(connector)
    assert CustomerLink.for_company(portal.id, ids["company"]).hubspot_contact_id == ids["contact"]
    connector.hubspot.user_update("contacts", ids["contact"], {"email": "anna.schmidt@nordlicht.example", "phone": "+49 30 555"})
    connector.deliver()
    got = customer(connector, ids["customer"])
    assert (got["EmailAddress"], got["PhoneNumber"], got["FirstName"]) == ("anna.schmidt@nordlicht.example", "+49 30 555", "Anna")
    contact = props(connector, "contacts", ids["contact"])
    assert contact["billwerk_customer_update_status"] == "updated"
    # a contact that is nobody's person starts nothing
    other = connector.hubspot.user_create("contacts", {"firstname": "Not", "lastname": "Billed", "email": "x@y.example"})
    connector.deliver()
    before = db.session.execute(db.select(db.func.count(SyncRun.id))).scalar_one()
    connector.hubspot.user_update("contacts", other["id"], {"email": "z@y.example"})
    connector.deliver()
    assert db.session.execute(db.select(db.func.count(SyncRun.id))).scalar_one() == before


def test_an_invalid_contact_email_is_reported_on_the_contact(ready):
    connector, portal, account = ready
    ids = linked(connector)
    connector.hubspot.user_update("contacts", ids["contact"], {"email": "anna at nordlicht"})
    connector.deliver()
    contact = props(connector, "contacts", ids["contact"])
    assert contact["billwerk_customer_update_status"] == "failed"
    assert contact["billwerk_customer_update_message"] == "Email 'anna at nordlicht' is not a valid email address"
    assert customer(connector, ids["customer"])["EmailAddress"] == "anna@nordlichtsoftwaregmb.example"


def test_a_412_from_a_concurrent_change_in_billwerk_is_retried_and_ends_updated(ready, monkeypatch):
    connector, portal, account = ready
    ids = linked(connector)
    real_get = billwerk_client.BillwerkClient.get_customer
    raced = []

    def get_then_someone_edits(self, customer_id):
        current = real_get(self, customer_id)
        if not raced:   # between the connector's read and its write, a billwerk user saves the customer
            raced.append(customer_id)
            billwerk_user_edits(account, customer_id, {"Notes": "changed in billwerk meanwhile"})
        return current

    monkeypatch.setattr(billwerk_client.BillwerkClient, "get_customer", get_then_someone_edits)
    connector.billwerk.reset_calls()
    connector.hubspot.user_update("companies", ids["company"], {"name": "Nordlicht Software SE"})
    connector.deliver()
    statuses = [c["status"] for c in writes(connector, ids["customer"])]
    assert statuses == [200, 412, 200]      # the user's save, ours refused, ours again after a re-read
    got = customer(connector, ids["customer"])
    assert got["CompanyName"] == "Nordlicht Software SE" and got["Notes"] == "changed in billwerk meanwhile"
    assert props(connector, "companies", ids["company"])["billwerk_customer_update_status"] == "updated"


def test_own_status_writes_trigger_nothing_and_many_companies_are_batched(ready):
    connector, portal, account = ready
    companies = [linked(connector, dict(GOOD_DE, name=f"Batch {i} GmbH")) for i in range(5)]
    for ids in companies:
        connector.hubspot.user_update("companies", ids["company"], {"city": "Hamburg", "zip": "20095"})
    assert connector.hubspot.flush_webhooks(timeout=10)
    connector.hubspot.reset_calls()
    connector.billwerk.reset_calls()
    connector.work()
    assert all(customer(connector, ids["customer"])["Address"]["City"] == "Hamburg" for ids in companies)
    paths = [c["path"] for c in connector.hubspot.calls]
    assert paths.count("/crm/v3/objects/companies/batch/read") == 1
    assert paths.count("/crm/v3/objects/companies/batch/update") == 2     # pending, then the outcomes
    assert len(connector.billwerk.calls) == 2 * len(companies)            # a read and a write each
    runs = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "update_customer_from_company")).scalars().all()
    assert len(runs) == 5 and {r.status for r in runs} == {"succeeded"}
    # the status writes come back as webhooks of the connector's own app: nothing starts
    before = db.session.execute(db.select(db.func.count(SyncRun.id))).scalar_one()
    connector.deliver()
    assert db.session.execute(db.select(db.func.count(SyncRun.id))).scalar_one() == before


def test_company_card_push_update_and_workflow_actions(ready):
    connector, portal, account = ready
    ids = linked(connector)
    url = f"{connector.url}/api/cards/companies/{ids['company']}"
    card = connector.hubspot.call_card(100001, "GET", url).json()
    assert "push-update" in [a["id"] for a in card["actions"]]
    # a change HubSpot did not send a webhook for (e.g. a property written by an import): the button pushes it
    from backend.clients.hubspot import HubSpotClient
    HubSpotClient(portal).update_object("companies", ids["company"], {"address2": "Hinterhaus, 3. OG"})
    pushed = connector.hubspot.call_card(100001, "POST", f"{url}/push-update", body={})
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["message"] == "billwerk customer updated"
    assert customer(connector, ids["customer"])["Address"]["AddressLine1"] == "Hinterhaus, 3. OG"
    again = connector.hubspot.call_card(100001, "POST", f"{url}/push-update", body={}).json()
    assert again["message"] == "billwerk customer updated"   # nothing differs: nothing sent, still updated
    for kind, object_type, object_id in (("company", "COMPANY", ids["company"]), ("contact", "CONTACT", ids["contact"])):
        action = f"{connector.url}/api/workflow-actions/update-customer-from-{kind}"
        answer = connector.hubspot.execute_workflow_action(100001, action, object_type, object_id, {})
        assert answer.json()["outputFields"]["hs_execution_state"] == "BLOCK"
        connector.work()
    callbacks = [c["outputFields"] for c in connector.hubspot.callbacks().values() if c["objectId"] in (ids["company"], ids["contact"])]
    assert [(c["result"], c["customer_id"]) for c in callbacks] == [("success", ids["customer"])] * 2, callbacks


def test_a_failed_update_is_retried_by_the_cron(ready):
    from backend.flows.customer_updates import RETRY_FLOW
    from backend.jobs.runs import run_now

    connector, portal, account = ready
    ids = linked(connector)
    connector.billwerk.add_fault(path_prefix=f"/api/v1/customers/{ids['customer']}", method="PATCH", status=503, times=None)
    connector.hubspot.user_update("companies", ids["company"], {"city": "Leipzig", "zip": "04109"})
    connector.deliver()
    company = props(connector, "companies", ids["company"])
    assert company["billwerk_customer_update_status"] == "failed"
    assert "the connector tries again" in company["billwerk_customer_update_message"]
    connector.billwerk.clear_faults()
    run_now(RETRY_FLOW, portal_id=portal.id, object_type="portal", object_id=str(portal.hub_id))
    connector.work()
    assert customer(connector, ids["customer"])["Address"]["City"] == "Leipzig"
    assert props(connector, "companies", ids["company"])["billwerk_customer_update_status"] == "updated"


def test_mapped_custom_fields_go_with_the_customer_update(ready):
    from backend.clients.hubspot import HubSpotClient

    connector, portal, account = ready
    HubSpotClient(portal).call("POST", "/crm/v3/properties/companies", json={
        "name": "cf_rating", "label": "Rating", "type": "number", "fieldType": "number", "groupName": "billwerk_custom_fields_sync"})
    made = connector.app.test_cli_runner().invoke(args=["custom-fields", "map", "--portal-id", "100001", "--entity",
                                                        account.entities[0].entity_id, "--object", "company",
                                                        "--hubspot-property", "cf_rating", "--billwerk-field", "crmRating"])
    assert made.exit_code == 0, made.output
    ids = linked(connector, dict(GOOD_DE, cf_rating="3"))
    billwerk_user_edits(account, ids["customer"], {"CustomFields": {"segment": "vip"}})
    connector.hubspot.user_update("companies", ids["company"], {"cf_rating": "5", "city": "Köln", "zip": "50667"})
    connector.deliver()
    got = customer(connector, ids["customer"])
    assert got["Address"]["City"] == "Köln" and got["CustomFields"] == {"crmRating": 5, "segment": "vip"}
    assert props(connector, "companies", ids["company"])["billwerk_customer_update_status"] == "updated"


def test_a_contact_becomes_the_person_of_a_customer_linked_by_hand(ready):
    connector, portal, account = ready
    hs = connector.hubspot
    company = hs.user_create("companies", GOOD_DE)
    person = hs.user_create("contacts", {"firstname": "Lena", "lastname": "Link", "email": "lena@nordlicht.example"})
    hs.user_associate("contacts", person["id"], "companies", company["id"])
    made = client_for(account).create_customer({"CompanyName": "Nordlicht Software GmbH", "ExternalCustomerId": "by-hand",
                                                "EmailAddress": "billing@nordlicht.example"})
    card = f"{connector.url}/api/cards/companies/{company['id']}"
    assert connector.hubspot.call_card(100001, "POST", f"{card}/link", body={"billwerkCustomerId": made["Id"]}).status_code == 200
    connector.deliver()
    assert CustomerLink.for_company(portal.id, company["id"]).hubspot_contact_id is None
    hs.user_update("contacts", person["id"], {"phone": "+49 221 1"})
    connector.deliver()
    assert customer(connector, made["Id"]).get("PhoneNumber") is None      # nobody's person yet: nothing
    action = f"{connector.url}/api/workflow-actions/update-customer-from-contact"
    assert hs.execute_workflow_action(100001, action, "CONTACT", person["id"], {}).status_code == 200
    connector.work()
    got = customer(connector, made["Id"])
    assert (got["FirstName"], got["LastName"], got["EmailAddress"], got["PhoneNumber"]) == (
        "Lena", "Link", "lena@nordlicht.example", "+49 221 1")
    db.session.expire_all()
    assert CustomerLink.for_company(portal.id, company["id"]).hubspot_contact_id == person["id"]
    hs.user_update("contacts", person["id"], {"lastname": "Link-Weber"})      # from now on its changes follow
    connector.deliver()
    assert customer(connector, made["Id"])["LastName"] == "Link-Weber"


def test_a_customer_deleted_in_billwerk_is_reported(ready):
    connector, portal, account = ready
    ids = linked(connector)
    client_for(account).request("DELETE", f"/customers/{ids['customer']}", expected=(204,))
    connector.hubspot.user_update("companies", ids["company"], {"city": "Dresden", "zip": "01067"})
    connector.deliver()
    company = props(connector, "companies", ids["company"])
    assert company["billwerk_customer_update_status"] == "failed"
    assert company["billwerk_customer_update_message"] == (
        f"billwerk customer {ids['customer']} no longer exists: unlink the company and import or link it again.")

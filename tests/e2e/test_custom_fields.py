"""Custom-field mappings end to end: made by the CLI and on the admin page, refused with one clear line,
values travelling to billwerk on import and after creation, and stopping when the mapping is removed."""
from __future__ import annotations

import pytest

from backend.clients.billwerk import client_for
from backend.clients.hubspot import HubSpotClient
from backend.extensions import db
from backend.jobs.runs import start_run
from backend.models import ContractLink, CustomFieldMapping, SyncRun
from tests.e2e.conftest import ROOT_ENTITY
from tests.e2e.records import GOOD_DE, company_with_deal

ROOT = ROOT_ENTITY[0]
GROUP = "billwerk_custom_fields_sync"

PROPERTIES = [
    ("deals", "cf_cost_center", "Cost center", "string", "text", GROUP),
    ("deals", "cf_renewal", "Renewal", "date", "date", GROUP),
    ("companies", "cf_rating", "Rating", "number", "number", GROUP),
    ("deals", "cf_outside", "Outside the group", "string", "text", "billwerk"),
]


@pytest.fixture
def ready(connector):
    portal = connector.install()
    account = connector.connect_billwerk(portal)
    connector.billwerk.seed(catalog_items=20, customers=0)
    hubspot = HubSpotClient(portal)
    for object_type, name, label, type_, field_type, group in PROPERTIES:
        hubspot.call("POST", f"/crm/v3/properties/{object_type}",
                     json={"name": name, "label": label, "type": type_, "fieldType": field_type, "groupName": group})
    return connector, portal, account


def cli(connector, *args):
    return connector.app.test_cli_runner().invoke(args=list(args))


def mapping_args(obj, prop, field, entity=ROOT):
    return ["custom-fields", "map", "--portal-id", "100001", "--entity", entity, "--object", obj,
            "--hubspot-property", prop, "--billwerk-field", field]


def sync(connector, portal) -> SyncRun:
    run = start_run("sync_custom_fields", portal_id=portal.id, object_type="portal", object_id=str(portal.hub_id))
    connector.work()
    db.session.expire_all()
    return db.session.get(SyncRun, run.id)


def test_mappings_by_cli_and_page_and_clear_refusals(ready):
    connector, portal, _ = ready
    made = cli(connector, *mapping_args("deal", "cf_cost_center", "costcenter"))
    assert made.exit_code == 0, made.output
    assert "mapped deal property cf_cost_center -> billwerk field costcenter" in made.output
    page = connector.client.get("/settings/custom-mappings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "cf_rating" in html and "cf_outside" not in html     # only the group's properties are offered
    assert "crmRating" in html                                    # billwerk's listed fields are offered
    added = connector.client.post("/settings/custom-mappings", data={
        "entity_id": ROOT, "object": "company", "hubspot_property": "cf_rating", "billwerk_field": "crmRating"})
    assert added.status_code == 302
    listing = connector.client.get("/settings/custom-mappings").get_data(as_text=True)
    assert "cf_cost_center" in listing and "crmRating" in listing

    refusals = {
        ("deal", "cf_cost_center", "nosuchfield"): "billwerk has no contract custom field nosuchfield",
        ("deal", "cf_outside", "salesRep"): "is not a deal property of the group",
        ("deal", "dealname", "salesRep"): "is not a deal property of the group",
        ("deal", "cf_renewal", "seatsCommitted"): "holds a number",
        ("company", "cf_rating", "segment"): "already mapped",      # one property feeds one field
        ("deal", "cf_renewal", "1st"): "is not a billwerk custom-field key",
    }
    for (obj, prop, field), words in refusals.items():
        result = cli(connector, *mapping_args(obj, prop, field))
        assert result.exit_code == 1, (prop, field, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.output
    refused = connector.client.post("/settings/custom-mappings", data={
        "entity_id": ROOT, "object": "deal", "hubspot_property": "cf_outside", "billwerk_field": "salesRep"})
    assert refused.status_code == 400 and "is not a deal property of the group" in refused.get_data(as_text=True)

    listed = cli(connector, "custom-fields", "list", "--portal-id", "100001")
    assert listed.exit_code == 0 and len(listed.output.strip().splitlines()) == 2
    removed = cli(connector, "custom-fields", "unmap", "--portal-id", "100001", "--entity", ROOT, "--object", "deal",
                  "--hubspot-property", "cf_cost_center")
    assert removed.exit_code == 0, removed.output
    assert db.session.execute(db.select(db.func.count()).select_from(CustomFieldMapping)).scalar_one() == 1


def test_unlisted_billwerk_fields_are_checked_by_a_preview(ready):
    connector, portal, _ = ready
    connector.billwerk.settings.custom_fields_listable = False
    try:
        ok = cli(connector, *mapping_args("deal", "cf_cost_center", "costcenter"))
        assert ok.exit_code == 0, ok.output
        refused = cli(connector, *mapping_args("deal", "cf_renewal", "notDefined"))
        assert refused.exit_code == 1 and "billwerk refused the custom field notDefined" in refused.output
        assert not any(c["path"].lower().startswith("/api/v1/orders") and c["method"] == "POST" and "preview" not in c["path"].lower()
                       for c in connector.billwerk.calls)   # nothing was stored in billwerk
    finally:
        connector.billwerk.settings.custom_fields_listable = True


def _contract_for(connector, account, customer_id: str) -> str:
    client = client_for(account, ROOT)
    variant = next(v for v in client.plan_variants() if not v.get("Hidden") and not v.get("TrialPeriod")
                   and v.get("AllowWithoutPaymentData"))
    order = client.create_order({"CustomerId": customer_id, "Cart": {"PlanVariantId": variant["Id"]}})
    return client.commit_order(order["Id"])["Id"]


def test_values_reach_billwerk_and_stop_when_unmapped(ready):
    connector, portal, account = ready
    for args in (("company", "cf_rating", "crmRating"), ("deal", "cf_cost_center", "costcenter"),
                 ("deal", "cf_renewal", "renewalDate")):
        assert cli(connector, *mapping_args(*args)).exit_code == 0
    hs = connector.hubspot
    ids = company_with_deal(hs, GOOD_DE | {"cf_rating": "4"})
    connector.deliver()
    hs.user_update("deals", ids["deal"], {"dealstage": "closedwon"})
    connector.deliver()
    [customer] = connector.billwerk.state()["customers"]
    assert customer["CustomFields"] == {"crmRating": 4}                 # on creation (import)

    # After creation: a company change reaches the customer; billwerk's own fields stay.
    bw = client_for(account, ROOT)
    bw.patch_customer(customer["Id"], {"CustomFields": {"segment": "vip"}})
    hs.user_update("companies", ids["company"], {"cf_rating": "5"})
    assert sync(connector, portal).status == "succeeded"
    assert bw.get_customer(customer["Id"])["CustomFields"] == {"crmRating": 5, "segment": "vip"}
    assert hs.get_object("companies", ids["company"])["properties"]["billwerk_customer_update_status"] == "updated"

    # A deal whose contract exists: billwerk's connector leaves it; hubwerk writes the contract's fields.
    contract_id = _contract_for(connector, account, customer["Id"])
    db.session.add(ContractLink(portal_id=portal.id, entity_id=ROOT, hubspot_deal_id=ids["deal"],
                                billwerk_contract_id=contract_id, billwerk_customer_id=customer["Id"]))
    db.session.commit()
    hs.user_update("deals", ids["deal"], {"billwerk_contract_id": contract_id, "cf_cost_center": "CC-9",
                                          "cf_renewal": "2027-01-31"})
    run = sync(connector, portal)
    assert run.status == "succeeded" and run.counts["updated"] >= 1
    assert bw.get_contract(contract_id)["CustomFields"] == {"costcenter": "CC-9", "renewalDate": "2027-01-31"}
    deal = hs.get_object("deals", ids["deal"])["properties"]
    assert deal["billwerk_contract_update_status"] == "updated"

    # Nothing changed: no billwerk write at all.
    connector.billwerk.reset_calls()
    sync(connector, portal)
    assert not [c for c in connector.billwerk.calls if c["method"] == "PATCH"]

    # billwerk refuses the values (the field was deleted there meanwhile): said on the deal, tried again.
    connector.billwerk.remove_custom_field("contract", "renewalDate")
    hs.user_update("deals", ids["deal"], {"cf_renewal": "2027-02-28"})
    sync(connector, portal)
    deal = hs.get_object("deals", ids["deal"])["properties"]
    assert deal["billwerk_contract_update_status"] == "failed"
    assert "billwerk refused the custom fields" in deal["billwerk_contract_update_message"]
    assert "renewalDate" in deal["billwerk_contract_update_message"]
    connector.billwerk.define_custom_field("contract", "renewalDate", type="Date")
    sync(connector, portal)   # the failed write-back itself brings the deal into the next pass
    assert bw.get_contract(contract_id)["CustomFields"]["renewalDate"] == "2027-02-28"
    assert hs.get_object("deals", ids["deal"])["properties"]["billwerk_contract_update_status"] == "updated"

    # Removed on the page: the value no longer travels.
    mapping = db.session.execute(db.select(CustomFieldMapping).where(CustomFieldMapping.hubspot_property == "cf_rating")).scalar_one()
    assert connector.client.post(f"/settings/custom-mappings/{mapping.id}/remove").status_code == 302
    hs.user_update("companies", ids["company"], {"cf_rating": "9"})
    sync(connector, portal)
    assert bw.get_customer(customer["Id"])["CustomFields"]["crmRating"] == 5

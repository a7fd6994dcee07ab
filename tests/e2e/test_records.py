"""flows/records.py against the HubSpot sandbox: many deals with their company, contacts, line items
and products, read in a fixed number of batch calls."""
import pytest

from backend.clients.hubspot import HubSpotClient
from backend.flows.records import primary_or_first, read_deals
from tests.e2e.records import GOOD_DE, GOOD_US, company_with_deal


@pytest.fixture
def installed(connector):
    return connector, connector.install()


def test_primary_or_first():
    entries = [{"toObjectId": 30, "associationTypes": [{"typeId": 341}]},
               {"toObjectId": 12, "associationTypes": [{"typeId": 341}]},
               {"toObjectId": 40, "associationTypes": [{"typeId": 5}, {"typeId": 341}]}]
    assert primary_or_first(entries, 5) == "40"
    assert primary_or_first(entries, None) == "12"
    assert primary_or_first(entries[:2], 5) == "12"
    assert primary_or_first([], 5) is None


def test_read_deals_in_batches(installed):
    connector, portal = installed
    hs = connector.hubspot
    first = company_with_deal(hs, GOOD_DE)
    second = company_with_deal(hs, GOOD_US)
    other = hs.user_create("companies", {"name": "Side company"})
    hs.user_associate("deals", second["deal"], "companies", other["id"])  # not primary: GOOD_US stays the company
    extra = hs.user_create("contacts", {"firstname": "Ben", "lastname": "Berg", "email": "ben@example.com"})
    hs.user_associate("deals", first["deal"], "contacts", extra["id"])
    plan = hs.user_create("products", {"name": "Pro monthly", "price": "99", "billwerk_id": "pv-1"})
    seats = hs.user_create("products", {"name": "Seats", "price": "5", "billwerk_id": "comp-1"})
    items = []
    for product, quantity in ((plan, "1"), (seats, "12")):
        item = hs.user_create("line_items", {"name": product["properties"]["name"], "quantity": quantity,
                                             "price": product["properties"]["price"], "hs_product_id": product["id"]})
        hs.user_associate("deals", first["deal"], "line_items", item["id"])
        items.append(item["id"])
    custom = hs.user_create("line_items", {"name": "Setup fee", "quantity": "1", "price": "500"})  # no product
    hs.user_associate("deals", second["deal"], "line_items", custom["id"])
    lonely = hs.user_create("deals", {"dealname": "No company", "pipeline": "default", "dealstage": "closedwon"})

    hubspot = HubSpotClient(portal)
    hs.reset_calls()
    records = read_deals(hubspot, [first["deal"], second["deal"], lonely["id"], "999999999", first["deal"]])
    crm_calls = [c for c in hs.calls if c["path"].startswith("/crm/")]
    # deals, 3 association reads, companies, contacts, line items, products: whatever the number of deals.
    assert len(crm_calls) == 8, [c["path"] for c in crm_calls]
    assert list(records) == [first["deal"], second["deal"], lonely["id"]]  # asked order, missing and repeated left out

    one = records[first["deal"]]
    assert one.deal["dealname"] == "Nordlicht Software GmbH – Pro"
    assert (one.company_id, one.company["name"]) == (first["company"], "Nordlicht Software GmbH")
    assert one.contact_ids == sorted([first["contact"], extra["id"]], key=int)
    assert one.contact == one.contacts[one.contact_ids[0]] and one.contact["email"]
    assert [li["id"] for li in one.line_items] == sorted(items, key=int)
    assert [(li["properties"]["quantity"], li["product"]["properties"]["billwerk_id"]) for li in one.line_items] == [("1", "pv-1"), ("12", "comp-1")]

    two = records[second["deal"]]
    assert two.company_id == second["company"]
    assert [(li["properties"]["name"], li["product"]) for li in two.line_items] == [("Setup fee", None)]

    alone = records[lonely["id"]]
    assert (alone.company_id, alone.company, alone.contact, alone.line_items) == (None, None, None, [])

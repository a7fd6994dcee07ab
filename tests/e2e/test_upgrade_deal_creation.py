"""Creating an up-/downgrade deal end to end: the trigger property, the card button and the workflow action
make exactly one follow-up deal with the origin's company, contacts (same labels) and line items."""
from __future__ import annotations

import pytest

from backend.clients.billwerk import client_for
from backend.extensions import db
from backend.models import ContractLink, SyncRun, UpgradeDealLink
from tests.e2e.conftest import ROOT_ENTITY
from tests.e2e.records import GOOD_DE, company_with_deal

ROOT = ROOT_ENTITY[0]


@pytest.fixture
def origin(connector):
    """A closed-won deal holding a billwerk contract, with two line items."""
    portal = connector.install()
    account = connector.connect_billwerk(portal)
    connector.billwerk.seed(catalog_items=20, customers=0)
    hs = connector.hubspot
    ids = company_with_deal(hs, GOOD_DE, stage="closedwon")
    connector.deliver()   # the import creates the customer
    customer = connector.billwerk.state()["customers"][0]
    client = client_for(account, ROOT)
    variant = next(v for v in client.plan_variants() if not v.get("Hidden") and not v.get("TrialPeriod")
                   and v.get("AllowWithoutPaymentData"))
    order = client.create_order({"CustomerId": customer["Id"], "Cart": {"PlanVariantId": variant["Id"]}})
    contract_id = client.commit_order(order["Id"])["Id"]
    db.session.add(ContractLink(portal_id=portal.id, entity_id=ROOT, hubspot_deal_id=ids["deal"],
                                billwerk_contract_id=contract_id, billwerk_customer_id=customer["Id"]))
    db.session.commit()
    hs.user_update("deals", ids["deal"], {"billwerk_contract_id": contract_id, "billwerk_entity": ROOT})
    product = hs.user_create("products", {"name": "Pro – monthly", "price": "49", "billwerk_id": variant["Id"],
                                          "billwerk_object_type": "plan_variant"})
    seats = hs.user_create("products", {"name": "Seats", "price": "5"})
    lines = []
    for prod, qty in ((product, "1"), (seats, "7")):
        line = hs.user_create("line_items", {"hs_product_id": prod["id"], "quantity": qty})
        hs.user_associate("line_items", line["id"], "deals", ids["deal"])
        lines.append(line["id"])
    contact2 = hs.user_create("contacts", {"firstname": "Bo", "lastname": "Berg", "email": "bo@example.com"})
    hs.user_associate("deals", ids["deal"], "contacts", contact2["id"])
    connector.deliver()
    return connector, portal, ids | {"contract": contract_id, "lines": lines, "contact2": contact2["id"]}


def upgrade_deals(connector, origin_id):
    return [d for d in connector.hubspot.objects("deals")
            if d["properties"].get("billwerk_origin_deal_id") == origin_id]


def test_the_trigger_creates_one_follow_up_deal(origin):
    connector, portal, ids = origin
    hs = connector.hubspot
    for _ in range(3):   # the rep sets it again, HubSpot redelivers: still one deal
        hs.user_update("deals", ids["deal"], {"billwerk_upgrade_deal": "create"})
        connector.deliver()
    [deal] = upgrade_deals(connector, ids["deal"])
    props = deal["properties"]
    assert props["dealname"] == f"Up- / Downgrade deal for {GOOD_DE['name']} – Pro"
    assert props["pipeline"] == "default" and props["dealstage"] == "appointmentscheduled"   # first open stage
    assert (props["billwerk_deal_type"], props["billwerk_entity"]) == ("upgrade", ROOT)
    assert not props.get("billwerk_contract_id")          # the contract moves only when the upgrade is executed
    assert not hs.get_object("deals", ids["deal"])["properties"].get("billwerk_upgrade_deal")   # trigger cleared

    def labelled(deal_id, to_type):
        return {(a["id"], tuple(a["typeIds"])) for a in hs.get_object("deals", deal_id)["associations"][to_type]}
    assert labelled(deal["id"], "companies") == labelled(ids["deal"], "companies")      # primary label kept
    assert len(labelled(deal["id"], "contacts")) == 2
    assert labelled(deal["id"], "contacts") == labelled(ids["deal"], "contacts")
    copies = [hs.get_object("line_items", a["id"])["properties"] for a in hs.get_object("deals", deal["id"])["associations"]["line_items"]]
    assert len(copies) == 2
    originals = [hs.get_object("line_items", i)["properties"] for i in ids["lines"]]
    assert sorted((c["hs_product_id"], c["quantity"], c["price"], c["name"]) for c in copies) == \
        sorted((o["hs_product_id"], o["quantity"], o["price"], o["name"]) for o in originals)
    assert db.session.execute(db.select(db.func.count()).select_from(UpgradeDealLink)).scalar_one() == 1


def test_card_button_and_workflow_action_find_the_same_deal(origin):
    connector, portal, ids = origin
    hs = connector.hubspot
    url = f"{connector.url}/api/cards/deals/{ids['deal']}/create-upgrade-deal"  # HubSpot appends portalId (twice would be refused)
    first = hs.call_card(100001, "POST", url, body={})
    assert first.status_code == 200, first.text
    assert "Up- / downgrade deal created" in first.json()["message"]
    second = hs.call_card(100001, "POST", url, body={})     # hubspot.fetch retries: the same deal
    assert second.status_code == 200
    connector.work()
    [deal] = upgrade_deals(connector, ids["deal"])
    answer = hs.execute_workflow_action(100001, f"{connector.url}/api/workflow-actions/create-upgrade-deal", "DEAL",
                                        ids["deal"], {})
    assert answer.status_code == 200 and answer.json()["outputFields"]["hs_execution_state"] == "BLOCK", answer.text
    connector.work()
    assert len(upgrade_deals(connector, ids["deal"])) == 1
    [callback] = [c for c in hs.callbacks().values() if c["objectId"] == ids["deal"]]
    out = callback["outputFields"]
    assert callback["state"] == "COMPLETED" and out["result"] == "success" and out["deal_id"] == deal["id"], callback
    assert out["message"] == "The up- / downgrade deal already exists"


def test_a_deal_without_contract_is_told_why(connector):
    portal = connector.install()
    connector.connect_billwerk(portal)
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    connector.deliver()
    connector.hubspot.user_update("deals", ids["deal"], {"billwerk_upgrade_deal": "create"})
    connector.deliver()
    assert upgrade_deals(connector, ids["deal"]) == []
    props = connector.hubspot.get_object("deals", ids["deal"])["properties"]
    assert "no billwerk contract yet" in props["billwerk_apply_message"] and not props.get("billwerk_upgrade_deal")
    run = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "create_upgrade_deal")).scalar_one()
    assert run.status == "failed" and "no billwerk contract yet" in run.error


def test_a_stopped_origin_is_refused(origin):
    connector, portal, ids = origin
    link = ContractLink.for_deal(portal.id, ids["deal"])
    link.sync_stopped = True
    db.session.commit()
    connector.hubspot.user_update("deals", ids["deal"], {"billwerk_upgrade_deal": "create"})
    connector.deliver()
    assert upgrade_deals(connector, ids["deal"]) == []
    assert "moved to a newer up-/downgrade deal" in connector.hubspot.get_object("deals", ids["deal"])["properties"]["billwerk_apply_message"]

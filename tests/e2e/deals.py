"""Signup deals built as a rep builds them: products from the synced billwerk catalogue as line items."""
from __future__ import annotations

from backend.extensions import db
from backend.flows.catalog_sync import start_sync
from tests.e2e.records import company_with_deal


def synced_shop(connector):
    """Installed, billwerk connected, the catalogue synced into HubSpot's product library."""
    connector.billwerk.seed(catalog_items=30, customers=2)
    portal = connector.install()
    connector.connect_billwerk(portal)
    start_sync(portal)
    connector.work()
    db.session.refresh(portal)
    return portal


class Catalog:
    """The billwerk items of the root entity a deal can use, and their HubSpot products."""

    def __init__(self, connector, entity="5f0000000000000000000001"):
        state = connector.billwerk.state()["catalog"]
        self.products = {p["properties"]["billwerk_id"]: p["id"] for p in connector.hubspot.objects("products")
                         if p["properties"].get("billwerk_id")}
        def mine(kind):
            return [i for i in state[kind] if i["EntityId"] == entity and not i.get("Hidden") and i["Id"] in self.products]
        self.variants = [v for v in mine("plan_variants") if v.get("AllowWithoutPaymentData") and not v.get("TrialPeriod")]
        self.variant = self.variants[0]
        group = self.variant["PlanGroupId"]
        self.components = [c for c in mine("components") if c["PlanGroupId"] == group and c["ComponentType"] == "QuantityBased"]
        self.discount = next(d for d in mine("discounts") if d["PlanGroupId"] == group and d["Effect"]["Type"] == "Relative")


def add_line_item(hs, deal_id: str, product_id: str, quantity=1, price=None, name="Item") -> str:
    props = {"name": name, "quantity": str(quantity), "hs_product_id": str(product_id)}
    if price is not None:
        props["price"] = str(price)
    item = hs.user_create("line_items", props)
    hs.user_associate("deals", deal_id, "line_items", item["id"], type_ids=[19])
    return item["id"]


def signup_deal(connector, catalog: Catalog, company: dict, *, seats=3, storage=2, discount=True, deal_type="signup",
                stage="appointmentscheduled") -> dict:
    """A deal with the plan variant, two components and a discount (HubSpot's prices as the rep typed them)."""
    hs = connector.hubspot
    ids = company_with_deal(hs, company, stage=stage)
    v = catalog.variant
    add_line_item(hs, ids["deal"], catalog.products[v["Id"]], 1, v["RecurringFee"], name=v["InternalName"])
    seat, store = catalog.components[0], catalog.components[1]
    add_line_item(hs, ids["deal"], catalog.products[seat["Id"]], seats, seat["PricePerUnit"], name=seat["InternalName"])
    add_line_item(hs, ids["deal"], catalog.products[store["Id"]], storage, store["PricePerUnit"], name=store["InternalName"])
    if discount:
        add_line_item(hs, ids["deal"], catalog.products[catalog.discount["Id"]], 1, 0, name=catalog.discount["InternalName"])
    hs.user_update("deals", ids["deal"], {"billwerk_deal_type": deal_type})
    return ids


def deal(connector, deal_id: str) -> dict:
    return connector.hubspot.get_object("deals", deal_id)["properties"]


def card(connector, deal_id, method="GET", action=None, body=None):
    """The deal card as HubSpot calls it (signed), or one of its buttons; asserts a 200."""
    url = f"{connector.url}/api/cards/deals/{deal_id}" + (f"/{action}" if action else "")
    r = connector.hubspot.call_card(100001, method, url, body)
    assert r.status_code == 200, r.text
    return r.json()

"""Card views as the cards make them: the record's properties in the signed body (read on the record
page), everything else from the connector's database — no HubSpot call, no billwerk call. A GET
without them costs one HubSpot batch read, never billwerk."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from backend.extensions import db
from backend.flows import company_card, deal_card
from backend.models import CustomerLink
from backend.setup.stages import forget_won_stages
from tests.e2e.deals import Catalog, signup_deal, synced_shop
from tests.e2e.records import GOOD_DE, company_with_deal

CARDS_LIB = Path(__file__).resolve().parents[2] / "crm_cards" / "src" / "app" / "cards" / "lib" / "properties.ts"


def sent(connector, kind: str, object_id: str, names) -> dict:
    """What ``fetchCrmObjectProperties`` gives the card: every asked-for name, empty when unset."""
    props = connector.hubspot.get_object(kind, object_id)["properties"]
    return {name: props.get(name) for name in (*names, "hs_object_id")}


def view(connector, kind: str, object_id: str, properties: dict | None = None, portal_id: int = 100001, user_id=None):
    url = f"{connector.url}/api/cards/{kind}/{object_id}"
    if properties is None:
        return connector.hubspot.call_card(portal_id, "GET", url, user_id=user_id)
    return connector.hubspot.call_card(portal_id, "POST", url, body={"properties": properties}, user_id=user_id)


def calls_during(connector, action):
    connector.hubspot.reset_calls()
    connector.billwerk.reset_calls()
    result = action()
    hubspot = [f"{c['method']} {c['path']}" for c in connector.hubspot.calls if not c["path"].startswith("/oauth")]
    return result, hubspot, connector.billwerk.calls


@pytest.fixture
def shop(connector):
    portal = synced_shop(connector)
    return connector, portal, Catalog(connector)


def test_deal_card_view_with_the_records_properties_asks_neither_hubspot_nor_billwerk(shop):
    connector, portal, catalog = shop
    ids = signup_deal(connector, catalog, GOOD_DE)
    connector.deliver()
    connector.hubspot.user_update("deals", ids["deal"], {"billwerk_validation": "request"})
    connector.deliver()
    fetched = view(connector, "deals", ids["deal"])          # also fills the won-stages cache
    assert fetched.status_code == 200 and fetched.json()["status"] == "valid"
    properties = sent(connector, "deals", ids["deal"], deal_card.CARD_PROPERTIES)
    shown, hubspot, billwerk = calls_during(connector, lambda: view(connector, "deals", ids["deal"], properties))
    assert shown.status_code == 200, shown.text
    assert (hubspot, billwerk) == ([], [])
    assert shown.json() == fetched.json()                     # the same card, from the same facts
    again, hubspot, billwerk = calls_during(connector, lambda: view(connector, "deals", ids["deal"]))
    assert hubspot == ["POST /crm/v3/objects/deals/batch/read"] and billwerk == []
    assert again.json() == fetched.json()
    # what the card read is what it shows: a name the record page has, the rest from the database
    renamed = view(connector, "deals", ids["deal"], dict(properties, dealname="Renamed on the page")).json()
    assert renamed["deal"]["name"] == "Renamed on the page" and renamed["preview"] == fetched.json()["preview"]


def test_views_at_once_on_an_empty_cache_read_the_pipelines_once(shop):
    """Cards opening together (as many as gunicorn serves at once) find the won stages uncached
    together: one of them asks HubSpot, the others wait for its answer."""
    connector, portal, catalog = shop
    ids = signup_deal(connector, catalog, GOOD_DE)
    properties = sent(connector, "deals", ids["deal"], deal_card.CARD_PROPERTIES)
    forget_won_stages(portal)
    answers = []

    def views():
        # 8 reps (HubSpot names each in the signed query; one rep's identical request in the same
        # millisecond would be a replay)
        threads = [threading.Thread(target=lambda rep=rep: answers.append(view(connector, "deals", ids["deal"], properties,
                                                                               user_id=7_000_100 + rep)))
                   for rep in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    _, hubspot, billwerk = calls_during(connector, views)
    assert [a.status_code for a in answers] == [200] * 8
    assert hubspot == ["GET /crm/v3/pipelines/deals"] and billwerk == []
    assert {a.json()["deal"]["closedWon"] for a in answers} == {False}


def test_company_card_view_reads_the_customer_name_from_the_link(connector):
    portal = connector.install()
    connector.connect_billwerk(portal)
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    url = f"{connector.url}/api/cards/companies/{ids['company']}"
    imported = connector.hubspot.call_card(100001, "POST", f"{url}/import", body={}).json()
    assert imported["billwerk"]["customerName"] == GOOD_DE["name"]
    properties = sent(connector, "companies", ids["company"], company_card.CARD_PROPERTIES)
    shown, hubspot, billwerk = calls_during(connector, lambda: view(connector, "companies", ids["company"], properties))
    assert shown.status_code == 200, shown.text
    assert (hubspot, billwerk) == ([], [])
    assert shown.json()["status"] == "imported" and shown.json()["billwerk"] == imported["billwerk"]
    # a link stored before names were: billwerk is asked once, then the link knows the name
    link = db.session.execute(db.select(CustomerLink).where(CustomerLink.hubspot_company_id == ids["company"])).scalar_one()
    link.billwerk_customer_name = None
    db.session.commit()
    first, _, billwerk = calls_during(connector, lambda: view(connector, "companies", ids["company"], properties))
    assert first.json()["billwerk"]["customerName"] == GOOD_DE["name"]
    assert [c["path"].rsplit("/", 1)[-1] for c in billwerk if "/customers/" in c["path"]] == [link.billwerk_customer_id]
    second, hubspot, billwerk = calls_during(connector, lambda: view(connector, "companies", ids["company"], properties))
    assert (hubspot, billwerk) == ([], []) and second.json() == first.json()


def test_manual_link_stores_billwerks_name(connector):
    portal = connector.install()
    connector.connect_billwerk(portal)
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    url = f"{connector.url}/api/cards/companies/{ids['company']}"
    customer_id = connector.hubspot.call_card(100001, "POST", f"{url}/import", body={}).json()["billwerk"]["customerId"]
    connector.hubspot.call_card(100001, "POST", f"{url}/unlink", body={})
    linked = connector.hubspot.call_card(100001, "POST", f"{url}/link", body={"billwerkCustomerId": customer_id}).json()
    assert linked["status"] == "linked" and linked["billwerk"]["customerName"] == GOOD_DE["name"]
    assert CustomerLink.for_company(portal.id, ids["company"]).billwerk_customer_name == GOOD_DE["name"]


@pytest.mark.parametrize("body, why", [
    ({"properties": {"dealname": "x"}}, "hs_object_id"),
    ({"properties": {"hs_object_id": "1", "dealname": 5}}, "text or null"),
    ({"properties": ["dealname"]}, "text or null"),
    ({}, "text or null"),
    ({"properties": {"hs_object_id": "{id}", "dealname": "x" * 70_000}}, "longer"),
])
def test_card_view_refuses_properties_it_cannot_trust(connector, body, why):
    portal = connector.install()
    connector.connect_billwerk(portal)
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    if "properties" in body and isinstance(body["properties"], dict) and body["properties"].get("hs_object_id") == "{id}":
        body = {"properties": dict(body["properties"], hs_object_id=ids["deal"])}
    r = connector.hubspot.call_card(100001, "POST", f"{connector.url}/api/cards/deals/{ids['deal']}", body=body)
    assert r.status_code == 400 and why in r.json()["message"], r.text


def test_card_view_with_properties_is_signed_like_every_card_call(connector):
    connector.install()
    ids = company_with_deal(connector.hubspot, GOOD_DE)
    body = {"properties": {"hs_object_id": ids["deal"], "dealname": "x"}}
    assert connector.client.post(f"/api/cards/deals/{ids['deal']}?portalId=100001", json=body).status_code == 401
    assert connector.hubspot.call_card(100001, "POST", f"{connector.url}/api/cards/deals/{ids['deal']}",
                                       body=body, app_id=999).status_code == 401
    # not connected to billwerk: the card says so, from the sent properties alone
    shown = view(connector, "deals", ids["deal"], body["properties"])
    assert shown.status_code == 200 and shown.json()["status"] == "not_connected" and shown.json()["deal"]["name"] == "x"


def test_the_cards_ask_for_the_properties_the_backend_shows():
    """crm_cards' lists (what fetchCrmObjectProperties reads) and the payloads' own cannot drift."""
    source = CARDS_LIB.read_text("utf-8")

    def listed(name: str) -> list[str]:
        block = re.search(rf"export const {name}[^=]*=\s*\[(.*?)\]", source, re.S)
        assert block, name
        return re.findall(r"'([a-z0-9_]+)'", block.group(1))

    assert listed("DEAL_CARD_PROPERTIES") == list(deal_card.CARD_PROPERTIES)
    assert listed("COMPANY_CARD_PROPERTIES") == list(company_card.CARD_PROPERTIES)

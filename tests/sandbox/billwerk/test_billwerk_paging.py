"""Routing, lists, paging, filters and entity scoping."""
from __future__ import annotations

import requests

from billwerk_helpers import ROOT, UK, first


def test_routing_is_case_insensitive_and_unknown_is_404(seeded, api):
    token = api.fetch_token()
    h = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/customers", "/API/V1/Customers", "/api/v1/customers/", "/Api/V1/CUSTOMERS/"):
        r = requests.get(seeded.base_url + path, headers=h)
        assert r.status_code == 200 and isinstance(r.json(), list), path
    r = requests.get(seeded.base_url + "/api/v1/nothing-here", headers=h)
    assert r.status_code == 404 and set(r.json()) == {"Message"}
    r = api.get("customers/ffffffffffffffffffffffff")
    assert r.status_code == 404 and "Message" in r.json()
    r = api.request("DELETE", "planVariants")
    assert r.status_code == 405 and "Message" in r.json()


def test_take_is_clamped_and_from_is_inclusive(bw, api):
    bw.seed(catalog_items=1300, customers=0)
    total = len(bw.state("plan_variants")["plan_variants"]) // 2     # both entities are seeded
    assert total > 500
    page = api.get("planVariants", params={"take": 1000}).json()
    assert len(page) == 500                                          # clamped to 500
    assert [v["Id"] for v in page] == sorted(v["Id"] for v in page)  # id order
    nxt = api.get("planVariants", params={"take": 10, "from": page[-1]["Id"]}).json()
    assert nxt[0]["Id"] == page[-1]["Id"]                            # inclusive cursor
    # the tap's loop: take=500, drop the last item, continue from it
    seen, cursor = [], None
    while True:
        batch = api.get("planVariants", params={"take": 500, **({"from": cursor} if cursor else {})}).json()
        if len(batch) < 500:
            seen += batch
            break
        seen += batch[:-1]
        cursor = batch[-1]["Id"]
    assert len(seen) == len({v["Id"] for v in seen}) == total
    assert len(api.get("planVariants").json()) == 100                # default take
    assert api.get("planVariants", params={"skip": 2, "take": 3}).json() == page[2:5]


def test_bad_paging_parameters(seeded, api):
    for params in ({"take": "x"}, {"take": -1}, {"skip": 1001}, {"from": "not-an-id"}):
        r = api.get("customers", params=params)
        assert r.status_code == 400 and "Message" in r.json(), params


def test_filters(seeded, api):
    customers = api.get("customers").json()
    target = customers[3]
    assert [c["Id"] for c in api.get("customers", params={"externalId": target["ExternalCustomerId"]}).json()] == [target["Id"]]
    assert [c["Id"] for c in api.get("customers", params={"search": target["LastName"].upper()}).json()].count(target["Id"]) == 1
    contracts = api.get("contracts").json()
    c = first(contracts, CustomerId=contracts[0]["CustomerId"])
    assert [x["Id"] for x in api.get("contracts", params={"customerId": c["CustomerId"]}).json()] == [c["Id"]]
    assert [x["Id"] for x in api.get(f"customers/{c['CustomerId']}/contracts").json()] == [c["Id"]]
    with_ext = first([x for x in contracts if x.get("ExternalId")])
    assert [x["Id"] for x in api.get("contracts", params={"externalId": with_ext["ExternalId"]}).json()] == [with_ext["Id"]]
    assert len(api.get("contracts", params={"statusFilter": "Active"}).json()) == len(contracts)
    invoices = api.get("invoices").json()
    day = invoices[0]["DocumentDate"][:10]
    hits = api.get("invoices", params={"dateFrom": day, "dateTo": day}).json()
    assert invoices[0]["Id"] in [i["Id"] for i in hits]
    assert all(i["DocumentDate"][:10] == day for i in hits)
    assert api.get("invoices", params={"dateFrom": "2099-01-01T00:00:00.0000000Z"}).json() == []
    assert api.get("invoices", params={"dateFrom": "garbage"}).status_code == 400
    assert [i["CustomerId"] for i in api.get("invoices", params={"customerId": c["CustomerId"]}).json()] == [c["CustomerId"]]


def test_entity_scoping(seeded, api):
    uk = api.post("customers", {"CompanyName": "UK Ltd", "Address": {"Country": "GB"}}, entity=UK).json()
    assert uk["Id"] not in [c["Id"] for c in api.get("customers", params={"take": 500}).json()]
    assert api.get(f"customers/{uk['Id']}").status_code == 404                 # root by default
    assert api.get(f"customers/{uk['Id']}", entity=ROOT).status_code == 404
    r = api.get(f"customers/{uk['Id']}", headers={"x-selected-legal-entity-id": UK})
    assert r.status_code == 200
    uk_variants = api.get("planVariants", entity=UK).json()
    assert uk_variants and all(v["Currency"] == "GBP" for v in uk_variants)
    assert api.get(f"planVariants/{uk_variants[0]['Id']}").status_code == 404
    call = seeded.calls[-1]
    assert call["entity_id"] == ROOT and call["status"] == 404

"""Properties: paging against a model, concurrent writers, camelCase bodies (in-process client)."""
from __future__ import annotations

import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billwerk_helpers import Api
from sandbox.billwerk import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, BillwerkSandbox

_BW = BillwerkSandbox()
_BW.seed(catalog_items=40, customers=60)
_CLIENT = _BW.app.test_client()
_TOKEN = _CLIENT.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID,
                                            "client_secret": DEFAULT_CLIENT_SECRET}).json["access_token"]
_IDS = [c["Id"] for c in _BW.state("customers")["customers"] if c["EntityId"] == "5f0000000000000000000001"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(take=st.none() | st.integers(0, 700), skip=st.none() | st.integers(0, 70),
       start=st.none() | st.integers(0, 59))
def test_paging_matches_a_model(take, skip, start):
    params = {}
    if take is not None:
        params["take"] = take
    if skip is not None:
        params["skip"] = skip
    if start is not None:
        params["from"] = _IDS[start]
    r = _CLIENT.get("/api/v1/customers", query_string=params, headers={"Authorization": f"Bearer {_TOKEN}"})
    assert r.status_code == 200
    expected = _IDS[start or 0:][skip or 0:][:min(100 if take is None else take, 500)]
    assert [c["Id"] for c in r.json] == expected


def test_concurrent_creates_keep_external_id_unique(bw):
    api = Api(bw)
    api.fetch_token()
    statuses = []

    def create():
        statuses.append(Api(bw).post("customers", {"ExternalCustomerId": "race", "CompanyName": "x"}).status_code)
    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 7
    assert len(api.get("customers", params={"externalId": "race"}).json()) == 1


def test_camel_case_and_lower_case_bodies_are_accepted(bw):
    api = Api(bw)
    c = api.post("customers", {"companyName": "lower", "address": {"country": "de", "city": "Berlin"},
                               "customFields": {"crmRating": 1}}).json()
    assert c["CompanyName"] == "lower" and c["Address"] == {"Country": "DE", "City": "Berlin"}
    assert c["CustomFields"] == {"crmRating": 1}

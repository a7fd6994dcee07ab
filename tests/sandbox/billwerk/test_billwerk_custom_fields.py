"""Custom fields: a per-account catalogue; undefined keys and wrong types are refused like billwerk's 422."""
from __future__ import annotations

import requests

from billwerk_helpers import Api, new_customer_body, signup, signup_variant


def test_catalogue_is_listed_per_account(bw, api):
    r = api.get("CustomFields")
    assert r.status_code == 200
    keys = {(d["Object"], d["Key"], d["Type"]) for d in r.json()}
    assert ("Customer", "segment", "String") in keys and ("Contract", "costcenter", "String") in keys
    bw.add_account("other-client", "other-secret", [{"id": "5f00000000000000000000f1", "name": "Other"}])
    bw.define_custom_field("contract", "onlyOther", "Only other", "Number", client_id="other-client")
    other = Api(bw, "other-client", "other-secret")
    assert "onlyOther" in {d["Key"] for d in other.get("customfields").json()}
    assert "onlyOther" not in {d["Key"] for d in api.get("customfields").json()}


def test_listing_can_be_switched_off(bw, api):
    bw.settings.custom_fields_listable = False
    assert api.get("CustomFields").status_code == 404


def test_undefined_customer_field_is_refused(bw, api):
    r = api.post("customers", new_customer_body(CustomFields={"hubspotScore": 3}))
    assert r.status_code == 422
    assert "CustomFields.hubspotScore" in r.json()["Message"] and "segment" in r.json()["Message"]
    bw.define_custom_field("customer", "hubspotScore", type="Number")
    assert api.post("customers", new_customer_body(CustomFields={"hubspotScore": 3})).status_code == 201


def test_wrong_types_are_refused(api):
    for fields in ({"crmRating": "high"}, {"newsletter": "yes"}, {"onboardedAt": "02.12.2026"}, {"segment": 5}):
        r = api.post("customers", new_customer_body(CustomFields=fields))
        assert r.status_code == 422, fields
    ok = {"crmRating": 4.5, "newsletter": False, "onboardedAt": "2026-12-02", "segment": None}
    assert api.post("customers", new_customer_body(CustomFields=ok)).status_code == 201


def test_order_and_contract_fields_are_checked(seeded, api):
    variant = signup_variant(api)
    r = api.post("Orders/preview", {"Customer": new_customer_body(), "Cart": {"PlanVariantId": variant["Id"]},
                                    "ContractCustomFields": {"dealOwner": "Ann"}})
    assert r.status_code == 422 and "ContractCustomFields.dealOwner" in r.json()["Message"]
    r = api.post("Orders", {"Customer": new_customer_body(CustomFields={"segment": 1}),
                            "Cart": {"PlanVariantId": variant["Id"]}})
    assert r.status_code == 422 and "Customer.CustomFields.segment" in r.json()["Message"]
    _, contract = signup(api, ContractCustomFields={"salesRep": "Ann", "renewalDate": "2027-01-01"})
    assert contract["CustomFields"] == {"salesRep": "Ann", "renewalDate": "2027-01-01"}
    r = api.patch(f"contracts/{contract['Id']}", {"CustomFields": {"segment": "smb"}})
    assert r.status_code == 422 and "contracts" in r.json()["Message"]   # a customer field, not a contract one


def test_keys_must_start_with_a_letter_or_underscore(bw):
    for key in ("1st", "with space", "", "a-b"):
        r = requests.post(f"{bw.base_url}/_sandbox/custom-fields", json={"object": "customer", "key": key}, timeout=5)
        assert r.status_code == 400, key
    r = requests.post(f"{bw.base_url}/_sandbox/custom-fields",
                      json={"object": "Contract", "key": "_internal", "type": "Boolean"}, timeout=5)
    assert r.status_code == 201 and r.json() == {"Key": "_internal", "Label": "_internal", "Type": "Boolean",
                                                 "Object": "Contract"}
    listed = requests.get(f"{bw.base_url}/_sandbox/custom-fields", timeout=5).json()
    assert {"Key": "_internal", "Label": "_internal", "Type": "Boolean", "Object": "Contract"} in listed
    assert requests.delete(f"{bw.base_url}/_sandbox/custom-fields", json={"object": "contract", "key": "_internal"},
                           timeout=5).status_code == 200
    assert requests.delete(f"{bw.base_url}/_sandbox/custom-fields", json={"object": "contract", "key": "_internal"},
                           timeout=5).status_code == 404

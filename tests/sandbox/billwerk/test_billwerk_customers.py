"""Customers and contracts: CRUD, validation, errors, ETag / If-Match."""
from __future__ import annotations

from billwerk_helpers import UK, first, new_customer_body, signup, signup_variant


def test_create_get_and_derived_fields(api):
    r = api.post("customers", new_customer_body(VatId="DE123", Locale="de-DE", Language="de",
                                                CustomFields={"segment": "123", "crmRating": 5, "newsletter": True}))
    assert r.status_code == 201 and r.headers.get("ETag")
    c = r.json()
    assert c["CustomerName"] == "ACME Inc." and c["CustomerSubName"] == "John Doe"
    assert c["CustomerType"] == "Business" and c["DefaultBearerMedium"] == "Email" and c["Hidden"] is False
    assert c["CustomFields"] == {"segment": "123", "crmRating": 5, "newsletter": True}
    got = api.get(f"customers/{c['Id']}")
    assert got.json() == c and got.headers["ETag"] == r.headers["ETag"]
    person = api.post("customers", {"FirstName": "Eva", "LastName": "Lang"}).json()
    assert person["CustomerName"] == "Eva Lang" and person["CustomerType"] == "Consumer"


def test_duplicate_external_id_is_409_per_entity(api):
    assert api.post("customers", new_customer_body()).status_code == 201
    r = api.post("customers", new_customer_body())
    assert r.status_code == 409 and "ExternalCustomerId" in r.json()["Message"]
    assert api.post("customers", new_customer_body(), entity=UK).status_code == 201
    other = api.post("customers", {"ExternalCustomerId": "other"}).json()
    assert api.patch(f"customers/{other['Id']}", {"ExternalCustomerId": "hs-4711"}).status_code == 409


def test_validation_errors_name_the_field(api):
    cases = [
        ({"Address": {"Country": "UK"}}, "Address.Country"),
        ({"Address": {"Country": "Germany"}}, "Address.Country"),
        ({"EmailAddress": "not-an-email"}, "EmailAddress"),
        ({"DefaultBearerMedium": "Fax"}, "DefaultBearerMedium"),
        ({"EInvoicingNetwork": "Email"}, "EInvoicingNetwork"),
        ({"Locale": "german"}, "Locale"),
        ({"CompanyName": 42}, "CompanyName"),
        ({"CustomFields": {"nested": {"a": 1}}}, "CustomFields.nested"),
        ({"DefaultBearerMedium": "EInvoicing", "BuyerReference": "PO-1"}, "EInvoiceReceiverId"),
        ({"Hidden": "yes"}, "Hidden"),
    ]
    for body, field in cases:
        r = api.post("customers", body)
        assert r.status_code == 422, body
        assert field in r.json()["Message"], (field, r.json())
    assert "GB" in api.post("customers", {"Address": {"Country": "UK"}}).json()["Message"]


def test_einvoicing_and_dispatch_fields_round_trip(api):
    body = new_customer_body(DefaultBearerMedium="EInvoicing", BuyerReference="PO-991",
                             EInvoiceReceiverId="0088:4012345000009", EInvoicingNetwork="Peppol",
                             Address={"Street": "Main St", "HouseNumber": "1", "AddressLine1": "Floor 2",
                                      "AddressLine2": "Suite 5", "PostalCode": "94105", "City": "SF",
                                      "State": "CA", "Country": "us"})
    c = api.post("customers", body).json()
    for k in ("DefaultBearerMedium", "BuyerReference", "EInvoiceReceiverId", "EInvoicingNetwork"):
        assert c[k] == body[k]
    assert c["Address"]["Country"] == "US" and c["Address"]["State"] == "CA"
    for medium in ("Email", "ArchiveOnly"):  # SnailMail: test_billwerk_dispatch.py (production accounts only)
        assert api.patch(f"customers/{c['Id']}", {"DefaultBearerMedium": medium}).json()["DefaultBearerMedium"] == medium


def test_bad_json_is_400(api):
    for data in ("{not json", "[1, 2]", ""):
        r = api.request("POST", "customers", data=data, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "Message" in r.json(), data


def test_put_replaces_patch_merges(api):
    c = api.post("customers", new_customer_body(PhoneNumber="+49 1", CustomFields={"segment": "1", "crmRating": 2})).json()
    r = api.patch(f"customers/{c['Id']}", {"Address": {"City": "Hamburg"}, "CustomFields": {"crmRating": 3}})
    assert r.status_code == 200
    p = r.json()
    assert p["Address"]["City"] == "Hamburg" and p["Address"]["Street"] == "Zschopauer Straße"
    assert p["CustomFields"] == {"segment": "1", "crmRating": 3} and p["PhoneNumber"] == "+49 1"
    r = api.put(f"customers/{c['Id']}", {"CompanyName": "New Name", "Address": {"Country": "AT"}})
    q = r.json()
    assert q["CompanyName"] == "New Name" and "PhoneNumber" not in q and "FirstName" not in q
    assert q["Address"] == {"Country": "AT"} and q["CustomFields"] == {} and q["Id"] == c["Id"]
    assert q["CreatedAt"] == c["CreatedAt"]


def test_etag_and_if_match(seeded, api):
    c = api.post("customers", new_customer_body()).json()
    r = api.get(f"customers/{c['Id']}")
    etag = r.headers["ETag"]
    r2 = api.patch(f"customers/{c['Id']}", {"Notes": "v2"}, headers={"If-Match": etag})
    assert r2.status_code == 200 and r2.headers["ETag"] != etag
    for method in ("patch", "put"):
        r3 = getattr(api, method)(f"customers/{c['Id']}", {"Notes": "stale"}, headers={"If-Match": etag})
        assert r3.status_code == 412 and "Message" in r3.json()
    assert api.get(f"customers/{c['Id']}").json()["Notes"] == "v2"
    assert api.patch(f"customers/{c['Id']}", {"Notes": "v3"}, headers={"If-Match": "*"}).status_code == 200
    contract = api.get("contracts").json()[0]
    etag = api.get(f"contracts/{contract['Id']}").headers["ETag"]
    r = api.patch(f"contracts/{contract['Id']}", {"Notes": "n"}, headers={"If-Match": etag})
    assert r.status_code == 200
    assert api.patch(f"contracts/{contract['Id']}", {"Notes": "m"}, headers={"If-Match": etag}).status_code == 412


def test_delete_customer(seeded, api):
    c = api.post("customers", {"CompanyName": "Gone"}).json()
    assert api.delete(f"customers/{c['Id']}").status_code == 204
    assert api.get(f"customers/{c['Id']}").status_code == 404
    assert c["Id"] not in [x["Id"] for x in api.get("customers", params={"take": 500}).json()]
    assert [x["Id"] for x in api.get("customers", params={"statusFilter": "Deleted"}).json()] == [c["Id"]]
    with_contract = api.get("contracts").json()[0]["CustomerId"]
    r = api.delete(f"customers/{with_contract}")
    assert r.status_code == 422 and "Message" in r.json()


def test_contract_fields_and_patch(seeded, api):
    contract = api.get("contracts").json()[0]
    for field in ("LifecycleStatus", "Balance", "Currency", "StartDate", "BilledUntil", "NextBillingDate",
                  "PaymentProvider", "PaymentMethod", "EscalationSuspended", "CurrentPhase", "Phases",
                  "PlanVariantId", "ComponentSubscriptions", "CustomFields", "CustomerId"):
        assert field in contract, field
    r = api.patch(f"contracts/{contract['Id']}", {"CustomFields": {"salesRep": "D-1"}, "ExternalId": "hs-deal-1",
                                                  "Notes": "hello", "OnAccountDueAfter": {"Unit": "Day", "Quantity": 30},
                                                  "PlanVariantId": "ignored"})
    assert r.status_code == 200, r.text
    got = api.get(f"contracts/{contract['Id']}").json()
    assert got["CustomFields"] == {**contract["CustomFields"], "salesRep": "D-1"}
    assert (got["ExternalId"], got["Notes"], got["OnAccountDueAfter"]) == ("hs-deal-1", "hello", {"Unit": "Day", "Quantity": 30})
    assert got["PlanVariantId"] == contract["PlanVariantId"]
    assert api.patch(f"contracts/{contract['Id']}", {"OnAccountDueAfter": {"Unit": "Day", "Quantity": -1}}).status_code == 422
    assert api.patch(f"contracts/{contract['Id']}", {"CustomFields": []}).status_code == 422
    subs = api.get(f"contracts/{contract['Id']}/componentSubscriptions").json()
    assert subs == got["ComponentSubscriptions"]
    assert api.get(f"contracts/{contract['Id']}/DiscountSubscriptions").json() == []


def test_end_contract_and_lifecycle(seeded, api):
    _, contract = signup(api)
    assert contract["LifecycleStatus"] == "Active"
    ends = api.post(f"contracts/{contract['Id']}/end", {"EndDate": "2030-06-30"}).json()
    assert ends["LifecycleStatus"] == "Active" and ends["EndDate"].startswith("2030-06-30")
    seeded.advance_clock((2031 - 2026) * 366 * 86400)
    api.fetch_token()
    ended = api.get(f"contracts/{contract['Id']}").json()
    assert ended["LifecycleStatus"] == "Ended"
    assert api.post(f"contracts/{contract['Id']}/end", {"EndDate": "2040-01-01"}).status_code == 422   # already ended
    trial = first([v for v in api.get("planVariants", params={"take": 500}).json() if v.get("TrialPeriod")])
    _, t = signup(api, trial, customer=new_customer_body(ExternalCustomerId="trial-1"))
    assert t["LifecycleStatus"] == "InTrial" and t["CurrentPhase"]["Type"] == "Trial"
    assert [p["Type"] for p in t["Phases"]] == ["Trial", "Normal"]
    seeded.advance_clock(15 * 86400)
    api.fetch_token()                                    # the old token expired meanwhile
    assert api.get(f"contracts/{t['Id']}").json()["LifecycleStatus"] == "Active"
    assert signup_variant(api)["AllowWithoutPaymentData"] is True


def test_end_dates_keep_one_inactive_phase(seeded, api):
    _, contract = signup(api, StartDate="2024-01-01")
    cid = contract["Id"]
    api.post(f"contracts/{cid}/end", {"EndDate": "2031-01-01"})
    api.post(f"contracts/{cid}/end", {"EndDate": "2032-01-01"})
    phases = api.get(f"contracts/{cid}").json()["Phases"]
    assert [p["Type"] for p in phases] == ["Normal", "Inactive"] and phases[1]["StartDate"].startswith("2032-01-01")
    target = [v for v in api.get("planVariants").json() if v["Id"] != contract["PlanVariantId"]][0]
    assert api.post("Orders", {"ContractId": cid, "ChangeDate": "2033-01-01",
                               "Cart": {"PlanVariantId": target["Id"]}}).status_code == 422
    up = api.post("Orders", {"ContractId": cid, "ChangeDate": "2030-01-01", "Cart": {"PlanVariantId": target["Id"]}})
    phases = api.post(f"Orders/{up.json()['Id']}/commit", {}).json()["Phases"]
    assert [p["Type"] for p in phases] == ["Normal", "Normal", "Inactive"]
    earlier = api.post(f"contracts/{cid}/end", {"EndDate": "2029-01-01"}).json()      # before the upgrade's date
    assert earlier["PlanVariantId"] == contract["PlanVariantId"]
    assert [p["Type"] for p in earlier["Phases"]] == ["Normal", "Inactive"]


def test_component_subscription_put_ends_it(seeded, api):
    contract = api.get("contracts").json()[0]
    sub = contract["ComponentSubscriptions"][0]
    r = api.put(f"componentSubscriptions/{sub['Id']}", {"EndDate": "2030-01-01", "Quantity": 4})
    assert r.status_code == 200 and r.json()["EndDate"] == "2030-01-01T00:00:00.0000000Z" and r.json()["Quantity"] == 4
    assert api.get(f"contracts/{contract['Id']}").json()["ComponentSubscriptions"][0]["EndDate"] == r.json()["EndDate"]
    assert api.put("componentSubscriptions/ffffffffffffffffffffffff", {"EndDate": None}).status_code == 404
    assert api.put(f"componentSubscriptions/{sub['Id']}", {"EndDate": "soon"}).status_code == 422
    change = api.get("contractChanges", params={"contractId": contract["Id"], "includeContract": "true"}).json()[-1]
    assert change["Type"] == "ComponentSubscriptionChange" and "Before" in change["Contract"]

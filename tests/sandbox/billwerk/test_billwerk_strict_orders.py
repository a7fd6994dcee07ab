"""Orders as strict as billwerk's: the real preview shape, prorated first invoices, and the carts,
customers, end dates and ETags billwerk refuses."""
from __future__ import annotations

from billwerk_helpers import components_of, first, new_customer_body, signup, signup_variant


def _visible_variants(api, group_id=None):
    return [v for v in api.get("planVariants", params={"take": 500}).json()
            if not v["Hidden"] and not v.get("TrialPeriod") and (group_id is None or v["PlanGroupId"] == group_id)]


def _other_group(api, variant):
    return first([v for v in _visible_variants(api) if v["PlanGroupId"] != variant["PlanGroupId"]])


def _align_to_month(bw, variant_id):
    with bw.store.lock:
        bw.store.tables["plan_variants"][variant_id]["BillingDateAlignment"] = "FirstDayOfMonth"


# -- 1. the preview answers {"Order": {...}} ------------------------------------------------------------

def test_preview_answers_the_order_wrapped_with_its_recurring_fee(seeded, api):
    variant = signup_variant(api)
    seats = components_of(api, variant["PlanGroupId"], "QuantityBased")[0]
    metered = components_of(api, variant["PlanGroupId"], "Metered")
    cart = {"PlanVariantId": variant["Id"], "ComponentSubscriptions": [{"ComponentId": seats["Id"], "Quantity": 3}]
            + [{"ComponentId": m["Id"], "Quantity": 1} for m in metered]}
    r = api.post("Orders/preview", {"Customer": new_customer_body(), "StartDate": "2030-03-01", "Cart": cart})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["Order"]
    order = body["Order"]
    assert "LineItems" not in order and "Id" not in order and "Status" not in order
    fee = order["RecurringFee"]
    assert fee["FeePeriod"] == variant["FeePeriod"] and fee["PricePerUnit"] == variant["RecurringFee"]
    assert fee["Name"] and fee["VatPercentage"] == 19.0
    lines = fee["LineItems"]
    assert all("Type" not in ln for ln in lines)
    by_product = {ln["ProductId"]: ln for ln in lines}
    assert by_product[seats["Id"]]["Quantity"] == 3.0
    assert by_product[seats["Id"]]["TotalNet"] == round(seats["PricePerUnit"] * 3, 2)
    assert by_product[variant["Id"]]["PricePerUnit"] == variant["RecurringFee"]
    for ln in lines:
        assert ln["TotalGross"] == round(ln["TotalNet"] + ln["TotalVat"], 2)
    assert [m["ComponentId"] for m in order.get("MeteredComponents", [])] == [m["Id"] for m in metered]
    assert order["Currency"] == "EUR"
    assert order["Total"] == round(sum(ln["TotalNet"] for ln in lines), 2)
    assert order["TotalGross"] == round(order["Total"] + order["TotalVat"], 2)
    assert order["NextTotalGrossDate"].startswith("2030-04-01")      # one monthly period after the start
    assert order["NextTotalGross"] == round((variant["RecurringFee"] + seats["PricePerUnit"] * 3) * 1.19, 2)


# -- 2. a start or change inside a period prorates the first invoice ---------------------------------------

def test_signup_starting_mid_period_is_prorated(seeded, api):
    variant = signup_variant(api)
    _align_to_month(seeded, variant["Id"])
    seats = components_of(api, variant["PlanGroupId"], "QuantityBased")[0]
    body = {"Customer": new_customer_body(), "StartDate": "2030-04-16",     # 15 of April's 30 days left
            "Cart": {"PlanVariantId": variant["Id"], "ComponentSubscriptions": [{"ComponentId": seats["Id"], "Quantity": 2}]}}
    order = api.post("Orders/preview", body).json()["Order"]
    recurring = variant["RecurringFee"] + seats["PricePerUnit"] * 2
    assert order["Total"] == round(variant["RecurringFee"] / 2, 2) + round(seats["PricePerUnit"], 2) + variant["SetupFee"]
    assert order["NextTotalGrossDate"].startswith("2030-05-01")
    assert order["NextTotalGross"] == round(recurring * 1.19, 2)
    on_the_first = api.post("Orders/preview", dict(body, StartDate="2030-04-01")).json()["Order"]
    assert on_the_first["Total"] == round(recurring + variant["SetupFee"], 2)
    created = api.post("Orders", body).json()                              # the order bills what the preview said
    assert created["Total"] == order["Total"]


def test_upgrade_changing_mid_period_is_prorated_with_a_credit(seeded, api):
    variant = signup_variant(api)
    target = first([v for v in _visible_variants(api, variant["PlanGroupId"]) if v["Id"] != variant["Id"]
                    and v["BillingPeriod"] == variant["BillingPeriod"]] or
                   [v for v in _visible_variants(api, variant["PlanGroupId"]) if v["Id"] != variant["Id"]])
    _, contract = signup(api, variant, StartDate="2030-01-01")            # billed until 2030-02-01
    assert contract["BilledUntil"].startswith("2030-02-01")
    order = api.post("Orders/preview", {"ContractId": contract["Id"], "ChangeDate": "2030-01-17",
                                        "Cart": {"PlanVariantId": target["Id"]}}).json()["Order"]
    share = 15 / 31
    lines = {ln["ProductId"]: ln for ln in order["RecurringFee"]["LineItems"]}
    assert lines[target["Id"]]["TotalNet"] == round(target["RecurringFee"] * share, 2)
    assert lines[variant["Id"]]["TotalNet"] == -round(variant["RecurringFee"] * share, 2)   # the unused rest comes back
    assert order["Total"] == round(lines[target["Id"]]["TotalNet"] + lines[variant["Id"]]["TotalNet"], 2)
    assert order["NextTotalGrossDate"].startswith("2030-02-01")
    at_period_end = api.post("Orders/preview", {"ContractId": contract["Id"], "ChangeDate": "2030-02-01",
                                                "Cart": {"PlanVariantId": target["Id"]}}).json()["Order"]
    assert at_period_end["Total"] == 0.0


# -- 6. what billwerk refuses ---------------------------------------------------------------------------

def test_a_cart_cannot_mix_plan_groups(seeded, api):
    variant = signup_variant(api)
    other = _other_group(api, variant)
    foreign_component = components_of(api, other["PlanGroupId"], "QuantityBased")[0]
    foreign_discount = first([d for d in api.get("discounts").json() if d["PlanGroupId"] == other["PlanGroupId"]])
    customer = api.get("customers").json()[0]
    for cart in ({"ComponentSubscriptions": [{"ComponentId": foreign_component["Id"], "Quantity": 1}]},
                 {"DiscountSubscriptions": [{"DiscountId": foreign_discount["Id"]}]}):
        for path in ("Orders", "Orders/preview"):
            r = api.post(path, {"CustomerId": customer["Id"], "Cart": {"PlanVariantId": variant["Id"], **cart}})
            assert r.status_code == 422, (path, cart, r.text)
            assert "plan group" in r.json()["Message"]
    _, contract = signup(api, variant, CustomerId=customer["Id"])            # component-only upgrade: the contract's group
    r = api.post("Orders", {"ContractId": contract["Id"], "Cart": {
        "ComponentSubscriptions": [{"ComponentId": foreign_component["Id"], "Quantity": 1}]}})
    assert r.status_code == 422 and "plan group" in r.json()["Message"]


def test_a_hidden_plan_variant_cannot_be_ordered(seeded, api):
    variant = signup_variant(api)
    seeded.set_hidden("plan_variant", variant["Id"])
    for path in ("Orders", "Orders/preview"):
        r = api.post(path, {"Customer": new_customer_body(), "Cart": {"PlanVariantId": variant["Id"]}})
        assert r.status_code == 422 and "hidden" in r.json()["Message"], (path, r.text)
    seeded.set_hidden("plan_variant", variant["Id"], False)
    assert api.post("Orders/preview", {"Customer": new_customer_body(), "Cart": {"PlanVariantId": variant["Id"]}}).status_code == 200


def test_an_upgrade_names_no_other_customer_than_its_contract(seeded, api):
    variant = signup_variant(api)
    _, contract = signup(api, variant)
    stranger = first([c for c in api.get("customers").json() if c["Id"] != contract["CustomerId"]])
    cart = {"ComponentSubscriptions": [{"ComponentId": components_of(api, variant["PlanGroupId"], "OnOff")[0]["Id"]}]}
    for path in ("Orders", "Orders/preview"):
        r = api.post(path, {"ContractId": contract["Id"], "CustomerId": stranger["Id"], "Cart": cart})
        assert r.status_code == 422 and "customer of contract" in r.json()["Message"], r.text
    same = api.post("Orders", {"ContractId": contract["Id"], "CustomerId": contract["CustomerId"], "Cart": cart})
    assert same.status_code == 201, same.text


def test_a_contract_ends_only_in_the_future(seeded, api):
    _, contract = signup(api, StartDate="2024-01-01")
    for body in ({}, {"EndDate": "2025-01-01"}, {"EndDate": seeded.now().strftime("%Y-%m-%dT%H:%M:%S")}):
        r = api.post(f"contracts/{contract['Id']}/end", body)
        assert r.status_code == 422, (body, r.text)
    assert api.get(f"contracts/{contract['Id']}").json().get("EndDate") is None
    r = api.post(f"contracts/{contract['Id']}/end", {"EndDate": "2031-12-31"})
    assert r.status_code == 200 and r.json()["EndDate"].startswith("2031-12-31")


def test_if_match_compares_strong_etags_only(seeded, api):
    customer = api.post("customers", new_customer_body()).json()
    etag = api.get(f"customers/{customer['Id']}").headers["ETag"]
    assert not etag.startswith("W/")
    r = api.patch(f"customers/{customer['Id']}", {"Notes": "weak"}, headers={"If-Match": f"W/{etag}"})
    assert r.status_code == 412, r.text
    assert api.patch(f"customers/{customer['Id']}", {"Notes": "strong"}, headers={"If-Match": etag}).status_code == 200
    contract = api.get("contracts").json()[0]
    etag = api.get(f"contracts/{contract['Id']}").headers["ETag"]
    assert api.patch(f"contracts/{contract['Id']}", {"Notes": "w"}, headers={"If-Match": f"W/{etag}"}).status_code == 412

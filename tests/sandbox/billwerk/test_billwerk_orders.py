"""Orders: signup (new and existing customer), upgrade with ChangeDate, components, discounts,
coupons, VAT, preview, commit rules."""
from __future__ import annotations

from billwerk_helpers import UK, components_of, first, new_customer_body, signup, signup_variant


def _count(bw):
    s = bw.state()
    return {k: len(s[k]) for k in ("customers", "contracts", "orders", "invoices", "contract_changes")}


def test_signup_new_customer(seeded, api):
    variant = signup_variant(api)
    seats = components_of(api, variant["PlanGroupId"], "QuantityBased")[0]
    support = components_of(api, variant["PlanGroupId"], "OnOff")[0]
    body = {"Customer": new_customer_body(), "ContractCustomFields": {"salesRep": "D-42"},
            "OnAccountDueAfter": {"Unit": "Day", "Quantity": 21},
            "Cart": {"PlanVariantId": variant["Id"], "ComponentSubscriptions": [
                {"ComponentId": seats["Id"], "Quantity": 3}, {"ComponentId": support["Id"], "Quantity": 7}]}}
    r = api.post("Orders", body)
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["Status"], order["OrderType"], order["Currency"]) == ("InProgress", "Signup", "EUR")
    net = variant["RecurringFee"] + variant["SetupFee"] + seats["PricePerUnit"] * 3 + support["PricePerUnit"]
    assert order["Total"] == round(net, 2)
    assert order["TotalVat"] == round(net * 0.19, 2) and order["TotalGross"] == round(order["Total"] + order["TotalVat"], 2)
    assert [s["Quantity"] for s in order["ComponentSubscriptions"]] == [3.0, 1.0]   # on/off counts once
    # ids are allocated before commit, objects appear on commit
    assert api.get(f"customers/{order['CustomerId']}").status_code == 404
    assert api.get(f"contracts/{order['ContractId']}").status_code == 404
    contract = api.post(f"Orders/{order['Id']}/commit", {}).json()
    assert contract["Id"] == order["ContractId"] and contract["CustomerId"] == order["CustomerId"]
    assert contract["PlanVariantId"] == variant["Id"] and contract["LifecycleStatus"] == "Active"
    assert contract["CustomFields"] == {"salesRep": "D-42"}
    assert contract["OnAccountDueAfter"] == {"Unit": "Day", "Quantity": 21}
    assert contract["Balance"] == -order["TotalGross"] and contract["PaymentMethod"] == "InvoicePayment"
    assert len(contract["ComponentSubscriptions"]) == 2
    assert api.get(f"customers/{order['CustomerId']}").json()["ExternalCustomerId"] == "hs-4711"
    assert api.get(f"Orders/{order['Id']}").json()["Status"] == "Completed"
    inv = api.get("invoices", params={"customerId": order["CustomerId"]}).json()[0]
    assert inv["TotalGross"] == order["TotalGross"] and inv["ContractId"] == contract["Id"]
    assert inv["DueDate"][:10] > inv["DocumentDate"][:10]


def test_preview_persists_nothing_and_matches_create(seeded, api):
    variant = signup_variant(api)
    body = {"Customer": new_customer_body(), "Cart": {"PlanVariantId": variant["Id"], "CouponCode": "welcome10"}}
    before = _count(seeded)
    preview = api.post("Orders/preview", body)
    assert preview.status_code == 200
    assert _count(seeded) == before
    assert api.get("customers", params={"externalId": "hs-4711"}).json() == []
    created = api.post("Orders", body).json()
    previewed = preview.json()["Order"]
    for k in ("Total", "TotalVat", "TotalGross", "NextTotalGross", "OrderType", "Coupon"):
        assert previewed[k] == created[k], k
    assert [(ln["ProductId"], ln["TotalNet"]) for ln in previewed["RecurringFee"]["LineItems"]] == \
        [(ln["ProductId"], ln["TotalNet"]) for ln in created["LineItems"]]


def test_signup_existing_customer_and_payment_rules(seeded, api):
    contracts = api.get("contracts").json()
    with_card = first(contracts, PaymentProvider="Stripe")
    strict = signup_variant(api, allow=False)
    # existing customer with payment data: commit reuses the bearer, even without AllowWithoutPaymentData
    order, contract = signup(api, strict, CustomerId=with_card["CustomerId"])
    assert contract["PaymentBearer"] == with_card["PaymentBearer"] and contract["CustomerId"] == with_card["CustomerId"]
    # a new customer on a variant that needs payment data: refused, order stays in progress
    r = api.post("Orders", {"Customer": new_customer_body(), "Cart": {"PlanVariantId": strict["Id"]}})
    pending = r.json()
    r = api.post(f"Orders/{pending['Id']}/commit", {})
    assert r.status_code == 422 and "AllowWithoutPaymentData" in r.json()["Message"]
    assert api.get(f"Orders/{pending['Id']}").json()["Status"] == "InProgress"
    assert api.get(f"customers/{pending['CustomerId']}").status_code == 404
    # card payment cannot be committed through the API; on-account can (when allowed)
    ok = api.post("Orders", {"Customer": new_customer_body(ExternalCustomerId="n2"),
                             "Cart": {"PlanVariantId": signup_variant(api)["Id"]}}).json()
    assert api.post(f"Orders/{ok['Id']}/commit", {"PaymentMethod": "CreditCard:Stripe"}).status_code == 422
    done = api.post(f"Orders/{ok['Id']}/commit", {"PaymentMethod": "BlackLabel:InvoicePayment"})
    assert done.status_code == 200 and "PaymentBearer" not in done.json()
    assert (done.json()["PaymentMethod"], done.json()["PaymentProvider"]) == ("BlackLabel:InvoicePayment", "InvoicePayment")
    # committing twice
    again = api.post(f"Orders/{ok['Id']}/commit", {})
    assert again.status_code == 409 and "Message" in again.json()


def test_order_validation(seeded, api):
    variant = signup_variant(api)
    customer = api.get("customers").json()[0]
    cases = [
        ({"Customer": new_customer_body(), "Cart": {"PlanVariantId": "ffffffffffffffffffffffff"}}, "Cart.PlanVariantId"),
        ({"Customer": new_customer_body(), "Cart": {}}, "Cart.PlanVariantId"),
        ({"Cart": {"PlanVariantId": variant["Id"]}}, "Customer"),
        ({"Customer": new_customer_body(), "CustomerId": customer["Id"], "Cart": {"PlanVariantId": variant["Id"]}}, "CustomerId"),
        ({"Customer": new_customer_body(Address={"Country": "UK"}), "Cart": {"PlanVariantId": variant["Id"]}},
         "Customer.Address.Country"),
        ({"Customer": new_customer_body(EmailAddress="x"), "Cart": {"PlanVariantId": variant["Id"]}}, "Customer.EmailAddress"),
        ({"Customer": new_customer_body(ExternalCustomerId=customer["ExternalCustomerId"]),
          "Cart": {"PlanVariantId": variant["Id"]}}, "Customer.ExternalCustomerId"),
        ({"CustomerId": customer["Id"], "Cart": {"PlanVariantId": variant["Id"], "ComponentSubscriptions": [
            {"ComponentId": "ffffffffffffffffffffffff", "Quantity": 1}]}}, "ComponentSubscriptions[0].ComponentId"),
        ({"CustomerId": customer["Id"], "Cart": {"PlanVariantId": variant["Id"], "DiscountSubscriptions": [
            {"DiscountId": "ffffffffffffffffffffffff"}]}}, "DiscountSubscriptions[0].DiscountId"),
        ({"CustomerId": customer["Id"], "StartDate": "next tuesday", "Cart": {"PlanVariantId": variant["Id"]}}, "StartDate"),
        ({"ContractId": "ffffffffffffffffffffffff", "Cart": {"PlanVariantId": variant["Id"]}}, "ContractId"),
        ({"CustomerId": customer["Id"], "Cart": {"PlanVariantId": variant["Id"], "CouponCode": "NOPE"}}, "CouponCode"),
    ]
    for body, field in cases:
        r = api.post("Orders", body)
        assert r.status_code == 422, (field, r.text)
        assert field in r.json()["Message"], (field, r.json())
    assert api.post("Orders/ffffffffffffffffffffffff/commit", {}).status_code == 404
    uk_variant = api.get("planVariants", entity=UK).json()[0]
    assert api.post("Orders", {"CustomerId": customer["Id"], "Cart": {"PlanVariantId": uk_variant["Id"]}}).status_code == 422


def test_upgrade_with_future_change_date(seeded, api):
    variant = signup_variant(api)
    seats = components_of(api, variant["PlanGroupId"], "QuantityBased")[0]
    _, contract = signup(api, variant, cart={"ComponentSubscriptions": [{"ComponentId": seats["Id"], "Quantity": 2}]})
    target = [v for v in api.get("planVariants", params={"take": 500}).json() if v["Id"] != variant["Id"]
              and not v["Hidden"] and v["PlanGroupId"] == variant["PlanGroupId"]][-1]
    sub = contract["ComponentSubscriptions"][0]
    change_date = "2030-06-01T00:00:00.0000000Z"
    r = api.post("Orders", {"ContractId": contract["Id"], "ChangeDate": "2030-06-01",
                            "Cart": {"PlanVariantId": target["Id"], "EndComponentSubscriptions": [sub["Id"]],
                                     "ComponentSubscriptions": [{"ComponentId": seats["Id"], "Quantity": 5}]}})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["OrderType"] == "Upgrade" and order["ContractId"] == contract["Id"]
    assert order["ChangeDate"] == change_date
    after = api.post(f"Orders/{order['Id']}/commit", {}).json()
    assert after["PlanVariantId"] == variant["Id"]                          # not yet
    assert after["Phases"][-1] == {"Type": "Normal", "StartDate": change_date, "PlanGroupId": target["PlanGroupId"],
                                   "PlanId": target["PlanId"], "PlanVariantId": target["Id"]}
    subs = {s["Id"]: s for s in after["ComponentSubscriptions"]}
    assert subs[sub["Id"]]["EndDate"] == change_date
    assert [s["Quantity"] for s in subs.values() if s.get("StartDate") == change_date] == [5.0]
    seeded.advance_clock((2031 - 2026) * 366 * 86400)
    api.fetch_token()
    assert api.get(f"contracts/{contract['Id']}").json()["PlanVariantId"] == target["Id"]
    change = first(api.get("contractChanges", params={"contractId": contract["Id"]}).json(), Type="Upgrade")
    assert change["OrderId"] == order["Id"] and change["NewPlanVariantId"] == target["Id"]


def test_component_only_order_and_ended_contract(seeded, api):
    variant = signup_variant(api)
    _, contract = signup(api, variant)
    support = components_of(api, variant["PlanGroupId"], "OnOff")[0]
    r = api.post("Orders", {"ContractId": contract["Id"], "Cart": {"ComponentSubscriptions": [{"ComponentId": support["Id"]}]}})
    assert r.status_code == 201 and r.json()["OrderType"] == "Upgrade" and r.json()["Total"] == support["PricePerUnit"]
    after = api.post(f"Orders/{r.json()['Id']}/commit").json()
    assert after["PlanVariantId"] == variant["Id"] and len(after["Phases"]) == 1
    assert api.post(f"contracts/{contract['Id']}/end", {"EndDate": "2031-01-01"}).status_code == 200
    seeded.advance_clock((2032 - 2026) * 366 * 86400)
    api.fetch_token()
    r = api.post("Orders", {"ContractId": contract["Id"], "Cart": {"ComponentSubscriptions": [{"ComponentId": support["Id"]}]}})
    assert r.status_code == 422


def test_discounts_and_coupons(seeded, api):
    variant = signup_variant(api)
    discounts = [d for d in api.get("discounts").json() if d["PlanGroupId"] == variant["PlanGroupId"]]
    rel = first(discounts, InternalName=next(d["InternalName"] for d in discounts if d["Effect"]["Type"] == "Relative"))
    absolute = next(d for d in discounts if d["Effect"]["Type"] == "Absolute")
    customer = api.get("customers").json()[0]
    base = api.post("Orders/preview", {"CustomerId": customer["Id"], "Cart": {"PlanVariantId": variant["Id"]}}).json()["Order"]
    with_rel = api.post("Orders/preview", {"CustomerId": customer["Id"], "Cart": {
        "PlanVariantId": variant["Id"], "DiscountSubscriptions": [{"DiscountId": rel["Id"]}]}}).json()["Order"]
    pct = rel["Effect"]["ReductionPercent"]
    assert with_rel["Total"] == round(base["Total"] - variant["RecurringFee"] * pct / 100, 2)
    with_abs = api.post("Orders/preview", {"CustomerId": customer["Id"], "Cart": {
        "PlanVariantId": variant["Id"], "DiscountSubscriptions": [{"DiscountId": absolute["Id"]}]}}).json()["Order"]
    assert with_abs["Total"] == round(base["Total"] - min(absolute["Effect"]["FixedAmount"], base["Total"]), 2)
    coupon = first(api.get("coupons").json(), Code="WELCOME10")
    preview = api.post("Orders/preview", {"CustomerId": customer["Id"], "Cart": {
        "PlanVariantId": variant["Id"], "CouponCode": " welcome-10 "}}).json()["Order"]
    assert preview["Coupon"] == {"CouponCode": "WELCOME10", "CouponId": coupon["Id"], "DiscountId": coupon["DiscountId"]}
    _, contract = signup(api, variant, CustomerId=customer["Id"], cart={
        "CouponCode": "Welcome10", "DiscountSubscriptions": [{"DiscountId": absolute["Id"], "StartDate": "2030-01-01"}]})
    subs = api.get(f"contracts/{contract['Id']}/DiscountSubscriptions").json()
    assert sorted(s["DiscountId"] for s in subs) == sorted([absolute["Id"], coupon["DiscountId"]])
    assert first(subs, DiscountId=absolute["Id"])["StartDate"] == "2030-01-01T00:00:00.0000000Z"
    assert first(subs, DiscountId=coupon["DiscountId"])["CouponCode"] == "WELCOME10"


def test_vat_rules(seeded, api):
    variant = signup_variant(api)
    body = lambda **c: {"Customer": new_customer_body(**c), "Cart": {"PlanVariantId": variant["Id"]}}  # noqa: E731
    preview = lambda b, **kw: api.post("Orders/preview", b, **kw).json()["Order"]  # noqa: E731
    de = preview(body())
    assert de["RecurringFee"]["VatPercentage"] == 19.0
    at_b2b = preview(body(VatId="ATU12345678", Address={"Country": "AT"}))
    assert at_b2b["RecurringFee"]["VatPercentage"] == 0.0 and at_b2b["TotalVat"] == 0.0
    at_b2c = preview(body(Address={"Country": "AT"}))
    assert at_b2c["RecurringFee"]["VatPercentage"] == 20.0
    us = preview(body(Address={"Country": "US"}))
    assert us["RecurringFee"]["VatPercentage"] == 0.0
    uk_variant = first([v for v in api.get("planVariants", entity=UK).json() if v["AllowWithoutPaymentData"]])
    uk = preview({"Customer": new_customer_body(Address={"Country": "GB"}),
                  "Cart": {"PlanVariantId": uk_variant["Id"]}}, entity=UK)
    assert (uk["Currency"], uk["RecurringFee"]["VatPercentage"]) == ("GBP", 20.0)


def test_trial_order(seeded, api):
    trial = first([v for v in api.get("planVariants", params={"take": 500}).json() if v.get("TrialPeriod")])
    preview = api.post("Orders/preview", {"Customer": new_customer_body(), "Cart": {"PlanVariantId": trial["Id"]}}).json()["Order"]
    assert preview["IsTrial"] is True and preview["Total"] == trial["SetupFee"]
    assert preview["NextTotalGross"] == round(trial["RecurringFee"] * 1.19, 2)


def test_orders_list_and_delete(seeded, api):
    variant = signup_variant(api)
    customer = api.get("customers").json()[0]
    o1 = api.post("Orders", {"CustomerId": customer["Id"], "Cart": {"PlanVariantId": variant["Id"]}}).json()
    o2, _ = signup(api, variant, CustomerId=customer["Id"])
    assert [o["Id"] for o in api.get("orders", params={"status": "InProgress"}).json()] == [o1["Id"]]
    assert [o["Id"] for o in api.get("orders", params={"status": "Completed"}).json()] == [o2["Id"]]
    assert api.delete(f"orders/{o2['Id']}").status_code == 409
    assert api.delete(f"orders/{o1['Id']}").status_code == 204
    assert api.get(f"orders/{o1['Id']}").status_code == 404


def test_an_upgrade_with_interim_billing_bills_at_once(seeded, api, receiver):
    seeded.register_webhook(receiver.url, ["InvoiceCreated", "OrderSucceeded", "ContractChanged"])
    variant = signup_variant(api)
    seats = components_of(api, variant["PlanGroupId"], "QuantityBased")[0]
    _, contract = signup(api, variant)
    invoices_before = len(api.get("invoices", params={"contractId": contract["Id"]}).json())
    balance_before = api.get(f"contracts/{contract['Id']}").json()["Balance"]
    assert seeded.flush_webhooks(5)
    receiver.hits.clear()

    # Without interim billing the difference waits for the next regular bill.
    quiet = api.post("Orders", {"ContractId": contract["Id"],
                                "Cart": {"ComponentSubscriptions": [{"ComponentId": seats["Id"], "Quantity": 2}]}}).json()
    api.post(f"Orders/{quiet['Id']}/commit", {})
    assert len(api.get("invoices", params={"contractId": contract["Id"]}).json()) == invoices_before

    billed = api.post("Orders", {"ContractId": contract["Id"], "TriggerInterimBilling": True,
                                 "Cart": {"ComponentSubscriptions": [{"ComponentId": seats["Id"], "Quantity": 3}]}}).json()
    assert billed["TotalGross"] > 0
    api.post(f"Orders/{billed['Id']}/commit", {})
    invoices = api.get("invoices", params={"contractId": contract["Id"]}).json()
    assert len(invoices) == invoices_before + 1 and invoices[-1]["TotalGross"] == billed["TotalGross"]
    after = api.get(f"contracts/{contract['Id']}").json()
    assert round(after["Balance"], 2) == round(balance_before - billed["TotalGross"], 2)   # on account
    assert seeded.flush_webhooks(5)
    events = [p["Event"] for p in receiver.payloads()]
    assert events.count("InvoiceCreated") == 1 and events.count("OrderSucceeded") == 2
    created = first(receiver.payloads(), Event="InvoiceCreated")
    assert created["InvoiceId"] == invoices[-1]["Id"] and created["ContractId"] == contract["Id"]

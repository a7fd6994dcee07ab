"""Every example payload of reference/billwerk-api.md round-trips through the sandbox.

Request examples (``*.request.json``) are sent as they are, with their illustrative ids replaced
by ids of the sandbox's data; response examples (``*.response.json``) must match the sandbox's
answer in field names and JSON types; webhook examples (``webhook_<Event>.json``) must match the
emitted payload key for key, in order.
"""
from __future__ import annotations

import re

import requests

from billwerk_helpers import ROOT, components_of, first, fixture, signup, signup_variant

HEX = re.compile(r"^[0-9a-f]{24}$")


def kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def assert_shape(example, actual, path="$", coerce=None):
    """Field names and JSON types of ``example`` are present in ``actual`` (extra fields allowed).

    ``coerce`` maps a path to the type the sandbox emits where the example renders it otherwise
    (the gem's invoice fixture has numbers and booleans as strings; the reference says emit
    numbers and booleans), or ``"optional"`` for a field that is legitimately unset (billwerk
    omits unset fields).
    """
    coerce = coerce or {}
    if path in coerce:
        assert kind(actual) == coerce[path], f"{path}: expected {coerce[path]}, got {actual!r}"
        return
    ek, ak = kind(example), kind(actual)
    assert ek == ak, f"{path}: example is {ek}, sandbox sent {ak} ({actual!r})"
    if ek == "object":
        if example and all(HEX.match(k) for k in example):     # a map keyed by ids (e.g. Targets)
            sample = next(iter(example.values()))
            for k, v in actual.items():
                assert HEX.match(k), f"{path}: key {k!r} is not an id"
                assert_shape(sample, v, f"{path}[{k}]", coerce)
            return
        for k, v in example.items():
            if coerce.get(f"{path}.{k}") == "optional" and k not in actual:
                continue
            assert k in actual, f"{path}.{k} missing from {sorted(actual)}"
            assert_shape(v, actual[k], f"{path}.{k}", coerce)
    elif ek == "array" and example and actual:
        pairs = zip(example, actual) if len(example) > 1 else [(example[0], a) for a in actual[:1]]
        for i, (e, a) in enumerate(pairs):
            assert_shape(e, a, f"{path}[{i}]", coerce)


def subst(obj, mapping: dict):
    if isinstance(obj, dict):
        return {k: subst(v, mapping) for k, v in obj.items()}
    if isinstance(obj, list):
        return [subst(v, mapping) for v in obj]
    return mapping.get(obj, obj) if isinstance(obj, str) else obj


def test_token_response(bw):
    r = requests.post(f"{bw.base_url}/oauth/token/", data={"grant_type": "client_credentials"},
                      auth=("hubwerk-sandbox-billwerk-client", "hubwerk-sandbox-billwerk-secret"))
    assert r.status_code == 200
    assert_shape(fixture("token.response.json"), r.json())
    assert r.json()["token_type"] == "bearer" and r.json()["expires_in"] == 3600


def test_customer_create_request_and_response(api):
    r = api.post("customers", fixture("customer_create.request.json"))
    assert r.status_code == 201, r.text
    got = api.get(f"customers/{r.json()['Id']}").json()
    assert_shape(fixture("customer.response.json"), got)
    assert got["CustomFields"] == {"CSDpaAccepted": 0}
    assert HEX.match(got["Id"]) and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$", got["CreatedAt"])


def test_contract_response_and_end_request(seeded, api):
    contract = first(api.get("contracts").json(), PaymentProvider="Stripe")
    r = api.post(f"contracts/{contract['Id']}/end", fixture("contract_end.request.json"))
    assert r.status_code == 200, r.text
    got = api.get(f"contracts/{contract['Id']}").json()
    assert_shape(fixture("contract.response.json"), got)
    assert got["EndDate"] == "2030-01-31T00:00:00.0000000Z"
    assert got["Phases"][-1] == {"Type": "Inactive", "StartDate": "2030-01-31T00:00:00.0000000Z"}


def test_catalog_responses(seeded, api):
    variant = signup_variant(api)
    assert_shape(fixture("plan_variant.response.json"), api.get(f"planVariants/{variant['Id']}").json())
    comp = components_of(api, variant["PlanGroupId"], "QuantityBased")[0]
    assert_shape(fixture("component.response.json"), api.get(f"components/{comp['Id']}").json())
    disc = first(api.get("discounts").json(), PlanGroupId=variant["PlanGroupId"])
    assert disc["Effect"]["Type"] == "Relative"
    assert_shape(fixture("discount.response.json"), api.get(f"discounts/{disc['Id']}").json())


def _signup_ids(api):
    variant = signup_variant(api)
    comp = components_of(api, variant["PlanGroupId"], "QuantityBased")[0]
    return variant, {"5e5361659cc9ba118cccc620": variant["Id"], "5e5361659cc9ba118cccc61e": comp["Id"]}


def test_signup_order_commit_invoice_and_download(seeded, api):
    variant, ids = _signup_ids(api)
    r = api.post("Orders", subst(fixture("order_signup_new_customer.request.json"), ids))
    assert r.status_code == 201, r.text
    order = r.json()
    assert_shape(fixture("order_signup.response.json"), order)
    r = api.post(f"Orders/{order['Id']}/commit", fixture("order_commit.request.json"))
    assert r.status_code == 200, r.text
    assert_shape(fixture("contract.response.json"),
                 r.json(), coerce={"$.EndDate": "optional", "$.PaymentBearer": "optional"})
    invoices = api.get("invoices", params={"customerId": order["CustomerId"]}).json()
    assert len(invoices) == 1
    inv = api.get(f"invoices/{invoices[0]['Id']}").json()
    assert_shape(fixture("invoice.response.json"), inv, coerce={
        "$.TotalNet": "number", "$.TotalVat": "number", "$.TotalGross": "number", "$.IsInvoice": "bool"})
    assert inv["RecipientAddress"]["AddressLine1"] == "c/o Coworking Ltd."
    link = api.post(f"invoices/{inv['Id']}/downloadLink")
    assert link.status_code == 200
    assert_shape(fixture("download_link.response.json"), link.json())
    url = link.json()["Url"]
    assert url.startswith("/") and not url.lower().startswith("/api/v1")
    pdf = requests.get(api.base + url)      # no Authorization header
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_signup_existing_customer_discount_and_coupon_requests(seeded, api):
    variant, ids = _signup_ids(api)
    customer = api.get("customers").json()[0]
    disc = first(api.get("discounts").json(), PlanGroupId=variant["PlanGroupId"])
    ids.update({"5e5361659cc9ba118cccc600": customer["Id"], "5847131d14a9ff0e6438d876": disc["Id"]})
    for name in ("order_signup_existing_customer.request.json", "order_discount_subscription.request.json"):
        r = api.post("Orders", subst(fixture(name), ids))
        assert r.status_code == 201, (name, r.text)
    body = subst(fixture("order_coupon.request.json"), ids)
    r = api.post("Orders/preview", body)
    assert r.status_code == 200
    assert_shape(fixture("order_preview_coupon_invalid.response.json"), r.json())
    assert r.json()["Order"]["Coupon"]["ErrorCode"] == "InvalidCouponCode"
    assert api.post("Orders", body).status_code == 422
    body["Cart"]["CouponCode"] = "welcome-10"
    r = api.post("Orders/preview", body)
    assert_shape(fixture("order_preview_coupon_valid.response.json"), r.json())
    assert r.json()["Order"]["Coupon"]["CouponCode"] == "WELCOME10"


def test_upgrade_request_and_contract_change(seeded, api):
    variant, _ = _signup_ids(api)
    qty = components_of(api, variant["PlanGroupId"], "QuantityBased")
    _, contract = signup(api, variant, cart={"ComponentSubscriptions": [
        {"ComponentId": qty[0]["Id"], "Quantity": 1}, {"ComponentId": qty[1]["Id"], "Quantity": 5}]},
        StartDate="2020-01-01")
    subs = api.get(f"contracts/{contract['Id']}/componentSubscriptions").json()
    target = [v for v in api.get("planVariants").json() if v["Id"] != variant["Id"] and not v["Hidden"]][2]
    metered = [c for c in api.get("components", params={"take": 500}).json() if c["ComponentType"] == "Metered"][0]
    ids = {"5e53dab7443e5516749566e2": contract["Id"], "5e53dab7443e5516749566fe": target["Id"],
           "5e53dab7443e5516749566fb": qty[2 % len(qty)]["Id"] if len(qty) > 2 else qty[0]["Id"],
           "5e53dab7443e551674956701": metered["Id"],
           "5e53dab7443e5516749566ff": subs[0]["Id"], "5e53dab7443e551674956700": subs[1]["Id"]}
    r = api.post("Orders", subst(fixture("order_upgrade.request.json"), ids))
    assert r.status_code == 201, r.text
    assert r.json()["OrderType"] == "Upgrade"
    r = api.post(f"Orders/{r.json()['Id']}/commit", {})
    assert r.status_code == 200, r.text
    assert r.json()["PlanVariantId"] == target["Id"]
    changes = api.get("contractChanges", params={"contractId": contract["Id"]}).json()
    upgrade = first(changes, Type="Upgrade")
    got = api.get(f"contractChanges/{upgrade['Id']}", params={"includeContract": "true"}).json()
    assert_shape(fixture("contract_change.response.json"), got)
    assert got["ChangeDate"] == "2020-03-09T10:58:11.7990000Z"
    assert got["Contract"]["Before"]["CurrentPhase"]["PlanVariantId"] == variant["Id"]
    assert got["Contract"]["After"]["CurrentPhase"]["PlanVariantId"] == target["Id"]
    ended = {s["Id"]: s.get("EndDate") for s in api.get(f"contracts/{contract['Id']}/componentSubscriptions").json()}
    assert ended[subs[0]["Id"]] == ended[subs[1]["Id"]] == "2020-03-09T10:58:11.7990000Z"


def test_component_subscription_override(seeded, api):
    variant, ids = _signup_ids(api)
    _, contract = signup(api, variant)
    r = api.post(f"Contracts/{contract['Id']}/componentSubscriptions",
                 subst(fixture("component_subscription_override.request.json"), ids))
    assert r.status_code == 201, r.text
    assert_shape(fixture("component_subscription.response.json"), r.json())
    assert r.json()["ProductOverride"]["PricePerUnit"] == 23


def test_cancellation_preview_and_self_service_token(seeded, api):
    contract = api.get("contracts").json()[0]
    r = api.get(f"contracts/{contract['Id']}/cancellationPreview")
    assert r.status_code == 200
    assert_shape(fixture("cancellation_preview.response.json"), r.json())
    assert r.json()["ContractAfter"]["EndDate"] == r.json()["EndDate"]
    r = api.get(f"contracts/{contract['Id']}/SelfServiceToken")
    assert_shape(fixture("self_service_token.response.json"), r.json())


def test_webhook_registration_request(api):
    r = api.post("webhooks/", fixture("webhook_registration.request.json"))
    assert r.status_code == 201, r.text
    assert_shape(fixture("webhook.response.json"), r.json())
    assert r.json()["Events"][0] == "ContractCreated"
    assert [h["Id"] for h in api.get("webhooks/").json()] == [r.json()["Id"]]
    assert api.delete(f"webhooks/{r.json()['Id']}").status_code == 204
    assert api.get("webhooks").json() == []


WEBHOOK_EVENTS = ("ContractCreated", "ContractChanged", "ContractDataChanged", "ContractCancelled", "OrderSucceeded",
                  "CustomerCreated", "CustomerChanged", "InvoiceCreated", "InvoiceCorrected", "PaymentEscalated",
                  "PaymentEscalationReset", "PaymentDataChanged")


def test_webhook_payloads_match_examples(seeded, api, receiver):
    bw = seeded
    bw.register_webhook(receiver.url, WEBHOOK_EVENTS)
    variant = signup_variant(api)
    order, contract = signup(api, variant)                          # CustomerCreated … InvoiceCreated
    target = [v for v in api.get("planVariants").json() if v["Id"] != variant["Id"]][1]
    up = api.post("Orders", {"ContractId": contract["Id"], "Cart": {"PlanVariantId": target["Id"]}}).json()
    api.post(f"Orders/{up['Id']}/commit", {})                       # ContractChanged (Upgrade), OrderSucceeded
    api.patch(f"contracts/{contract['Id']}", {"Notes": "x"})        # ContractDataChanged
    api.patch(f"customers/{order['CustomerId']}", {"PhoneNumber": "+49 1"})   # CustomerChanged
    bw.trigger("InvoiceCorrected", contract_id=contract["Id"])
    bw.trigger("PaymentEscalated", contract_id=contract["Id"])
    bw.trigger("PaymentEscalationReset", contract_id=contract["Id"])
    bw.trigger("PaymentDataChanged", contract_id=contract["Id"])
    api.post(f"contracts/{contract['Id']}/end", {"EndDate": "2031-01-01"})                 # ContractCancelled
    assert bw.flush_webhooks(5)
    for event in WEBHOOK_EVENTS:
        example = fixture(f"webhook_{event}.json")
        got = receiver.payloads(event)
        assert got, f"no {event} delivered"
        payload = got[-1] if event == "ContractChanged" else got[0]
        assert list(payload) == list(example), event
        for k, v in example.items():
            assert kind(payload[k]) == kind(v), (event, k)
        assert payload["EntityId"] == ROOT
    changed = receiver.payloads("ContractChanged")
    assert [p["ContractChangeType"] for p in changed] == ["Signup", "Upgrade", "Cancellation"]
    upgrade = changed[1]
    assert api.get(f"contractChanges/{upgrade['ContractChangeId']}").json()["Type"] == "Upgrade"
    assert upgrade["ExternalCustomerId"] == "hs-4711"

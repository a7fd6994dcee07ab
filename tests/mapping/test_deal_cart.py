"""Deal -> billwerk order: the cart, every problem on its own line with its record, the order
bodies of both order kinds, the cart hash, and billwerk's preview as the card shows it."""
from __future__ import annotations

import copy
import json

import pytest

from backend.mapping.deal_cart import (CART_INPUT_PROPERTIES, CatalogItem, DealInputs, build_signup_order,
                                       build_upgrade_order, cart_hash, read_cart)
from backend.mapping.deal_preview import period_label, read_preview
from tests.mapping._fixtures import FIXTURES

ROOT, UK = "5f0000000000000000000001", "5f0000000000000000000002"


def fixture(name: str = "signup_two_components_discount") -> dict:
    return json.loads((FIXTURES / "hubspot" / "deals" / f"{name}.json").read_text(encoding="utf-8"))


def preview(name: str = "signup_two_components_discount") -> dict:
    return json.loads((FIXTURES / "billwerk" / "preview" / f"{name}.json").read_text(encoding="utf-8"))["Order"]


def inputs(data: dict | None = None, **over) -> DealInputs:
    data = data or fixture()
    products = {pid: CatalogItem(p["billwerk_id"], p["billwerk_object_type"], p.get("billwerk_entity"),
                                 hidden=p.get("hidden", False), known=p.get("known", True))
                for pid, p in data["products"].items()}
    args = dict(deal_id=data["deal"]["id"], deal=data["deal"]["properties"], line_items=data["line_items"],
                products=products, root_entity=ROOT, entities=frozenset({ROOT, UK}),
                company_id=data["company"]["id"], company=data["company"]["properties"],
                contact_id=data["contact"]["id"], contact=data["contact"]["properties"])
    args.update(over)
    return DealInputs(**args)


def messages(cart) -> list[str]:
    return [p.message for p in cart.problems]


def test_signup_deal_maps_to_one_order():
    cart = read_cart(inputs())
    assert cart.valid, messages(cart)
    order = build_signup_order(cart)
    assert order["Cart"] == {
        "PlanVariantId": "65a1c0de0000000000000003",
        "ComponentSubscriptions": [{"ComponentId": "65a1c0de0000000000000008", "Quantity": 5.0},
                                   {"ComponentId": "65a1c0de0000000000000009", "Quantity": 2.0}],
        "DiscountSubscriptions": [{"DiscountId": "65a1c0de000000000000000b"}],
    }
    assert order["StartDate"] == "2030-03-01T00:00:00.0000000Z"
    assert order["OnAccountDueAfter"] == {"Unit": "Day", "Quantity": 21}
    # a new customer: inline in the preview, the company's own customer mapping
    assert order["Customer"]["CompanyName"] == "Nordlicht Software GmbH"
    assert order["Customer"]["ExternalCustomerId"] == "5001"
    assert order["Customer"]["Address"]["HouseNumber"] == "123"
    assert "CustomerId" not in order
    # once the company has its customer, the order names it instead
    linked = build_signup_order(read_cart(inputs(customer_id="c0ffee")))
    assert linked["CustomerId"] == "c0ffee" and "Customer" not in linked
    assert build_signup_order(cart, customer_id="beef")["CustomerId"] == "beef"


def test_signup_existing_needs_a_linked_customer():
    data = fixture()
    data["deal"]["properties"]["billwerk_deal_type"] = "signup_existing"
    cart = read_cart(inputs(data))
    [problem] = cart.problems
    assert (problem.object_type, problem.object_id, problem.field) == ("company", "5001", "billwerk_customer_id")
    assert "link it on the company card" in problem.message
    linked = read_cart(inputs(data, customer_id="c0ffee"))
    assert linked.valid and build_signup_order(linked)["CustomerId"] == "c0ffee"


@pytest.mark.parametrize("change, expected, where", [
    (lambda d: d["line_items"].append({"id": "8009", "properties": {"name": "Onboarding workshop", "quantity": "1",
                                                                     "hs_product_id": "6999"}}),
     "Line item 'Onboarding workshop' is not a billwerk product", ("deal", "7001")),
    (lambda d: d["line_items"].append({"id": "8010", "properties": {"name": "Handwritten", "quantity": "1"}}),
     "Line item 'Handwritten' is not a billwerk product", ("deal", "7001")),
    (lambda d: (d["line_items"].append({"id": "8011", "properties": {"name": "Pro – yearly", "quantity": "1",
                                                                      "hs_product_id": "6005"}}),
                d["products"].update({"6005": {"billwerk_id": "65a1c0de0000000000000004",
                                               "billwerk_object_type": "plan_variant", "billwerk_entity": ROOT}})),
     "Line item 'Pro – yearly' is a second plan variant", ("deal", "7001")),
    (lambda d: d["products"]["6002"].update(hidden=True),
     "Line item 'Seats' is hidden in billwerk and can no longer be sold", ("deal", "7001")),
    (lambda d: d["products"]["6003"].update(known=False),
     "Line item 'Storage' names a billwerk item that billwerk does not have", ("deal", "7001")),
    (lambda d: d["products"]["6002"].update(billwerk_entity=UK),
     f"Line item 'Seats' is a product of billwerk entity {UK}, the deal is in {ROOT}", ("deal", "7001")),
    (lambda d: d["company"]["properties"].update(billwerk_entity=UK, ),
     "The deal's contact is in billwerk entity", ("contact", "4001")),
    (lambda d: d["contact"]["properties"].update(billwerk_entity=UK),
     "The deal's contact is in billwerk entity " + UK, ("contact", "4001")),
    (lambda d: d["line_items"][1]["properties"].update(quantity="0"),
     "Line item 'Seats' needs a quantity above 0", ("deal", "7001")),
    (lambda d: d["line_items"][0]["properties"].update(quantity="2"),
     "Line item 'Cloud 1 – Starter (monthly)' is the plan variant: its quantity must be 1, not 2", ("deal", "7001")),
    (lambda d: d.update(line_items=d["line_items"][1:]),
     "The deal has no billwerk plan variant", ("deal", "7001")),
    (lambda d: d.update(line_items=[]), "The deal has no line items", ("deal", "7001")),
    (lambda d: d["company"]["properties"].update(zip=""), "Postal code is missing", ("company", "5001")),
    (lambda d: d["deal"]["properties"].update(billwerk_entity="6a0000000000000000000009"),
     "The billwerk entity 6a0000000000000000000009 is not connected", ("deal", "7001")),
    (lambda d: d["deal"]["properties"].update(billwerk_start_date="soon"), "Start date 'soon' is not a date", ("deal", "7001")),
    (lambda d: d["deal"]["properties"].update(billwerk_payment_term_days="-3"), "Payment term '-3' must be a whole number",
     ("deal", "7001")),
    (lambda d: d["deal"]["properties"].update(billwerk_deal_type="renewal"), "Deal type 'renewal' is not one", ("deal", "7001")),
])
def test_every_invalid_case_is_its_own_line_on_its_record(change, expected, where):
    data = copy.deepcopy(fixture())
    change(data)
    cart = read_cart(inputs(data))
    hits = [p for p in cart.problems if p.message.startswith(expected)]
    assert hits, messages(cart)
    assert (hits[0].object_type, hits[0].object_id) == where
    assert not cart.valid


def test_several_problems_are_reported_separately():
    data = fixture()
    data["line_items"][1]["properties"]["quantity"] = "0"
    data["products"]["6003"]["hidden"] = True
    data["company"]["properties"]["country"] = "UK"
    cart = read_cart(inputs(data))
    assert len(cart.problems) == 3, messages(cart)
    assert "Country 'UK' is not an ISO code: use GB" in messages(cart)


def test_no_company_is_a_problem_of_the_deal():
    cart = read_cart(inputs(company_id=None, company=None, contact_id=None, contact=None))
    assert messages(cart) == ["The deal has no company: associate the company that becomes the billwerk customer"]


def test_entity_comes_from_the_deal_else_the_company_else_the_root():
    data = fixture()
    for p in data["products"].values():
        p["billwerk_entity"] = UK
    data["company"]["properties"]["billwerk_entity"] = UK
    data["contact"]["properties"]["billwerk_entity"] = UK
    assert read_cart(inputs(data)).entity_id == UK                   # from the company
    data["deal"]["properties"]["billwerk_entity"] = UK
    assert read_cart(inputs(data)).valid                              # every record in one entity
    assert read_cart(inputs()).entity_id == ROOT


def test_hash_changes_with_every_cart_input_and_nothing_else():
    base = cart_hash(read_cart(inputs()))
    assert base == cart_hash(read_cart(inputs()))
    changes = [
        lambda d: d["line_items"][1]["properties"].update(quantity="6"),
        lambda d: d["line_items"].pop(3),
        lambda d: d["deal"]["properties"].update(billwerk_start_date="2030-04-01"),
        lambda d: d["deal"]["properties"].update(billwerk_payment_term_days="30"),
        lambda d: d["deal"]["properties"].update(billwerk_deal_type="signup_existing"),
        lambda d: d["company"].update(id="5002"),
    ]
    for change in changes:
        data = copy.deepcopy(fixture())
        change(data)
        assert cart_hash(read_cart(inputs(data))) != base
    data = copy.deepcopy(fixture())
    data["deal"]["properties"].update(dealname="Renamed", amount="99")      # not an input of the order
    data["line_items"][1]["properties"].update(price="7")                     # billwerk's price applies anyway
    assert cart_hash(read_cart(inputs(data))) == base
    assert {"amount", "billwerk_start_date", "billwerk_payment_term_days", "billwerk_deal_type",
            "billwerk_entity"} <= CART_INPUT_PROPERTIES


def test_upgrade_order_is_the_contract_after_the_change():
    data = fixture()
    data["deal"]["properties"].update(billwerk_deal_type="upgrade", billwerk_start_date="2030-06-15")
    cart = read_cart(inputs(data, contract_id="c0ntract"))
    assert cart.valid, messages(cart)
    assert "The payment term applies to signup deals only" in cart.warnings[0]
    order = build_upgrade_order(cart, end_component_subscriptions=["sub-1"])
    assert order["ContractId"] == "c0ntract" and order["ChangeDate"] == "2030-06-15T00:00:00.0000000Z"
    assert order["Cart"]["EndComponentSubscriptions"] == ["sub-1"]
    assert "Customer" not in order and "CustomerId" not in order and "OnAccountDueAfter" not in order
    assert "contract to change" in messages(read_cart(inputs(data)))[0]


def test_preview_is_shown_with_billwerk_prices_and_warnings():
    cart = read_cart(inputs())
    shown = read_preview(preview(), cart)
    assert shown["currency"] == "EUR"
    assert shown["firstInvoice"] == {"net": 34.1, "vat": 6.48, "gross": 40.58}
    assert [(ln["kind"], ln["description"], ln["quantity"], ln["unitPrice"], ln["total"], ln["period"]) for ln in shown["lines"]] == [
        ("plan_variant", "Cloud 1 Starter (monthly)", 1.0, 9.0, 9.0, "P1M"),
        ("component", "Seats", 5.0, 5.0, 25.0, "P1M"),
        ("component", "Storage", 2.0, 0.5, 1.0, "P1M"),
        ("discount", "Cloud 1 10% off", 1.0, -0.9, -0.9, "P1M"),
    ]
    assert shown["recurring"] == [{"period": "P1M", "label": "per month", "net": 34.1, "gross": 40.58}]
    assert (shown["nextTotalGross"], shown["nextTotalGrossDate"]) == (40.58, "2030-04-01")
    assert shown["warnings"] == ["Line item 'Seats' costs 4.50 EUR in HubSpot, billwerk charges 5.00 EUR: billwerk's price applies"]
    assert shown["outdated"] is False


def test_line_item_discounts_are_warnings():
    data = fixture()
    data["line_items"][2]["properties"]["hs_discount_percentage"] = "10"
    cart = read_cart(inputs(data))
    assert cart.valid
    warnings = read_preview(preview(), cart)["warnings"]
    assert any("'Storage' has a discount of 10 %" in w for w in warnings)


def test_period_labels():
    assert [period_label(p) for p in ("P1M", "P3M", "P12M", "P24M", "P7D", "P1D")] == [
        "per month", "per 3 months", "per year", "per 2 years", "per week", "per day"]

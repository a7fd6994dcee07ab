"""An up-/downgrade deal's cart against today's contract: the order says only what changes, and the
card's before/after prices both sides per period."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from backend.mapping.deal_cart import Cart, CartLine
from backend.mapping.upgrade_order import (build_order, catalogue_prices, comparison, contract_state, upgrade_change)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
PRO, BUSINESS, SEATS, STORAGE, SUPPORT, TEN = "pv-pro", "pv-business", "c-seats", "c-storage", "c-support", "d-ten"

PRODUCT_INFO = {
    "Plans": [{"Id": "p1", "Name": {"_c": "Cloud"}}],
    "PlanVariants": [
        {"Id": PRO, "PlanId": "p1", "Name": {"_c": "Pro"}, "RecurringFee": 49.0, "FeePeriod": {"Unit": "Month", "Quantity": 1}},
        {"Id": BUSINESS, "PlanId": "p1", "Name": {"_c": "Business"}, "RecurringFee": 1200.0,
         "FeePeriod": {"Unit": "Year", "Quantity": 1}},
    ],
    "Components": [
        {"Id": SEATS, "Name": {"_c": "Seats"}, "PricePerUnit": 5.0, "ComponentType": "QuantityBased",
         "FeePeriod": {"Unit": "Month", "Quantity": 1}},
        {"Id": STORAGE, "Name": {"_c": "Storage"}, "PricePerUnit": 2.5, "ComponentType": "QuantityBased",
         "FeePeriod": {"Unit": "Month", "Quantity": 1}},
        {"Id": SUPPORT, "Name": {"_c": "Support"}, "PricePerUnit": 30.0, "ComponentType": "OnOff",
         "FeePeriod": {"Unit": "Month", "Quantity": 1}},
    ],
}

CONTRACT = {
    "Id": "k1", "CustomerId": "cu1", "PlanVariantId": PRO, "LifecycleStatus": "Active",
    "ComponentSubscriptions": [
        {"Id": "s-seats", "ComponentId": SEATS, "Quantity": 3.0, "EndDate": None},
        {"Id": "s-storage", "ComponentId": STORAGE, "Quantity": 2.0},
        {"Id": "s-old", "ComponentId": SUPPORT, "Quantity": 1.0, "EndDate": "2026-11-01T00:00:00.0000000Z"},   # ended
    ],
}


def line(billwerk_id, kind, quantity=1.0, name=None):
    return CartLine(f"li-{billwerk_id}", name or billwerk_id, kind, billwerk_id, quantity, None, None, None)


def cart(variant=BUSINESS, components=((SEATS, 5.0),), discounts=(), start=None):
    return Cart(deal_id="d1", deal_type="upgrade", entity_id="e1", company_id="co1", customer_id=None, contract_id="k1",
                plan_variant=line(variant, "plan_variant") if variant else None,
                components=[line(c, "component", q) for c, q in components],
                discounts=[line(d, "discount") for d in discounts], start_date=start)


def state(**over):
    return contract_state(dict(CONTRACT, **over), at=NOW)


def test_today_is_the_plan_variant_and_the_active_subscriptions():
    s = state()
    assert s.plan_variant_id == PRO and [x.id for x in s.subscriptions] == ["s-seats", "s-storage"] and not s.ended


def test_the_order_has_the_new_variant_ends_removed_and_resubscribes_changed_quantities():
    c, s = cart(), state()
    change = upgrade_change(c, s)
    order = build_order(c, s, change, now="2026-12-02T12:00:00.0000000Z", contract_custom_fields={"crm": "x"})
    assert order == {"ContractId": "k1", "ChangeDate": "2026-12-02T12:00:00.0000000Z", "ContractCustomFields": {"crm": "x"},
                     "Cart": {"PlanVariantId": BUSINESS, "ComponentSubscriptions": [{"ComponentId": SEATS, "Quantity": 5.0}],
                              "EndComponentSubscriptions": ["s-seats", "s-storage"]}}


def test_unchanged_parts_stay_out_and_the_start_date_is_the_change_date():
    c = cart(variant=PRO, components=((SEATS, 3.0), (STORAGE, 2.0), (SUPPORT, 1.0)), discounts=(TEN,),
             start="2027-01-01T00:00:00.0000000Z")
    s = contract_state(CONTRACT, at=NOW, discount_subscriptions=[{"DiscountId": "d-other"}])
    change = upgrade_change(c, s)
    order = build_order(c, s, change, now="now")
    assert order == {"ContractId": "k1", "ChangeDate": "2027-01-01T00:00:00.0000000Z",
                     "Cart": {"ComponentSubscriptions": [{"ComponentId": SUPPORT, "Quantity": 1.0}],
                              "DiscountSubscriptions": [{"DiscountId": TEN}]}}
    s = contract_state(CONTRACT, at=NOW, discount_subscriptions=[{"DiscountId": TEN}])
    assert upgrade_change(cart(variant=PRO, components=((SEATS, 3.0), (STORAGE, 2.0)), discounts=(TEN,)), s).empty


def test_two_line_items_of_one_component_add_up():
    c = cart(variant=PRO, components=((SEATS, 1.0), (SEATS, 2.0), (STORAGE, 2.0)))
    assert upgrade_change(c, state()).empty


def test_before_and_after_per_period_and_the_difference_in_the_new_plans_period():
    c, s = cart(), state()
    preview = {"RecurringFee": {"VatPercentage": 19.0, "LineItems": [
        {"Type": "RecurringFee", "ProductId": BUSINESS, "PricePerUnit": 1100.0, "Quantity": 1.0}]}}
    shown = comparison(s, c, catalogue_prices(PRODUCT_INFO), preview)
    assert shown["before"] == {"planVariant": "Cloud \u2013 Pro", "components": [{"name": "Seats", "quantity": 3.0},
                                                                            {"name": "Storage", "quantity": 2.0}],
                               "recurring": [{"period": "P1M", "label": "per month", "net": 69.0, "gross": 82.11}]}
    assert shown["after"]["planVariant"] == "Cloud \u2013 Business"
    assert shown["after"]["recurring"] == [{"period": "P12M", "label": "per year", "net": 1100.0, "gross": 1309.0},
                                           {"period": "P1M", "label": "per month", "net": 25.0, "gross": 29.75}]
    assert (shown["period"], shown["periodLabel"]) == ("P12M", "per year")
    assert shown["differencePerPeriod"] == pytest.approx(1100 + 12 * 25 - 12 * 69)


def test_an_ended_contract_is_seen_as_ended():
    assert state(LifecycleStatus="Ended").ended

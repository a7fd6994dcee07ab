from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from backend.mapping.catalog import (
    PRODUCT_PROPERTIES, content_hash, discount_amount, is_hidden, iso_duration, localized,
    product_from_component, product_from_discount, product_from_plan_variant, recurring_frequency,
)

from ._fixtures import catalog_item, catalog_names

ENTITY = "5e53dab7443e5516749566e2"
HUBSPOT_FREQUENCIES = {"weekly", "biweekly", "monthly", "quarterly", "per_six_months", "annually",
                       "per_two_years", "per_three_years", "per_four_years", "per_five_years"}


def variant(name: str, language: str | None = "en") -> dict:
    return product_from_plan_variant(catalog_item(name), catalog_item("plan_pro"), entity_id=ENTITY,
                                     language=language)


def test_plan_variant_product():
    assert variant("plan_variant_pro_monthly") == {
        "billwerk_id": "5e5361659cc9ba118cccc620",
        "billwerk_object_type": "plan_variant",
        "billwerk_entity": ENTITY,
        "hs_sku": "pro-monthly",
        "name": "Pro \u2013 monthly",
        "description": "Pro (monthly)",
        "price": "49",
        "recurringbillingfrequency": "monthly",
        "hs_recurring_billing_period": "P1M",
    }


def test_plan_variant_in_the_portal_language():
    product = variant("plan_variant_pro_monthly", "de")
    assert (product["name"], product["description"]) == ("Profi \u2013 monatlich", "Profi (monatlich)")
    assert variant("plan_variant_pro_monthly", "de-DE")["name"] == "Profi \u2013 monatlich"
    yearly = variant("plan_variant_pro_yearly", "fr")
    # the plan has no French name: its fallback is used, the variant's French text is
    assert (yearly["name"], yearly["description"]) == ("Pro \u2013 annuel", "Pro, facturé une fois par an")
    # no language, or one billwerk has no text for: the _c fallback
    assert variant("plan_variant_pro_monthly", None)["name"] == "Pro \u2013 monthly"
    assert variant("plan_variant_pro_monthly", "fi")["description"] == "Pro (monthly)"


def test_yearly_variant_without_external_id():
    product = variant("plan_variant_pro_yearly")
    assert product["hs_sku"] == product["billwerk_id"] == "5e5361659cc9ba118cccc621"
    assert (product["name"], product["price"]) == ("Pro \u2013 yearly", "490.5")
    assert (product["recurringbillingfrequency"], product["hs_recurring_billing_period"]) == ("annually", "P12M")


def test_unmappable_frequency_is_omitted_and_internal_name_is_used():
    product = variant("plan_variant_pro_two_monthly")
    assert "recurringbillingfrequency" not in product
    assert product["hs_recurring_billing_period"] == "P24M"
    assert product["name"] == "Pro \u2013 every two months"
    assert product["price"] == "95"
    assert "description" in product and product["description"] == "Pro plan"  # the plan's, as the variant has none


def test_variant_without_plan():
    product = product_from_plan_variant(catalog_item("plan_variant_pro_monthly"), None, entity_id=ENTITY,
                                        language="en")
    assert product["name"] == "Pro (monthly)"


def test_component_product():
    assert product_from_component(catalog_item("component_seats"), entity_id=ENTITY, language="de") == {
        "billwerk_id": "5e5361659cc9ba118cccc61e",
        "billwerk_object_type": "component",
        "billwerk_entity": ENTITY,
        "hs_sku": "cloud-seats",
        "name": "Arbeitsplätze",
        "description": "Arbeitsplätze (Cloud)",
        "price": "5",
        "recurringbillingfrequency": "monthly",
    }
    weekly = product_from_component(catalog_item("component_support_weekly"), entity_id=ENTITY, language="de")
    assert (weekly["name"], weekly["price"], weekly["recurringbillingfrequency"]) == (
        "Premium support", "29.99", "weekly")
    assert "hs_recurring_billing_period" not in weekly


def test_discount_products():
    relative = product_from_discount(catalog_item("discount_relative"), entity_id=ENTITY, language="de")
    assert relative == {
        "billwerk_id": "5847131d14a9ff0e6438d876",
        "billwerk_object_type": "discount",
        "billwerk_entity": ENTITY,
        "hs_sku": "5847131d14a9ff0e6438d876",
        "name": "Starter discount",
        "description": "Starter.-Rabatt",
    }
    absolute = product_from_discount(catalog_item("discount_absolute"), entity_id=ENTITY, language="en")
    assert (absolute["name"], absolute["description"], absolute["price"]) == ("5 off", "5 off every invoice", "-5")
    assert "recurringbillingfrequency" not in absolute


@pytest.mark.parametrize("effect, amount", [
    ({"Type": "Relative", "ReductionPercent": 30}, ""),
    ({"Type": "Absolute", "FixedAmount": 5.0}, "-5"),
    ({"Type": "Absolute", "FixedAmount": 12.5}, "-12.5"),
    ({"Type": "absolute", "Amount": "7.10"}, "-7.1"),
    ({"Type": "Absolute", "FixedAmount": -3}, "-3"),
    ({"Type": "Absolute", "FixedAmount": 0}, ""),
    ({"Type": "Absolute"}, ""),
    (None, ""),
])
def test_discount_amount(effect, amount):
    assert discount_amount({"Id": "x", "Effect": effect}) == amount


@pytest.mark.parametrize("name", [n for n in catalog_names() if not n.startswith("plan_") or "variant" in n])
def test_every_value_is_a_non_empty_string_and_a_known_property(name):
    item = catalog_item(name)
    if name.startswith("plan_variant"):
        product = product_from_plan_variant(item, catalog_item("plan_pro"), entity_id=ENTITY, language="de")
    elif name.startswith("component"):
        product = product_from_component(item, entity_id=ENTITY, language="de")
    else:
        product = product_from_discount(item, entity_id=ENTITY, language="de")
    assert all(isinstance(v, str) and v for v in product.values())
    assert set(product) <= set(PRODUCT_PROPERTIES)
    assert product.get("recurringbillingfrequency", "monthly") in HUBSPOT_FREQUENCIES
    assert product["billwerk_id"] == item["Id"]


def test_item_without_id_is_refused():
    with pytest.raises(ValueError):
        product_from_component({"Name": {"_c": "Seats"}}, entity_id=ENTITY, language="en")


@pytest.mark.parametrize("period, frequency, duration", [
    ({"Unit": "Day", "Quantity": 7}, "weekly", "P7D"),
    ({"Unit": "Week", "Quantity": 1}, "weekly", "P7D"),
    ({"Unit": "Day", "Quantity": 14}, "biweekly", "P14D"),
    ({"Unit": "Week", "Quantity": 2}, "biweekly", "P14D"),
    ({"Unit": "Month", "Quantity": 1}, "monthly", "P1M"),
    ({"Unit": "Month", "Quantity": 3}, "quarterly", "P3M"),
    ({"Unit": "Month", "Quantity": 6}, "per_six_months", "P6M"),
    ({"Unit": "Month", "Quantity": 12}, "annually", "P12M"),
    ({"Unit": "Year", "Quantity": 1}, "annually", "P12M"),
    ({"Unit": "Month", "Quantity": 24}, "per_two_years", "P24M"),
    ({"Unit": "Year", "Quantity": 2}, "per_two_years", "P24M"),
    ({"Unit": "Year", "Quantity": 3}, "per_three_years", "P36M"),
    ({"Unit": "Year", "Quantity": 4}, "per_four_years", "P48M"),
    ({"Unit": "Year", "Quantity": 5}, "per_five_years", "P60M"),
    ({"Unit": "Months", "Quantity": 1.0}, "monthly", "P1M"),
    ({"Unit": "Month", "Quantity": 2}, None, "P2M"),
    ({"Unit": "Day", "Quantity": 10}, None, "P10D"),
    ({"Unit": "Year", "Quantity": 6}, None, "P72M"),
    ({"Unit": "Month", "Quantity": 0}, None, None),
    ({"Unit": "Month", "Quantity": 1.5}, None, None),
    ({"Unit": "Fortnight", "Quantity": 1}, None, None),
    ({"Unit": "Month"}, None, None),
    (None, None, None),
])
def test_periods(period, frequency, duration):
    assert recurring_frequency(period) == frequency
    assert iso_duration(period) == duration


def test_localized():
    text = {"_c": "Starter discount", "de": "Starter.-Rabatt", "de-CH": "Starter-Rabatt"}
    assert localized(text, "de") == "Starter.-Rabatt"
    assert localized(text, "de-DE") == "Starter.-Rabatt"
    assert localized(text, "de-CH") == "Starter-Rabatt"
    assert localized(text, "fr") == "Starter discount"
    assert localized(text, None) == "Starter discount"
    assert localized({"_c": "x", "de": "  "}, "de") == "x"
    assert localized("plain", "de") == "plain"
    assert localized(None, "de") == localized({}, "de") == localized(42, "de") == ""


# --- hidden items ------------------------------------------------------------------------

@pytest.mark.parametrize("name, hidden", [
    ("plan_variant_pro_monthly", False), ("plan_variant_hidden", True), ("component_seats", False),
    ("component_storage_hidden", True), ("discount_relative", False), ("discount_hidden", True),
])
def test_is_hidden(name, hidden):
    assert is_hidden(catalog_item(name)) is hidden


def test_hidden_through_the_plan_or_deleted():
    monthly = catalog_item("plan_variant_pro_monthly")
    assert is_hidden(monthly, catalog_item("plan_hidden")) is True
    assert is_hidden(monthly, catalog_item("plan_pro")) is False
    assert is_hidden(monthly, None) is False
    assert is_hidden({**monthly, "DeletedAt": "2026-01-05T10:00:00.0000000Z"}) is True
    assert is_hidden({**monthly, "Hidden": "true"}) is True
    assert is_hidden({**monthly, "Hidden": "false"}) is False
    assert is_hidden({"Id": "x"}) is False


# --- content hash ------------------------------------------------------------------------

def test_content_hash_ignores_order_and_empty_values():
    product = variant("plan_variant_pro_monthly")
    reordered = dict(reversed(list(product.items())))
    assert content_hash(product) == content_hash(reordered)
    assert content_hash(product) == content_hash({**product, "hs_lastmodifieddate": None, "x": ""})
    assert content_hash({"price": 49}) == content_hash({"price": "49"})
    assert content_hash(product) != content_hash({**product, "price": "50"})
    assert content_hash(product) == content_hash(variant("plan_variant_pro_monthly"))
    assert len(content_hash(product)) == 64


@given(st.dictionaries(st.text(min_size=1), st.text(min_size=1)), st.randoms())
def test_content_hash_is_order_independent(properties, rnd):
    items = list(properties.items())
    rnd.shuffle(items)
    assert content_hash(properties) == content_hash(dict(items))

"""HubSpot property values -> billwerk custom-field values."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from backend.mapping.custom_fields import (CustomFieldValueError, carry_problem, convert, custom_field_values)


@dataclass
class M:
    hubspot_property: str
    billwerk_field: str
    hubspot_type: str
    billwerk_type: str | None


@pytest.mark.parametrize("raw, hs_type, bw_type, expected", [
    ("12", "number", "Number", 12),
    ("12.50", "number", "Number", 12.5),
    ("-3", "number", "Number", -3),
    ("true", "bool", "Boolean", True),
    ("false", "bool", "Boolean", False),
    ("2026-12-02", "date", "Date", "2026-12-02"),
    ("1764633600000", "date", "Date", "2025-12-02"),            # webhook form: epoch ms at midnight UTC
    ("2026-12-02T23:30:00-02:00", "datetime", "Date", "2026-12-03"),  # the UTC calendar date
    ("1764633600000", "datetime", "String", "2025-12-02T00:00:00Z"),
    ("2026-12-02", "date", "String", "2026-12-02"),
    ("42", "number", "String", "42"),
    ("true", "bool", "String", "true"),
    ("gold;silver", "enumeration", "String", "gold;silver"),
    ("Ann", "string", "String", "Ann"),
    ("7", "number", None, 7),                                   # untyped: the natural JSON type
    ("true", "bool", None, True),
    ("2026-01-31", "date", None, "2026-01-31"),
    ("x", "string", None, "x"),
    ("", "number", "Number", None),
    (None, "string", "String", None),
    ("   ", "date", "Date", None),
])
def test_convert(raw, hs_type, bw_type, expected):
    assert convert(raw, hs_type, bw_type) == expected


@pytest.mark.parametrize("raw, hs_type, bw_type", [
    ("twelve", "number", "Number"), ("NaN", "number", "Number"), ("maybe", "bool", "Boolean"),
    ("02.12.2026", "date", "Date"), ("soon", "datetime", "String"),
])
def test_values_that_do_not_parse_say_so(raw, hs_type, bw_type):
    with pytest.raises(CustomFieldValueError, match=repr(raw).replace("(", r"\(").replace(".", r"\.")):
        convert(raw, hs_type, bw_type, what="HubSpot property p")


@pytest.mark.parametrize("hs_type, bw_type", [
    ("date", "Number"), ("string", "Number"), ("number", "Boolean"), ("enumeration", "Date"), ("string", "Date"),
    ("bool", "Number"),
])
def test_types_that_cannot_be_carried_are_refused_with_a_hint(hs_type, bw_type):
    problem = carry_problem("renewal", hs_type, "field", bw_type)
    assert problem and "renewal" in problem and "field" in problem and "instead" in problem


@pytest.mark.parametrize("hs_type, bw_type", [
    ("number", "Number"), ("bool", "Boolean"), ("date", "Date"), ("datetime", "Date"), ("date", "String"),
    ("enumeration", "String"), ("number", None), ("phone_number", "String"),
])
def test_types_that_can_be_carried(hs_type, bw_type):
    assert carry_problem("p", hs_type, "f", bw_type) is None


def test_unmappable_hubspot_types():
    assert "cannot be carried" in carry_problem("geo", "object_coordinates", "f", "String")
    assert "does not know" in carry_problem("p", "string", "f", "Currency")


def test_values_for_one_record():
    mappings = [M("cf_rating", "crmRating", "number", "Number"), M("cf_segment", "segment", "enumeration", "String"),
                M("cf_since", "onboardedAt", "date", "Date"), M("cf_empty", "newsletter", "bool", "Boolean"),
                M("cf_bad", "seats", "number", "Number")]
    props = {"cf_rating": "4", "cf_segment": "smb", "cf_since": "2026-03-01", "cf_empty": "", "cf_bad": "many"}
    values, problems = custom_field_values(mappings, props)
    assert values == {"crmRating": 4, "segment": "smb", "onboardedAt": "2026-03-01"}
    assert [(p.hubspot_property, p.billwerk_field) for p in problems] == [("cf_bad", "seats")]
    assert "many" in problems[0].message
    updated, _ = custom_field_values(mappings, props, keep_empty=True)
    assert updated["newsletter"] is None and "newsletter" in updated   # a cleared value clears billwerk's

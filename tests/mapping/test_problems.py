from __future__ import annotations

import pytest

from backend.mapping.problems import Problem, object_type_id, problems_text, record_url

BASE = "https://app.hubspot.com"


@pytest.mark.parametrize("object_type, type_id", [
    ("contact", "0-1"), ("company", "0-2"), ("deal", "0-3"),
    ("contacts", "0-1"), ("companies", "0-2"), ("deals", "0-3"), ("0-2", "0-2"), ("Company", "0-2"),
])
def test_object_type_ids_follow_contract_section_3(object_type, type_id):
    assert object_type_id(object_type) == type_id


def test_record_url_has_the_contract_shape():
    assert record_url(BASE, 123456, "company", "1001") == "https://app.hubspot.com/contacts/123456/record/0-2/1001"
    assert record_url(BASE + "/", "123456", "deal", 7) == "https://app.hubspot.com/contacts/123456/record/0-3/7"
    assert record_url("http://127.0.0.1:5001", 1, "contact", "9") == "http://127.0.0.1:5001/contacts/1/record/0-1/9"


def test_unknown_object_type_is_refused():
    with pytest.raises(ValueError, match="ticket"):
        record_url(BASE, 1, "ticket", "1")


def test_problem_links_to_its_record_and_is_immutable():
    problem = Problem("zip", "Postal code is missing", "company", "1005")
    assert problem.url(BASE, 99) == "https://app.hubspot.com/contacts/99/record/0-2/1005"
    assert str(problem) == "Postal code is missing"
    with pytest.raises(AttributeError):
        problem.field = "city"  # type: ignore[misc]
    assert problem == Problem("zip", "Postal code is missing", "company", "1005")


def test_problems_text_is_one_message_a_line_without_repeats():
    problems = [Problem("zip", "Postal code is missing", "company", "1"),
                Problem("city", "City is missing", "company", "1"),
                Problem("zip", "Postal code is missing", "company", "1")]
    assert problems_text(problems) == "Postal code is missing\nCity is missing"
    assert problems_text([]) == ""

from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st

from backend.mapping.address import (
    country_problem, normalize_country, normalize_us_state, split_street, validate_address,
)
from backend.mapping.problems import Problem

from ._fixtures import company


def messages(problems: list[Problem]) -> list[str]:
    return [p.message for p in problems]


# --- countries ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, code", [
    ("DE", "DE"), ("de", "DE"), (" gb ", "GB"), ("DEU", "DE"), ("deu", "DE"), ("USA", "US"), ("U.S.A.", "US"),
    ("Germany", "DE"), ("GERMANY", "DE"), ("germany", "DE"), ("Deutschland", "DE"), ("Allemagne", "DE"),
    ("Niemcy", "DE"), ("United States", "US"), ("United States of America", "US"), ("United Kingdom", "GB"),
    ("Great Britain", "GB"), ("Vereinigtes Königreich", "GB"), ("France", "FR"), ("Frankreich", "FR"),
    ("Österreich", "AT"), ("Osterreich", "AT"), ("Schweiz", "CH"), ("The Netherlands", "NL"),
    ("Netherlands", "NL"), ("Türkiye", "TR"), ("Turkey", "TR"), ("Russia", "RU"), ("Czech Republic", "CZ"),
    ("South Korea", "KR"), ("Korea, Republic of", "KR"),
])
def test_normalize_country_accepts_codes_and_names(value, code):
    assert normalize_country(value) == code


@pytest.mark.parametrize("value", [None, "", "   ", "UK", "uk", "U.K.", "EL", "XX", "ZZZ", "Atlantis", "Europe", "D"])
def test_normalize_country_refuses_the_rest(value):
    assert normalize_country(value) is None


def test_country_problem_words():
    def msg(value):
        problem = country_problem(value, field="country", object_type="company", object_id="1")
        return problem and problem.message
    assert msg("DE") is None
    assert msg("") == "Country is missing"
    assert msg("UK") == "Country 'UK' is not an ISO code: use GB"
    assert msg("uk") == "Country 'uk' is not an ISO code: use GB"
    assert msg("EL") == "Country 'EL' is not an ISO code: use GR"
    assert msg("Atlantis") == "Country 'Atlantis' is not a country we know: use a two-letter ISO code such as DE"


# --- US states ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, code", [
    ("CA", "CA"), ("ca", "CA"), ("US-CA", "CA"), ("us-ca", "CA"), ("California", "CA"), ("california", "CA"),
    ("New York", "NY"), ("US-NY", "NY"), ("District of Columbia", "DC"), ("DC", "DC"), ("Puerto Rico", "PR"),
    ("West Virginia", "WV"), (" TX ", "TX"),
])
def test_us_states(value, code):
    assert normalize_us_state(value) == code


@pytest.mark.parametrize("value", [None, "", "XX", "US-XX", "Bavaria", "BY", "DE-BY", "Californ"])
def test_not_us_states(value):
    assert normalize_us_state(value) is None


# --- the address rule, on fixtures -------------------------------------------------------

@pytest.mark.parametrize("name", [
    "de_good", "us_good", "gb_good", "fr_good", "de_country_name", "de_country_native_name", "de_country_alpha3",
    "de_street_without_number", "de_house_number_property", "de_street_number_range", "us_state_code_prefixed",
])
def test_good_addresses_have_no_problems(name):
    company_id, props = company(name)
    assert validate_address(props, company_id) == []


@pytest.mark.parametrize("name, field, message", [
    ("de_missing_zip", "zip", "Postal code is missing"),
    ("gb_country_uk", "country", "Country 'UK' is not an ISO code: use GB"),
    ("country_unknown", "country", "Country 'Atlantis' is not a country we know: use a two-letter ISO code such as DE"),
    ("us_without_state", "state", "State is missing: a US address needs one"),
    ("us_state_xx", "state", "State 'XX' is not a US state"),
])
def test_each_broken_address_gets_its_own_problem(name, field, message):
    company_id, props = company(name)
    assert validate_address(props, company_id) == [Problem(field, message, "company", company_id)]


def test_every_missing_part_is_reported_separately():
    company_id, props = company("empty")
    problems = validate_address(props, company_id)
    assert [(p.field, p.message) for p in problems] == [
        ("address", "Street address is missing"),
        ("city", "City is missing"),
        ("zip", "Postal code is missing"),
        ("country", "Country is missing"),
    ]
    assert all(p.object_type == "company" and p.object_id == "1017" for p in problems)


def test_missing_values_may_be_null_or_whitespace():
    props = {"address": None, "city": "  ", "zip": "\t", "country": None}
    assert messages(validate_address(props, 5)) == [
        "Street address is missing", "City is missing", "Postal code is missing", "Country is missing"]
    assert validate_address(props, 5)[0].object_id == "5"


def test_state_is_only_checked_for_us_addresses():
    _, props = company("de_good")
    assert validate_address({**props, "state": "XX"}, "1") == []
    _, us = company("us_good")
    assert messages(validate_address({**us, "country": "United States", "state": ""}, "1")) == [
        "State is missing: a US address needs one"]
    # An unknown country says nothing about the state: fix the country first.
    assert messages(validate_address({**us, "country": "Atlantis", "state": ""}, "1")) == [
        "Country 'Atlantis' is not a country we know: use a two-letter ISO code such as DE"]


def test_problems_combine():
    _, props = company("us_state_xx")
    problems = validate_address({**props, "zip": "", "city": ""}, "1010")
    assert messages(problems) == ["City is missing", "Postal code is missing", "State 'XX' is not a US state"]


# --- street and house number -------------------------------------------------------------

@pytest.mark.parametrize("line, street, number", [
    # number last (DE, NL, …)
    ("Main St 42", "Main St", "42"),
    ("Hauptstraße 5a", "Hauptstraße", "5a"),
    ("Hauptstraße 5 a", "Hauptstraße", "5a"),
    ("Hauptstr. 12-14", "Hauptstr.", "12-14"),
    ("Hauptstr. 12 - 14", "Hauptstr.", "12-14"),
    ("Musterweg 3/1", "Musterweg", "3/1"),
    ("Keizersgracht 123-A", "Keizersgracht", "123-A"),
    ("Straße des 17. Juni 135", "Straße des 17. Juni", "135"),
    ("Main St, 42", "Main St", "42"),
    ("Main St,42", "Main St", "42"),
    ("  Lindenallee   7  ", "Lindenallee", "7"),
    # number first (US, GB, FR)
    ("42 Main St", "Main St", "42"),
    ("221B Baker Street", "Baker Street", "221B"),
    ("12, rue de la Paix", "rue de la Paix", "12"),
    ("12-14 High Street", "High Street", "12-14"),
    ("1600 Pennsylvania Avenue NW", "Pennsylvania Avenue NW", "1600"),
    ("100 Route 66", "Route 66", "100"),
    # nothing to split
    ("Hauptstraße", "Hauptstraße", ""),
    ("Marktplatz", "Marktplatz", ""),
    ("5th Avenue", "5th Avenue", ""),
    ("Flat 2, Baker Street", "Flat 2, Baker Street", ""),
    ("PO Box 1234", "PO Box 1234", ""),
    ("Postfach 10 20 30", "Postfach 10 20 30", ""),
    ("42", "42", ""),
    ("", "", ""),
])
def test_split_street(line, street, number):
    assert split_street(line, "") == (street, number)
    assert split_street(line, None) == (street, number)


def test_a_pasted_note_is_not_split():
    line = "Hauptstraße " + "x" * 200 + " 5"
    assert split_street(line, "") == (line, "")


def test_house_number_property_wins_and_the_line_is_kept():
    assert split_street("Marktplatz", "7") == ("Marktplatz", "7")
    assert split_street("Hauptstraße 5", " 5a ") == ("Hauptstraße 5", "5a")
    assert split_street(None, "7") == ("", "7")


def _squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


@given(st.text(), st.sampled_from(["", " ", None]))
def test_split_street_never_loses_characters_but_whitespace(line, empty_number):
    street, number = split_street(line, empty_number)
    kept = _squeeze(line)
    if not number:
        assert street == line.strip()
        return
    # Joined in either order, with or without the separating comma that was dropped.
    assert kept in {_squeeze(street + number), _squeeze(number + street),
                    _squeeze(street + "," + number), _squeeze(number + "," + street)}
    assert street and street == street.strip()
    assert number[0].isdigit()


_STREET_WORDS = st.from_regex(r"[A-Za-zÄÖÜäöüß][A-Za-zÄÖÜäöüß.]{1,12}( [A-Za-zÄÖÜäöüß][a-zäöüß.]{1,10}){0,2}",
                              fullmatch=True)
_NUMBERS = st.from_regex(r"[1-9][0-9]{0,3}[a-z]?", fullmatch=True)


@given(_STREET_WORDS, _NUMBERS)
def test_split_street_finds_the_number_at_either_end(street, number):
    assert split_street(f"{street} {number}", "") == (street, number)
    assert split_street(f"{number} {street}", "") == (street, number)


@given(st.text(), st.text(min_size=1).filter(lambda s: s.strip()))
def test_a_given_house_number_leaves_the_street_alone(line, number):
    assert split_street(line, number) == (line.strip(), number.strip())

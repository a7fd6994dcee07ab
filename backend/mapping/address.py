"""The address rule (street, postal code, city and a country billwerk knows) and the street /
house-number split.

billwerk prints the customer's address on every invoice, and it wants ISO 3166 alpha-2 country
codes and, for the US, a state. HubSpot's company address is free text typed by sales reps, so
this module turns what reps actually type ("Germany", "deu", "Deutschland", "US-CA",
"California") into what billwerk accepts, and says in plain words what is missing or wrong.
Every problem is reported on its own so the rep can fix them all in one visit (the Sequence
connector does the same; its users were confused by one combined "address invalid").
"""
from __future__ import annotations

import gettext
import re
import unicodedata
from functools import cache
from typing import Mapping

import pycountry

from .problems import Problem

#: Codes people use that ISO 3166-1 does not assign, with the code they mean. "UK" is refused
#: with a hint: ISO only reserves it, billwerk
#: takes alpha-2 codes, so guessing would hide the typo from the rep until an invoice goes out.
#: "EL" is Greece's code in EU VAT numbers, not in ISO 3166.
NOT_ISO_CODES: dict[str, str] = {"UK": "GB", "EL": "GR"}

#: Names pycountry does not know (it has "Türkiye", "Russian Federation", …), and the common
#: names of the United Kingdom (which the contract accepts as names; only the code "UK" is refused).
COUNTRY_ALIASES: dict[str, str] = {
    "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB",
    "america": "US", "united states of america": "US",
    "russia": "RU", "turkey": "TR", "holland": "NL", "netherlands": "NL", "czech republic": "CZ",
    "ivory coast": "CI", "swaziland": "SZ", "macedonia": "MK", "burma": "MM", "vatican": "VA",
    "vatican city": "VA", "palestine": "PS", "micronesia": "FM", "brunei": "BN", "cape verde": "CV",
    "east timor": "TL", "republic of ireland": "IE", "macau": "MO", "uae": "AE",
    "democratic republic of the congo": "CD", "dr congo": "CD",
}

#: Languages whose country names are accepted: those of the locales the connector offers
#: (``billwerk_locale``), so "Deutschland", "Allemagne" or "Niemcy" all mean DE.
NAME_LANGUAGES: tuple[str, ...] = ("de", "fr", "es", "it", "nl", "fi", "sv", "da", "pl")


def _key(value: str) -> str:
    """Comparison key for names: case, accents, dots, "the" and spacing do not matter."""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace(".", "").replace("&", " and ")
    text = re.sub(r"[\s\-_]+", " ", text).strip()
    return text[4:] if text.startswith("the ") else text


@cache
def _country_names() -> dict[str, str]:
    """Name key -> alpha-2, from pycountry's English names, its translations and the aliases.

    A translated name that means two different countries in two languages is dropped rather
    than guessed; English names always win over translations.
    """
    english: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                english.setdefault(_key(name), country.alpha_2)
    translated: dict[str, set[str]] = {}
    for language in NAME_LANGUAGES:
        try:
            translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        except OSError:  # a pycountry build without this language: fewer names, same rules
            continue
        for country in pycountry.countries:
            for attr in ("name", "official_name", "common_name"):
                name = getattr(country, attr, None)
                if name:
                    translated.setdefault(_key(translation.gettext(name)), set()).add(country.alpha_2)
    names = {k: next(iter(v)) for k, v in translated.items() if len(v) == 1}
    names.update({_key(k): v for k, v in COUNTRY_ALIASES.items()})
    names.update(english)
    return names


def normalize_country(value: str | None) -> str | None:
    """ISO 3166 alpha-2 code for an alpha-2 or alpha-3 code or a country name, any case.

    ``None`` when empty, unknown or a refused code such as "UK" (see :func:`country_problem`
    for the words to show).
    """
    if not value or not value.strip():
        return None
    raw = value.strip()
    letters = raw.replace(".", "").replace(" ", "")
    if letters.isascii() and letters.isalpha() and len(letters) in (2, 3):
        code = letters.upper()
        if code in NOT_ISO_CODES:
            return None
        country = (pycountry.countries.get(alpha_2=code) if len(code) == 2
                   else pycountry.countries.get(alpha_3=code))
        if country is not None:
            return country.alpha_2
        if len(code) == 2:
            return None
    return _country_names().get(_key(raw))


def country_problem(value: str | None, *, field: str, object_type: str, object_id: str,
                    label: str = "Country") -> Problem | None:
    """The problem with a country value, or ``None`` when it is a country we know."""
    def problem(message: str) -> Problem:
        return Problem(field, message, object_type, str(object_id))

    if not value or not value.strip():
        return problem(f"{label} is missing")
    if normalize_country(value) is not None:
        return None
    code = value.strip().replace(".", "").replace(" ", "").upper()
    if code in NOT_ISO_CODES:
        return problem(f"{label} '{value.strip()}' is not an ISO code: use {NOT_ISO_CODES[code]}")
    return problem(f"{label} '{value.strip()}' is not a country we know: "
                   f"use a two-letter ISO code such as DE")


@cache
def _us_states() -> dict[str, str]:
    """Key -> two-letter code for every US subdivision in ISO 3166-2 (states, DC and the
    outlying areas such as PR, which USPS and billing addresses treat like states)."""
    states: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code="US") or ():
        short = sub.code.split("-", 1)[1]
        states[_key(sub.code)] = short
        states[_key(short)] = short
        states[_key(sub.name)] = short
    return states


def normalize_us_state(value: str | None) -> str | None:
    """Two-letter US state code from "CA", "US-CA" or "California"; ``None`` otherwise."""
    if not value or not value.strip():
        return None
    return _us_states().get(_key(value))


def prop_text(props: Mapping[str, object] | None, name: str) -> str:
    """A HubSpot property as stripped text; HubSpot sends missing values as null or ""."""
    value = props.get(name) if props else None
    return "" if value is None else str(value).strip()


def validate_address(props: Mapping[str, object], object_id: str | int) -> list[Problem]:
    """Every way the company's address breaks the address rule, one problem each.

    ``props`` are HubSpot company properties (``address``, ``address2``, ``city``, ``zip``,
    ``country``, ``state``, ``billwerk_house_number``). The house number is not required: many
    addresses (a named building, a rural address, a street line that carries it) have none.
    """
    object_id = str(object_id)
    problems: list[Problem] = []

    def add(field: str, message: str) -> None:
        problems.append(Problem(field, message, "company", object_id))

    if not prop_text(props, "address"):
        add("address", "Street address is missing")
    if not prop_text(props, "city"):
        add("city", "City is missing")
    if not prop_text(props, "zip"):
        add("zip", "Postal code is missing")
    country_value = prop_text(props, "country")
    bad_country = country_problem(country_value, field="country", object_type="company", object_id=object_id)
    if bad_country is not None:
        problems.append(bad_country)
    elif normalize_country(country_value) == "US":
        state = prop_text(props, "state")
        if not state:
            add("state", "State is missing: a US address needs one")
        elif normalize_us_state(state) is None:
            add("state", f"State '{state}' is not a US state")
    return problems


# --- street and house number -------------------------------------------------------------

# A house number: digits, an optional letter ("5a", "5 a") and an optional range or
# fraction ("12-14", "3/1", "123-A"). At the end of a line the letter may stand apart ("7 b").
_NUMBER_AT_END = r"[0-9]+(?:\s?[A-Za-z]|-[A-Za-z])?(?:\s*[-/\u2013]\s*[0-9]+(?:\s?[A-Za-z])?)?"
# At the start the letter must be attached ("221B Baker Street"), or "42 A Street" would lose
# the street's first word.
_NUMBER_AT_START = r"[0-9]+[A-Za-z]?(?:[-/\u2013][0-9]+[A-Za-z]?)?"

_SUFFIX_FORM = re.compile(rf"^(?P<street>.*?[^\s,])(?:\s*,\s*|\s+)(?P<number>{_NUMBER_AT_END})\Z", re.DOTALL)
_PREFIX_FORM = re.compile(rf"^(?P<number>{_NUMBER_AT_START})(?:\s*,\s+|\s+)(?P<street>[^\s,].*)\Z", re.DOTALL)
# Longer is not a street line but a pasted note; splitting it would guess (and regexes on
# pasted text should stay cheap).
_LONGEST_STREET_LINE = 200
# Post-office boxes carry a number that is not a house number.
_PO_BOX = re.compile(r"^(?:p\.?\s*o\.?\s*box|post\s*box|postfach|bo[iî]te\s+postale)\b", re.IGNORECASE)


def split_street(street: str | None, house_number: str | None) -> tuple[str, str]:
    """``(street, house_number)`` for billwerk's separate ``Street`` and ``HouseNumber``.

    HubSpot has one street line; the connector's own ``billwerk_house_number`` wins when a rep
    filled it in. Otherwise the number is taken off the line in either convention: at the end
    ("Hauptstraße 5a", "Hauptstr. 12-14", "Main St 42") or at the start ("42 Main St",
    "221B Baker Street", "12, rue de la Paix"). A line with a number at both ends is read as
    number-first, since "100 Route 66" is a US address and German lines never start with the
    number. A line without a number, a PO box or a line over 200 characters is left alone. Only whitespace and the comma
    between street and number are ever dropped.
    """
    street = (street or "").strip()
    house_number = (house_number or "").strip()
    if house_number or not street or len(street) > _LONGEST_STREET_LINE or _PO_BOX.match(street):
        return street, house_number
    match = _PREFIX_FORM.match(street) or _SUFFIX_FORM.match(street)
    if match is None:
        return street, ""
    return match.group("street").strip(), re.sub(r"\s+", "", match.group("number"))

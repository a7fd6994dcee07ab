from __future__ import annotations

import pytest

from backend.mapping.customer import (
    BEARER_MEDIA, EINVOICING_NETWORKS, LOCALES, PLACEHOLDER_EMAIL_DOMAIN, build_customer, customer_patch,
    is_placeholder_email, normalize_vat_id, placeholder_email, validate_customer,
)
from backend.mapping.problems import Problem

from ._fixtures import company, company_names

ANNA = {"firstname": "Anna", "lastname": "Schmidt", "email": "anna.schmidt@nordlicht.example", "phone": "+49 30 7654321",
        "hs_object_id": "501"}
EMMA = {"firstname": "Emma", "lastname": "Miller", "email": "", "phone": "", "mobilephone": ""}


def problems_of(name: str, contact: dict | None = None, contact_id: str | None = None) -> list[tuple[str, str]]:
    company_id, props = company(name)
    return [(p.field, p.message) for p in validate_customer(props, contact, company_id=company_id,
                                                            contact_id=contact_id)]


# --- validation --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["de_good", "us_good", "gb_good", "fr_good", "de_country_name",
                                  "de_street_without_number", "de_house_number_property", "us_state_code_prefixed"])
@pytest.mark.parametrize("contact", [ANNA, EMMA, None])
def test_good_companies_validate(name, contact):
    assert problems_of(name, contact, "501") == []


def test_address_problems_are_part_of_customer_validation():
    assert problems_of("de_missing_zip") == [("zip", "Postal code is missing")]
    assert problems_of("gb_country_uk") == [("country", "Country 'UK' is not an ISO code: use GB")]
    assert problems_of("us_without_state") == [("state", "State is missing: a US address needs one")]
    assert problems_of("us_state_xx") == [("state", "State 'XX' is not a US state")]


def test_empty_company_lists_name_and_every_address_part():
    assert problems_of("empty") == [
        ("name", "Company name is missing"),
        ("address", "Street address is missing"),
        ("city", "City is missing"),
        ("zip", "Postal code is missing"),
        ("country", "Country is missing"),
    ]


def test_bad_vat_id_is_reported():
    company_id, props = company("de_bad_vat")
    assert validate_customer(props, ANNA, company_id=company_id, contact_id="501") == [
        Problem("billwerk_vat_id", "VAT ID 'DE123' is not valid", "company", "1014")]


def test_einvoicing_needs_receiver_network_and_buyer_reference():
    assert problems_of("de_einvoicing_incomplete") == [
        ("billwerk_einvoicing_receiver_id", "E-invoicing needs an E-Invoicing Receiver ID"),
        ("billwerk_einvoicing_network", "E-invoicing needs an E-Invoicing Network (Peppol or Finvoice)"),
        ("billwerk_buyer_reference", "E-invoicing needs a Buyer Reference"),
    ]
    _, props = company("fr_good")
    for field in ("billwerk_einvoicing_receiver_id", "billwerk_einvoicing_network", "billwerk_buyer_reference"):
        problems = validate_customer({**props, field: ""}, None, company_id="1004", contact_id=None)
        assert [p.field for p in problems] == [field]


def test_einvoicing_fields_are_not_required_for_other_dispatch():
    _, props = company("fr_good")
    for medium in ("Email", "SnailMail", "ArchiveOnly", ""):
        assert validate_customer({**props, "billwerk_default_bearer_medium": medium,
                                  "billwerk_einvoicing_receiver_id": "", "billwerk_einvoicing_network": "",
                                  "billwerk_buyer_reference": ""}, None, company_id="1004", contact_id=None) == []


def test_enumerations_only_take_the_contract_values():
    assert problems_of("de_bad_enumerations") == [
        ("billwerk_destination_country", "Destination country 'UK' is not an ISO code: use GB"),
        ("billwerk_locale", "Locale 'de-AT' is not one billwerk offers: use one of " + ", ".join(LOCALES)),
        ("billwerk_default_bearer_medium", "Invoice dispatch 'Fax' is not one of Email, SnailMail, ArchiveOnly, EInvoicing"),
        ("billwerk_einvoicing_network", "E-invoicing network 'X400' is not one of Peppol, Finvoice"),
    ]
    _, props = company("de_good")
    unknown = validate_customer({**props, "billwerk_destination_country": "Atlantis"}, None,
                                company_id="1", contact_id=None)
    assert [p.message for p in unknown] == [
        "Destination country 'Atlantis' is not a country we know: use a two-letter ISO code such as DE"]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_contract_locale_is_accepted(locale):
    _, props = company("de_good")
    assert validate_customer({**props, "billwerk_locale": locale}, None, company_id="1", contact_id=None) == []
    assert build_customer({**props, "billwerk_locale": locale}, None, company_id="1")["Locale"] == locale


@pytest.mark.parametrize("medium", BEARER_MEDIA)
@pytest.mark.parametrize("network", EINVOICING_NETWORKS)
def test_every_contract_dispatch_and_network_is_accepted(medium, network):
    _, props = company("fr_good")
    props = {**props, "billwerk_default_bearer_medium": medium, "billwerk_einvoicing_network": network}
    assert validate_customer(props, None, company_id="1", contact_id=None) == []
    body = build_customer(props, None, company_id="1")
    assert (body["DefaultBearerMedium"], body["EInvoicingNetwork"]) == (medium, network)


def test_enumeration_spelling_is_forgiven():
    _, props = company("fr_good")
    props = {**props, "billwerk_locale": "fr_fr", "billwerk_default_bearer_medium": "einvoicing",
             "billwerk_einvoicing_network": "PEPPOL"}
    assert validate_customer(props, None, company_id="1", contact_id=None) == []
    body = build_customer(props, None, company_id="1")
    assert (body["Locale"], body["DefaultBearerMedium"], body["EInvoicingNetwork"]) == ("fr-FR", "EInvoicing", "Peppol")


@pytest.mark.parametrize("email", ["anna", "anna@", "@example.com", "anna@example", "anna schmidt@example.com",
                                   "anna@@example.com", "n/a"])
def test_contact_email_must_look_like_one(email):
    _, props = company("de_good")
    problems = validate_customer(props, {**ANNA, "email": email}, company_id="1001", contact_id="501")
    assert problems == [Problem("email", f"Email '{email}' is not a valid email address", "contact", "501")]
    # and it is never sent
    assert is_placeholder_email(build_customer(props, {**ANNA, "email": email}, company_id="1001")["EmailAddress"])


@pytest.mark.parametrize("email", ["anna@example.com", "a.b+billing@sub.example.co.uk", "ÄNNA@bücher.de"])
def test_real_emails_pass(email):
    _, props = company("de_good")
    assert validate_customer(props, {"email": email}, company_id="1", contact_id="2") == []
    assert build_customer(props, {"email": email}, company_id="1")["EmailAddress"] == email


def test_validation_problems_link_to_the_right_records():
    company_id, props = company("de_missing_zip")
    problems = validate_customer(props, {"email": "nope"}, company_id=company_id, contact_id="501")
    urls = [p.url("https://app.hubspot.com", 42) for p in problems]
    assert urls == ["https://app.hubspot.com/contacts/42/record/0-2/1005",
                    "https://app.hubspot.com/contacts/42/record/0-1/501"]


# --- VAT ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, country, expected", [
    ("DE136695976", None, "DE136695976"),
    ("de 136 695 976", None, "DE136695976"),
    ("DE-136.695.976", "DE", "DE136695976"),
    ("136695976", "DE", "DE136695976"),        # prefix taken from the company's country
    ("GB980780684", None, "GB980780684"),
    ("GB 980 7806 84", "GB", "GB980780684"),
    ("980780684", "GB", "GB980780684"),
    ("XI980780684", None, "XI980780684"),      # Northern Ireland
    ("FR 40 303 265 045", None, "FR40303265045"),
    ("ATU13585627", None, "ATU13585627"),
    ("U13585627", "AT", "ATU13585627"),
    ("EL094259216", None, "EL094259216"),
    ("GR094259216", None, "EL094259216"),      # VIES spells Greece EL
    ("094259216", "GR", "EL094259216"),
    ("ATU13585627", "DE", "ATU13585627"),      # a branch's foreign number is fine
    ("CHE-116.281.710 MWST", None, "CHE116281710MWST"),  # python-stdnum knows the Swiss format too
    ("12-3456789", "US", "123456789"),         # no VAT format known: passed on, compacted
])
def test_valid_vat_ids_are_normalized(value, country, expected):
    assert normalize_vat_id(value, country) == expected


@pytest.mark.parametrize("value, country", [
    ("DE123", None), ("DE136695977", None), ("123", "DE"), ("GB123456789", None), ("FR12345678901", None),
    ("ATU1358562", None), ("CHE-116.281.711 MWST", None), ("", None), (None, "DE"),
])
def test_invalid_vat_ids_are_refused(value, country):
    assert normalize_vat_id(value, country) is None


# --- building the customer ---------------------------------------------------------------

def test_build_customer_de_with_contact():
    _, props = company("de_good")
    assert build_customer(props, ANNA, company_id="1001") == {
        "ExternalCustomerId": "1001",
        "CompanyName": "Nordlicht Software GmbH",
        "FirstName": "Anna",
        "LastName": "Schmidt",
        "EmailAddress": "anna.schmidt@nordlicht.example",
        "PhoneNumber": "+49 30 7654321",
        "Locale": "de-DE",
        "Language": "de-DE",
        "VatId": "DE136695976",
        "DestinationCountry": "DE",
        "DefaultBearerMedium": "Email",
        "Address": {"Street": "Hauptstraße", "HouseNumber": "5a", "PostalCode": "10115", "City": "Berlin",
                    "State": "BE", "Country": "DE"},
    }


def test_build_customer_us_without_contact():
    _, props = company("us_good")
    assert build_customer(props, None, company_id=1002) == {
        "ExternalCustomerId": "BH-0042",
        "CompanyName": "Blue Harbor Analytics Inc.",
        "EmailAddress": "billing+hubspot-company-1002@placeholder.invalid",
        "PhoneNumber": "+1 415 5550142",
        "Locale": "en-US",
        "Language": "en-US",
        "DefaultBearerMedium": "Email",
        "Address": {"Street": "Main St", "HouseNumber": "42", "AddressLine1": "Suite 200", "PostalCode": "94105",
                    "City": "San Francisco", "State": "CA", "Country": "US"},
    }


def test_build_customer_gb_and_fr():
    _, gb = company("gb_good")
    body = build_customer(gb, EMMA, company_id="1003")
    assert body["Address"] == {"Street": "Baker Street", "HouseNumber": "221B", "PostalCode": "NW1 6XE",
                               "City": "London", "Country": "GB"}
    assert (body["VatId"], body["DefaultBearerMedium"], body["FirstName"], body["LastName"]) == (
        "GB980780684", "ArchiveOnly", "Emma", "Miller")
    assert body["EmailAddress"] == "billing+hubspot-company-1003@placeholder.invalid"
    assert "PhoneNumber" not in body
    _, fr = company("fr_good")
    body = build_customer(fr, None, company_id="1004")
    assert body["Address"] == {"Street": "rue de la Paix", "HouseNumber": "12", "AddressLine1": "Bâtiment A",
                               "PostalCode": "75002", "City": "Paris", "Country": "FR"}
    assert {k: body[k] for k in ("VatId", "DefaultBearerMedium", "EInvoiceReceiverId", "EInvoicingNetwork",
                                 "BuyerReference", "Locale")} == {
        "VatId": "FR40303265045", "DefaultBearerMedium": "EInvoicing", "EInvoiceReceiverId": "0009:40303265045",
        "EInvoicingNetwork": "Peppol", "BuyerReference": "PO-2026-17", "Locale": "fr-FR"}


@pytest.mark.parametrize("name, street, number", [
    ("de_street_without_number", "Marktplatz", None),
    ("de_house_number_property", "Marktplatz", "7"),
    ("de_street_number_range", "Hauptstr.", "12-14"),
    ("us_good", "Main St", "42"),
    ("gb_good", "Baker Street", "221B"),
])
def test_street_and_house_number(name, street, number):
    company_id, props = company(name)
    address = build_customer(props, None, company_id=company_id)["Address"]
    assert address["Street"] == street
    assert address.get("HouseNumber") == number


@pytest.mark.parametrize("name, country, state", [
    ("de_country_name", "DE", "BE"), ("de_country_native_name", "DE", "BE"), ("de_country_alpha3", "DE", "BE"),
    ("us_state_code_prefixed", "US", "NY"), ("us_good", "US", "CA"),
])
def test_country_and_state_are_normalized(name, country, state):
    company_id, props = company(name)
    address = build_customer(props, None, company_id=company_id)["Address"]
    assert (address["Country"], address["State"]) == (country, state)


def test_invalid_values_are_never_sent():
    _, props = company("de_bad_vat")
    assert "VatId" not in build_customer(props, ANNA, company_id="1014")
    _, props = company("de_bad_enumerations")
    body = build_customer(props, ANNA, company_id="1018")
    for key in ("Locale", "Language", "DefaultBearerMedium", "EInvoicingNetwork", "DestinationCountry"):
        assert key not in body
    _, props = company("gb_country_uk")
    assert "Country" not in build_customer(props, None, company_id="1006")["Address"]
    _, props = company("us_state_xx")
    assert "State" not in build_customer(props, None, company_id="1010")["Address"]


@pytest.mark.parametrize("name", company_names())
def test_no_empty_values_are_sent(name):
    company_id, props = company(name)
    for contact in (ANNA, EMMA, None):
        body = build_customer(props, contact, company_id=company_id)
        assert all(v not in (None, "", {}) for v in body.values()), body
        assert all(v not in (None, "") for v in body.get("Address", {}).values()), body
        assert body["ExternalCustomerId"] and body["EmailAddress"]


def test_external_customer_id_precedence():
    _, props = company("us_good")
    assert build_customer(props, None, company_id="1002")["ExternalCustomerId"] == "BH-0042"
    assert build_customer({**props, "billwerk_external_customer_id": " "}, None,
                          company_id="1002")["ExternalCustomerId"] == "1002"
    assert build_customer(props, None, company_id="1002", external_id="cus-7")["ExternalCustomerId"] == "cus-7"


def test_phone_falls_back_from_contact_to_mobile_to_company():
    _, props = company("de_good")
    assert build_customer(props, {"phone": "1"}, company_id="1")["PhoneNumber"] == "1"
    assert build_customer(props, {"mobilephone": "2"}, company_id="1")["PhoneNumber"] == "2"
    assert build_customer(props, {}, company_id="1")["PhoneNumber"] == "+49 30 1234567"


# --- placeholder e-mail ------------------------------------------------------------------

def test_placeholder_email_is_undeliverable_and_recognised():
    address = placeholder_email("1001")
    assert address == "billing+hubspot-company-1001@placeholder.invalid"
    assert address.endswith("@" + PLACEHOLDER_EMAIL_DOMAIN) and PLACEHOLDER_EMAIL_DOMAIN.endswith(".invalid")
    assert is_placeholder_email(address)
    assert is_placeholder_email("Billing+Hubspot-Company-1@PLACEHOLDER.INVALID")
    assert is_placeholder_email("someone@anything.invalid")
    for real in ("anna@example.com", "invalid@example.com", "x@invalid.example", "", None):
        assert not is_placeholder_email(real)


# --- PATCH -------------------------------------------------------------------------------

def _customer(name: str, contact=ANNA) -> dict:
    company_id, props = company(name)
    return build_customer(props, contact, company_id=company_id)


def test_unchanged_customer_needs_no_patch():
    assert customer_patch(_customer("de_good"), _customer("de_good")) == {}


def test_only_changed_fields_are_patched():
    before = _customer("de_good")
    _, props = company("de_good")
    after = build_customer({**props, "name": "Nordlicht Software AG", "billwerk_locale": "en-GB"}, ANNA,
                           company_id="1001")
    assert customer_patch(before, after) == {"CompanyName": "Nordlicht Software AG", "Locale": "en-GB",
                                             "Language": "en-GB"}


def test_address_change_sends_the_whole_address():
    before = _customer("de_good")
    _, props = company("de_good")
    after = build_customer({**props, "city": "Potsdam", "zip": "14467", "state": ""}, ANNA, company_id="1001")
    assert customer_patch(before, after) == {"Address": {
        "Street": "Hauptstraße", "HouseNumber": "5a", "PostalCode": "14467", "City": "Potsdam", "Country": "DE",
        "State": None}}


def test_cleared_fields_are_sent_as_null():
    before = _customer("de_good")
    _, props = company("de_good")
    after = build_customer({**props, "billwerk_vat_id": "", "billwerk_destination_country": ""}, ANNA,
                           company_id="1001")
    assert customer_patch(before, after) == {"VatId": None, "DestinationCountry": None}


def test_placeholder_never_overwrites_a_real_email():
    before = _customer("de_good")
    after = _customer("de_good", contact=None)
    patch = customer_patch(before, after)
    assert "EmailAddress" not in patch
    assert patch == {"FirstName": None, "LastName": None, "PhoneNumber": "+49 30 1234567"}
    # but a real address replaces a placeholder
    assert customer_patch(after, before)["EmailAddress"] == "anna.schmidt@nordlicht.example"


def test_patch_against_a_billwerk_customer_ignores_billwerk_own_fields():
    current = _customer("de_good")
    from_billwerk = {**current, "Id": "5370d9201d8dd006288221b0", "CreatedAt": "2014-05-12T14:22:24.0000000Z",
                     "CustomerName": "Nordlicht Software GmbH", "CustomFields": {"kst": "1"}, "Notes": None,
                     "BuyerReference": None, "Address": {**current["Address"], "AddressLine2": "Hof 3", "Street": "Hauptstraße"}}
    assert customer_patch(from_billwerk, current) == {}

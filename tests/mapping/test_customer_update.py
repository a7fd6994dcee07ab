"""Company / contact changes -> the billwerk customer PATCH (mapping/customer_update.py)."""
from __future__ import annotations

from backend.mapping.customer import placeholder_email
from backend.mapping.customer_update import (COMPANY_FIELDS, CONTACT_FIELDS, company_patch, company_problems, contact_patch,
                                             contact_problems, dispatch_problems, is_sandbox_url, merged, refusal_message)

COMPANY = {"name": "Nordlicht Software GmbH", "address": "Friedrichstraße 123", "city": "Berlin", "zip": "10117", "country": "DE",
           "billwerk_locale": "de-DE"}
# What billwerk holds: the import's customer plus fields someone set in billwerk.
HELD = {"Id": "c1", "ExternalCustomerId": "42", "CompanyName": "Nordlicht Software GmbH", "FirstName": "Anna",
        "LastName": "Schmidt", "EmailAddress": "anna@nordlicht.example", "Locale": "de-DE", "Language": "de-DE",
        "DefaultBearerMedium": "Email", "Notes": "VIP", "Tag": "key", "DebitorAccount": "D-1", "CustomFields": {"x": 1},
        "Address": {"Street": "Friedrichstraße", "HouseNumber": "123", "PostalCode": "10117", "City": "Berlin", "Country": "DE",
                    "AddressLine2": "set in billwerk"}}


def test_nothing_differs_nothing_is_sent():
    assert company_patch(COMPANY, HELD, "42") == {}


def test_only_owned_fields_that_differ_are_sent():
    patch = company_patch(dict(COMPANY, city="Potsdam", zip="14467", billwerk_vat_id="DE136695976"), HELD, "42")
    assert set(patch) == {"Address", "VatId"} and set(patch) <= set(COMPANY_FIELDS)
    assert patch["Address"] == {"Street": "Friedrichstraße", "HouseNumber": "123", "PostalCode": "14467", "City": "Potsdam",
                                "Country": "DE"}
    after = merged(HELD, patch)
    assert after["Address"]["AddressLine2"] == "set in billwerk"          # PATCH merges the address
    assert (after["Notes"], after["Tag"], after["DebitorAccount"], after["CustomFields"]) == ("VIP", "key", "D-1", {"x": 1})


def test_a_cleared_owned_value_is_cleared_but_the_dispatch_mode_and_locale_stay_billwerks():
    patch = company_patch({k: v for k, v in COMPANY.items() if k != "billwerk_locale"} | {"address2": ""},
                          dict(HELD, VatId="DE136695976", Address=dict(HELD["Address"], AddressLine1="Hof")), "42")
    assert patch["VatId"] is None and patch["Address"]["AddressLine1"] is None
    assert "DefaultBearerMedium" not in patch and "Locale" not in patch and "Language" not in patch


def test_company_problems_are_the_imports():
    messages = [p.message for p in company_problems(dict(COMPANY, zip="", billwerk_default_bearer_medium="EInvoicing"), "42")]
    assert messages == ["Postal code is missing", "E-invoicing needs an E-Invoicing Receiver ID",
                        "E-invoicing needs an E-Invoicing Network (Peppol or Finvoice)", "E-invoicing needs a Buyer Reference"]


def test_dispatch_needs_what_billwerk_needs():
    email = dict(COMPANY, billwerk_default_bearer_medium="Email")
    assert dispatch_problems(email, HELD, "42") == []
    [problem] = dispatch_problems(email, dict(HELD, EmailAddress=placeholder_email("42")), "42")
    assert problem.field == "billwerk_default_bearer_medium" and "needs an e-mail address" in problem.message
    snail = dict(COMPANY, billwerk_default_bearer_medium="SnailMail")
    assert dispatch_problems(snail, HELD, "42") == []
    assert "production accounts" in dispatch_problems(snail, HELD, "42", sandbox_account=True)[0].message
    no_city = dict(HELD, Address=dict(HELD["Address"], City=None))
    assert "complete postal address" in dispatch_problems(snail, no_city, "42")[0].message
    assert dispatch_problems(COMPANY, dict(HELD, EmailAddress=None), "42") == []     # no mode chosen: billwerk's own


def test_contact_patch_sends_the_person_fields_only():
    contact = {"firstname": "Anna", "lastname": "Schmidt-Lang", "email": "anna@nordlicht.example", "phone": "+49 30 1"}
    patch = contact_patch(contact, HELD, "42")
    assert patch == {"LastName": "Schmidt-Lang", "PhoneNumber": "+49 30 1"} and set(patch) <= set(CONTACT_FIELDS)


def test_a_removed_contact_email_never_replaces_a_real_one():
    assert "EmailAddress" not in contact_patch({"firstname": "Anna", "lastname": "Schmidt", "email": ""}, HELD, "42")
    assert contact_patch({"firstname": "Anna", "lastname": "Schmidt", "email": "new@nordlicht.example"}, HELD, "42") == {
        "EmailAddress": "new@nordlicht.example"}


def test_contact_problems():
    assert contact_problems({"email": "anna@x.example"}, "7") == []
    [problem] = contact_problems({"email": "anna at x"}, "7")
    assert (problem.object_type, problem.object_id, problem.field) == ("contact", "7", "email")


def test_sandbox_urls_and_refusals():
    assert is_sandbox_url("https://sandbox.billwerk.com") and not is_sandbox_url("https://app.billwerk.com")
    assert "production accounts" in refusal_message("DefaultBearerMedium: no letters here", {"DefaultBearerMedium": "SnailMail"})
    assert refusal_message("VatId is invalid", {"VatId": "X"}) == "billwerk refused the update: VatId is invalid"

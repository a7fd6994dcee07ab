"""Changes of a linked company or of a customer's person contact -> the billwerk customer PATCH (pure).

The connector owns a fixed set of customer fields (CONTRACT §4, customer mapping): the company
gives :data:`COMPANY_FIELDS`, the person contact :data:`CONTACT_FIELDS`. An update compares what
HubSpot says with what billwerk holds *now* (a fresh GET) and sends only the owned fields that
differ, so a field someone changed in billwerk that the connector does not map (notes, tags,
``DebitorAccount``, additional e-mail addresses, unmapped custom fields) is never touched.

Before anything is sent, the company must pass the import's checks (the address rule, VAT ID,
locale, dispatch mode and e-invoicing) and the dispatch mode must have what billwerk needs to
deliver an invoice (:func:`dispatch_problems`). A problem means nothing is sent.
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlsplit

from .address import prop_text
from .customer import (build_customer, customer_patch, is_placeholder_email, looks_like_email, normalize_bearer_medium,
                       validate_customer)
from .problems import Problem

#: HubSpot company properties whose change updates the linked customer (the webhook subscriptions).
COMPANY_TRIGGERS = frozenset({
    "name", "address", "address2", "city", "zip", "country", "state", "billwerk_house_number", "billwerk_vat_id",
    "billwerk_locale", "billwerk_default_bearer_medium", "billwerk_einvoicing_receiver_id", "billwerk_buyer_reference",
    "billwerk_einvoicing_network", "billwerk_destination_country",
})
#: HubSpot contact properties whose change updates the customers the contact is the person of.
CONTACT_TRIGGERS = frozenset({"firstname", "lastname", "email", "phone"})

#: billwerk customer fields a company owns, and those its person contact owns.
COMPANY_FIELDS = ("CompanyName", "Locale", "Language", "VatId", "DestinationCountry", "DefaultBearerMedium",
                  "BuyerReference", "EInvoiceReceiverId", "EInvoicingNetwork", "Address")
CONTACT_FIELDS = ("FirstName", "LastName", "EmailAddress", "PhoneNumber")
#: Fields an empty HubSpot value does not clear: billwerk needs a dispatch mode and falls back to its
#: account's language; "not set in HubSpot" means "billwerk's choice", not "blank it".
KEEP_WHEN_EMPTY = ("DefaultBearerMedium", "Locale", "Language")
POSTAL_FIELDS = ("Street", "PostalCode", "City", "Country")

SNAIL_MAIL_SANDBOX_HINT = ("billwerk prints and posts letters only for production accounts; a billwerk sandbox "
                           "account refuses Snail mail: choose Email or Archive only there")


def _owned(customer: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: customer.get(k) for k in fields if k in customer}


def _patch(current: Mapping[str, Any], wanted: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    patch = customer_patch(_owned(current, fields), _owned(wanted, fields))
    return {k: v for k, v in patch.items() if not (v is None and k in KEEP_WHEN_EMPTY)}


def merged(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """The customer as billwerk will hold it after ``patch`` (PATCH merges ``Address`` key by key)."""
    out = dict(current)
    for key, value in patch.items():
        if key == "Address":
            out["Address"] = {**(current.get("Address") or {}), **(value or {})}
        else:
            out[key] = value
    return out


def company_problems(company: Mapping[str, Any], company_id: str) -> list[Problem]:
    """The import's checks on the company alone (address rule, VAT ID, locale, dispatch mode, e-invoicing)."""
    return validate_customer(company, None, company_id=company_id, contact_id=None)


def dispatch_problems(company: Mapping[str, Any], after: Mapping[str, Any], company_id: str, *,
                      sandbox_account: bool = False) -> list[Problem]:
    """What the company's dispatch mode lacks in the customer billwerk would hold (``after``).

    Only a mode chosen in HubSpot is checked: with none, billwerk keeps its own. ``EInvoicing``'s
    three fields are checked by :func:`company_problems` already (the import's rule).
    """
    medium = normalize_bearer_medium(prop_text(company, "billwerk_default_bearer_medium"))
    problems: list[Problem] = []
    if medium == "Email":
        email = (after.get("EmailAddress") or "").strip()
        if not looks_like_email(email) or is_placeholder_email(email):
            problems.append(Problem("billwerk_default_bearer_medium",
                                    "Invoice dispatch Email needs an e-mail address: give the customer's contact one, "
                                    "or choose another dispatch mode", "company", company_id))
    elif medium == "SnailMail":
        address = after.get("Address") or {}
        missing = [f for f in POSTAL_FIELDS if not (address.get(f) or "").strip()]
        if missing:
            problems.append(Problem("billwerk_default_bearer_medium",
                                    "Invoice dispatch Snail mail needs a complete postal address (street, postal code, city, country)",
                                    "company", company_id))
        elif sandbox_account:
            problems.append(Problem("billwerk_default_bearer_medium", SNAIL_MAIL_SANDBOX_HINT, "company", company_id))
    return problems


def company_patch(company: Mapping[str, Any], current: Mapping[str, Any], company_id: str) -> dict[str, Any]:
    """The PATCH of the company-owned fields that differ from billwerk's ``current`` customer."""
    return _patch(current, build_customer(company, None, company_id=company_id), COMPANY_FIELDS)


def contact_problems(contact: Mapping[str, Any], contact_id: str) -> list[Problem]:
    email = prop_text(contact, "email")
    if email and not looks_like_email(email):
        return [Problem("email", f"Email '{email}' is not a valid email address", "contact", str(contact_id))]
    return []


def contact_patch(contact: Mapping[str, Any], current: Mapping[str, Any], company_id: str) -> dict[str, Any]:
    """The PATCH of the person fields that differ. A removed e-mail never replaces a real one with
    the placeholder (someone may have entered the billing address in billwerk)."""
    wanted = build_customer({}, contact, company_id=company_id)
    wanted["PhoneNumber"] = prop_text(contact, "phone") or None  # the contact's own phone, not the company's
    return _patch(current, wanted, CONTACT_FIELDS)


def is_sandbox_url(base_url: str) -> bool:
    """billwerk's sandbox system (``sandbox.billwerk.com``), where letters are never posted."""
    host = (urlsplit(base_url or "").hostname or "").lower()
    return host == "sandbox.billwerk.com" or host.startswith("sandbox.")


def refusal_message(provider_message: str, patch: Mapping[str, Any]) -> str:
    """billwerk's refusal of the update in words a rep can act on."""
    text = f"billwerk refused the update: {provider_message}"
    if patch.get("DefaultBearerMedium") == "SnailMail" or "snailmail" in provider_message.lower().replace(" ", ""):
        text += f" ({SNAIL_MAIL_SANDBOX_HINT})"
    return text

"""HubSpot company (+ contact) -> billwerk customer.

Two halves: :func:`validate_customer` says what a rep must fix, :func:`build_customer` builds
the JSON billwerk gets. The builder never sends a value the validator would reject (a wrong VAT
ID, an unknown locale): billwerk would refuse the whole customer, or, worse, accept it and print
it on invoices. Empty values are left out, because billwerk's PATCH treats a present key as
"set this" and the same payload serves create and update.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.gb import vat as gb_vat
from stdnum.util import get_cc_module

from .address import country_problem, normalize_country, normalize_us_state, prop_text, split_street, validate_address
from .problems import Problem

#: ``billwerk_locale`` options; billwerk's ``Locale`` takes the same spelling.
LOCALES: tuple[str, ...] = ("de-DE", "en-US", "en-GB", "fr-FR", "es-ES", "it-IT", "nl-NL", "fi-FI",
                            "sv-SE", "da-DK", "pl-PL")
#: ``billwerk_default_bearer_medium`` options = billwerk's ``DefaultBearerMedium`` values.
BEARER_MEDIA: tuple[str, ...] = ("Email", "SnailMail", "ArchiveOnly", "EInvoicing")
#: ``billwerk_einvoicing_network`` options, the networks billwerk's connector offers.
EINVOICING_NETWORKS: tuple[str, ...] = ("Peppol", "Finvoice")

#: Placeholder e-mail addresses live in ``.invalid``, a top-level domain reserved by RFC 2606
#: that never resolves, so billwerk cannot deliver an invoice to it even by mistake. Sequence's
#: connector does the same when HubSpot has no billing e-mail.
PLACEHOLDER_EMAIL_DOMAIN = "placeholder.invalid"
PLACEHOLDER_EMAIL_TEMPLATE = "billing+hubspot-company-{company_id}@" + PLACEHOLDER_EMAIL_DOMAIN

#: Top-level keys :func:`build_customer` writes, and the keys of its ``Address``.
CUSTOMER_FIELDS: tuple[str, ...] = (
    "ExternalCustomerId", "CompanyName", "FirstName", "LastName", "EmailAddress", "PhoneNumber",
    "Locale", "Language", "VatId", "DestinationCountry", "DefaultBearerMedium", "BuyerReference",
    "EInvoiceReceiverId", "EInvoicingNetwork", "Address",
)
ADDRESS_FIELDS: tuple[str, ...] = ("Street", "HouseNumber", "AddressLine1", "PostalCode", "City", "State", "Country")

# Deliberately loose: one "@", a dot in the domain, no spaces. Real validation is delivery;
# this only catches what is obviously not an address ("n/a", "john at example").
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def placeholder_email(company_id: str | int) -> str:
    """The undeliverable stand-in e-mail of a company without a contact e-mail."""
    return PLACEHOLDER_EMAIL_TEMPLATE.format(company_id=company_id)


def is_placeholder_email(address: str | None) -> bool:
    """True for any address in the reserved ``.invalid`` domain (ours or anyone's): such an
    address must never be pushed over a real one, nor be used to send anything."""
    if not address:
        return False
    return address.strip().rstrip(".").lower().endswith(".invalid")


def looks_like_email(address: str | None) -> bool:
    return bool(address) and _EMAIL.match(address.strip()) is not None


def _choice(value: str, allowed: tuple[str, ...]) -> str | None:
    """Canonical spelling of an enumeration value; case and ``_``/``-`` do not matter, since
    a portal admin may have typed an option by hand."""
    wanted = value.strip().replace("_", "-").casefold()
    return next((option for option in allowed if option.casefold() == wanted), None)


def normalize_locale(value: str | None) -> str | None:
    return _choice(value, LOCALES) if value else None


def normalize_bearer_medium(value: str | None) -> str | None:
    return _choice(value, BEARER_MEDIA) if value else None


def normalize_einvoicing_network(value: str | None) -> str | None:
    return _choice(value, EINVOICING_NETWORKS) if value else None


# --- VAT ---------------------------------------------------------------------------------

# python-stdnum lists Greece as "gr"; its VAT numbers carry "EL" (VIES), which it also accepts.
_EU_VAT_PREFIXES = frozenset(cc.upper() for cc in eu_vat.MEMBER_STATES) | {"EL", "GR"}

def normalize_vat_id(value: str | None, country: str | None = None) -> str | None:
    """The compact VAT ID with its country prefix, or ``None`` when it is not valid.

    EU numbers (including Northern Ireland's XI and Greece's EL) are checked by
    ``stdnum.eu.vat``, British ones by ``stdnum.gb.vat``, others by python-stdnum's module for
    the country when it has one (CH, NO, …). A number typed without its prefix is read in the
    company's ``country``. Where python-stdnum knows no format the number passes unchecked,
    only compacted: refusing what we cannot check would block real customers.
    """
    if not value or not value.strip():
        return None
    compact = re.sub(r"[\s.\-/]", "", value).upper()
    prefix = compact[:2] if compact[:2].isalpha() and compact[:2].isascii() else ""
    cc = prefix or (country or "").upper()
    if not prefix and cc:
        if cc == "GR":
            compact = "EL" + compact
        elif cc in _EU_VAT_PREFIXES or cc == "GB":
            compact = cc + compact
        prefix = compact[:2] if compact[:2].isalpha() else ""
    try:
        if prefix in _EU_VAT_PREFIXES:
            number = eu_vat.validate(compact)
            return "EL" + number[2:] if number.startswith("GR") else number
        if prefix == "GB":
            return "GB" + gb_vat.validate(compact)
        module = get_cc_module(cc, "vat") if len(cc) == 2 and cc.isalpha() else None
    except ValidationError:
        return None
    if module is None:
        return compact
    # Outside the EU the prefix is part of some formats (CHE-…) and absent from others.
    for candidate in (compact, cc + compact) if not prefix else (compact,):
        try:
            return module.validate(candidate)
        except ValidationError:
            continue
    return None


# --- validation --------------------------------------------------------------------------

def validate_customer(company: Mapping[str, Any], contact: Mapping[str, Any] | None, *,
                      company_id: str | int, contact_id: str | int | None) -> list[Problem]:
    """Everything a rep must fix before the company can become a billwerk customer.

    ``company`` / ``contact`` are HubSpot property dicts. Address problems come first (the
    address rule), then the company's billwerk fields, then the contact's e-mail.
    A missing contact or contact e-mail is no problem: a placeholder is used (see
    :data:`PLACEHOLDER_EMAIL_TEMPLATE`).
    """
    company_id = str(company_id)
    problems: list[Problem] = []

    def add(field: str, message: str) -> None:
        problems.append(Problem(field, message, "company", company_id))

    if not prop_text(company, "name"):
        add("name", "Company name is missing")
    problems.extend(validate_address(company, company_id))

    vat_id = prop_text(company, "billwerk_vat_id")
    if vat_id and normalize_vat_id(vat_id, normalize_country(prop_text(company, "country"))) is None:
        add("billwerk_vat_id", f"VAT ID '{vat_id}' is not valid")

    destination = prop_text(company, "billwerk_destination_country")
    if destination:
        bad = country_problem(destination, field="billwerk_destination_country", object_type="company",
                              object_id=company_id, label="Destination country")
        if bad is not None:
            problems.append(bad)

    locale = prop_text(company, "billwerk_locale")
    if locale and normalize_locale(locale) is None:
        add("billwerk_locale", f"Locale '{locale}' is not one billwerk offers: use one of {', '.join(LOCALES)}")

    medium_value = prop_text(company, "billwerk_default_bearer_medium")
    medium = normalize_bearer_medium(medium_value)
    if medium_value and medium is None:
        add("billwerk_default_bearer_medium",
            f"Invoice dispatch '{medium_value}' is not one of {', '.join(BEARER_MEDIA)}")

    network_value = prop_text(company, "billwerk_einvoicing_network")
    if network_value and normalize_einvoicing_network(network_value) is None:
        add("billwerk_einvoicing_network",
            f"E-invoicing network '{network_value}' is not one of {', '.join(EINVOICING_NETWORKS)}")
    if medium == "EInvoicing":
        # billwerk's connector manual: e-invoicing needs all three set in HubSpot.
        if not prop_text(company, "billwerk_einvoicing_receiver_id"):
            add("billwerk_einvoicing_receiver_id", "E-invoicing needs an E-Invoicing Receiver ID")
        if not network_value:
            add("billwerk_einvoicing_network", "E-invoicing needs an E-Invoicing Network (Peppol or Finvoice)")
        if not prop_text(company, "billwerk_buyer_reference"):
            add("billwerk_buyer_reference", "E-invoicing needs a Buyer Reference")

    email = prop_text(contact, "email")
    if email and not looks_like_email(email):
        problems.append(Problem("email", f"Email '{email}' is not a valid email address", "contact",
                                str(contact_id) if contact_id is not None else ""))
    return problems


# --- payload -----------------------------------------------------------------------------

def _without_empty(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v not in (None, "", {})}


def build_address(company: Mapping[str, Any]) -> dict[str, str]:
    """billwerk ``Address`` of a HubSpot company; values billwerk would refuse are left out."""
    street, house_number = split_street(prop_text(company, "address"), prop_text(company, "billwerk_house_number"))
    country = normalize_country(prop_text(company, "country"))
    state = prop_text(company, "state")
    if country == "US":
        state = normalize_us_state(state) or ""
    return _without_empty({
        "Street": street, "HouseNumber": house_number, "AddressLine1": prop_text(company, "address2"),
        "PostalCode": prop_text(company, "zip"), "City": prop_text(company, "city"), "State": state,
        "Country": country,
    })


def build_customer(company: Mapping[str, Any], contact: Mapping[str, Any] | None, *,
                   company_id: str | int, external_id: str | None = None) -> dict[str, Any]:
    """The billwerk customer JSON for a HubSpot company and its contact.

    ``contact`` is the deal's primary contact (else its first) or ``None``. ExternalCustomerId
    is ``external_id`` when the caller passes one (an already linked customer keeps its id),
    else ``billwerk_external_customer_id``, else the HubSpot company id. Without a usable
    contact e-mail the customer gets the :func:`placeholder_email`. Invalid values (see
    :func:`validate_customer`) are omitted, never sent.
    """
    company_id = str(company_id)
    country = normalize_country(prop_text(company, "country"))
    locale = normalize_locale(prop_text(company, "billwerk_locale"))
    email = prop_text(contact, "email")
    if not looks_like_email(email):
        email = placeholder_email(company_id)
    phone = prop_text(contact, "phone") or prop_text(contact, "mobilephone") or prop_text(company, "phone")
    return _without_empty({
        "ExternalCustomerId": (external_id or "").strip() or prop_text(company, "billwerk_external_customer_id")
        or company_id,
        "CompanyName": prop_text(company, "name"),
        "FirstName": prop_text(contact, "firstname"),
        "LastName": prop_text(contact, "lastname"),
        "EmailAddress": email,
        "PhoneNumber": phone,
        "Locale": locale,
        # billwerk's own fixtures carry the full locale in Language too ("de-DE").
        "Language": locale,
        "VatId": normalize_vat_id(prop_text(company, "billwerk_vat_id"), country),
        "DestinationCountry": normalize_country(prop_text(company, "billwerk_destination_country")),
        "DefaultBearerMedium": normalize_bearer_medium(prop_text(company, "billwerk_default_bearer_medium")),
        "BuyerReference": prop_text(company, "billwerk_buyer_reference"),
        "EInvoiceReceiverId": prop_text(company, "billwerk_einvoicing_receiver_id"),
        "EInvoicingNetwork": normalize_einvoicing_network(prop_text(company, "billwerk_einvoicing_network")),
        "Address": build_address(company),
    })


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {}


def customer_patch(previous: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that turns ``previous`` into ``current``; ``{}`` when nothing changed.

    ``previous`` is what billwerk holds (a GET, or the last payload pushed), ``current`` a
    fresh :func:`build_customer`. Only fields this mapping owns are compared, so billwerk's own
    fields (``Id``, ``CreatedAt``, custom fields) are never touched. A field the rep cleared is
    sent as ``null`` so billwerk clears it too. ``Address`` is sent whole when any part of it
    changed, in case billwerk replaces rather than merges it. A placeholder e-mail never
    replaces a real one: someone may have entered the billing address in billwerk.
    """
    patch: dict[str, Any] = {}
    for field in CUSTOMER_FIELDS:
        if field == "Address":
            continue
        old, new = previous.get(field), current.get(field)
        if _empty(old) and _empty(new) or old == new:
            continue
        if field == "EmailAddress" and is_placeholder_email(new) and not _empty(old) \
                and not is_placeholder_email(old):
            continue
        patch[field] = None if _empty(new) else new
    old_address = previous.get("Address") or {}
    new_address = current.get("Address") or {}
    changed = any(not (_empty(old_address.get(k)) and _empty(new_address.get(k)))
                  and old_address.get(k) != new_address.get(k) for k in ADDRESS_FIELDS)
    if changed:
        address = {k: new_address[k] for k in ADDRESS_FIELDS if not _empty(new_address.get(k))}
        address.update({k: None for k in ADDRESS_FIELDS if _empty(new_address.get(k))
                        and not _empty(old_address.get(k))})
        patch["Address"] = address
    return patch

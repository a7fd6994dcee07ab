"""Invoice dispatch (``DefaultBearerMedium``) and e-invoicing: the one place that names the fields.

billwerk documents the dispatch modes and what each needs (reference §10), but not every API field
name. The names marked [NF] below are the sandbox's own; every other module (customers, orders)
takes them from here, so a correction is one edit.

| field | name | marker |
|---|---|---|
| dispatch mode | ``DefaultBearerMedium`` (``Email``, ``SnailMail``, ``ArchiveOnly``, ``EInvoicing``) | [C-3p] fixtures; ``EInvoicing`` [I] |
| buyer's reference | ``BuyerReference`` | [C-3p] PHP handler's customer GET |
| e-invoice receiver id | ``EInvoiceReceiverId`` | [NF] the sandbox's name |
| e-invoicing network | ``EInvoicingNetwork`` (``Peppol``, ``Finvoice``) | [NF] the sandbox's name |

Rules, each a 422 naming what is missing:

* ``Email`` needs an ``EmailAddress``. Checked when a request sets ``DefaultBearerMedium`` or
  ``EmailAddress``; a customer created with neither keeps billwerk's default ``Email`` without an
  address [I: billwerk creates such customers; whether it refuses them later is not documented].
* ``SnailMail`` needs a postal address (``Street``, ``PostalCode``, ``City``, ``Country``), and
  billwerk prints and posts letters only for **production** accounts: a sandbox account
  (``sandbox.billwerk.com``, the sandbox's default) refuses it [C: connector doc].
* ``EInvoicing`` needs the receiver id, the network and the buyer reference [C: e-invoicing page
  names receiver id and buyer's reference; the connector doc adds the network].
"""
from __future__ import annotations

from .errors import invalid

MEDIUM = "DefaultBearerMedium"
BUYER_REFERENCE = "BuyerReference"
RECEIVER_ID = "EInvoiceReceiverId"      # [NF]
NETWORK = "EInvoicingNetwork"           # [NF]

BEARER_MEDIA = ("Email", "SnailMail", "ArchiveOnly", "EInvoicing")
EINVOICING_NETWORKS = ("Peppol", "Finvoice")
POSTAL_FIELDS = ("Street", "PostalCode", "City", "Country")
EINVOICING_FIELDS = (RECEIVER_ID, NETWORK, BUYER_REFERENCE)

SANDBOX_SNAIL_MAIL = ("SnailMail is only available on production accounts: billwerk does not print or post "
                      "letters for sandbox accounts.")


def check(customer: dict, *, production: bool, touched: set[str] | frozenset[str] = frozenset(), prefix: str = "") -> None:
    """Refuse (422) a customer whose dispatch mode lacks what it needs.

    ``customer`` is the customer as it would be stored; ``touched`` the top-level fields the request
    carried (the ``Email`` rule only applies when it set the mode or the e-mail address).
    """
    medium = customer.get(MEDIUM)
    if medium == "Email" and (MEDIUM in touched or "EmailAddress" in touched) and not (customer.get("EmailAddress") or "").strip():
        raise invalid(f"{prefix}EmailAddress is required when {MEDIUM} is Email.")
    if medium == "SnailMail":
        address = customer.get("Address") or {}
        missing = [f for f in POSTAL_FIELDS if not (address.get(f) or "").strip()]
        if missing:
            raise invalid(f"{prefix}Address.{missing[0]} is required when {MEDIUM} is SnailMail "
                          f"(a postal address needs {', '.join(POSTAL_FIELDS)}).")
        if not production:
            raise invalid(f"{prefix}{MEDIUM}: {SANDBOX_SNAIL_MAIL}")
    if medium == "EInvoicing":
        for f in EINVOICING_FIELDS:
            if not (customer.get(f) or "").strip():
                raise invalid(f"{prefix}{f} is required when {MEDIUM} is EInvoicing.")

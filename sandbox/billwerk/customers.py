"""Customers (reference §6.1): list, get, create, replace (PUT), partial update (PATCH), delete.

Choices where the reference is silent:

* ``ExternalCustomerId`` is unique per entity; a duplicate → **409** ``{"Message": …}``
  (real code [NF]; 409 says "conflict with existing data" more precisely than 422).
* Dispatch and e-invoicing (``DefaultBearerMedium``, ``BuyerReference``, the receiver id and the
  network, whose names are [NF]): names and rules live in :mod:`.dispatch` — ``Email`` needs an
  e-mail address, ``SnailMail`` a postal address and a production account, ``EInvoicing`` the
  receiver id, the network and the buyer reference.
* PATCH merges ``Address`` and ``CustomFields`` key by key; PUT replaces the whole customer.
* DELETE → 204 for a customer without contracts; with contracts → 422 (``IsDeletable`` false).
  Deleted customers are listed only with ``statusFilter=Deleted``.
* ``CustomerName`` is derived (company name, else first + last name), ``CustomerType`` is
  ``Business`` with a company name, else ``Consumer``, unless set explicitly.
"""
from __future__ import annotations

import re

from flask import Blueprint

from . import custom_fields, dispatch, paging
from .common import check_if_match, entity_id, etag_of, list_response, object_response, read_json, sandbox
from .errors import ApiError, invalid, not_found
from .formats import ISO_COUNTRIES, fmt_ts
from .store import public
from .webhooks import emit

bp = Blueprint("billwerk_customers", __name__)

STRING_FIELDS = (
    "ExternalCustomerId", "DebitorAccount", "CompanyName", "FirstName", "LastName", "EmailAddress",
    "PhoneNumber", "Notes", "Tag", "Language", "Locale", "TimeZoneKey", "DestinationCountry", "VatId",
    "InvoiceAttachmentFormat", dispatch.BUYER_REFERENCE, dispatch.RECEIVER_ID, "PartnerCompanyCode",
)
ADDRESS_FIELDS = ("Street", "HouseNumber", "AddressLine1", "AddressLine2", "PostalCode", "City", "State", "Country")
BEARER_MEDIA = dispatch.BEARER_MEDIA
EINVOICING_NETWORKS = dispatch.EINVOICING_NETWORKS
CUSTOMER_TYPES = ("Consumer", "Business")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCALE = re.compile(r"^[a-zA-Z]{2}(?:[-_][a-zA-Z]{2})?$")

#: Output order of customer fields.
FIELD_ORDER = (
    "Id", "CreatedAt", "IsDeletable", "DeletedAt", "IsLocked", "Hidden", "CustomerName", "CustomerSubName",
    "ExternalCustomerId", "DebitorAccount", "CompanyName", "FirstName", "LastName", "EmailAddress",
    "AdditionalEmailAddresses", "PhoneNumber", "Notes", "Tag", "PartnerCompanyCode", "Language", "Locale",
    "TimeZoneKey", "DestinationCountry", "VatId", "CustomerType", "DefaultBearerMedium",
    "InvoiceAttachmentFormat", dispatch.BUYER_REFERENCE, dispatch.RECEIVER_ID, dispatch.NETWORK, "Address",
    "CustomFields",
)


def _country(value, field: str):
    if value in (None, ""):
        return None
    if not isinstance(value, str) or value.upper() not in ISO_COUNTRIES:
        hint = " (use GB for the United Kingdom)" if isinstance(value, str) and value.upper() == "UK" else ""
        raise invalid(f"{field} must be an ISO 3166-1 alpha-2 country code, got {value!r}{hint}.")
    return value.upper()


def validate_custom_fields(value, field: str = "CustomFields", obj: str | None = None) -> dict:
    """Flat, and every key defined in the account's catalogue for ``obj`` (``Customer`` or
    ``Contract``; by default ``Contract`` for ``ContractCustomFields``, else ``Customer``)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{field} must be a flat JSON object.")
    for k, v in value.items():
        if isinstance(v, (dict, list)):
            raise invalid(f"{field}.{k} must be a string, number or boolean (custom fields are flat).")
    custom_fields.check(value, obj or ("Contract" if field.endswith("ContractCustomFields") else "Customer"), field)
    return dict(value)


def validate(body: dict, prefix: str = "") -> dict:
    """Check the writable fields present in ``body``; returns them cleaned. 422 names the field."""
    out: dict = {}
    for f in STRING_FIELDS:
        if f in body:
            v = body[f]
            if v is not None and not isinstance(v, str):
                raise invalid(f"{prefix}{f} must be a string.")
            out[f] = v
    if out.get("EmailAddress") and not _EMAIL.match(out["EmailAddress"]):
        raise invalid(f"{prefix}EmailAddress is not a valid e-mail address.")
    for f in ("Locale", "Language"):
        if out.get(f) and not _LOCALE.match(out[f]):
            raise invalid(f"{prefix}{f} must look like 'de-DE' or 'de'.")
    if "DestinationCountry" in out:
        out["DestinationCountry"] = _country(out["DestinationCountry"], f"{prefix}DestinationCountry")
    if "Hidden" in body:
        if not isinstance(body["Hidden"], bool) and body["Hidden"] is not None:
            raise invalid(f"{prefix}Hidden must be true or false.")
        out["Hidden"] = bool(body["Hidden"])
    for f, allowed in ((dispatch.MEDIUM, BEARER_MEDIA), (dispatch.NETWORK, EINVOICING_NETWORKS),
                       ("CustomerType", CUSTOMER_TYPES)):
        if f in body:
            v = body[f]
            if v is not None and v not in allowed:
                raise invalid(f"{prefix}{f} must be one of {', '.join(allowed)}; got {v!r}.")
            out[f] = v
    if "Address" in body:
        addr = body["Address"]
        if addr is not None and not isinstance(addr, dict):
            raise invalid(f"{prefix}Address must be an object.")
        clean = {}
        for f in ADDRESS_FIELDS:
            if addr and f in addr:
                v = addr[f]
                if v is not None and not isinstance(v, str):
                    raise invalid(f"{prefix}Address.{f} must be a string.")
                clean[f] = v
        if "Country" in clean:
            clean["Country"] = _country(clean["Country"], f"{prefix}Address.Country")
        out["Address"] = clean
    if "CustomFields" in body:
        out["CustomFields"] = validate_custom_fields(body["CustomFields"], f"{prefix}CustomFields")
    if "AdditionalEmailAddresses" in body:
        extra = body["AdditionalEmailAddresses"] or []
        if not isinstance(extra, list) or not all(isinstance(e, dict) and _EMAIL.match(str(e.get("EmailAddress", "")))
                                                    for e in extra):
            raise invalid(f"{prefix}AdditionalEmailAddresses must be a list of {{\"EmailAddress\": …}}.")
        out["AdditionalEmailAddresses"] = [{"EmailAddress": e["EmailAddress"]} for e in extra]
    return out


def is_production(sb, entity: str) -> bool:
    """Whether the account owning ``entity`` is a production account (see :mod:`.dispatch`)."""
    return any(a.production for a in sb.store.accounts.values() if a.entity(entity) is not None)


def check_dispatch(sb, entity: str, obj: dict, touched, prefix: str = "") -> None:
    dispatch.check(obj, production=is_production(sb, entity), touched=set(touched), prefix=prefix)


def holder_of_external_id(sb, entity: str, external_id, own_id: str | None = None) -> dict | None:
    """The live customer of ``entity`` (other than ``own_id``) using ``external_id``, if any."""
    if not external_id:
        return None
    for c in sb.store.scan("customers", entity):
        if c.get("ExternalCustomerId") == external_id and c["Id"] != own_id and not c.get("DeletedAt"):
            return c
    return None


def check_unique_external_id(sb, entity: str, external_id, own_id: str | None = None) -> None:
    holder = holder_of_external_id(sb, entity, external_id, own_id)
    if holder is not None:
        raise ApiError(409, f"A customer with ExternalCustomerId '{external_id}' already exists ({holder['Id']}).")


def _derive(obj: dict) -> None:
    first_last = " ".join(p for p in (obj.get("FirstName"), obj.get("LastName")) if p)
    if obj.get("CompanyName"):
        obj["CustomerName"], obj["CustomerSubName"] = obj["CompanyName"], first_last or None
    else:
        obj["CustomerName"], obj["CustomerSubName"] = first_last or None, None
    if not obj.get("_explicit_type"):
        obj["CustomerType"] = "Business" if obj.get("CompanyName") else "Consumer"


def new_customer(sb, entity: str, fields: dict, id_: str | None = None, created_at=None) -> dict:
    """Build and store a customer from validated ``fields`` (no webhook)."""
    obj = {"Id": id_ or sb.store.new_id(), "CreatedAt": fmt_ts(created_at or sb.now()), "IsLocked": False,
           "Hidden": False, "DefaultBearerMedium": "Email", "Address": {}, "CustomFields": {},
           "_entity": entity, "_explicit_type": "CustomerType" in fields and fields["CustomerType"] is not None}
    obj.update(fields)
    _derive(obj)
    check_dispatch(sb, entity, obj, fields)
    return sb.store.insert("customers", obj)


def has_contracts(sb, customer_id: str) -> bool:
    return any(c["CustomerId"] == customer_id for c in sb.store.tables["contracts"].values())


def customers_with_contracts(sb) -> set[str]:
    return {c["CustomerId"] for c in sb.store.tables["contracts"].values()}


def serialize(sb, obj: dict, with_contracts: set[str] | None = None) -> dict:
    """Public JSON of a customer; ``with_contracts`` (ids) saves a scan when listing."""
    data = public(obj)
    busy = obj["Id"] in with_contracts if with_contracts is not None else has_contracts(sb, obj["Id"])
    data["IsDeletable"] = not busy and not obj.get("DeletedAt")
    data.pop("_explicit_type", None)
    return {k: data.get(k) for k in FIELD_ORDER if k in data}


def load(sb, id_: str) -> dict:
    obj = sb.store.get("customers", id_, entity_id())
    if obj is None or obj.get("DeletedAt"):
        raise not_found("Customer", id_)
    return obj


# -- routes ---------------------------------------------------------------------------------------

@bp.get("/api/v1/customers")
def list_customers():
    sb = sandbox()
    external_id = paging.arg("externalId")
    search = (paging.arg("search") or "").lower()
    status = (paging.arg("statusFilter") or "").lower()
    with sb.store.lock:
        def keep(c):
            if status == "deleted":
                if not c.get("DeletedAt"):
                    return False
            elif status == "unconfirmed":
                return False   # every customer created through the API or an order is confirmed
            elif c.get("DeletedAt"):
                return False
            if external_id is not None and c.get("ExternalCustomerId") != external_id:
                return False
            if search:
                hay = " ".join(str(c.get(f) or "") for f in ("CustomerName", "CompanyName", "FirstName", "LastName",
                                                              "EmailAddress", "ExternalCustomerId", "DebitorAccount"))
                if search not in hay.lower():
                    return False
            return True
        items = (c for c in sb.store.scan("customers", entity_id(), paging.from_cursor()) if keep(c))
        busy = customers_with_contracts(sb)
        return list_response([serialize(sb, c, busy) for c in paging.page(items)])


@bp.post("/api/v1/customers")
def create_customer():
    sb = sandbox()
    fields = validate(read_json())
    with sb.store.lock:
        check_unique_external_id(sb, entity_id(), fields.get("ExternalCustomerId"))
        obj = new_customer(sb, entity_id(), fields)
        emit(sb, "CustomerCreated", entity_id(), CustomerId=obj["Id"])
        return object_response(serialize(sb, obj), 201, etag_of(obj))


@bp.get("/api/v1/customers/<id_>")
def get_customer(id_):
    sb = sandbox()
    with sb.store.lock:
        obj = load(sb, id_)
        return object_response(serialize(sb, obj), etag=etag_of(obj))


def _update(id_: str, replace: bool):
    sb = sandbox()
    fields = validate(read_json())
    with sb.store.lock:
        obj = load(sb, id_)
        check_if_match(obj)
        if "ExternalCustomerId" in fields:
            check_unique_external_id(sb, obj["_entity"], fields["ExternalCustomerId"], obj["Id"])
        candidate = dict(obj)
        if replace:
            for f in STRING_FIELDS + (dispatch.NETWORK, "AdditionalEmailAddresses"):
                candidate.pop(f, None)
            candidate.update({"Hidden": False, "DefaultBearerMedium": "Email", "Address": {}, "CustomFields": {}})
            candidate.update(fields)
        else:
            for f, v in fields.items():
                if f in ("Address", "CustomFields") and isinstance(candidate.get(f), dict):
                    candidate[f] = {**candidate[f], **v}
                else:
                    candidate[f] = v
        if "CustomerType" in fields:
            candidate["_explicit_type"] = fields["CustomerType"] is not None
        _derive(candidate)
        check_dispatch(sb, obj["_entity"], candidate, fields)
        obj.clear()
        obj.update(candidate)
        sb.store.touch(obj)
        emit(sb, "CustomerChanged", obj["_entity"], CustomerId=obj["Id"])
        return object_response(serialize(sb, obj), etag=etag_of(obj))


@bp.put("/api/v1/customers/<id_>")
def replace_customer(id_):
    return _update(id_, replace=True)


@bp.patch("/api/v1/customers/<id_>")
def patch_customer(id_):
    return _update(id_, replace=False)


@bp.delete("/api/v1/customers/<id_>")
def delete_customer(id_):
    sb = sandbox()
    with sb.store.lock:
        obj = load(sb, id_)
        check_if_match(obj)
        if has_contracts(sb, obj["Id"]):
            raise invalid("The customer has contracts and cannot be deleted.")
        obj["DeletedAt"] = fmt_ts(sb.now())
        sb.store.touch(obj)
        emit(sb, "CustomerDeleted", obj["_entity"], CustomerId=obj["Id"])
    return "", 204


@bp.get("/api/v1/customers/<id_>/contracts")
def customer_contracts(id_):
    from .contracts import serialize as serialize_contract, subscriptions_by_contract
    sb = sandbox()
    with sb.store.lock:
        obj = load(sb, id_)
        items = (c for c in sb.store.scan("contracts", entity_id(), paging.from_cursor()) if c["CustomerId"] == obj["Id"])
        index = subscriptions_by_contract(sb, entity_id())
        return list_response([serialize_contract(sb, c, index) for c in paging.page(items)])

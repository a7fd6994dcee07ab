"""Contracts (reference §6.2, §6.5, §7.5, §7.11): list, get, PATCH, end, cancellation preview,
component/discount subscriptions, contract changes and the self-service token.

Derived on every read from the stored phases and the sandbox clock:

* ``CurrentPhase``: the last phase that has started (the first one for a future contract);
  ``PlanGroupId``/``PlanId``/``PlanVariantId`` come from it (or from the last plan phase once the
  contract is inactive).
* ``LifecycleStatus``: ``Ended`` once ``EndDate`` has passed, ``InTrial`` in a ``Trial`` phase,
  ``Inactive`` before ``StartDate``, else ``Active`` (the full enum is [NF]).
* ``ComponentSubscriptions``: all component subscriptions of the contract (ended ones carry
  ``EndDate``).

PATCH accepts ``CustomFields`` (merged key by key), ``ExternalId``, ``Notes``,
``OnAccountDueAfter {Unit: "Day", Quantity}`` (the individual term of payment, [I]) and
``EscalationSuspended``; other fields are ignored as billwerk's binder ignores unknown ones.
``POST /contracts/{id}/end`` needs an ``EndDate`` in the future (a past or missing date → 422).
Ending emits ``ContractCancelled`` and ``ContractChanged`` with ``ContractChangeType:
"Cancellation"`` (type name [NF]).
"""
from __future__ import annotations

import secrets

from flask import Blueprint, request

from . import paging
from .common import (check_if_match, entity_id, etag_of, list_response, object_response, read_json, sandbox,
                     strip_nulls)
from .customers import validate_custom_fields
from .errors import invalid, not_found
from .formats import add_period, fmt_ts, parse_ts
from .pricing import price, vat_rate
from .store import public
from .webhooks import emit

bp = Blueprint("billwerk_contracts", __name__)

FIELD_ORDER = (
    "Id", "CustomerId", "CustomerName", "ExternalCustomerId", "ExternalId", "ReferenceCode", "PlanGroupId",
    "PlanId", "PlanVariantId", "LifecycleStatus", "Balance", "Currency", "CreatedAt", "StartDate", "EndDate",
    "TrialEndDate", "BilledUntil", "LastBillingDate", "NextBillingDate", "CurrentPhase", "Phases",
    "PaymentBearer", "PaymentProvider", "PaymentProviderRole", "PaymentMethod", "EscalationSuspended",
    "RecurringPaymentsPaused", "BillingSuspended", "OnAccountDueAfter", "Notes", "CustomFields",
    "ComponentSubscriptions", "IsDeletable",
)
SUB_ORDER = ("Id", "ContractId", "CustomerId", "ComponentId", "Quantity", "StartDate", "EndDate", "ProductOverride")


# -- derived state ----------------------------------------------------------------------------------

def current_phase(sb, contract: dict) -> dict:
    now = fmt_ts(sb.now())
    phases = contract["Phases"]
    current = phases[0]
    for ph in phases:
        if ph["StartDate"] <= now:
            current = ph
    return current


def plan_phase(sb, contract: dict) -> dict:
    """The phase that defines the plan now: current, or the last one with a plan variant."""
    cur = current_phase(sb, contract)
    if cur.get("PlanVariantId"):
        return cur
    idx = contract["Phases"].index(cur)
    for ph in reversed(contract["Phases"][:idx + 1]):
        if ph.get("PlanVariantId"):
            return ph
    return next(ph for ph in contract["Phases"] if ph.get("PlanVariantId"))


def lifecycle(sb, contract: dict) -> str:
    now = fmt_ts(sb.now())
    if contract.get("EndDate") and contract["EndDate"] <= now:
        return "Ended"
    if contract["StartDate"] > now:
        return "Inactive"
    return "InTrial" if current_phase(sb, contract)["Type"] == "Trial" else "Active"


def subscriptions_by_contract(sb, entity: str) -> dict[str, list[dict]]:
    index: dict[str, list[dict]] = {}
    for sub in sb.store.scan("component_subscriptions", entity):
        index.setdefault(sub["ContractId"], []).append(sub)
    return index


def serialize(sb, contract: dict, subs_index: dict[str, list[dict]] | None = None) -> dict:
    """Public JSON of a contract with its derived fields (``subs_index`` saves a scan in lists)."""
    data = public(contract)
    customer = sb.store.tables["customers"].get(contract["CustomerId"]) or {}
    data["CustomerName"] = customer.get("CustomerName")
    data["ExternalCustomerId"] = customer.get("ExternalCustomerId")
    cur = current_phase(sb, contract)
    plan = plan_phase(sb, contract)
    data["CurrentPhase"] = dict(cur)
    for key in ("PlanGroupId", "PlanId", "PlanVariantId"):
        data[key] = plan.get(key)
    data["LifecycleStatus"] = lifecycle(sb, contract)
    if subs_index is None:
        subs = subscriptions_by_contract(sb, contract["_entity"]).get(contract["Id"], [])
    else:
        subs = subs_index.get(contract["Id"], [])
    data["ComponentSubscriptions"] = [serialize_sub(s) for s in subs]
    data["IsDeletable"] = data["LifecycleStatus"] == "Ended"
    return {k: data.get(k) for k in FIELD_ORDER if k in data}


def serialize_sub(sub: dict) -> dict:
    data = public(sub)
    return {k: data[k] for k in SUB_ORDER if k in data}


def load(sb, id_: str) -> dict:
    obj = sb.store.get("contracts", id_, entity_id())
    if obj is None:
        raise not_found("Contract", id_)
    return obj


def record_change(sb, contract: dict, change_type: str, before: dict | None, *, order_id=None, change_date=None,
                  new_variant: dict | None = None) -> dict:
    change = {
        "Id": sb.store.new_id(), "Type": change_type, "Timestamp": fmt_ts(sb.now()), "OrderId": order_id,
        "ContractId": contract["Id"], "ChangeDate": change_date or fmt_ts(sb.now()),
        "NewPlanVariantId": new_variant["Id"] if new_variant else None,
        "NewPlanId": new_variant["PlanId"] if new_variant else None,
        "_entity": contract["_entity"], "_before": before, "_after": serialize(sb, contract),
    }
    return sb.store.insert("contract_changes", change)


def emit_changed(sb, contract: dict, change: dict) -> dict:
    """Emit ``ContractChanged`` for a recorded change; returns the payload."""
    customer = sb.store.tables["customers"].get(contract["CustomerId"]) or {}
    return emit(sb, "ContractChanged", contract["_entity"], ContractId=contract["Id"], CustomerId=contract["CustomerId"],
         ExternalCustomerId=customer.get("ExternalCustomerId"), ContractChangeId=change["Id"],
         ContractChangeType=change["Type"])


def normalize_phases(contract: dict) -> None:
    """Sort phases; with an ``EndDate``, drop plan phases from that date on (keeping the first)
    and close the list with one ``Inactive`` phase starting at ``EndDate``."""
    phases = sorted((ph for ph in contract["Phases"] if ph["Type"] != "Inactive"), key=lambda ph: ph["StartDate"])
    end = contract.get("EndDate")
    if end:
        phases = [ph for ph in phases if ph["StartDate"] < end] or phases[:1]
        phases.append({"Type": "Inactive", "StartDate": end})
    contract["Phases"] = phases


def end_contract(sb, contract: dict, end) -> dict:
    if contract.get("EndDate") and contract["EndDate"] <= fmt_ts(sb.now()):
        raise invalid("The contract has already ended.")
    if fmt_ts(end) < contract["StartDate"]:
        raise invalid("EndDate must not be before the contract's StartDate.")
    before = serialize(sb, contract)
    contract["EndDate"] = fmt_ts(end)
    normalize_phases(contract)
    for sub in sb.store.scan("component_subscriptions", contract["_entity"]):
        if sub["ContractId"] == contract["Id"] and (not sub.get("EndDate") or sub["EndDate"] > contract["EndDate"]):
            sub["EndDate"] = contract["EndDate"]
    if contract.get("NextBillingDate") and contract["NextBillingDate"] > contract["EndDate"]:
        contract["NextBillingDate"] = None
    sb.store.touch(contract)
    change = record_change(sb, contract, "Cancellation", before, change_date=contract["EndDate"])
    emit(sb, "ContractCancelled", contract["_entity"], ContractId=contract["Id"], CustomerId=contract["CustomerId"])
    emit_changed(sb, contract, change)
    return contract


# -- routes ---------------------------------------------------------------------------------------

@bp.get("/api/v1/contracts")
def list_contracts():
    sb = sandbox()
    external_id = paging.arg("externalId")
    customer_id = paging.arg("customerId")
    status = paging.arg("statusFilter")
    with sb.store.lock:
        def keep(c):
            if external_id is not None and c.get("ExternalId") != external_id:
                return False
            if customer_id and c["CustomerId"] != customer_id.lower():
                return False
            if status and lifecycle(sb, c).lower() != status.lower():
                return False
            return True
        items = (c for c in sb.store.scan("contracts", entity_id(), paging.from_cursor()) if keep(c))
        index = subscriptions_by_contract(sb, entity_id())
        return list_response([serialize(sb, c, index) for c in paging.page(items)])


@bp.get("/api/v1/contracts/<id_>")
def get_contract(id_):
    sb = sandbox()
    with sb.store.lock:
        c = load(sb, id_)
        return object_response(serialize(sb, c), etag=etag_of(c))


@bp.patch("/api/v1/contracts/<id_>")
def patch_contract(id_):
    sb = sandbox()
    body = read_json()
    changes = {}
    if "CustomFields" in body:
        changes["CustomFields"] = validate_custom_fields(body["CustomFields"], obj="Contract")
    for f in ("ExternalId", "Notes"):
        if f in body:
            if body[f] is not None and not isinstance(body[f], str):
                raise invalid(f"{f} must be a string.")
            changes[f] = body[f]
    if "OnAccountDueAfter" in body:
        changes["OnAccountDueAfter"] = validate_due_after(body["OnAccountDueAfter"])
    if "EscalationSuspended" in body:
        if not isinstance(body["EscalationSuspended"], bool):
            raise invalid("EscalationSuspended must be true or false.")
        changes["EscalationSuspended"] = body["EscalationSuspended"]
    with sb.store.lock:
        c = load(sb, id_)
        check_if_match(c)
        for f, v in changes.items():
            if f == "CustomFields":
                c["CustomFields"] = {**(c.get("CustomFields") or {}), **v}
            else:
                c[f] = v
        sb.store.touch(c)
        emit(sb, "ContractDataChanged", c["_entity"], ContractId=c["Id"], CustomerId=c["CustomerId"])
        return object_response(serialize(sb, c), etag=etag_of(c))


def validate_due_after(value, field: str = "OnAccountDueAfter"):
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("Unit", "Day") not in ("Day", "Week", "Month") \
            or not isinstance(value.get("Quantity"), int) or value["Quantity"] < 0:
        raise invalid(f'{field} must look like {{"Unit": "Day", "Quantity": 30}}.')
    return {"Unit": value.get("Unit", "Day"), "Quantity": value["Quantity"]}


@bp.post("/api/v1/contracts/<id_>/end")
def end(id_):
    sb = sandbox()
    body = read_json(default={})
    if not body.get("EndDate"):
        raise invalid("EndDate is required: the date in the future the contract ends on.")
    try:
        when = parse_ts(body["EndDate"])
    except ValueError:
        raise invalid("EndDate is not a valid date.")
    if when <= sb.now():
        raise invalid("EndDate must be in the future; a contract cannot be ended retroactively.")
    with sb.store.lock:
        c = load(sb, id_)
        check_if_match(c)
        end_contract(sb, c, when)
        return object_response(serialize(sb, c), etag=etag_of(c))


@bp.get("/api/v1/contracts/<id_>/cancellationpreview")
def cancellation_preview(id_):
    sb = sandbox()
    with sb.store.lock:
        c = load(sb, id_)
        pv = sb.store.tables["plan_variants"].get(plan_phase(sb, c)["PlanVariantId"]) or {}
        now = sb.now()
        earliest = add_period(now, pv.get("CancellationPeriod"))
        start = parse_ts(c["StartDate"])
        period_end = add_period(start, pv.get("ContractPeriod") or {"Unit": "Month", "Quantity": 1})
        later = pv.get("LaterContractPeriod") or pv.get("ContractPeriod") or {"Unit": "Month", "Quantity": 1}
        while period_end < earliest:
            period_end = add_period(period_end, later)
        if c.get("EndDate") and parse_ts(c["EndDate"]) < period_end:
            period_end = parse_ts(c["EndDate"])
        billed = parse_ts(c["BilledUntil"]) if c.get("BilledUntil") else start
        periods = 0
        cursor = billed
        while cursor < period_end and periods < 120:
            cursor = add_period(cursor, pv.get("BillingPeriod") or {"Unit": "Month", "Quantity": 1})
            periods += 1
        customer = sb.store.tables["customers"].get(c["CustomerId"]) or {}
        entity = sb.store.entity(c["_entity"])
        rate = vat_rate(entity.country, (customer.get("Address") or {}).get("Country"), customer.get("VatId"))
        totals = price(pv, [], [], signup=False, rate=rate) if periods else {"Total": 0.0, "TotalVat": 0.0, "TotalGross": 0.0}
        after = serialize(sb, c)
        after["EndDate"] = fmt_ts(period_end)
        normalize_phases(after)
        return object_response({
            "NextPossibleCancellationDate": fmt_ts(period_end), "EndDate": fmt_ts(period_end),
            "Invoice": {"Currency": c["Currency"], "TotalNet": round(totals["Total"] * periods, 2),
                        "TotalVat": round(totals["TotalVat"] * periods, 2),
                        "TotalGross": round(totals["TotalGross"] * periods, 2)},
            "ContractAfter": after,
        })


@bp.get("/api/v1/contracts/<id_>/componentsubscriptions")
def list_component_subs(id_):
    sb = sandbox()
    with sb.store.lock:
        c = load(sb, id_)
        items = (s for s in sb.store.scan("component_subscriptions", c["_entity"], paging.from_cursor())
                 if s["ContractId"] == c["Id"])
        return list_response([serialize_sub(s) for s in paging.page(items)])


@bp.post("/api/v1/contracts/<id_>/componentsubscriptions")
def add_component_sub(id_):
    sb = sandbox()
    body = read_json()
    with sb.store.lock:
        c = load(sb, id_)
        comp = sb.store.get("components", body.get("ComponentId") or "", c["_entity"])
        if comp is None:
            raise invalid(f"ComponentId {body.get('ComponentId')!r} is not a component of this entity.")
        qty = body.get("Quantity", 1)
        if not isinstance(qty, (int, float)) or qty < 0:
            raise invalid("Quantity must be a non-negative number.")
        try:
            start = fmt_ts(parse_ts(body["StartDate"])) if body.get("StartDate") else fmt_ts(sb.now())
        except ValueError:
            raise invalid("StartDate is not a valid date.")
        override = body.get("ProductOverride")
        if override is not None and not isinstance(override, dict):
            raise invalid("ProductOverride must be an object.")
        before = serialize(sb, c)
        sub = add_subscription(sb, c, comp["Id"], qty, start, override)
        change = record_change(sb, c, "ComponentSubscriptionChange", before, change_date=start)
        sb.store.touch(c)
        emit_changed(sb, c, change)
        return object_response(serialize_sub(sub), 201)


def add_subscription(sb, contract: dict, component_id: str, qty, start: str, override=None) -> dict:
    return sb.store.insert("component_subscriptions", {
        "Id": sb.store.new_id(), "ContractId": contract["Id"], "CustomerId": contract["CustomerId"],
        "ComponentId": component_id, "Quantity": float(qty), "StartDate": start, "EndDate": None,
        "ProductOverride": override, "_entity": contract["_entity"],
    })


@bp.put("/api/v1/componentsubscriptions/<id_>")
def put_component_sub(id_):
    sb = sandbox()
    body = read_json()
    with sb.store.lock:
        sub = sb.store.get("component_subscriptions", id_, entity_id())
        if sub is None:
            raise not_found("ComponentSubscription", id_)
        c = sb.store.tables["contracts"][sub["ContractId"]]
        before = serialize(sb, c)
        if "EndDate" in body:
            try:
                sub["EndDate"] = fmt_ts(parse_ts(body["EndDate"])) if body["EndDate"] else None
            except ValueError:
                raise invalid("EndDate is not a valid date.")
        if "Quantity" in body:
            if not isinstance(body["Quantity"], (int, float)) or body["Quantity"] < 0:
                raise invalid("Quantity must be a non-negative number.")
            sub["Quantity"] = float(body["Quantity"])
        sb.store.touch(c)
        change = record_change(sb, c, "ComponentSubscriptionChange", before, change_date=sub.get("EndDate"))
        emit_changed(sb, c, change)
        return object_response(serialize_sub(sub))


@bp.get("/api/v1/contracts/<id_>/discountsubscriptions")
def list_discount_subs(id_):
    sb = sandbox()
    with sb.store.lock:
        c = load(sb, id_)
        items = (s for s in sb.store.scan("discount_subscriptions", c["_entity"], paging.from_cursor())
                 if s["ContractId"] == c["Id"])
        return list_response([public(s) for s in paging.page(items)])


@bp.get("/api/v1/contracts/<id_>/selfservicetoken")
def self_service_token(id_):
    sb = sandbox()
    with sb.store.lock:
        load(sb, id_)
    token = secrets.token_urlsafe(32)
    from datetime import timedelta
    return object_response({"Expiry": fmt_ts(sb.now() + timedelta(hours=1)), "Token": token,
                            "Purpose": "CustomerPortal", "Url": f"{request.host_url}portal/data/{token}/"})


@bp.get("/api/v1/contractchanges")
def list_changes():
    sb = sandbox()
    contract_id = paging.arg("contractId")
    include = (paging.arg("includeContract") or "").lower() == "true"
    with sb.store.lock:
        items = (ch for ch in sb.store.scan("contract_changes", entity_id(), paging.from_cursor())
                 if not contract_id or ch["ContractId"] == contract_id.lower())
        return list_response([serialize_change(ch, include) for ch in paging.page(items)])


@bp.get("/api/v1/contractchanges/<id_>")
def get_change(id_):
    sb = sandbox()
    include = (paging.arg("includeContract") or "").lower() == "true"
    with sb.store.lock:
        ch = sb.store.get("contract_changes", id_, entity_id())
        if ch is None:
            raise not_found("ContractChange", id_)
        return object_response(serialize_change(ch, include))


def serialize_change(ch: dict, include_contract: bool) -> dict:
    data = public(ch)
    if include_contract:
        data["Contract"] = {"Id": ch["ContractId"], "Before": strip_nulls(ch["_before"] or {}),
                            "After": strip_nulls(ch["_after"])}
    return data

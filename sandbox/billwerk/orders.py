"""Orders (reference §7): create, preview, commit, list, get, delete.

``POST /api/v1/orders`` validates the body and stores an ``InProgress`` order whose
``CustomerId`` and ``ContractId`` are allocated at once (the objects appear on commit).
``POST /api/v1/orders/preview`` runs the same validation and pricing, stores nothing, and
answers as billwerk does: ``{"Order": {…}}`` with the first invoice's lines inside
``RecurringFee`` (``FeePeriod``, ``Name``, ``PricePerUnit``, ``VatPercentage``, ``LineItems``),
``MeteredComponents``, ``Total``, ``TotalVat``, ``TotalGross``, ``NextTotalGross``,
``NextTotalGrossDate`` and ``Currency``.
``POST /api/v1/orders/{id}/commit`` executes it and answers the contract.

Kinds of order:

* **Signup** — ``Customer`` (inline, validated like ``POST /customers``; errors name the field as
  ``Customer.Address.Country`` …) or ``CustomerId``; ``Cart.PlanVariantId`` required.
* **Upgrade** — ``ContractId`` (+ optional ``ChangeDate``, default now); ``Cart.PlanVariantId``
  optional (component/discount-only orders are also ``OrderType: "Upgrade"``, the only other
  value billwerk's enum has). Downgrades are upgrades to a cheaper variant.

Refused with 422 (billwerk refuses these; where its exact rule is not documented the sandbox's
reading is marked [I] in the README):

* an unknown plan variant, component, discount, component subscription or customer;
* a **hidden** plan variant (hidden items cannot be sold any more) [I];
* a cart **mixing plan groups**: a component or discount of another plan group than the cart's
  plan variant (or, in a component-only upgrade, than the contract's plan variant) [I];
* an upgrade whose ``CustomerId`` is not the customer of its ``ContractId`` [I].

Choices where the reference is silent ([NF]/[I]):

* An unknown ``CouponCode`` → 422 on create; in a preview → 200 with
  ``Coupon {CouponCode, ErrorMessage, ErrorCode: "InvalidCouponCode"}``.
* Commit body: ``{}`` uses existing payment data (a bearer on another contract of the same
  customer) or none; ``{"PaymentMethod": "InvoicePayment" | "BlackLabel:InvoicePayment" |
  "OnAccount:…" | "None:None"}`` chooses an on-account / no-payment signup. Any signup without a
  bearer needs ``AllowWithoutPaymentData`` on the plan variant, else 422; card or debit methods
  (which need SubscriptionJS) → 422. Upgrades commit regardless of payment.
* Committing an order that is not ``InProgress`` → **409** ``{"Message": …}`` (a state conflict;
  the real code is [NF]).
* Proration (see :mod:`.pricing`): a signup ``StartDate`` inside a billing period of a
  month-aligned plan variant, and an up/downgrade ``ChangeDate`` inside the contract's current
  period, prorate the recurring lines of the first invoice. An upgrade with
  ``TriggerInterimBilling`` that takes effect now is invoiced at commit (``InvoiceCreated``; the
  balance of an on-account contract moves); otherwise its difference waits for the next bill.
  A signup commit bills the first period and creates an invoice when its gross total is not zero.
* ``OnAccountDueAfter {Unit, Quantity}`` on the order (top level) sets the contract's
  individual term of payment ([I]); ``ContractCustomFields`` become the contract's
  ``CustomFields`` (merged on upgrades).
"""
from __future__ import annotations

from flask import Blueprint

from . import customers as customers_mod
from . import paging
from .catalog import find_coupon, normalize_coupon
from .common import entity_id, list_response, object_response, read_json, sandbox
from .contracts import (add_subscription, emit_changed, lifecycle, normalize_phases, plan_phase, record_change,
                        serialize as serialize_contract, validate_due_after)
from .errors import ApiError, invalid, not_found
from .formats import add_period, fmt_ts, money, parse_ts
from .invoices import create_invoice
from .pricing import _name as pricing_name, price, proration, public_lines, signup_period, vat_rate
from .store import public
from .webhooks import emit

bp = Blueprint("billwerk_orders", __name__)

NO_PAYMENT_METHODS = ("None:None", "InvoicePayment", "BlackLabel:InvoicePayment")

FIELD_ORDER = (
    "Id", "CreatedAt", "Status", "OrderType", "CustomerId", "ContractId", "PlanVariantId", "Currency",
    "AllowWithoutPaymentData", "StartDate", "ChangeDate", "ComponentSubscriptions", "EndComponentSubscriptions",
    "DiscountSubscriptions", "Coupon", "LineItems", "Total", "TotalVat", "TotalGross", "NextTotalGross",
    "VatPercentage", "IsTrial", "TrialEndPolicy", "TriggerInterimBilling", "PreviewAfterTrial",
    "ContractCustomFields", "OnAccountDueAfter", "Customer",
)
PREVIEW_ORDER = (
    "OrderType", "CustomerId", "ContractId", "PlanVariantId", "Currency", "AllowWithoutPaymentData", "StartDate",
    "ChangeDate", "ComponentSubscriptions", "EndComponentSubscriptions", "DiscountSubscriptions", "Coupon",
    "RecurringFee", "MeteredComponents", "Total", "TotalVat", "TotalGross", "NextTotalGross", "NextTotalGrossDate",
    "IsTrial", "TrialEndPolicy", "PreviewAfterTrial", "ContractCustomFields", "OnAccountDueAfter", "Customer",
)
LINE_ORDER = ("ProductId", "Description", "Quantity", "PricePerUnit", "VatPercentage", "TotalNet", "TotalVat",
              "TotalGross", "PeriodStart", "PeriodEnd")


def _date(body: dict, field: str, label: str | None = None):
    if body.get(field) in (None, ""):
        return None
    try:
        return parse_ts(body[field])
    except ValueError:
        raise invalid(f"{label or field} is not a valid date: {body[field]!r}.")


def evaluate(sb, entity: str, body: dict, *, preview: bool) -> dict:
    """Validate an order body and price it. Returns the order JSON plus private ``_`` context."""
    store = sb.store
    cart = body.get("Cart") or {}
    if not isinstance(cart, dict):
        raise invalid("Cart must be an object.")
    has_inline, customer_id, contract_id = body.get("Customer") is not None, body.get("CustomerId"), body.get("ContractId")
    contract = customer = None
    inline = None
    if contract_id:
        order_type = "Upgrade"
        contract = store.get("contracts", contract_id, entity)
        if contract is None:
            raise invalid(f"ContractId {contract_id!r} is not a contract of this entity.")
        if lifecycle(sb, contract) == "Ended":
            raise invalid("The contract has ended; it cannot be changed.")
        customer = store.tables["customers"][contract["CustomerId"]]
        if customer_id and str(customer_id).lower() != contract["CustomerId"]:
            raise invalid(f"CustomerId {customer_id!r} is not the customer of contract {contract['Id']}; "
                          "leave CustomerId out of an up/downgrade or pass the contract's own customer.")
    else:
        order_type = "Signup"
        if has_inline and customer_id:
            raise invalid("Pass either Customer or CustomerId, not both.")
        if customer_id:
            customer = store.get("customers", customer_id, entity)
            if customer is None or customer.get("DeletedAt"):
                raise invalid(f"CustomerId {customer_id!r} is not a customer of this entity.")
        elif has_inline:
            if not isinstance(body["Customer"], dict):
                raise invalid("Customer must be an object.")
            inline = customers_mod.validate(body["Customer"], prefix="Customer.")
            ext = inline.get("ExternalCustomerId")
            if customers_mod.holder_of_external_id(sb, entity, ext):
                raise invalid(f"Customer.ExternalCustomerId '{ext}' is already used by another customer.")
            customers_mod.check_dispatch(sb, entity, inline, inline, prefix="Customer.")
        else:
            raise invalid("A signup order needs Customer or CustomerId; an up/downgrade needs ContractId.")
        if not cart.get("PlanVariantId"):
            raise invalid("Cart.PlanVariantId is required for a signup.")

    variant = None
    if cart.get("PlanVariantId"):
        variant = store.get("plan_variants", cart["PlanVariantId"], entity)
        if variant is None:
            raise invalid(f"Cart.PlanVariantId {cart['PlanVariantId']!r} is not a plan variant of this entity.")
        if variant.get("Hidden"):
            raise invalid(f"Cart.PlanVariantId {variant['Id']!r} is hidden and can no longer be ordered.")
    group_variant = variant
    if group_variant is None and contract is not None:
        group_variant = store.tables["plan_variants"].get(plan_phase(sb, contract).get("PlanVariantId") or "")
    group = group_variant.get("PlanGroupId") if group_variant else None

    components = []
    subs_out = []
    for i, item in enumerate(cart.get("ComponentSubscriptions") or []):
        label = f"Cart.ComponentSubscriptions[{i}]"
        if not isinstance(item, dict):
            raise invalid(f"{label} must be an object.")
        comp = store.get("components", item.get("ComponentId") or "", entity)
        if comp is None:
            raise invalid(f"{label}.ComponentId {item.get('ComponentId')!r} is not a component of this entity.")
        qty = item.get("Quantity", 1)
        if not isinstance(qty, (int, float)) or isinstance(qty, bool) or qty < 0:
            raise invalid(f"{label}.Quantity must be a non-negative number.")
        qty = float(qty if comp["ComponentType"] != "OnOff" else 1)
        if group and comp.get("PlanGroupId") != group:
            raise invalid(f"{label}.ComponentId {comp['Id']!r} belongs to another plan group than the plan variant; "
                          "a cart cannot mix plan groups.")
        components.append((comp, qty))

    end_subs = []
    for i, sid in enumerate(cart.get("EndComponentSubscriptions") or []):
        sub = store.get("component_subscriptions", sid if isinstance(sid, str) else "", entity)
        if sub is None or contract is None or sub["ContractId"] != contract["Id"]:
            raise invalid(f"Cart.EndComponentSubscriptions[{i}] {sid!r} is not a component subscription of the contract.")
        end_subs.append(sub["Id"])

    discounts = []
    disc_out = []
    for i, item in enumerate(cart.get("DiscountSubscriptions") or []):
        label = f"Cart.DiscountSubscriptions[{i}]"
        disc = store.get("discounts", (item or {}).get("DiscountId") or "", entity) if isinstance(item, dict) else None
        if disc is None:
            raise invalid(f"{label}.DiscountId is not a discount of this entity.")
        if group and disc.get("PlanGroupId") and disc["PlanGroupId"] != group:
            raise invalid(f"{label}.DiscountId {disc['Id']!r} belongs to another plan group than the plan variant; "
                          "a cart cannot mix plan groups.")
        start = _date(item, "StartDate", f"{label}.StartDate")
        discounts.append(disc)
        disc_out.append({"DiscountId": disc["Id"], "StartDate": fmt_ts(start) if start else None})

    coupon_out = None
    coupon = None
    if cart.get("CouponCode"):
        code = normalize_coupon(cart["CouponCode"])
        coupon = find_coupon(sb, entity, code)
        if coupon is None:
            if not preview:
                raise invalid(f"Cart.CouponCode '{code}' is not a valid coupon code.")
            coupon_out = {"CouponCode": code, "ErrorMessage": f"The coupon code '{code}' is invalid.",
                          "ErrorCode": "InvalidCouponCode"}
        else:
            disc = store.tables["discounts"].get(coupon["DiscountId"])
            if disc is not None:
                discounts.append(disc)
            coupon_out = {"CouponCode": code, "CouponId": coupon["Id"], "DiscountId": coupon["DiscountId"]}

    if contract is not None and not (variant or components or end_subs or discounts or cart.get("CouponCode")):
        raise invalid("The order changes nothing: Cart needs a PlanVariantId, ComponentSubscriptions, "
                      "EndComponentSubscriptions, DiscountSubscriptions or a CouponCode.")
    start = _date(body, "StartDate")
    change = _date(body, "ChangeDate")
    if contract is not None and change is not None and fmt_ts(change) < contract["StartDate"]:
        raise invalid("ChangeDate must not be before the contract's StartDate.")
    if contract is not None and contract.get("EndDate") and fmt_ts(change or sb.now()) >= contract["EndDate"]:
        raise invalid("ChangeDate must be before the contract's EndDate.")
    custom = customers_mod.validate_custom_fields(body.get("ContractCustomFields"), "ContractCustomFields")
    due_after = validate_due_after(body.get("OnAccountDueAfter"))
    for flag in ("TriggerInterimBilling", "PreviewAfterTrial"):
        if flag in body and not isinstance(body[flag], bool):
            raise invalid(f"{flag} must be true or false.")

    ent = sb.store.entity(entity)
    addr = (inline or customer or {}).get("Address") or {}
    rate = vat_rate(ent.country, addr.get("Country"), (inline or customer or {}).get("VatId"))
    fraction, credit, next_date = _first_period(sb, order_type, variant, contract, start, change)
    totals = price(variant, components, discounts, signup=order_type == "Signup", rate=rate,
                   preview_after_trial=bool(body.get("PreviewAfterTrial")), fraction=fraction, credit=credit)
    comp_lines = [ln for ln in totals["lines"] if ln["Type"] == "Component"]
    for (comp, qty), ln in zip(components, comp_lines):
        subs_out.append({"ComponentType": comp["ComponentType"], "PreventModification": False, "VatPercentage": rate,
                         "TotalNet": ln["TotalNet"], "TotalVat": ln["TotalVat"],
                         "IsQuantityBased": comp["ComponentType"] == "QuantityBased",
                         "ComponentId": comp["Id"], "Quantity": qty})

    allow = bool(variant.get("AllowWithoutPaymentData")) if variant else True
    order = {
        "Status": "InProgress", "OrderType": order_type,
        "CustomerId": contract["CustomerId"] if contract else (customer["Id"] if customer else None),
        "ContractId": contract["Id"] if contract else None,
        "PlanVariantId": variant["Id"] if variant else None, "Currency": ent.currency,
        "AllowWithoutPaymentData": allow,
        "StartDate": fmt_ts(start) if start else None, "ChangeDate": fmt_ts(change) if change else None,
        "ComponentSubscriptions": subs_out, "EndComponentSubscriptions": end_subs,
        "DiscountSubscriptions": disc_out, "Coupon": coupon_out, "LineItems": public_lines(totals["lines"]),
        "Total": totals["Total"], "TotalVat": totals["TotalVat"], "TotalGross": totals["TotalGross"],
        "NextTotalGross": totals["NextTotalGross"], "NextTotalGrossDate": fmt_ts(next_date) if next_date else None,
        "VatPercentage": rate, "IsTrial": totals["IsTrial"],
        "TrialEndPolicy": "NoTrial" if not totals["IsTrial"] else "TrialEnd",
        "TriggerInterimBilling": bool(body.get("TriggerInterimBilling", False)),
        "PreviewAfterTrial": bool(body.get("PreviewAfterTrial", False)),
        "ContractCustomFields": custom or None, "OnAccountDueAfter": due_after,
        "Customer": dict(inline, Address=inline.get("Address") or {}) if inline else None,
        "_inline": inline, "_lines": totals["lines"], "_totals": totals, "_metered": cart.get("MeteredUsages") or [],
        "_coupon": coupon["Id"] if coupon else None, "_fee_variant": variant or group_variant,
    }
    return order


def _first_period(sb, order_type: str, variant, contract, start, change):
    """(proration fraction, replaced variant to credit, date of the next regular bill)."""
    if order_type == "Signup":
        begin = start or sb.now()
        if variant and variant.get("TrialPeriod"):
            return 1.0, None, add_period(begin, variant["TrialPeriod"])
        period_start, period_end = signup_period(variant, begin)
        return proration(period_start, period_end, begin), None, period_end
    when = change or sb.now()
    billed = parse_ts(contract["BilledUntil"]) if contract.get("BilledUntil") else None
    last = parse_ts(contract["LastBillingDate"]) if contract.get("LastBillingDate") else parse_ts(contract["StartDate"])
    if billed is None or billed <= last:
        return 1.0, None, None
    old = sb.store.tables["plan_variants"].get(plan_phase(sb, contract).get("PlanVariantId") or "")
    credit = old if variant is not None and old is not None and old["Id"] != variant["Id"] else None
    return proration(last, billed, when), credit, billed


def serialize(order: dict) -> dict:
    data = public(order)
    return {k: data.get(k) for k in FIELD_ORDER if k in data}


def serialize_preview(sb, order: dict) -> dict:
    """billwerk's preview answer: the first invoice's lines inside ``RecurringFee``, metered
    components apart (they are billed by usage later), wrapped in ``{"Order": …}``."""
    data = public(order)
    fee_variant = order.get("_fee_variant") or {}
    period_start = order.get("ChangeDate") or order.get("StartDate") or fmt_ts(sb.now())
    period_end = order.get("NextTotalGrossDate")
    lines, metered = [], []
    for ln in order["_lines"]:
        comp = sb.store.tables["components"].get(ln["ProductId"]) if ln["Type"] == "Component" else None
        if comp is not None and comp.get("ComponentType") == "Metered":
            metered.append({"ComponentId": comp["Id"], "Name": ln["Description"], "PricePerUnit": ln["PricePerUnit"],
                            "VatPercentage": ln["VatPercentage"], "QuantityUnit": comp.get("QuantityUnit"),
                            "FeePeriod": comp.get("FeePeriod")})
            continue
        line = dict(ln, TotalGross=money(ln["TotalNet"] + ln["TotalVat"]), PeriodStart=period_start,
                    PeriodEnd=None if ln.get("_setup") else period_end)
        lines.append({k: line.get(k) for k in LINE_ORDER})
    data["RecurringFee"] = {
        "FeePeriod": fee_variant.get("FeePeriod") or fee_variant.get("BillingPeriod"),
        "Name": pricing_name(fee_variant) if fee_variant else None,
        "PricePerUnit": float(fee_variant.get("RecurringFee") or 0) if fee_variant else None,
        "VatPercentage": order["VatPercentage"], "LineItems": lines,
    }
    data["MeteredComponents"] = metered
    return {"Order": {k: data.get(k) for k in PREVIEW_ORDER if k in data}}


def load(sb, id_: str) -> dict:
    order = sb.store.get("orders", id_, entity_id())
    if order is None:
        raise not_found("Order", id_)
    return order


# -- routes ---------------------------------------------------------------------------------------

@bp.post("/api/v1/orders")
def create_order():
    sb = sandbox()
    body = read_json()
    with sb.store.lock:
        order = evaluate(sb, entity_id(), body, preview=False)
        order["Id"] = sb.store.new_id()
        order["CreatedAt"] = fmt_ts(sb.now())
        if order["OrderType"] == "Signup":
            if order["CustomerId"] is None:
                order["CustomerId"] = sb.store.new_id()
                order["_new_customer"] = True
            order["ContractId"] = sb.store.new_id()
        order["_entity"] = entity_id()
        sb.store.insert("orders", order)
        return object_response(serialize(order), 201)


@bp.post("/api/v1/orders/preview")
def preview_order():
    sb = sandbox()
    body = read_json()
    with sb.store.lock:
        order = evaluate(sb, entity_id(), body, preview=True)
        return object_response(serialize_preview(sb, order))


@bp.get("/api/v1/orders")
def list_orders():
    sb = sandbox()
    status, otype = paging.arg("status"), paging.arg("type")
    customer_id = paging.arg("customerId")
    search = (paging.arg("search") or "").lower()
    date_from, date_to = paging.date_arg("dateFrom"), paging.date_arg("dateTo", end_of_day=True)
    with sb.store.lock:
        def keep(o):
            created = parse_ts(o["CreatedAt"])
            return ((not status or o["Status"].lower() == status.lower())
                    and (not otype or o["OrderType"].lower() == otype.lower())
                    and (not customer_id or o["CustomerId"] == customer_id.lower())
                    and (not search or search in o["Id"])
                    and (not date_from or created >= date_from) and (not date_to or created <= date_to))
        items = (o for o in sb.store.scan("orders", entity_id(), paging.from_cursor()) if keep(o))
        return list_response([serialize(o) for o in paging.page(items)])


@bp.get("/api/v1/orders/<id_>")
def get_order(id_):
    sb = sandbox()
    with sb.store.lock:
        return object_response(serialize(load(sb, id_)))


@bp.delete("/api/v1/orders/<id_>")
def delete_order(id_):
    sb = sandbox()
    with sb.store.lock:
        order = load(sb, id_)
        if order["Status"] != "InProgress":
            raise ApiError(409, f"Only orders in progress can be deleted; this one is {order['Status']}.")
        sb.store.delete("orders", order["Id"])
    return "", 204


@bp.post("/api/v1/orders/<id_>/commit")
def commit_order(id_):
    sb = sandbox()
    body = read_json(default={})
    method = body.get("PaymentMethod")
    if method is not None and not isinstance(method, str):
        raise invalid("PaymentMethod must be a string such as 'InvoicePayment'.")
    with sb.store.lock:
        order = load(sb, id_)
        if order["Status"] != "InProgress":
            raise ApiError(409, f"The order is {order['Status']} and cannot be committed again.")
        contract = commit(sb, order, method)
        return object_response(serialize_contract(sb, contract))


def commit(sb, order: dict, method: str | None) -> dict:
    """Execute an order (lock held): create or change the contract, bill, emit webhooks."""
    if order["OrderType"] == "Signup":
        return _commit_signup(sb, order, method)
    return _commit_upgrade(sb, order)


def _existing_bearer(sb, customer_id: str):
    for c in sb.store.tables["contracts"].values():
        if c["CustomerId"] == customer_id and c.get("PaymentBearer"):
            return c
    return None


def _commit_signup(sb, order: dict, method: str | None) -> dict:
    store, entity = sb.store, order["_entity"]
    variant = store.tables["plan_variants"].get(order["PlanVariantId"])
    if variant is None:
        raise invalid("The order's plan variant no longer exists.")
    payment = {"PaymentProvider": "InvoicePayment", "PaymentMethod": "InvoicePayment", "PaymentBearer": None}
    source = None if order.get("_new_customer") else _existing_bearer(sb, order["CustomerId"])
    if method and method != "None:None" and method not in NO_PAYMENT_METHODS and not method.startswith("OnAccount:"):
        raise invalid(f"PaymentMethod '{method}' needs payment data collected through SubscriptionJS; "
                      "an API commit supports only on-account or no-payment signups.")
    if method is None and source is not None:
        payment = {k: source.get(k) for k in ("PaymentProvider", "PaymentMethod", "PaymentBearer", "PaymentProviderRole")}
    elif not variant.get("AllowWithoutPaymentData"):
        raise invalid("The plan variant does not allow a signup without payment data (AllowWithoutPaymentData is false).")
    elif method:
        role, _, provider = method.rpartition(":")
        payment = {"PaymentProvider": provider, "PaymentMethod": method, "PaymentBearer": None,
                   "PaymentProviderRole": role or None}

    created_customer = False
    if order.get("_new_customer"):
        if store.get("customers", order["CustomerId"]) is None:
            inline = dict(order["_inline"] or {})
            ext = inline.get("ExternalCustomerId")
            if customers_mod.holder_of_external_id(sb, entity, ext):
                raise invalid(f"Customer.ExternalCustomerId '{ext}' is already used by another customer.")
            customers_mod.new_customer(sb, entity, inline, id_=order["CustomerId"])
            created_customer = True
    customer = store.tables["customers"][order["CustomerId"]]

    now = sb.now()
    start = parse_ts(order["StartDate"]) if order.get("StartDate") else now
    base = {"PlanGroupId": variant["PlanGroupId"], "PlanId": variant["PlanId"], "PlanVariantId": variant["Id"]}
    phases, trial_end = [], None
    if variant.get("TrialPeriod"):
        trial_end = add_period(start, variant["TrialPeriod"])
        phases.append({"Type": "Trial", "StartDate": fmt_ts(start), **base})
        phases.append({"Type": "Normal", "StartDate": fmt_ts(trial_end), **base})
    else:
        phases.append({"Type": "Normal", "StartDate": fmt_ts(start), **base})
    billed_from = trial_end or start
    period = variant.get("BillingPeriod") or {"Unit": "Month", "Quantity": 1}
    billed_until = billed_from if trial_end else add_period(start, period)
    totals = order["_totals"]
    on_account = payment["PaymentBearer"] is None
    contract = {
        "Id": order["ContractId"], "CustomerId": customer["Id"], "ExternalId": None,
        "ReferenceCode": f"{len(store.tables['contracts']) + 1:06d}",
        "Balance": -totals["TotalGross"] if on_account else 0.0, "Currency": order["Currency"],
        "CreatedAt": fmt_ts(now), "StartDate": fmt_ts(start), "EndDate": None,
        "TrialEndDate": fmt_ts(trial_end) if trial_end else None,
        "BilledUntil": fmt_ts(billed_until), "LastBillingDate": fmt_ts(start),
        "NextBillingDate": fmt_ts(billed_until), "Phases": phases,
        **payment,
        "EscalationSuspended": False, "RecurringPaymentsPaused": False, "BillingSuspended": False,
        "OnAccountDueAfter": order.get("OnAccountDueAfter"), "Notes": None,
        "CustomFields": dict(order.get("ContractCustomFields") or {}), "_entity": entity,
    }
    store.insert("contracts", contract)
    _apply_cart(sb, order, contract, fmt_ts(start))
    change = record_change(sb, contract, "Signup", None, order_id=order["Id"], change_date=fmt_ts(start),
                           new_variant=variant)
    invoice = None
    if totals["TotalGross"] != 0:
        invoice = create_invoice(sb, contract, customer, order["_lines"], totals)
    order["Status"] = "Completed"
    sb.store.touch(order)

    ids = {"ContractId": contract["Id"], "CustomerId": customer["Id"]}
    if created_customer:
        emit(sb, "CustomerCreated", entity, CustomerId=customer["Id"])
    emit(sb, "ContractCreated", entity, **ids)
    emit_changed(sb, contract, change)
    emit(sb, "OrderSucceeded", entity, OrderId=order["Id"], **ids)
    if invoice is not None:
        emit(sb, "InvoiceCreated", entity, InvoiceId=invoice["Id"], **ids)
    return contract


def _apply_cart(sb, order: dict, contract: dict, when: str) -> None:
    for item in order["ComponentSubscriptions"]:
        add_subscription(sb, contract, item["ComponentId"], item["Quantity"], when)
    for sid in order["EndComponentSubscriptions"]:
        sub = sb.store.tables["component_subscriptions"][sid]
        sub["EndDate"] = when
    wanted = [(d["DiscountId"], d.get("StartDate"), None) for d in order["DiscountSubscriptions"]]
    coupon = sb.store.tables["coupons"].get(order.get("_coupon") or "")
    if coupon is not None:
        wanted.append((coupon["DiscountId"], None, coupon["Code"]))
    for did, start, code in wanted:
        disc = sb.store.tables["discounts"].get(did) or {}
        begin = start or when
        sb.store.insert("discount_subscriptions", {
            "Id": sb.store.new_id(), "ContractId": contract["Id"], "CustomerId": contract["CustomerId"],
            "DiscountId": did, "StartDate": begin,
            "EndDate": fmt_ts(add_period(parse_ts(begin), disc["Duration"])) if disc.get("Duration") else None,
            "CouponCode": code, "_entity": contract["_entity"],
        })
    for usage in order["_metered"]:
        if isinstance(usage, dict):
            fields = {k: usage.get(k) for k in ("ComponentId", "Quantity", "Memo", "Key", "DueDate")}
            sb.store.insert("usages", {"Id": sb.store.new_id(), "ContractId": contract["Id"], **fields,
                                       "_entity": contract["_entity"]})


def _commit_upgrade(sb, order: dict) -> dict:
    store = sb.store
    contract = store.tables["contracts"].get(order["ContractId"])
    if contract is None:
        raise invalid("The order's contract no longer exists.")
    before = serialize_contract(sb, contract)
    when = order.get("ChangeDate") or fmt_ts(sb.now())
    variant = store.tables["plan_variants"].get(order["PlanVariantId"]) if order.get("PlanVariantId") else None
    if variant is not None:
        kept = [ph for ph in contract["Phases"] if ph["StartDate"] < when and ph["Type"] != "Inactive"]
        contract["Phases"] = (kept or contract["Phases"][:1]) + [{
            "Type": "Normal", "StartDate": when, "PlanGroupId": variant["PlanGroupId"], "PlanId": variant["PlanId"],
            "PlanVariantId": variant["Id"]}]
        normalize_phases(contract)
    _apply_cart(sb, order, contract, when)
    if order.get("ContractCustomFields"):
        contract["CustomFields"] = {**(contract.get("CustomFields") or {}), **order["ContractCustomFields"]}
    if order.get("OnAccountDueAfter"):
        contract["OnAccountDueAfter"] = order["OnAccountDueAfter"]
    invoice = _bill_upgrade(sb, order, contract, when)
    store.touch(contract)
    change = record_change(sb, contract, "Upgrade", before, order_id=order["Id"], change_date=when, new_variant=variant)
    order["Status"] = "Completed"
    store.touch(order)
    ids = {"ContractId": contract["Id"], "CustomerId": contract["CustomerId"]}
    emit_changed(sb, contract, change)
    emit(sb, "OrderSucceeded", contract["_entity"], OrderId=order["Id"], **ids)
    if invoice is not None:
        emit(sb, "InvoiceCreated", contract["_entity"], InvoiceId=invoice["Id"], **ids)
    return contract


def _bill_upgrade(sb, order: dict, contract: dict, when: str):
    """An upgrade with ``TriggerInterimBilling`` that takes effect now bills the prorated difference at
    once (invoice, balance); otherwise the difference is billed with the contract's next regular bill."""
    totals = order["_totals"]
    if not order.get("TriggerInterimBilling") or totals["TotalGross"] == 0 or when > fmt_ts(sb.now()):
        return None
    customer = sb.store.tables["customers"][contract["CustomerId"]]
    invoice = create_invoice(sb, contract, customer, order["_lines"], totals)
    if contract.get("PaymentBearer") is None:
        contract["Balance"] = money((contract.get("Balance") or 0.0) - totals["TotalGross"])
    return invoice

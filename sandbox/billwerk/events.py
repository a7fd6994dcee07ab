"""Test hooks: make billwerk-side things happen that no API call causes (reference §12 item 14).

``BillwerkSandbox.trigger(event, **ids)`` / ``POST /_sandbox/trigger`` change the state where
billwerk would and emit the webhook:

* ``PaymentEscalated`` (``contract_id``; optional ``trigger_days``, ``due_date``): without
  ``trigger_days`` a contract cycles 5 → 10 → 5 → 10 … (billwerk counts days since the oldest
  unpaid receivable, so it can go back to 5). ``DueDate`` defaults to the trigger day minus
  ``TriggerDays``. ``PaymentEscalationProcessId`` is a stable id per entity.
* ``PaymentEscalationReset``, ``PaymentDataChanged``, ``ContractDataChanged`` (``contract_id``).
* ``CustomerChanged`` (``customer_id``).
* ``ContractChanged`` (``contract_id``, optional ``change_type``, default ``"Update"``): records
  a contract change (resolvable through ``/contractChanges/{id}``) and emits it.
* ``InvoiceCreated`` (``contract_id``): bills the next period (advances ``BilledUntil``) and
  creates an invoice.
* ``InvoiceCorrected`` (``contract_id``, optional ``invoice_id`` = the invoice to correct,
  default the latest): adds a credit note and a corrected invoice; ``OldInvoiceId`` /
  ``NewInvoiceId`` and the draft ids are those invoices' ids.
* Any other event name from §8.3 with ids given → a generic ``{<ids>, Event, EntityId}`` payload.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from .contracts import emit_changed, end_contract, plan_phase, record_change, serialize
from .formats import add_period, fmt_ts, parse_ts
from .invoices import create_invoice
from .pricing import price, vat_rate
from .webhooks import EVENTS, emit

ESCALATION_CYCLE = (5, 10)


def escalation_process_id(entity_id: str) -> str:
    return hashlib.sha1(f"escalation:{entity_id}".encode()).hexdigest()[:24]


def _pascal(name: str) -> str:
    """``order_id`` → ``OrderId`` (keyword arguments to payload keys)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _contract(sb, contract_id):
    c = sb.store.tables["contracts"].get(str(contract_id or "").lower())
    if c is None:
        raise KeyError(f"unknown contract {contract_id!r}")
    return c


def trigger(sb, event: str, **ids) -> dict:
    event = event.strip()
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    with sb.store.lock:
        if event == "CustomerChanged":
            cust = sb.store.tables["customers"].get(str(ids.get("customer_id", "")).lower())
            if cust is None:
                raise KeyError(f"unknown customer {ids.get('customer_id')!r}")
            sb.store.touch(cust)
            return emit(sb, event, cust["_entity"], CustomerId=cust["Id"])
        if "contract_id" not in ids:
            entity = ids.pop("entity_id", None) or next(iter(sb.store.accounts.values())).root.id
            return emit(sb, event, entity, **{_pascal(k): v for k, v in ids.items()})
        c = _contract(sb, ids["contract_id"])
        base = {"ContractId": c["Id"], "CustomerId": c["CustomerId"]}
        entity = c["_entity"]
        if event == "PaymentEscalated":
            days = ids.get("trigger_days")
            if days is None:
                step = sb.store.escalations.get(c["Id"], 0)
                days = ESCALATION_CYCLE[step % len(ESCALATION_CYCLE)]
                sb.store.escalations[c["Id"]] = step + 1
            due = ids.get("due_date")
            due = fmt_ts(parse_ts(due)) if due else fmt_ts(
                (sb.now() - timedelta(days=int(days))).replace(hour=0, minute=0, second=0, microsecond=0))
            return emit(sb, event, entity, TriggerDays=int(days), DueDate=due,
                        PaymentEscalationProcessId=escalation_process_id(entity), **base)
        if event == "PaymentEscalationReset":
            sb.store.escalations.pop(c["Id"], None)
            return emit(sb, event, entity, **base)
        if event in ("ContractDataChanged", "PaymentDataChanged"):
            sb.store.touch(c)
            return emit(sb, event, entity, **base)
        if event == "ContractChanged":
            before = serialize(sb, c)
            sb.store.touch(c)
            change = record_change(sb, c, ids.get("change_type", "Update"), before)
            return emit_changed(sb, c, change)
        if event == "InvoiceCreated":
            inv = bill_next_period(sb, c)
            return emit(sb, event, entity, InvoiceId=inv["Id"], **base)
        if event == "InvoiceCorrected":
            return correct_invoice(sb, c, ids.get("invoice_id"))
        if event == "ContractCancelled":
            end_contract(sb, c, sb.now())
            return next(p for p in reversed(sb.emitted) if p["Event"] == event)
        extra = {_pascal(k): v for k, v in ids.items() if k != "contract_id"}
        return emit(sb, event, entity, **base, **extra)


def _totals_for(sb, c):
    customer = sb.store.tables["customers"][c["CustomerId"]]
    variant = sb.store.tables["plan_variants"][plan_phase(sb, c)["PlanVariantId"]]
    comps = [(sb.store.tables["components"][s["ComponentId"]], s["Quantity"])
             for s in sb.store.scan("component_subscriptions", c["_entity"])
             if s["ContractId"] == c["Id"] and not s.get("EndDate")]
    entity = sb.store.entity(c["_entity"])
    rate = vat_rate(entity.country, (customer.get("Address") or {}).get("Country"), customer.get("VatId"))
    return customer, variant, price(variant, comps, [], signup=False, rate=rate)


def bill_next_period(sb, c: dict) -> dict:
    customer, variant, totals = _totals_for(sb, c)
    start = parse_ts(c.get("BilledUntil") or c["StartDate"])
    until = add_period(start, variant.get("BillingPeriod") or {"Unit": "Month", "Quantity": 1})
    inv = create_invoice(sb, c, customer, totals["lines"], totals)
    c["LastBillingDate"], c["BilledUntil"], c["NextBillingDate"] = fmt_ts(sb.now()), fmt_ts(until), fmt_ts(until)
    if c.get("PaymentBearer") is None:
        c["Balance"] = round(float(c.get("Balance") or 0) - totals["TotalGross"], 2)
    sb.store.touch(c)
    return inv


def correct_invoice(sb, c: dict, invoice_id=None) -> dict:
    invoices = [i for i in sb.store.scan("invoices", c["_entity"]) if i["ContractId"] == c["Id"] and i["IsInvoice"]]
    if invoice_id:
        invoices = [i for i in invoices if i["Id"] == str(invoice_id).lower()]
    if not invoices:
        raise KeyError("no invoice to correct")
    old = invoices[-1]
    customer = sb.store.tables["customers"][c["CustomerId"]]
    totals = {"Total": old["TotalNet"], "TotalVat": old["TotalVat"], "TotalGross": old["TotalGross"]}
    lines = [{"Description": it["Description"], "Quantity": it["Quantity"], "PricePerUnit": it["PricePerUnit"],
              "TotalNet": it["TotalNet"], "VatPercentage": it["VatPercentage"]} for it in old.get("ItemList") or []]
    create_invoice(sb, c, customer, lines, totals, is_invoice=False, corrected=old["Id"])
    new = create_invoice(sb, c, customer, lines, totals, corrected=old["Id"])
    return emit(sb, "InvoiceCorrected", c["_entity"], OldInvoiceId=old["Id"], NewInvoiceId=new["Id"],
                NewInvoiceDraftId=new["Id"], OldInvoiceDraftId=old["Id"], NewInvoiceDraftIds=[new["Id"]],
                ContractId=c["Id"], CustomerId=c["CustomerId"])

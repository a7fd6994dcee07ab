"""Invoices and credit notes (reference §6.4).

Created when a signup commit bills the first period (when its gross total is not zero), by
``trigger("InvoiceCreated", contract_id=…)`` and by ``trigger("InvoiceCorrected", …)`` (which
adds a credit note, ``IsInvoice: false``, and a corrected invoice). Totals are JSON numbers and
``IsInvoice`` a boolean (the tap's types; the gem fixture's strings are an older rendering).
``ItemList`` (the invoice lines) is the sandbox's name, [NF].

``POST /invoices/{id}/downloadLink`` → ``{"Url": "/download/invoices/<token>.pdf"}``: a
host-relative URL outside ``/api/v1``, fetched **without** an auth header; the token is random
and single-purpose. The PDF is a tiny valid document naming the invoice.
"""
from __future__ import annotations

import secrets
from flask import Blueprint, Response

from . import paging
from .common import entity_id, list_response, object_response, sandbox
from .errors import ApiError, not_found
from .formats import add_period, fmt_ts, parse_ts
from .store import public

bp = Blueprint("billwerk_invoices", __name__)

FIELD_ORDER = (
    "Id", "InvoiceNumber", "CustomerId", "ContractId", "ExternalCustomerId", "DebitorAccount", "Created",
    "DocumentDate", "SentAt", "DueDate", "RecipientName", "RecipientSubName", "RecipientAddress", "Currency",
    "TotalNet", "TotalVat", "TotalGross", "IsInvoice", "CorrectedInvoiceId", "ItemList",
)


def create_invoice(sb, contract: dict, customer: dict, lines: list[dict], totals: dict, *, is_invoice: bool = True,
                   corrected: str | None = None, when=None) -> dict:
    entity = contract["_entity"]
    when = when or sb.now()
    number = sum(1 for _ in sb.store.scan("invoices", entity)) + 1
    prefix = "RE" if is_invoice else "GS"
    due_after = contract.get("OnAccountDueAfter") or {"Unit": "Day", "Quantity": 14}
    addr = customer.get("Address") or {}
    sign = 1 if is_invoice else -1
    inv = {
        "Id": sb.store.new_id(),
        "InvoiceNumber": f"{prefix}-{when:%Y}-{entity[-4:]}-{number:05d}",
        "CustomerId": customer["Id"], "ContractId": contract["Id"],
        "ExternalCustomerId": customer.get("ExternalCustomerId"), "DebitorAccount": customer.get("DebitorAccount"),
        "Created": fmt_ts(when), "DocumentDate": fmt_ts(when), "SentAt": fmt_ts(when),
        "DueDate": fmt_ts(add_period(when.replace(hour=0, minute=0, second=0, microsecond=0), due_after)),
        "RecipientName": customer.get("CustomerName"), "RecipientSubName": customer.get("CustomerSubName"),
        "RecipientAddress": {k: v for k, v in addr.items() if v},
        "Currency": contract["Currency"],
        "TotalNet": sign * totals["Total"], "TotalVat": sign * totals["TotalVat"],
        "TotalGross": sign * totals["TotalGross"], "IsInvoice": is_invoice, "CorrectedInvoiceId": corrected,
        "ItemList": [{"Description": ln["Description"], "Quantity": ln["Quantity"], "PricePerUnit": ln["PricePerUnit"],
                      "TotalNet": sign * ln["TotalNet"], "VatPercentage": ln["VatPercentage"]} for ln in lines],
        "_entity": entity,
    }
    return sb.store.insert("invoices", inv)


def serialize(obj: dict) -> dict:
    data = public(obj)
    return {k: data.get(k) for k in FIELD_ORDER if k in data}


@bp.get("/api/v1/invoices")
def list_invoices():
    sb = sandbox()
    customer_id = paging.arg("customerId")
    contract_id = paging.arg("contractId")
    date_from, date_to = paging.date_arg("dateFrom"), paging.date_arg("dateTo", end_of_day=True)
    with sb.store.lock:
        def keep(inv):
            if customer_id and inv["CustomerId"] != customer_id.lower():
                return False
            if contract_id and inv["ContractId"] != contract_id.lower():
                return False
            doc = parse_ts(inv["DocumentDate"])
            if date_from and doc < date_from:
                return False
            if date_to and doc > date_to:
                return False
            return True
        items = (i for i in sb.store.scan("invoices", entity_id(), paging.from_cursor()) if keep(i))
        return list_response([serialize(i) for i in paging.page(items)])


@bp.get("/api/v1/invoices/<id_>")
def get_invoice(id_):
    sb = sandbox()
    with sb.store.lock:
        inv = sb.store.get("invoices", id_, entity_id())
        if inv is None:
            raise not_found("Invoice", id_)
        return object_response(serialize(inv))


@bp.post("/api/v1/invoices/<id_>/downloadlink")
def download_link(id_):
    sb = sandbox()
    with sb.store.lock:
        inv = sb.store.get("invoices", id_, entity_id())
        if inv is None:
            raise not_found("Invoice", id_)
        token = secrets.token_urlsafe(24)
        sb.downloads[token] = inv["Id"]
    return object_response({"Url": f"/download/invoices/{token}.pdf"})


@bp.get("/download/invoices/<token>.pdf")
def download(token):
    sb = sandbox()
    with sb.store.lock:
        inv = sb.store.tables["invoices"].get(sb.downloads.get(token, ""))
        if inv is None:
            raise ApiError(404, "The download link is unknown or expired.")
        kind = "Invoice" if inv["IsInvoice"] else "Credit note"
        text = f"{kind} {inv['InvoiceNumber']} {inv['TotalGross']:.2f} {inv['Currency']}"
    return Response(_pdf(text), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{inv["InvoiceNumber"]}.pdf"'})


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF showing ``text``."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1", "replace")
    stream = b"BT /F1 14 Tf 72 720 Td (" + safe + b") Tj ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)

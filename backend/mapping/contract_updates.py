"""billwerk contract -> HubSpot deal properties, and the rules that make thin, late and shuffled
billwerk webhooks give one right answer. Pure: no I/O, no clock of its own.

billwerk hooks carry only ids and the event name; the connector re-reads the contract and writes
what the contract says. Two facts only the hooks carry:

* **Payment escalation.** No contract field says whether a contract is escalated; the state comes
  only from ``PaymentEscalated`` / ``PaymentEscalationReset``. billwerk sends one contract's hooks
  in order, but retries a failed hook for up to two days while later hooks go through, so arrival
  order is not send order. The rule (:func:`escalation_moment`, :func:`is_escalated`):

  1. every escalation hook is dated at the moment billwerk first sent it: its arrival, moved back
     by billwerk's retry schedule for its ``X-Retry-Count`` (first retry after 60 s, doubling:
     ``n`` retries = ``60 s x (2^n - 1)`` earlier);
  2. a ``PaymentEscalated`` names the day its escalation fired (``DueDate`` + ``TriggerDays``: the
     days since the oldest unpaid receivable fell due), and it cannot have been sent before that
     day began — its date is never earlier than that day's midnight UTC;
  3. the flag is set when the newest dated ``PaymentEscalated`` is newer than the newest dated
     ``PaymentEscalationReset``; on a tie the reset wins.

  Only the two newest moments are kept, so the outcome does not depend on how often or in which
  order the hooks arrive: a ``PaymentEscalated`` retried after the reset that followed it is
  older than that reset and changes nothing.
* **The last invoice.** ``InvoiceCreated`` names the invoice (or credit note); the invoice is
  read back and the newest by its creation time (then id) is kept, so a late hook for an older
  invoice does not replace a newer one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from backend.mapping.dates import hubspot_date, parse_billwerk_datetime, utc_date
from backend.mapping.numbers import decimal_or_none, hubspot_number

#: The events that re-read a contract and write its deal.
CONTRACT_EVENTS = (
    "ContractCreated", "ContractChanged", "ContractDataChanged", "ContractCancelled", "InvoiceCreated",
    "OrderSucceeded", "PaymentEscalated", "PaymentEscalationReset", "PaymentDataChanged",
)

#: Deal properties this flow owns, in the order the card lists them.
DEAL_PROPERTIES = (
    "billwerk_lifecycle_status", "billwerk_balance", "billwerk_currency", "billwerk_billed_until",
    "billwerk_end_date", "billwerk_payment_escalated", "billwerk_payment_provider", "billwerk_payment_method",
    "billwerk_last_invoice_id",
)

#: billwerk's first retry delay; each further retry waits twice as long (a dozen tries over about two days).
RETRY_BASE_S = 60
_MAX_RETRY_COUNT = 20


class HookError(ValueError):
    """A billwerk hook this flow cannot use; the message says what is wrong with it."""


@dataclass(frozen=True)
class Hook:
    """The parts of a billwerk hook the contract flow uses."""

    event: str
    contract_id: str | None
    entity_id: str | None
    invoice_id: str | None = None
    trigger_days: int | None = None
    due_date: date | None = None


def _hex_id(value) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if not (0 < len(text) <= 64 and all(c in "0123456789abcdef" for c in text)):
        raise HookError(f"{value!r} is not a billwerk id.")
    return text


def parse_hook(payload: dict) -> Hook:
    """A hook from billwerk's JSON: the event name trimmed (billwerk's own tooling has sent
    ``"PlanVariantCreated "``), ids lower-cased, and ``EntityId`` optional because legacy payloads
    carry only ``Event`` and ``ContractId``. Extra keys are ignored."""
    if not isinstance(payload, dict):
        raise HookError("A billwerk hook is a JSON object.")
    event = str(payload.get("Event") or "").strip()
    if not event:
        raise HookError("The hook has no Event name.")
    trigger_days = payload.get("TriggerDays")
    try:
        days = int(trigger_days) if trigger_days is not None and not isinstance(trigger_days, bool) else None
    except (TypeError, ValueError):
        days = None
    due = None
    if payload.get("DueDate"):
        try:
            due = utc_date(str(payload["DueDate"]))
        except ValueError:
            due = None
    return Hook(event=event, contract_id=_hex_id(payload.get("ContractId")), entity_id=_hex_id(payload.get("EntityId")),
                invoice_id=_hex_id(payload.get("InvoiceId")), trigger_days=days, due_date=due)


def retry_count(headers: dict | None) -> int:
    """billwerk's ``X-Retry-Count`` (1 on the first retry), 0 when absent or unreadable."""
    for key, value in (headers or {}).items():
        if key.lower() == "x-retry-count":
            try:
                return max(0, min(int(str(value).strip()), _MAX_RETRY_COUNT))
            except ValueError:
                return 0
    return 0


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def sent_at(received_at: datetime, retries: int) -> datetime:
    """When billwerk first sent a hook that arrived at ``received_at`` after ``retries`` retries."""
    return _aware(received_at) - timedelta(seconds=RETRY_BASE_S * (2 ** retries - 1))


def escalation_moment(hook: Hook, received_at: datetime, retries: int) -> datetime:
    """The moment an escalation hook stands for (rule in the module docstring)."""
    moment = sent_at(received_at, retries)
    if hook.event == "PaymentEscalated" and hook.due_date is not None and hook.trigger_days is not None:
        fired = hook.due_date + timedelta(days=hook.trigger_days)
        day_start = datetime(fired.year, fired.month, fired.day, tzinfo=timezone.utc)
        moment = min(max(moment, day_start), _aware(received_at))
    return moment


def is_escalated(escalated_at: datetime | None, reset_at: datetime | None) -> bool:
    if escalated_at is None:
        return False
    return reset_at is None or _aware(escalated_at) > _aware(reset_at)


def newer(moment: datetime | None, than: datetime | None) -> datetime | None:
    """The later of two moments (``None`` = never)."""
    if moment is None:
        return than
    if than is None:
        return moment
    return moment if _aware(moment) > _aware(than) else than


# -- contract -> facts -> properties ----------------------------------------------------------------

@dataclass(frozen=True)
class BillingFacts:
    """What the deal shows of a contract, as Python values (``None`` = billwerk says nothing)."""

    contract_id: str
    customer_id: str | None
    lifecycle_status: str | None
    balance: Decimal | None
    currency: str | None
    billed_until: date | None
    end_date: date | None
    payment_provider: str | None
    payment_method: str | None


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(value) -> date | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return utc_date(text)
    except ValueError:
        return None


def _none_word(value: str | None) -> str | None:
    return None if value is None or value.lower() == "none" else value


def payment_method(contract: dict) -> str | None:
    """How the contract pays: the kind part of billwerk's ``PaymentMethod`` (``CreditCard`` of
    ``CreditCard:Stripe``, ``Debit`` of ``Debit:PayOne``, ``InvoicePayment``), else the provider
    role, else the payment bearer's type; ``None:None`` means no payment method."""
    method = _text(contract.get("PaymentMethod"))
    if method:
        return _none_word(method.split(":", 1)[0].strip() or None)
    role = _none_word(_text(contract.get("PaymentProviderRole")))
    if role:
        return role
    bearer = contract.get("PaymentBearer")
    return _none_word(_text(bearer.get("Type"))) if isinstance(bearer, dict) else None


def billing_facts(contract: dict) -> BillingFacts:
    """The deal-relevant facts of a contract as billwerk's GET returns it."""
    if not isinstance(contract, dict) or not contract.get("Id"):
        raise HookError("The contract read from billwerk has no Id.")
    return BillingFacts(
        contract_id=str(contract["Id"]).lower(),
        customer_id=_text(contract.get("CustomerId")),
        lifecycle_status=_text(contract.get("LifecycleStatus")),
        balance=decimal_or_none(contract.get("Balance")),
        currency=_text(contract.get("Currency")),
        billed_until=_date(contract.get("BilledUntil")),
        end_date=_date(contract.get("EndDate")),
        payment_provider=_none_word(_text(contract.get("PaymentProvider"))),
        payment_method=payment_method(contract),
    )


def deal_properties(facts: BillingFacts, *, escalated: bool, last_invoice_id: str | None) -> dict[str, str]:
    """Every property of :data:`DEAL_PROPERTIES` as the HubSpot string value to write; an empty
    string clears a value billwerk no longer has (e.g. an end date that was withdrawn)."""
    return {
        "billwerk_lifecycle_status": facts.lifecycle_status or "",
        "billwerk_balance": hubspot_number(facts.balance),
        "billwerk_currency": facts.currency or "",
        "billwerk_billed_until": hubspot_date(facts.billed_until) if facts.billed_until else "",
        "billwerk_end_date": hubspot_date(facts.end_date) if facts.end_date else "",
        "billwerk_payment_escalated": "true" if escalated else "false",
        "billwerk_payment_provider": facts.payment_provider or "",
        "billwerk_payment_method": facts.payment_method or "",
        "billwerk_last_invoice_id": last_invoice_id or "",
    }


def changed_properties(wanted: dict[str, str], written: dict[str, str] | None) -> dict[str, str]:
    """The properties whose value differs from what was last written to the same deal."""
    written = written or {}
    return {name: value for name, value in wanted.items() if name not in written or written[name] != value}


# -- invoices ---------------------------------------------------------------------------------------

def invoice_moment(invoice: dict) -> datetime | None:
    """When an invoice or credit note was created (``Created``, else ``DocumentDate``, else ``SentAt``)."""
    for key in ("Created", "DocumentDate", "SentAt"):
        text = _text(invoice.get(key))
        if text:
            try:
                return parse_billwerk_datetime(text)
            except ValueError:
                continue
    return None


def invoice_of_contract(invoice: dict, contract_id: str) -> bool:
    """Whether an invoice read back belongs to the contract (older invoices may lack ``ContractId``)."""
    owner = _text(invoice.get("ContractId"))
    return owner is None or owner.lower() == contract_id.lower()


def is_newer_invoice(candidate: tuple[datetime | None, str], current: tuple[datetime | None, str] | None) -> bool:
    """``(created, id)`` pairs: a later creation wins, then the larger id (billwerk ids grow with time)."""
    if current is None or current[1] is None:
        return True
    c_at, c_id = candidate
    o_at, o_id = current
    if c_at is not None and o_at is not None and _aware(c_at) != _aware(o_at):
        return _aware(c_at) > _aware(o_at)
    return c_id > o_id


# -- deal card --------------------------------------------------------------------------------------

def billing_health(facts: BillingFacts | None, *, contract_id: str, customer_id: str | None, escalated: bool,
                   last_invoice_id: str | None, updated_at: datetime | None, billwerk_base_url: str) -> dict:
    """The deal card's ``billing`` section (``BillingHealth`` of the card's types)."""
    base = billwerk_base_url.rstrip("/")
    customer = (facts.customer_id if facts else None) or customer_id
    return {
        "contractId": contract_id,
        "contractUrl": f"{base}/#/contracts/{contract_id}",
        "customerId": customer,
        "customerUrl": f"{base}/#/customers/{customer}" if customer else None,
        "lifecycleStatus": facts.lifecycle_status if facts else None,
        "balance": float(facts.balance) if facts and facts.balance is not None else None,
        "currency": facts.currency if facts else None,
        "billedUntil": facts.billed_until.isoformat() if facts and facts.billed_until else None,
        "endDate": facts.end_date.isoformat() if facts and facts.end_date else None,
        "paymentEscalated": bool(escalated),
        "paymentProvider": facts.payment_provider if facts else None,
        "paymentMethod": facts.payment_method if facts else None,
        "lastInvoiceId": last_invoice_id,
        "updatedAt": _aware(updated_at).isoformat().replace("+00:00", "Z") if updated_at else None,
    }

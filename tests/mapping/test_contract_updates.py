"""Contract -> deal properties and the ordering rules, on captured billwerk payloads."""
from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from backend.mapping import contract_updates as cu
from tests.mapping._fixtures import FIXTURES

BILLWERK = FIXTURES / "billwerk"


def load(*parts: str) -> dict:
    return json.loads(BILLWERK.joinpath(*parts).read_text(encoding="utf-8"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("event", cu.CONTRACT_EVENTS)
def test_every_contract_event_has_a_captured_fixture_that_parses(event):
    payload = load(f"{event}.json")
    hook = cu.parse_hook(payload)
    assert hook.event == event
    assert hook.contract_id == payload["ContractId"]
    assert hook.entity_id == payload["EntityId"]


def test_invoice_and_escalation_details_are_read():
    invoice = cu.parse_hook(load("InvoiceCreated.json"))
    assert invoice.invoice_id == "51d97067cb596a1239fff423"
    escalated = cu.parse_hook(load("PaymentEscalated.json"))
    assert (escalated.trigger_days, escalated.due_date) == (5, date(2022, 6, 9))


def test_legacy_payloads_without_entity_and_padded_names():
    legacy = cu.parse_hook(load("legacy", "PaymentEscalationReset.json"))
    assert legacy.event == "PaymentEscalationReset" and legacy.entity_id is None
    assert legacy.contract_id == "6298a006d2044479fc05e9e4"
    padded = cu.parse_hook({**load("ContractCreated.json"), "Event": "  ContractCreated "})
    assert padded.event == "ContractCreated"
    other = cu.parse_hook(load("legacy", "PaymentBearerExpiring.json"))
    assert other.event == "PaymentBearerExpiring" and other.event not in cu.CONTRACT_EVENTS


@pytest.mark.parametrize("payload, message", [
    ([], "JSON object"), ({"ContractId": "6298a006e636b694d807080f"}, "no Event"),
    ({"Event": "ContractChanged", "ContractId": "../etc"}, "not a billwerk id"),
])
def test_unusable_hooks_say_why(payload, message):
    with pytest.raises(cu.HookError, match=message):
        cu.parse_hook(payload)


def test_retry_count_header():
    assert cu.retry_count({}) == 0
    assert cu.retry_count({"X-Retry-Count": "3"}) == 3
    assert cu.retry_count({"x-retry-count": " 1 "}) == 1
    assert cu.retry_count({"X-Retry-Count": "soon"}) == 0
    assert cu.retry_count({"X-Retry-Count": "99999"}) == 20


def test_sent_at_follows_billwerks_doubling_retry_schedule():
    arrived = at("2026-03-10T12:00:00")
    assert cu.sent_at(arrived, 0) == arrived
    assert cu.sent_at(arrived, 1) == arrived - timedelta(seconds=60)
    assert cu.sent_at(arrived, 3) == arrived - timedelta(seconds=60 * 7)


def _escalated(day: str, trigger_days: int = 5) -> cu.Hook:
    due = date.fromisoformat(day) - timedelta(days=trigger_days)
    return cu.parse_hook({**load("PaymentEscalated.json"), "TriggerDays": trigger_days, "DueDate": due.isoformat()})


RESET = cu.parse_hook(load("PaymentEscalationReset.json"))


def _flag(deliveries) -> bool:
    """Fold deliveries (hook, received_at, retries) the way the flow stores them."""
    escalated_at = reset_at = None
    for hook, received, retries in deliveries:
        moment = cu.escalation_moment(hook, received, retries)
        if hook.event == "PaymentEscalated":
            escalated_at = cu.newer(moment, escalated_at)
        else:
            reset_at = cu.newer(moment, reset_at)
    return cu.is_escalated(escalated_at, reset_at)


def test_late_payment_escalated_after_its_reset_leaves_the_flag_cleared():
    # Escalated at 09:00 (billwerk's first try failed), reset at 09:00:30, the escalation's
    # third retry arrives at 09:07:05: it was first sent 7 minutes before it arrived.
    escalated = _escalated("2026-03-10")
    deliveries = [(RESET, at("2026-03-10T09:00:30"), 0), (escalated, at("2026-03-10T09:07:05"), 3)]
    assert _flag(deliveries) is False


def test_a_day_late_escalation_retry_is_older_than_the_reset_of_the_next_day():
    escalated = _escalated("2026-03-10")
    deliveries = [(RESET, at("2026-03-11T08:00:00"), 0), (escalated, at("2026-03-11T14:00:00"), 10)]
    assert _flag(deliveries) is False


def test_a_new_escalation_after_a_reset_sets_the_flag_even_when_retried():
    deliveries = [(_escalated("2026-03-10"), at("2026-03-10T06:00:00"), 0), (RESET, at("2026-03-12T10:00:00"), 0),
                  (_escalated("2026-03-20", 10), at("2026-03-20T06:03:00"), 2)]
    assert _flag(deliveries) is True


def test_a_late_reset_retry_is_dated_back_before_a_newer_escalation():
    # Reset sent 2026-03-12 10:00, retried for two days; a new escalation fired 2026-03-13.
    reset_late = (RESET, at("2026-03-12T10:00:00") + timedelta(seconds=60 * (2 ** 11 - 1)), 11)
    deliveries = [(_escalated("2026-03-13"), at("2026-03-13T06:00:00"), 0), reset_late]
    assert _flag(deliveries) is True


def test_escalation_day_bounds_a_wrongly_dated_retry():
    # A retry whose computed send time falls before its escalation day is kept on that day.
    hook = _escalated("2026-03-10")
    assert cu.escalation_moment(hook, at("2026-03-10T00:30:00"), 6) == at("2026-03-10T00:00:00")


def test_the_flag_does_not_depend_on_order_or_repetition():
    deliveries = [(_escalated("2026-03-01"), at("2026-03-01T07:00:00"), 0), (RESET, at("2026-03-02T07:00:00"), 0),
                  (_escalated("2026-03-05"), at("2026-03-05T07:00:00"), 0), (RESET, at("2026-03-06T07:00:00"), 0)]
    expected = _flag(deliveries)
    assert expected is False
    rng = random.Random(7)
    for _ in range(50):
        shuffled = deliveries * 3
        rng.shuffle(shuffled)
        assert _flag(shuffled) is expected


def test_tie_goes_to_the_reset():
    moment = at("2026-03-10T09:00:00")
    assert cu.is_escalated(moment, moment) is False
    assert cu.is_escalated(moment, None) is True
    assert cu.is_escalated(None, None) is False


# -- properties ---------------------------------------------------------------------------------

def test_credit_card_contract():
    facts = cu.billing_facts(load("contracts", "seed_creditcard.json"))
    props = cu.deal_properties(facts, escalated=False, last_invoice_id=None)
    assert props == {
        "billwerk_lifecycle_status": "Active", "billwerk_balance": "0", "billwerk_currency": "EUR",
        "billwerk_billed_until": "2027-01-09", "billwerk_end_date": "", "billwerk_payment_escalated": "false",
        "billwerk_payment_provider": "Stripe", "billwerk_payment_method": "CreditCard", "billwerk_last_invoice_id": "",
    }
    assert list(props) == list(cu.DEAL_PROPERTIES)


def test_debit_and_invoice_payment_contracts():
    debit = cu.billing_facts(load("contracts", "seed_debit.json"))
    assert (debit.payment_provider, debit.payment_method) == ("PayOne", "Debit")
    ended = cu.billing_facts(load("contracts", "invoice_payment_ended.json"))
    props = cu.deal_properties(ended, escalated=True, last_invoice_id="65a1c0de0000000000000063")
    assert props["billwerk_lifecycle_status"] == "Ended"
    assert props["billwerk_balance"] == "-21.42"
    assert props["billwerk_end_date"] == "2026-12-02"
    assert props["billwerk_payment_method"] == "InvoicePayment" and props["billwerk_payment_provider"] == "InvoicePayment"
    assert props["billwerk_payment_escalated"] == "true"
    assert props["billwerk_last_invoice_id"] == "65a1c0de0000000000000063"


def test_legacy_contract_shape_from_billwerks_ruby_client():
    facts = cu.billing_facts(load("contracts", "gem_paymill.json"))
    assert facts.payment_provider == "Paymill" and facts.payment_method == "CreditCard"
    assert (facts.billed_until, facts.end_date) == (date(2014, 5, 23), date(2014, 5, 23))


def test_dates_are_the_utc_calendar_date():
    contract = {**load("contracts", "seed_creditcard.json"), "BilledUntil": "2026-01-31T23:30:00.0000000-02:00",
                "EndDate": "2026-02-01T00:59:59+01:00"}
    facts = cu.billing_facts(contract)
    assert (facts.billed_until, facts.end_date) == (date(2026, 2, 1), date(2026, 1, 31))


@pytest.mark.parametrize("value, text", [
    (0, "0"), (0.0, "0"), ("-0.00", "0"), (29.75, "29.75"), ("211.60", "211.6"), (Decimal("1E+3"), "1000"),
    (-21.42, "-21.42"), (1234567.5, "1234567.5"), (None, ""), ("", ""), ("n/a", ""), (True, ""), ("NaN", ""),
])
def test_numbers_as_hubspot_numbers(value, text):
    assert cu.hubspot_number(value) == text


def test_payment_method_variants():
    assert cu.payment_method({"PaymentMethod": "None:None"}) is None
    assert cu.payment_method({"PaymentMethod": "iDEAL:Adyen"}) == "iDEAL"
    assert cu.payment_method({"PaymentProviderRole": "Debit"}) == "Debit"
    assert cu.payment_method({"PaymentBearer": {"Type": "BankAccount"}}) == "BankAccount"
    assert cu.payment_method({}) is None


def test_a_contract_without_id_is_refused():
    with pytest.raises(cu.HookError):
        cu.billing_facts({"LifecycleStatus": "Active"})


def test_only_changed_properties_are_written():
    facts = cu.billing_facts(load("contracts", "seed_creditcard.json"))
    wanted = cu.deal_properties(facts, escalated=False, last_invoice_id=None)
    assert cu.changed_properties(wanted, None) == wanted
    assert cu.changed_properties(wanted, dict(wanted)) == {}
    moved = dict(wanted, billwerk_balance="-5")
    assert cu.changed_properties(moved, wanted) == {"billwerk_balance": "-5"}


def test_newest_invoice_wins():
    captured = load("invoices", "invoice.json")
    moment = cu.invoice_moment(captured)
    assert moment is not None and cu.invoice_moment(load("invoices", "gem_invoice.json")) == at("2012-07-03T23:02:22")
    older = (moment - timedelta(days=30), "ffffffffffffffffffffffff")
    newest = (moment, captured["Id"])
    assert cu.is_newer_invoice(newest, older) and not cu.is_newer_invoice(older, newest)
    assert cu.is_newer_invoice(newest, None)
    assert cu.is_newer_invoice((None, "b"), (None, "a"))
    assert cu.invoice_of_contract(captured, captured["ContractId"].upper())
    assert not cu.invoice_of_contract(captured, "0" * 24)
    assert cu.invoice_of_contract(load("invoices", "gem_invoice.json"), "0" * 24)


def test_billing_health_for_the_deal_card():
    facts = cu.billing_facts(load("contracts", "invoice_payment_ended.json"))
    health = cu.billing_health(facts, contract_id=facts.contract_id, customer_id=None, escalated=True,
                               last_invoice_id="65a1c0de0000000000000063", updated_at=at("2026-12-02T07:00:00"),
                               billwerk_base_url="https://sandbox.billwerk.com/")
    assert health == {
        "contractId": "65a1c0de0000000000000060",
        "contractUrl": "https://sandbox.billwerk.com/#/contracts/65a1c0de0000000000000060",
        "customerId": "65a1c0de000000000000005f",
        "customerUrl": "https://sandbox.billwerk.com/#/customers/65a1c0de000000000000005f",
        "lifecycleStatus": "Ended", "balance": -21.42, "currency": "EUR", "billedUntil": "2027-02-02",
        "endDate": "2026-12-02", "paymentEscalated": True, "paymentProvider": "InvoicePayment",
        "paymentMethod": "InvoicePayment", "lastInvoiceId": "65a1c0de0000000000000063",
        "updatedAt": "2026-12-02T07:00:00Z",
    }
    unread = cu.billing_health(None, contract_id="c1", customer_id=None, escalated=False, last_invoice_id=None,
                               updated_at=None, billwerk_base_url="https://x")
    assert unread["lifecycleStatus"] is None and unread["customerUrl"] is None and unread["updatedAt"] is None

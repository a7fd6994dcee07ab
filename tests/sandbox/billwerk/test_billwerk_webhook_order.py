"""Fault modes for the orders a billwerk receiver must cope with: one contract's hooks reordered,
old hooks redelivered late as retries, and legacy payloads without ``EntityId``."""
from __future__ import annotations

import time

import requests

from billwerk_helpers import ROOT

EVENTS = ["PaymentEscalated", "PaymentEscalationReset", "PaymentDataChanged", "ContractDataChanged"]


def _contracts(bw, n=2):
    return [c["Id"] for c in bw.state("contracts")["contracts"][:n]]


def test_one_contracts_hooks_arrive_newest_first(seeded, receiver):
    seeded.register_webhook(receiver.url, EVENTS)
    a, b = _contracts(seeded)
    seeded.add_fault(pause_webhooks=True, reorder_contract_webhooks=a)
    for event in ("PaymentEscalated", "PaymentEscalationReset", "PaymentDataChanged"):
        seeded.trigger(event, contract_id=a)
        seeded.trigger(event, contract_id=b)
    seeded.add_fault(pause_webhooks=False)
    assert seeded.flush_webhooks(5)
    by_contract = {}
    for p in receiver.payloads():
        by_contract.setdefault(p["ContractId"], []).append(p["Event"])
    assert by_contract[a] == ["PaymentDataChanged", "PaymentEscalationReset", "PaymentEscalated"]
    assert by_contract[b] == ["PaymentEscalated", "PaymentEscalationReset", "PaymentDataChanged"]
    assert all("X-Retry-Count" not in h["headers"] for h in receiver.hits)   # first attempts, just reordered


def test_old_hooks_are_redelivered_late_as_retries(seeded, receiver):
    seeded.register_webhook(receiver.url, EVENTS)
    a, _ = _contracts(seeded)
    seeded.add_fault(late_webhooks=1, late_by_s=0.3, late_retry_count=6)
    seeded.trigger("PaymentEscalated", contract_id=a)
    seeded.trigger("PaymentEscalationReset", contract_id=a)
    assert seeded.flush_webhooks(5)
    hits = receiver.hits
    assert [(h["json"]["Event"], h["headers"].get("X-Retry-Count")) for h in hits] == [
        ("PaymentEscalated", None), ("PaymentEscalationReset", None), ("PaymentEscalated", "6")]
    assert hits[2]["json"] == hits[0]["json"]
    assert hits[2]["t"] - hits[0]["t"] >= 0.29
    late = [d for d in seeded.deliveries if d.get("Late")]
    assert len(late) == 1 and late[0]["Status"] == "Delivered" and late[0]["Attempts"][0]["RetryCount"] == 6


def test_a_late_redelivery_does_not_hold_back_newer_hooks(seeded, receiver):
    seeded.register_webhook(receiver.url, EVENTS)
    a, _ = _contracts(seeded)
    seeded.add_fault(late_webhooks=1, late_by_s=0.5)
    seeded.trigger("PaymentEscalated", contract_id=a)
    time.sleep(0.1)
    seeded.trigger("PaymentDataChanged", contract_id=a)
    deadline = time.monotonic() + 2
    while len(receiver.hits) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [h["json"]["Event"] for h in receiver.hits[:2]] == ["PaymentEscalated", "PaymentDataChanged"]
    assert receiver.hits[1]["t"] - receiver.hits[0]["t"] < 0.4
    assert seeded.flush_webhooks(5) and len(receiver.hits) == 3


def test_legacy_payloads_carry_no_entity(seeded, receiver):
    seeded.register_webhook(receiver.url, EVENTS)
    a, _ = _contracts(seeded)
    seeded.add_fault(legacy_webhooks=True)
    seeded.trigger("PaymentEscalationReset", contract_id=a)
    seeded.trigger("PaymentEscalated", contract_id=a, trigger_days=5)
    seeded.clear_faults()
    seeded.trigger("PaymentDataChanged", contract_id=a)
    assert seeded.flush_webhooks(5)
    legacy_reset, legacy_escalated, current = receiver.payloads()
    assert legacy_reset == {"Event": "PaymentEscalationReset", "ContractId": a}
    assert list(legacy_escalated)[:2] == ["Event", "ContractId"] and "EntityId" not in legacy_escalated
    assert legacy_escalated["TriggerDays"] == 5 and "CustomerId" not in legacy_escalated
    assert current["EntityId"] == ROOT and "CustomerId" in current


def test_fault_modes_through_the_control_api(seeded, receiver):
    base = seeded.base_url
    seeded.register_webhook(receiver.url, EVENTS)
    a, _ = _contracts(seeded)
    r = requests.post(f"{base}/_sandbox/faults", json={"legacy_webhooks": True, "late_webhooks": 1, "late_by_s": 0.05,
                                                       "late_retry_count": 2}, timeout=5)
    assert r.status_code == 201 and r.json()["webhooks"]["late_webhooks"] == 1
    seeded.trigger("ContractDataChanged", contract_id=a)
    assert seeded.flush_webhooks(5)
    assert [h["headers"].get("X-Retry-Count") for h in receiver.hits] == [None, "2"]
    assert all("EntityId" not in h["json"] for h in receiver.hits)
    r = requests.post(f"{base}/_sandbox/faults", json={"reorder_contract_webhooks": a}, timeout=5)
    assert r.status_code == 201 and seeded.dispatcher.reorder_contract == a
    assert requests.delete(f"{base}/_sandbox/faults", timeout=5).status_code == 204
    assert seeded.dispatcher.reorder_contract is None and seeded.dispatcher.legacy is False

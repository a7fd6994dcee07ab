"""billwerk contract updates end to end: billwerk's sandbox sends its hooks (with Basic credentials)
to the served connector, the worker re-reads the contract and writes the deal in HubSpot's sandbox."""
from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest

from backend.extensions import db
from backend.flows.contract_updates import FLOW, reconcile_contracts
from backend.mapping.contract_updates import CONTRACT_EVENTS
from backend.models import BillwerkAccount, ContractLink, ContractState, InboxEvent, SyncRun, utcnow
from tests.e2e.deals import Catalog, deal, signup_deal, synced_shop
from tests.e2e.records import GOOD_DE

HOOK_PATH = "/api/webhook/billwerk/events"


def hubspot_number(value) -> str:
    number = Decimal(str(value))
    return "0" if number == 0 else format(number.normalize(), "f")


def contract_of(connector, contract_id: str) -> dict:
    """The contract as billwerk's API serves it (derived fields such as LifecycleStatus included)."""
    from sandbox.billwerk.contracts import serialize

    sb = connector.billwerk
    with sb.store.lock:
        return serialize(sb, sb.store.tables["contracts"][contract_id])


def expected(contract: dict, *, escalated: bool = False, invoice: str = "") -> dict:
    """What the deal shows of a contract, written out from billwerk's own fields."""
    method = (contract.get("PaymentMethod") or "").split(":")[0]
    return {
        "billwerk_lifecycle_status": contract["LifecycleStatus"],
        "billwerk_balance": hubspot_number(contract["Balance"]),
        "billwerk_currency": contract["Currency"],
        "billwerk_billed_until": (contract.get("BilledUntil") or "")[:10],
        "billwerk_end_date": (contract.get("EndDate") or "")[:10],
        "billwerk_payment_escalated": "true" if escalated else "false",
        "billwerk_payment_provider": contract.get("PaymentProvider") or "",
        "billwerk_payment_method": method,
        "billwerk_last_invoice_id": invoice,
    }


def shown(connector, deal_id: str) -> dict:
    props = deal(connector, deal_id)
    return {name: props.get(name) or "" for name in expected({"LifecycleStatus": "", "Balance": 0, "Currency": ""})}


def deal_writes(connector) -> list[dict]:
    return [c for c in connector.hubspot.calls if c["method"] in ("POST", "PATCH") and "/objects/deals" in c["path"]
            and not c["path"].endswith(("/batch/read", "/search"))]


def contract_reads(connector, contract_id: str | None = None) -> int:
    return sum(1 for c in connector.billwerk.calls if c["method"] == "GET" and "/contracts/" in c["path"]
               and (contract_id is None or c["path"].endswith(contract_id)))


def hook_all_events(connector, account: BillwerkAccount) -> None:
    """The events the connector's setup did not register yet (connect_billwerk registers two)."""
    rest = [e for e in CONTRACT_EVENTS if e not in ("ContractCreated", "ContractChanged")]
    connector.billwerk.register_webhook(f"{connector.url}{HOOK_PATH}", rest, username=account.webhook_username,
                                        password=account.webhook_password)


@pytest.fixture
def held(connector):
    """Seeded billwerk contracts, each held by a deal of its own (as contract creation links them)."""
    connector.billwerk.seed(catalog_items=20, customers=10)
    portal = connector.install()
    account = connector.connect_billwerk(portal)
    hook_all_events(connector, account)
    contracts = [c for c in connector.billwerk.state()["contracts"]]
    deals = {}
    for c in contracts:
        d = connector.hubspot.user_create("deals", {"dealname": f"Deal for {c['Id']}", "pipeline": "default",
                                                    "dealstage": "closedwon", "billwerk_contract_id": c["Id"]})
        db.session.add(ContractLink(portal_id=portal.id, entity_id=c["EntityId"], hubspot_deal_id=d["id"],
                                    billwerk_contract_id=c["Id"], billwerk_customer_id=c["CustomerId"]))
        deals[c["Id"]] = d["id"]
    db.session.commit()
    connector.deliver()
    connector.hubspot.reset_calls()
    connector.billwerk.reset_calls()
    return connector, portal, account, deals


def settle(connector, rounds: int = 3) -> None:
    for _ in range(rounds):
        connector.billwerk.flush_webhooks(timeout=10)
        connector.deliver()


EVENT_CASES = ["ContractCreated", "ContractChanged", "ContractDataChanged", "ContractCancelled", "InvoiceCreated",
               "OrderSucceeded", "PaymentEscalated", "PaymentEscalationReset", "PaymentDataChanged"]


@pytest.mark.parametrize("event", EVENT_CASES)
def test_every_event_of_the_table_moves_the_deal_as_the_contract_says(held, event):
    connector, portal, account, deals = held
    contract_id = next(iter(deals))
    sb = connector.billwerk
    with sb.store.lock:
        raw = sb.store.tables["contracts"][contract_id]
        raw["Balance"] = -119.5
        # A time late in the evening two hours west of UTC: the deal shows the UTC calendar date.
        raw["EndDate"] = "2031-01-31T23:30:00.0000000-02:00"
        if event == "PaymentDataChanged":
            raw.update(PaymentProvider="PayOne", PaymentProviderRole="Debit", PaymentMethod="Debit:PayOne")
    escalated, invoice = event == "PaymentEscalated", ""
    if event == "ContractCancelled":
        with sb.store.lock:
            sb.store.tables["contracts"][contract_id]["EndDate"] = None
    payload = sb.trigger(event, contract_id=contract_id)
    if event == "InvoiceCreated":
        invoice = payload["InvoiceId"]
    settle(connector)
    contract = contract_of(connector, contract_id)
    want = expected(contract, escalated=escalated, invoice=invoice)
    if event != "ContractCancelled":
        want["billwerk_end_date"] = "2031-02-01"
        assert want["billwerk_balance"] == "-119.5" or event == "InvoiceCreated"
    assert shown(connector, deals[contract_id]) == want
    row = db.session.execute(db.select(InboxEvent).where(InboxEvent.name == event)).scalars().all()[-1]
    assert row.status == "processed"
    assert contract_reads(connector, contract_id) == 1
    # The other deals were not touched.
    other = list(deals.values())[1]
    assert deal(connector, other).get("billwerk_lifecycle_status") in (None, "")


def test_a_signup_deal_applied_gets_its_contracts_billing_health(connector):
    """ContractCreated and OrderSucceeded of a contract the connector created reach its deal."""
    portal = synced_shop(connector)
    account = portal.billwerk_account
    hook_all_events(connector, account)
    ids = signup_deal(connector, Catalog(connector), GOOD_DE)
    connector.deliver()
    connector.hubspot.user_update("deals", ids["deal"], {"billwerk_apply_changes": "request", "dealstage": "closedwon"})
    settle(connector)
    props = deal(connector, ids["deal"])
    assert props["billwerk_apply_changes"] == "applied", props.get("billwerk_apply_message")
    contract = contract_of(connector, props["billwerk_contract_id"])
    names = {r.name for r in db.session.execute(db.select(InboxEvent).where(InboxEvent.source == "billwerk_webhook")).scalars()}
    assert {"ContractCreated", "OrderSucceeded"} <= names
    invoices = [p["InvoiceId"] for p in connector.billwerk.emitted
                if p["Event"] == "InvoiceCreated" and p["ContractId"] == contract["Id"]]
    assert len(invoices) == 1      # the signup's first invoice
    assert shown(connector, ids["deal"]) == expected(contract, invoice=invoices[0])
    assert props["billwerk_lifecycle_status"] == "Active"


def test_hooks_delivered_three_times_shuffled_and_late_give_the_final_state(held):
    connector, portal, account, deals = held
    sb = connector.billwerk
    contract_id = list(deals)[2]
    sb.dispatcher.set_faults(pause_webhooks=True, duplicate_webhooks=100, reorder_contract_webhooks=contract_id)
    first = sb.trigger("InvoiceCreated", contract_id=contract_id)
    sb.trigger("PaymentEscalated", contract_id=contract_id)
    second = sb.trigger("InvoiceCreated", contract_id=contract_id)
    sb.trigger("PaymentDataChanged", contract_id=contract_id)
    sb.dispatcher.set_faults(pause_webhooks=False)
    assert sb.flush_webhooks(timeout=10)
    connector.work()
    # The same hooks once more, as billwerk's retries: late, with X-Retry-Count.
    sb.dispatcher.set_faults(reorder_contract_webhooks=None, late_webhooks=4, late_by_s=0.2, late_retry_count=2)
    for payload in list(sb.emitted)[-4:]:
        sb.dispatcher.enqueue(next(h for h in sb.store.scan("webhooks") if payload["Event"] in h["Events"]), payload)
    settle(connector)
    contract = contract_of(connector, contract_id)
    assert second["InvoiceId"] > first["InvoiceId"]
    assert shown(connector, deals[contract_id]) == expected(contract, escalated=True, invoice=second["InvoiceId"])
    received = db.session.execute(db.select(db.func.count(InboxEvent.id)).where(InboxEvent.source == "billwerk_webhook")).scalar_one()
    assert received >= 12


def test_a_late_payment_escalated_after_its_reset_leaves_the_deal_not_escalated(held):
    connector, portal, account, deals = held
    sb = connector.billwerk
    contract_id = list(deals)[3]
    # billwerk sent PaymentEscalated, never saw our answer, and retries it (X-Retry-Count 3) after the reset.
    sb.dispatcher.set_faults(late_webhooks=1, late_by_s=0.5, late_retry_count=3)
    sb.trigger("PaymentEscalated", contract_id=contract_id)
    sb.trigger("PaymentEscalationReset", contract_id=contract_id)
    settle(connector)
    time.sleep(0.6)
    settle(connector)
    hooks = [r.name for r in db.session.execute(db.select(InboxEvent).where(
        InboxEvent.source == "billwerk_webhook").order_by(InboxEvent.id)).scalars()]
    assert hooks[-1] == "PaymentEscalated" and hooks.count("PaymentEscalated") == 2
    assert deal(connector, deals[contract_id])["billwerk_payment_escalated"] == "false"
    state = ContractState.get_or_create(portal.id, contract_id)
    assert state.escalated_at < state.reset_at


def test_an_unknown_contract_changes_nothing_and_is_kept_ignored(held):
    connector, portal, account, deals = held
    sb = connector.billwerk
    contract_id = list(deals)[0]
    db.session.execute(db.delete(ContractLink).where(ContractLink.billwerk_contract_id == contract_id))
    db.session.commit()
    sb.trigger("ContractDataChanged", contract_id=contract_id)
    settle(connector)
    row = db.session.execute(db.select(InboxEvent).where(InboxEvent.name == "ContractDataChanged")).scalar_one()
    assert row.status == "ignored" and f"No deal holds billwerk contract {contract_id}" in row.error
    assert deal_writes(connector) == [] and contract_reads(connector) == 0
    assert db.session.execute(db.select(SyncRun).where(SyncRun.flow == FLOW)).scalars().all() == []


def test_a_legacy_payload_without_entity_id_is_accepted(held):
    connector, portal, account, deals = held
    sb = connector.billwerk
    contract_id = list(deals)[1]
    sb.dispatcher.set_faults(legacy_webhooks=True)
    sb.trigger("PaymentEscalated", contract_id=contract_id)
    settle(connector)
    row = db.session.execute(db.select(InboxEvent).where(InboxEvent.name == "PaymentEscalated")).scalar_one()
    assert "EntityId" not in row.body and row.status == "processed"
    assert deal(connector, deals[contract_id])["billwerk_payment_escalated"] == "true"


def test_only_the_deal_that_holds_the_contract_is_written(held):
    connector, portal, account, deals = held
    contract_id = list(deals)[0]
    origin = deals[contract_id]
    link = ContractLink.for_deal(portal.id, origin)
    link.sync_stopped = True
    upgrade = connector.hubspot.user_create("deals", {"dealname": "Upgrade", "pipeline": "default", "dealstage": "closedwon"})
    db.session.add(ContractLink(portal_id=portal.id, entity_id=link.entity_id, hubspot_deal_id=upgrade["id"],
                                billwerk_contract_id=contract_id, origin_deal_id=origin))
    db.session.commit()
    connector.billwerk.trigger("PaymentEscalated", contract_id=contract_id)
    settle(connector)
    assert deal(connector, upgrade["id"])["billwerk_payment_escalated"] == "true"
    assert deal(connector, origin).get("billwerk_payment_escalated") in (None, "")


def test_nothing_changed_nothing_written(held):
    connector, portal, account, deals = held
    contract_id = list(deals)[0]
    connector.billwerk.trigger("ContractDataChanged", contract_id=contract_id)
    settle(connector)
    assert len(deal_writes(connector)) == 1
    connector.hubspot.reset_calls()
    connector.billwerk.trigger("ContractDataChanged", contract_id=contract_id)
    connector.billwerk.trigger("PaymentEscalationReset", contract_id=contract_id)
    settle(connector)
    assert contract_reads(connector, contract_id) >= 2
    assert deal_writes(connector) == []
    runs = db.session.execute(db.select(SyncRun).where(SyncRun.flow == FLOW).order_by(SyncRun.id)).scalars().all()
    assert runs[-1].status == "succeeded" and runs[-1].counts == {"unchanged": 1}


def test_the_deal_writes_start_none_of_the_connectors_own_flows(held):
    connector, portal, account, deals = held
    before = db.session.execute(db.select(db.func.max(SyncRun.id))).scalar_one()
    for contract_id in list(deals)[:3]:
        connector.billwerk.trigger("InvoiceCreated", contract_id=contract_id)
    settle(connector)
    assert deal_writes(connector)
    assert connector.hubspot.flush_webhooks(timeout=10)
    connector.work()
    flows = {r.flow for r in db.session.execute(db.select(SyncRun).where(SyncRun.id > before)).scalars()}
    assert flows == {FLOW}
    for deal_id in list(deals.values())[:3]:
        props = deal(connector, deal_id)
        assert props.get("billwerk_validation") in (None, "") and props.get("billwerk_apply_changes") in (None, "")


def test_contracts_of_a_portal_are_written_in_batches_of_100(connector):
    connector.billwerk.seed(catalog_items=10, customers=150, entity_ids=["5f0000000000000000000001"])
    portal = connector.install()
    account = connector.connect_billwerk(portal)
    hook_all_events(connector, account)
    contracts = connector.billwerk.state()["contracts"]
    assert len(contracts) == 120
    for c in contracts:
        d = connector.hubspot.user_create("deals", {"dealname": c["Id"], "pipeline": "default", "dealstage": "closedwon"})
        db.session.add(ContractLink(portal_id=portal.id, entity_id=c["EntityId"], hubspot_deal_id=d["id"],
                                    billwerk_contract_id=c["Id"]))
    db.session.commit()
    connector.deliver()
    connector.hubspot.reset_calls()
    connector.billwerk.reset_calls()
    connector.fresh_budget()   # the set-up's import runs spent the HubSpot budget; the measured step starts afresh
    for c in contracts:
        connector.billwerk.trigger("PaymentEscalated", contract_id=c["Id"])
        connector.billwerk.trigger("PaymentDataChanged", contract_id=c["Id"])
    assert connector.billwerk.flush_webhooks(timeout=30)
    connector.work()
    writes = deal_writes(connector)
    assert [c["path"] for c in writes] == ["/crm/v3/objects/deals/batch/update"] * 2
    assert contract_reads(connector) == 120
    escalated = [p for p in connector.hubspot.objects("deals") if p["properties"].get("billwerk_payment_escalated") == "true"]
    assert len(escalated) == 120


def test_reconciliation_repairs_a_dropped_hook_at_a_bounded_rate(held):
    connector, portal, account, deals = held
    sb = connector.billwerk
    # Every contract was read once; two of them a day and a half ago.
    for contract_id in deals:
        sb.trigger("ContractDataChanged", contract_id=contract_id)
    settle(connector)
    old = list(deals)[:2]
    for state in ContractState.for_contracts(portal.id, old).values():
        state.checked_at = utcnow() - timedelta(hours=36)
    db.session.commit()
    # billwerk gave up on this hook: the deal does not know about the invoice.
    sb.dispatcher.set_faults(drop_webhooks=1)
    sb.trigger("InvoiceCreated", contract_id=old[0])
    settle(connector)
    connector.billwerk.reset_calls()
    assert reconcile_contracts(limit=1) == 1
    connector.work()
    assert contract_reads(connector) == 1
    contract = contract_of(connector, old[0])
    assert deal(connector, deals[old[0]])["billwerk_billed_until"] == contract["BilledUntil"][:10]
    assert reconcile_contracts() == 1          # the other stale one; the rest were read today
    connector.work()
    assert reconcile_contracts() == 0


def test_a_deal_hubspot_no_longer_has_fails_its_run_alone(held):
    connector, portal, account, deals = held
    gone, kept = list(deals)[:2]
    connector.hubspot.user_archive("deals", deals[gone])
    for contract_id in (gone, kept):
        connector.billwerk.trigger("PaymentEscalated", contract_id=contract_id)
    settle(connector)
    runs = {r.object_id: r for r in db.session.execute(db.select(SyncRun).where(SyncRun.flow == FLOW)).scalars()}
    assert runs[gone].status == "failed" and "HubSpot refused the deal update" in runs[gone].error
    assert runs[kept].status == "succeeded"
    assert deal(connector, deals[kept])["billwerk_payment_escalated"] == "true"
    # Nothing counts as written for the refused deal: the next hook tries again.
    assert ContractState.get_or_create(portal.id, gone).written is None

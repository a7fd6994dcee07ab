"""The dispatch tables: billwerk webhook events, HubSpot property changes, card and workflow actions."""
import json
from pathlib import Path

from backend.extensions import db
from backend.flows import billwerk_events, company_card, deal_card, hubspot_events, workflow_actions
from backend.jobs.inbox import process_inbox_event
from backend.mapping.contract_updates import CONTRACT_EVENTS, parse_hook
from backend.models import BillwerkAccount, InboxEvent, Portal


def _billwerk_delivery(event_name: str) -> InboxEvent:
    portal = Portal(hub_id=424242, status="active")
    db.session.add(portal)
    db.session.commit()
    account = BillwerkAccount(portal_id=portal.id, base_url="https://sandbox.billwerk.com", client_id="c", client_secret="s",
                              webhook_username="hw-424242", webhook_password="pw")
    db.session.add(account)
    db.session.commit()
    row = InboxEvent(source="billwerk_webhook", name=event_name, billwerk_account_id=account.id, method="POST",
                     path="/api/webhook/billwerk/events", body=json.dumps({"Event": event_name, "ContractId": "c-1"}))
    db.session.add(row)
    db.session.commit()
    return row


def test_billwerk_event_without_handler_is_kept_ignored(ctx):
    row = _billwerk_delivery("DunningCreated")
    assert process_inbox_event(row.id) == "ignored"
    db.session.refresh(row)
    assert "No handler for billwerk DunningCreated events" in row.error


def test_billwerk_event_goes_to_its_row(ctx, monkeypatch):
    seen = []
    monkeypatch.setitem(billwerk_events.EVENT_HANDLERS, "ContractCreated",
                        lambda account, payload, event: seen.append((account.client_id, payload["ContractId"])) or True)
    row = _billwerk_delivery("ContractCreated")
    assert process_inbox_event(row.id) == "processed"
    assert seen == [("c", "c-1")]


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "billwerk"


def test_every_handled_billwerk_event_has_a_captured_payload():
    """A row of the table without ``tests/fixtures/billwerk/<Event>.json`` fails here."""
    missing = [name for name in billwerk_events.EVENT_HANDLERS if not (FIXTURES / f"{name}.json").is_file()]
    assert missing == []
    for name in billwerk_events.EVENT_HANDLERS:
        payload = json.loads((FIXTURES / f"{name}.json").read_text())
        hook = parse_hook(payload)
        assert (hook.event, bool(hook.contract_id), bool(hook.entity_id)) == (name, True, True)


def test_the_contract_events_are_handled():
    assert set(billwerk_events.EVENT_HANDLERS) == set(CONTRACT_EVENTS)
    assert len(CONTRACT_EVENTS) == 9


def test_a_trimmed_event_name_finds_its_row(ctx, monkeypatch):
    seen = []
    monkeypatch.setitem(billwerk_events.EVENT_HANDLERS, "ContractChanged",
                        lambda account, payload, event: seen.append(payload["Event"]) or True)
    row = _billwerk_delivery(" ContractChanged ")
    assert process_inbox_event(row.id) == "processed"
    assert seen == [" ContractChanged "]


def test_a_handler_can_say_why_it_ignored_a_hook(ctx, monkeypatch):
    monkeypatch.setitem(billwerk_events.EVENT_HANDLERS, "ContractChanged", lambda account, payload, event: ("ignored", "why"))
    row = _billwerk_delivery("ContractChanged")
    assert process_inbox_event(row.id) == "ignored"
    db.session.refresh(row)
    assert row.error == "why"


def test_property_rows_name_real_handlers():
    for object_type, properties, handler in hubspot_events.PROPERTY_HANDLERS:
        assert f"{object_type}.propertyChange" in hubspot_events.EVENT_HANDLERS
        assert properties and callable(handler)


def test_action_tables():
    assert set(company_card.ACTIONS) == {"import", "link", "unlink", "push-update", "refresh"}
    assert company_card.ACTIONS["push-update"].flow == "update_customer_from_company"
    assert company_card.ACTIONS["import"].flow == "import_company"
    assert "refresh" in deal_card.ACTIONS
    assert set(workflow_actions.ACTIONS) >= {"import-customer"}

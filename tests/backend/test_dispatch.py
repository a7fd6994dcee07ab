"""The dispatch tables: billwerk webhook events, HubSpot property changes, card and workflow actions."""
import json

from backend.extensions import db
from backend.flows import billwerk_events, company_card, deal_card, hubspot_events, workflow_actions
from backend.jobs.inbox import process_inbox_event
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
    row = _billwerk_delivery("ContractCreated")
    assert process_inbox_event(row.id) == "ignored"
    db.session.refresh(row)
    assert "No handler for billwerk ContractCreated events" in row.error


def test_billwerk_event_goes_to_its_row(ctx, monkeypatch):
    seen = []
    monkeypatch.setitem(billwerk_events.EVENT_HANDLERS, "ContractCreated",
                        lambda account, payload, event: seen.append((account.client_id, payload["ContractId"])) or True)
    row = _billwerk_delivery("ContractCreated")
    assert process_inbox_event(row.id) == "processed"
    assert seen == [("c", "c-1")]


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

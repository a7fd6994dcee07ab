"""What the deal card shows: the deal's billwerk state and its company's customer (read-only for now:
validation and contract actions arrive with their flows)."""
from __future__ import annotations

from flask import current_app

from backend.clients.hubspot import HubSpotClient
from backend.errors import NotFound
from backend.flows.card_actions import REFRESH, CardAction, RunFlow, carry_out
from backend.flows.company_card import billwerk_customer_url
from backend.flows.records import DEAL_TO_COMPANY_PRIMARY, associated, primary_or_first
from backend.setup.stages import closed_won_stages
from backend.mapping.problems import record_url
from backend.models import ContractLink, CustomerLink, Portal

DEAL_PROPERTIES = (
    "dealname", "dealstage", "pipeline", "amount", "billwerk_deal_type", "billwerk_validation", "billwerk_validation_message",
    "billwerk_apply_changes", "billwerk_apply_message", "billwerk_contract_id", "billwerk_customer_id", "billwerk_lifecycle_status",
    "billwerk_balance", "billwerk_currency", "billwerk_billed_until", "billwerk_end_date", "billwerk_payment_escalated",
    "billwerk_sync_stopped",
)


def deal_payload(portal: Portal, deal_id: str) -> dict:
    settings = current_app.config["HUBWERK"]
    hubspot = HubSpotClient(portal)
    found = hubspot.batch_read("deals", [deal_id], DEAL_PROPERTIES).results
    if not found:
        raise NotFound(f"Deal {deal_id} does not exist in HubSpot portal {portal.hub_id}.")
    props = found[0].get("properties") or {}
    account = portal.billwerk_account
    payload = {
        "deal": {"id": str(deal_id), "name": props.get("dealname") or "", "stage": props.get("dealstage"),
                 "url": record_url(settings.hubspot_app_base_url, portal.hub_id, "deal", deal_id),
                 "closedWon": props.get("dealstage") in closed_won_stages(portal, hubspot)},
        "validation": {"state": props.get("billwerk_validation") or None, "message": props.get("billwerk_validation_message") or ""},
        "apply": {"state": props.get("billwerk_apply_changes") or None, "message": props.get("billwerk_apply_message") or ""},
        "company": None, "billwerk": None, "actions": [{"id": "refresh", "label": "Refresh"}],
    }
    if account is None:
        return payload | {"status": "not_connected"}
    company_id = primary_or_first(associated(hubspot, "deals", "companies", [deal_id]).get(str(deal_id), []), DEAL_TO_COMPANY_PRIMARY)
    if company_id:
        link = CustomerLink.for_company(portal.id, company_id)
        payload["company"] = {"id": company_id, "url": record_url(settings.hubspot_app_base_url, portal.hub_id, "company", company_id),
                              "billwerkCustomerId": link.billwerk_customer_id if link else None,
                              "customerUrl": billwerk_customer_url(account.base_url, link.billwerk_customer_id) if link else None}
    contract = ContractLink.for_deal(portal.id, deal_id)
    contract_id = (contract.billwerk_contract_id if contract else None) or props.get("billwerk_contract_id")
    if contract_id:
        payload["billwerk"] = {
            "contractId": contract_id, "customerId": (contract.billwerk_customer_id if contract else None) or props.get("billwerk_customer_id"),
            "lifecycleStatus": props.get("billwerk_lifecycle_status"), "balance": props.get("billwerk_balance"),
            "currency": props.get("billwerk_currency"), "billedUntil": props.get("billwerk_billed_until"),
            "endDate": props.get("billwerk_end_date"), "paymentEscalated": props.get("billwerk_payment_escalated") == "true",
            "syncStopped": bool(contract.sync_stopped) if contract else props.get("billwerk_sync_stopped") == "true",
        }
    return payload | {"status": "contract" if contract_id else "no_contract"}


# The deal side adds its buttons here (request-validation, create-contract, create-upgrade-deal,
# execute-upgrade, replay), each a row naming its flow.
ACTIONS: dict[str, CardAction | RunFlow] = {
    "refresh": REFRESH,
    "create-upgrade-deal": RunFlow("create_upgrade_deal", "deal", "Up- / downgrade deal created: open it from this deal's associations",
                                   skipped="No up- / downgrade deal was created"),
}


def deal_action(portal: Portal, deal_id: str, action: str, body: dict) -> dict:
    return carry_out("deal", ACTIONS, deal_payload, portal, deal_id, action, body)

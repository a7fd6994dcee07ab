"""What starts the deal flows: the rows the HubSpot event table and the workflow-action table use.

Webhook events are hints: each handler starts a run of the deal, and the run re-reads the deal
and decides (``billwerk_validation`` still ``request``? closed-won and ``billwerk_apply_changes``
= ``request``, whichever came last?). Runs of one flow and deal that are still waiting coalesce,
so a delivery repeated three times becomes one run.
"""
from __future__ import annotations

from backend.errors import HubwerkError
from backend.extensions import db
from backend.flows import contract_creation, deal_validation, upgrade_execution
from backend.ids import is_id
from backend.jobs.runs import start_run
from backend.models import ContractLink, InboxEvent, Portal, SyncRun, UpgradeDealLink
from backend.models.deals import DealOrder, DealPreview


def _deal(event: dict) -> str:
    return str(event["objectId"])


def validation_requested(portal: Portal, event: dict, inbox_id: int) -> bool:
    start_run(deal_validation.FLOW, portal_id=portal.id, object_type="deal", object_id=_deal(event),
              params={"when": "requested"}, inbox_event_id=inbox_id)
    return True


def apply_requested(portal: Portal, event: dict, inbox_id: int) -> bool:
    """An up-/downgrade deal the connector made is executed; any other deal's contract is created
    (which hands an up-/downgrade deal made by hand over to the execution)."""
    deal_id = _deal(event)
    flow = upgrade_execution.FLOW if UpgradeDealLink.for_upgrade_deal(portal.id, deal_id) else contract_creation.FLOW
    start_run(flow, portal_id=portal.id, object_type="deal", object_id=deal_id, inbox_event_id=inbox_id)
    return True


def stage_changed(portal: Portal, event: dict, inbox_id: int) -> bool:
    """A stage change completes a contract request that waits for closed-won."""
    waiting = db.session.execute(db.select(DealOrder.id).where(
        DealOrder.portal_id == portal.id, DealOrder.hubspot_deal_id == _deal(event), DealOrder.status == "new",
        DealOrder.apply_requested_at.is_not(None))).first()
    if waiting is None:
        return False
    return apply_requested(portal, event, inbox_id)


def cart_input_changed(portal: Portal, event: dict, inbox_id: int) -> bool:
    """A validated deal's cart may have changed: the run compares it with the validated one. Deals
    never validated, not valid, or with a contract already have nothing to compare."""
    deal_id = _deal(event)
    row = db.session.execute(db.select(DealPreview.status).where(DealPreview.portal_id == portal.id,
                                                                 DealPreview.hubspot_deal_id == deal_id)).scalar_one_or_none()
    if row != "valid":
        return False
    if db.session.execute(db.select(ContractLink.id).where(ContractLink.portal_id == portal.id,
                                                           ContractLink.hubspot_deal_id == deal_id)).first() is not None:
        return False
    start_run(deal_validation.OUTDATED_FLOW, portal_id=portal.id, object_type="deal", object_id=deal_id, inbox_event_id=inbox_id)
    return True


# -- workflow actions ---------------------------------------------------------------------------------

def _deal_of(payload: dict, action: str) -> str:
    obj = payload.get("object") or {}
    object_id = str(obj.get("objectId", ""))
    if not is_id(object_id) or str(obj.get("objectType", "")).upper() != "DEAL":
        raise HubwerkError(f"{action} runs on a deal record.", code="bad_object")
    return object_id


def start_validate_deal(portal: Portal, payload: dict, delivery: InboxEvent, params: dict) -> SyncRun:
    return start_run(deal_validation.FLOW, portal_id=portal.id, object_type="deal", object_id=_deal_of(payload, "validate-deal"),
                     params=params, inbox_event_id=delivery.id, queue="high", coalesce=False)


def start_create_contract(portal: Portal, payload: dict, delivery: InboxEvent, params: dict) -> SyncRun:
    return start_run(contract_creation.FLOW, portal_id=portal.id, object_type="deal",
                     object_id=_deal_of(payload, "create-contract"), params=dict(params, explicit=True),
                     inbox_event_id=delivery.id, queue="high", coalesce=False)


def validate_done(run: SyncRun) -> str:
    return "Validated by billwerk"


def contract_done(run: SyncRun) -> str:
    return "The deal already has its contract in billwerk" if (run.counts or {}).get("already_applied") else "Contract created in billwerk"


def validate_outputs(run: SyncRun) -> dict:
    return {}   # a validation produces no billwerk ids; the verdict is on the deal


def contract_outputs(run: SyncRun) -> dict:
    """The billwerk ids the deal's contract creation produced (also after a failed retry, when they exist)."""
    out = {}
    link = db.session.execute(db.select(ContractLink).where(ContractLink.portal_id == run.portal_id,
                                                            ContractLink.hubspot_deal_id == str(run.object_id))).scalar_one_or_none()
    if link is not None:
        out.update(customer_id=link.billwerk_customer_id or "", contract_id=link.billwerk_contract_id,
                   order_id=link.billwerk_order_id or "")
    return out


def start_execute_upgrade(portal: Portal, payload: dict, delivery: InboxEvent, params: dict) -> SyncRun:
    """``change_date`` (optional input) replaces the deal's ``billwerk_start_date`` for this execution."""
    change_date = str((payload.get("inputFields") or {}).get("change_date") or "").strip()
    extra = {"explicit": True} | ({"change_date": change_date} if change_date else {})
    return start_run(upgrade_execution.FLOW, portal_id=portal.id, object_type="deal",
                     object_id=_deal_of(payload, "execute-upgrade"), params=dict(params, **extra),
                     inbox_event_id=delivery.id, queue="high", coalesce=False)


def upgrade_done(run: SyncRun) -> str:
    return ("The up-/downgrade was already executed in billwerk" if (run.counts or {}).get("already_applied")
            else "Up-/downgrade executed in billwerk")


def upgrade_outputs(run: SyncRun) -> dict:
    """The contract the deal now holds and the upgrade order that moved it there."""
    link = db.session.execute(db.select(ContractLink).where(ContractLink.portal_id == run.portal_id,
                                                            ContractLink.hubspot_deal_id == str(run.object_id))).scalar_one_or_none()
    return {"contract_id": link.billwerk_contract_id, "order_id": link.billwerk_order_id or ""} if link is not None else {}

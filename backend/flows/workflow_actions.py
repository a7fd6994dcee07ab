"""Workflow custom actions: the request is answered ``BLOCK`` at once, the action's flow runs in
the worker, then HubSpot's callback is completed with ``result``, ``message`` and what the run's
result says (ids the flow produced).

``ACTIONS`` is the table: one row per action name (the last segment of the action URL), naming
how its run is started and which output fields the finished run gives.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from backend.clients.hubspot import HubSpotClient
from backend.errors import HubwerkError
from backend.flows import deal_triggers
from backend.flows import customer_updates
from backend.flows.callbacks import gathered_callbacks
from backend.ids import is_id
from backend.jobs.runs import start_run
from backend.models import CustomerLink, InboxEvent, Portal, SyncRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkflowAction:
    """``start(portal, payload, delivery, params)`` starts the run (``params`` carry the callback);
    ``outputs(run)`` gives the output fields beyond ``result``/``message``/``hs_execution_state``;
    ``done(run)`` the message of a succeeded run."""

    start: Callable[[Portal, dict, InboxEvent, dict], SyncRun]
    done: Callable[[SyncRun], str]
    outputs: Callable[[SyncRun], dict] = lambda run: {}


def start_import_customer(portal: Portal, payload: dict, delivery: InboxEvent, params: dict) -> SyncRun:
    obj = payload.get("object") or {}
    object_id = str(obj.get("objectId", ""))
    object_type = str(obj.get("objectType", "")).upper()
    if not is_id(object_id) or object_type not in ("COMPANY", "DEAL"):
        raise HubwerkError("import-customer runs on a company or a deal record.", code="bad_object")
    flow_name, kind = ("import_company", "company") if object_type == "COMPANY" else ("import_customer_for_deal", "deal")
    return start_run(flow_name, portal_id=portal.id, object_type=kind, object_id=object_id, params=params,
                     inbox_event_id=delivery.id, queue="high", coalesce=False)


def _import_done(run: SyncRun) -> str:
    return "Already linked to its billwerk customer" if (run.counts or {}).get("already_linked") else "Imported into billwerk"


def _import_outputs(run: SyncRun) -> dict:
    """The billwerk customer of the run's company, whenever the company is linked (also after a failure)."""
    company_id = run.object_id if run.object_type == "company" else (run.params or {}).get("company_id")
    link = CustomerLink.for_company(run.portal_id, company_id) if company_id else None
    return {"customer_id": link.billwerk_customer_id} if link is not None else {}


def _deal_object(payload: dict, action: str) -> str:
    obj = payload.get("object") or {}
    object_id = str(obj.get("objectId", ""))
    if not is_id(object_id) or str(obj.get("objectType", "")).upper() != "DEAL":
        raise HubwerkError(f"{action} runs on a deal record.", code="bad_object")
    return object_id


def start_create_upgrade_deal(portal: Portal, payload: dict, delivery: InboxEvent, params: dict) -> SyncRun:
    return start_run("create_upgrade_deal", portal_id=portal.id, object_type="deal",
                     object_id=_deal_object(payload, "create-upgrade-deal"), params=params, inbox_event_id=delivery.id,
                     queue="high", coalesce=False)


def _upgrade_deal_done(run: SyncRun) -> str:
    counts = run.counts or {}
    return "Up- / downgrade deal created" if counts.get("created") else "The up- / downgrade deal already exists"


def _upgrade_deal_outputs(run: SyncRun) -> dict:
    deal_id = (run.counts or {}).get("deal_id")
    return {"deal_id": str(deal_id)} if deal_id else {}


# The deal side adds its rows here: validate-deal, create-contract, update-customer-from-company,
# update-customer-from-contact, create-upgrade-deal, execute-upgrade.
ACTIONS: dict[str, WorkflowAction] = {
    "import-customer": WorkflowAction(start_import_customer, _import_done, _import_outputs),
    "create-upgrade-deal": WorkflowAction(start_create_upgrade_deal, _upgrade_deal_done, _upgrade_deal_outputs),
    "validate-deal": WorkflowAction(deal_triggers.start_validate_deal, deal_triggers.validate_done, deal_triggers.validate_outputs),
    "create-contract": WorkflowAction(deal_triggers.start_create_contract, deal_triggers.contract_done, deal_triggers.contract_outputs),
    "execute-upgrade": WorkflowAction(deal_triggers.start_execute_upgrade, deal_triggers.upgrade_done, deal_triggers.upgrade_outputs),
    "update-customer-from-company": WorkflowAction(customer_updates.start_from_company, customer_updates.update_done,
                                                   customer_updates.update_outputs),
    "update-customer-from-contact": WorkflowAction(customer_updates.start_from_contact, customer_updates.update_done,
                                                   customer_updates.update_outputs),
}
# Runs started before the action name was stored on them were import-customer runs.
DEFAULT_ACTION = "import-customer"


def start_action(name: str, portal: Portal, payload: dict, delivery: InboxEvent) -> SyncRun:
    params = {"callback_id": payload["callbackId"], "request_context": payload.get("context") or {}, "workflow_action": name}
    return ACTIONS[name].start(portal, payload, delivery, params)


def complete_callback(run: SyncRun) -> None:
    """Finish hook: tell HubSpot how the run behind a workflow action ended."""
    params = run.params or {}
    callback_id = params.get("callback_id")
    if not callback_id or run.status not in ("succeeded", "failed", "skipped"):
        return
    if run.status == "failed" and run.retriable and run.next_retry_at is not None:
        return  # the cron will try again; the workflow keeps waiting (up to its expiry)
    action = ACTIONS.get(params.get("workflow_action") or DEFAULT_ACTION)
    if action is None:
        log.warning("workflow.callback.unknown_action", extra={"run_id": run.id, "action": params.get("workflow_action")})
        return
    # A run that found problems (an address to fix) did not do what the workflow asked for.
    failed = run.status == "failed" or run.found_problems
    outputs = {"result": "failed" if failed else "success",
               "message": run.error or (action.done(run) if run.status == "succeeded" else "Nothing to do"),
               "hs_execution_state": "FAIL_CONTINUE" if failed else "SUCCESS"}
    outputs.update(action.outputs(run))
    gathered = gathered_callbacks()
    if gathered is not None:
        completion = {"callbackId": callback_id, "outputFields": outputs}
        if params.get("request_context"):
            completion["requestContext"] = params["request_context"]
        gathered.append(completion)
        return
    HubSpotClient(run.portal_id).complete_callback(callback_id, outputs, request_context=params.get("request_context") or None)
    log.info("workflow.callback.completed", extra={"run_id": run.id, "result": outputs["result"]})

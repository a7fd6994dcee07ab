"""Workflow custom actions (CONTRACT §3): answer ``BLOCK`` at once, run the flow in the worker,
then complete HubSpot's callback with ``result``, ``message`` and the ids the flow produced."""
from __future__ import annotations

import logging

from backend.clients.hubspot import HubSpotClient
from backend.errors import HubwerkError
from backend.extensions import db
from backend.ids import is_id
from backend.jobs.runs import FINISH_HOOKS, start_run
from backend.linking import link_for_company
from backend.models import InboxEvent, Portal, SyncRun

log = logging.getLogger(__name__)


def start_import_customer(portal: Portal, payload: dict, delivery: InboxEvent) -> SyncRun:
    obj = payload.get("object") or {}
    object_id = str(obj.get("objectId", ""))
    object_type = str(obj.get("objectType", "")).upper()
    if not is_id(object_id) or object_type not in ("COMPANY", "DEAL"):
        raise HubwerkError("import-customer runs on a company or a deal record.", code="bad_object")
    flow_name, kind = ("import_company", "company") if object_type == "COMPANY" else ("import_customer_for_deal", "deal")
    params = {"callback_id": payload["callbackId"], "request_context": payload.get("context") or {}}
    return start_run(flow_name, portal_id=portal.id, object_type=kind, object_id=object_id, params=params,
                     inbox_event_id=delivery.id, queue="high", coalesce=False)


ACTIONS = {"import-customer": start_import_customer}


def complete_callback(run: SyncRun) -> None:
    """Finish hook: tell HubSpot how the run behind a workflow action ended."""
    callback_id = (run.params or {}).get("callback_id")
    if not callback_id or run.status not in ("succeeded", "failed", "skipped"):
        return
    if run.status == "failed" and run.retriable and run.next_retry_at is not None:
        return  # the cron will try again; the workflow keeps waiting (up to its expiry)
    done = "Already linked to its billwerk customer" if (run.counts or {}).get("already_linked") else "Imported into billwerk"
    outputs = {"result": "failed" if run.status == "failed" else "success",
               "message": run.error or (done if run.status == "succeeded" else "Nothing to do"),
               "hs_execution_state": "FAIL_CONTINUE" if run.status == "failed" else "SUCCESS"}
    company_id = run.object_id if run.object_type == "company" else (run.params or {}).get("company_id")
    link = link_for_company(db.session.get(Portal, run.portal_id), company_id) if company_id else None
    if link is not None:
        outputs["customer_id"] = link.billwerk_customer_id
    HubSpotClient(run.portal_id).complete_callback(callback_id, outputs, request_context=(run.params or {}).get("request_context") or None)
    log.info("workflow.callback.completed", extra={"run_id": run.id, "result": outputs["result"]})


FINISH_HOOKS.append(complete_callback)

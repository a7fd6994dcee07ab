"""What the deal card shows (the ``DealCardPayload`` of ``crm_cards/src/app/cards/lib/deal-types.ts``)
and its buttons (``ACTIONS``: request-validation, create-contract, refresh, replay).

The card is read often (20 reps at once is HubSpot's cap per account), so a view costs the
connector's database only — the last validation with billwerk's priced preview, the deal's
contract link, its company and customer link, its runs — plus the deal's own properties, which
the card sends as it read them on the record page; without them (a poll while a run is under
way, an action's answer) they cost one HubSpot batch read. Never a billwerk call: billwerk's
side is on the deal because the flows wrote it there. Buttons only start runs (the
card polls while ``busy``), so every answer comes within a second; a button pressed twice
(``hubspot.fetch`` retries once) joins the run already waiting.

The ``billing`` part (the contract's health) and the ``upgrade`` part (today's contract against
the previewed one) each come from one function: :func:`billing_health`, :func:`upgrade_comparison`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import current_app

from backend.clients.hubspot import HubSpotClient
from backend.errors import HubwerkError, NotFound
from backend.extensions import db
from backend.flows import contract_creation, deal_validation, upgrade_execution
from backend.flows.card_actions import RunFlow
from backend.flows.company_card import billwerk_customer_url
from backend.flows import card_reads
from backend.jobs.runs import is_stuck, replay_run, start_run
from backend.mapping.deal_cart import DEAL_PROPERTIES, deal_type
from backend.mapping.problems import record_url
from backend.models import ContractLink, Portal, SyncRun
from backend.setup.stages import closed_won_stages_for_views

CARD_PROPERTIES = DEAL_PROPERTIES + (
    "billwerk_lifecycle_status", "billwerk_payment_provider", "billwerk_payment_method", "billwerk_currency",
    "billwerk_balance", "billwerk_billed_until", "billwerk_end_date", "billwerk_payment_escalated",
    "billwerk_last_invoice_id",
)
TYPE_LABELS = {"signup": "Signup", "signup_existing": "Signup for existing Customer", "upgrade": "Upgrade"}
VALIDATION_LABELS = {"request": "Request validation", "valid": "Successfully validated", "invalid": "Validation failed",
                     "outdated": "Changed since validation", None: "Not validated"}
APPLY_LABELS = {"request": "Request change", "applied": "Successfully applied", "failed": "Failed", None: "Not applied"}
STATUS_LABELS = {
    "not_connected": "billwerk not connected", "no_cart": "No billwerk products yet", "draft": "Not validated yet",
    "validating": "Validating…", "invalid": "Validation failed", "valid": "Validated by billwerk",
    "outdated": "Changed since validation", "applying": "Creating in billwerk…", "applied": "Contract in billwerk",
    "apply_failed": "Contract creation failed", "sync_stopped": "Moved to a newer deal",
}
UPGRADE_STATUS_LABELS = {"applying": "Changing the contract in billwerk…", "applied": "Contract changed in billwerk",
                         "apply_failed": "Up-/downgrade failed"}
FLOW_LABELS = {deal_validation.FLOW: "Validation", deal_validation.OUTDATED_FLOW: "Cart check",
               contract_creation.FLOW: "Contract creation", "import_customer_for_deal": "Customer import",
               upgrade_execution.FLOW: "Up-/downgrade"}
VALIDATING_FLOWS = (deal_validation.FLOW,)
APPLYING_FLOWS = (contract_creation.FLOW, upgrade_execution.FLOW)
RUNS_SHOWN = 5


def _link_url(settings, portal: Portal, kind: str, object_id: str) -> str:
    return record_url(settings.hubspot_app_base_url, portal.hub_id, kind, object_id)


def deal_properties(portal: Portal, deal_id: str, hubspot: HubSpotClient | None = None) -> dict:
    """The deal's ``CARD_PROPERTIES`` as HubSpot holds them now: one batch read."""
    found = (hubspot or HubSpotClient(portal)).batch_read("deals", [deal_id], CARD_PROPERTIES).results
    if not found:
        raise NotFound(f"Deal {deal_id} does not exist in HubSpot portal {portal.hub_id}.")
    return found[0].get("properties") or {}


def deal_payload(portal: Portal, deal_id: str, hubspot: HubSpotClient | None = None, properties: dict | None = None) -> dict:
    """The card's payload. ``properties`` are the deal's ``CARD_PROPERTIES`` as the card read them
    on the record page (sent in the signed body, see ``web/cards.py``); without them they are
    read from HubSpot. Everything else comes from the connector's database."""
    settings = current_app.config["HUBWERK"]
    props = properties if properties is not None else deal_properties(portal, deal_id, hubspot)
    kind = deal_type(props) if props.get("billwerk_deal_type") else None
    origin = (props.get("billwerk_origin_deal_id") or "").strip() or None
    validation_state = props.get("billwerk_validation") or None
    apply_state = props.get("billwerk_apply_changes") or None
    payload = {
        "deal": {"id": str(deal_id), "name": props.get("dealname") or "", "url": _link_url(settings, portal, "deal", deal_id),
                 "stage": props.get("dealstage"), "closedWon": _closed_won(portal, props.get("dealstage"), hubspot),
                 "type": kind, "typeLabel": TYPE_LABELS.get(kind or "", "Signup (default)"),
                 "originDealId": origin, "originDealUrl": _link_url(settings, portal, "deal", origin) if origin else None},
        "validation": {"state": validation_state, "label": VALIDATION_LABELS.get(validation_state, validation_state or ""),
                       "message": props.get("billwerk_validation_message") or ""},
        "apply": {"state": apply_state, "label": APPLY_LABELS.get(apply_state, apply_state or ""),
                  "message": props.get("billwerk_apply_message") or ""},
        "syncStopped": (props.get("billwerk_sync_stopped") or "").lower() == "true",
        "entity": None, "company": None, "problems": [], "preview": None, "upgrade": None, "billing": None,
        "runs": [], "actions": [], "busy": False,
    }
    account = card_reads.account_of(portal)
    refresh = {"id": "refresh", "label": "Refresh"}
    if account is None:
        return payload | {"status": "not_connected", "statusLabel": STATUS_LABELS["not_connected"], "actions": [refresh]}
    root = account.root_entity
    rows = card_reads.deal_rows(portal, deal_id, root.entity_id if root else None)
    row, link = rows.preview, rows.link
    entity_id = (row.entity_id if row else None) or (props.get("billwerk_entity") or "").strip() or None
    entity = account.entity(entity_id)
    if entity is not None:
        payload["entity"] = {"id": entity.entity_id, "name": entity.name}
    payload["company"] = _company(settings, portal, account, rows, deal_id)
    if row is not None:
        payload["problems"] = [{"field": p["field"], "message": p["message"],
                                "url": _link_url(settings, portal, p["object_type"], p["object_id"])} for p in row.problems or []]
        if row.shown:
            payload["preview"] = {k: v for k, v in row.shown.items() if k != "upgrade"} | {
                "outdated": row.status == "outdated" or validation_state == "outdated"}
    runs = _runs(portal, deal_id)
    payload["runs"] = [_card_run(r) for r in runs[:RUNS_SHOWN]]
    busy = [r for r in runs if r.status in ("queued", "running") and not is_stuck(r)]
    payload["busy"] = bool(busy)
    payload["billing"] = billing_health(portal, account, props, link)
    payload["upgrade"] = upgrade_comparison(portal, deal_id, props, row, link)
    if payload["syncStopped"] or (link is not None and link.sync_stopped):
        payload["syncStopped"] = True
        status = "sync_stopped"
    elif any(r.flow in APPLYING_FLOWS for r in busy):
        status = "applying"
    elif any(r.flow in VALIDATING_FLOWS for r in busy):
        status = "validating"
    elif link is not None or apply_state == "applied":
        status = "applied"
    elif apply_state == "failed":
        status = "apply_failed"
    elif validation_state in ("valid", "invalid", "outdated"):
        status = validation_state
    elif row is not None and any(p.get("field") == "line_items" for p in row.problems or []) and row.status == "invalid":
        status = "no_cart"
    else:
        status = "draft"
    if status == "invalid" and row is not None and all(p.get("field") == "line_items" for p in row.problems or []) \
            and any("no line items" in p.get("message", "") or "no billwerk plan variant" in p.get("message", "") for p in row.problems or []):
        status = "no_cart"
    payload["actions"] = _actions(status, kind, payload["busy"]) + upgrade_actions(portal, props, link, status) + [refresh]
    label = (UPGRADE_STATUS_LABELS if kind == "upgrade" else {}).get(status) or STATUS_LABELS[status]
    return payload | {"status": status, "statusLabel": label}


def _closed_won(portal: Portal, stage: str | None, hubspot: HubSpotClient | None) -> bool:
    """From the admin's choice or the won stages cached per portal (``closed_won_stages_for_views``): a
    HubSpot pipelines read at most every few minutes per portal, none for a deal without a stage."""
    return bool(stage) and stage in closed_won_stages_for_views(portal, hubspot)


def _company(settings, portal: Portal, account, rows: card_reads.DealRows, deal_id: str) -> dict | None:
    """The deal's company as the connector last saw it: at the deal's validation (its customer came
    with ``deal_rows``), else at the customer import of its company (the card reads no associations
    from HubSpot)."""
    row = rows.preview
    company_id, name = (row.hubspot_company_id, row.company_name) if row is not None else (None, None)
    customer = rows.customer_id
    if not company_id:
        seen = card_reads.seen_at_import(portal, deal_id)
        if seen is None:
            return None
        company_id, name, entity_id = seen
        customer = card_reads.linked_customer_id(portal, company_id, entity_id or account.entities[0].entity_id)
    return {"id": company_id, "name": name or "", "url": _link_url(settings, portal, "company", company_id),
            "billwerkCustomerId": customer, "customerUrl": billwerk_customer_url(account.base_url, customer) if customer else None}


def _runs(portal: Portal, deal_id: str) -> list[SyncRun]:
    return card_reads.recent_runs(portal, "deal", deal_id, FLOW_LABELS)


def _card_run(run: SyncRun) -> dict:
    stuck = is_stuck(run)
    status = "interrupted" if stuck else run.status
    return {"id": str(run.id), "flow": run.flow, "label": FLOW_LABELS.get(run.flow, run.flow), "status": status,
            "at": (run.finished_at or run.started_at or run.created_at).isoformat(),
            "message": ("Interrupted; it will be retried." if stuck else run.error) or None,
            "replayable": status in ("failed", "interrupted")}


def _actions(status: str, kind: str | None, busy: bool) -> list[dict]:
    if busy or status in ("sync_stopped", "applied", "not_connected"):
        return []
    actions = [{"id": "request-validation", "label": "Validate with billwerk" if status in ("draft", "no_cart") else "Validate again"}]
    if kind != "upgrade" and status in ("valid", "outdated", "draft", "apply_failed"):
        actions.append({"id": "create-contract", "label": "Create contract in billwerk",
                        "confirm": "Create the contract (and the customer, if new) in billwerk now? billwerk starts billing it."})
    return actions


# -- the parts other flows fill ----------------------------------------------------------------------------

def billing_health(portal: Portal, account, props: dict, link: ContractLink | None) -> dict | None:
    """The contract's health (``BillingHealth``), from the contract link and what the contract
    updates wrote on the deal."""
    contract_id = (link.billwerk_contract_id if link else None) or (props.get("billwerk_contract_id") or "").strip()
    if not contract_id:
        return None
    customer_id = (link.billwerk_customer_id if link else None) or (props.get("billwerk_customer_id") or "").strip() or None
    balance = props.get("billwerk_balance")
    try:
        balance = float(balance) if balance not in (None, "") else None
    except ValueError:
        balance = None
    return {"contractId": contract_id, "contractUrl": f"{account.base_url.rstrip('/')}/#/contracts/{contract_id}",
            "customerId": customer_id, "customerUrl": billwerk_customer_url(account.base_url, customer_id) if customer_id else None,
            "lifecycleStatus": props.get("billwerk_lifecycle_status") or None, "balance": balance,
            "currency": props.get("billwerk_currency") or None, "billedUntil": props.get("billwerk_billed_until") or None,
            "endDate": props.get("billwerk_end_date") or None,
            "paymentEscalated": (props.get("billwerk_payment_escalated") or "").lower() == "true",
            "paymentProvider": props.get("billwerk_payment_provider") or None,
            "paymentMethod": props.get("billwerk_payment_method") or None,
            "lastInvoiceId": props.get("billwerk_last_invoice_id") or None,
            "updatedAt": link.updated_at.isoformat() if link and link.updated_at else None}


def upgrade_comparison(portal: Portal, deal_id: str, props: dict, row, link) -> dict | None:
    """Up-/downgrade deals: today's contract against the previewed one (``UpgradeComparison``), as
    the last validation computed it (:func:`backend.flows.upgrade_validation.check_upgrade`);
    signup deals have none, nor does an executed one (``link``, the deal's contract link: its
    "today" is the past)."""
    if row is None or not row.shown or deal_type(props) != "upgrade" or link is not None:
        return None
    return row.shown.get("upgrade")


def upgrade_actions(portal: Portal, props: dict, link: ContractLink | None, status: str) -> list[dict]:
    """``create-upgrade-deal`` (a deal with its contract) / ``execute-upgrade``, offered by the up-/downgrade flows."""
    if status == "applied" and link is not None and not link.sync_stopped:
        return [{"id": "create-upgrade-deal", "label": "Create up- / downgrade deal",
                 "confirm": "Create a follow-up deal to change this contract?"}]
    if deal_type(props) == "upgrade" and link is None and status in ("valid", "outdated", "draft", "apply_failed"):
        contract = _origin_contract(portal, props)
        return [{"id": "execute-upgrade", "label": "Execute up- / downgrade in billwerk",
                 "confirm": f"Change contract {contract or 'of the origin deal'} in billwerk as previewed? billwerk bills "
                            "the change."}]
    return []


def _origin_contract(portal: Portal, props: dict) -> str | None:
    origin = (props.get("billwerk_origin_deal_id") or "").strip()
    link = ContractLink.for_deal(portal.id, origin) if origin else None
    return link.billwerk_contract_id if link is not None else None


# -- buttons ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DealAction:
    """``run(portal, deal_id, body)`` starts the work and returns (message, run or None)."""

    run: Callable[[Portal, str, dict], tuple[str, SyncRun | None]]
    needs_billwerk: bool = True


def _start(flow: str, message: str, params: dict | None = None):
    def run(portal: Portal, deal_id: str, body: dict) -> tuple[str, SyncRun | None]:
        started = start_run(flow, portal_id=portal.id, object_type="deal", object_id=str(deal_id), params=params or {}, queue="high")
        return message, started
    return run


def _run_flow(action: RunFlow):
    """A button of the shared kind (``RunFlow``): runs its flow now and answers how it went."""
    def run(portal: Portal, deal_id: str, body: dict):
        return action.run(portal, deal_id, body), None
    return run


def _refresh(portal: Portal, deal_id: str, body: dict):
    return "Refreshed", None


def _replay(portal: Portal, deal_id: str, body: dict):
    run_id = str(body.get("runId") or "")
    run = db.session.get(SyncRun, int(run_id)) if run_id.isdigit() else None
    if run is None or run.portal_id != portal.id or run.object_type != "deal" or run.object_id != str(deal_id):
        raise HubwerkError("There is no such run for this deal.", code="run_not_found", status=404)
    if run.status in ("queued", "running") and not is_stuck(run):
        return "The run is already waiting to run.", run
    return "Replaying the run", replay_run(run, queue="high")


ACTIONS: dict[str, DealAction] = {
    "request-validation": DealAction(_start(deal_validation.FLOW, "Validation requested; billwerk's answer appears here in a moment")),
    "create-contract": DealAction(_start(contract_creation.FLOW, "Contract creation started", {"explicit": True})),
    "execute-upgrade": DealAction(_start(upgrade_execution.FLOW, "Up- / downgrade started", {"explicit": True})),
    "create-upgrade-deal": DealAction(_run_flow(RunFlow("create_upgrade_deal", "deal",
                                                        "Up- / downgrade deal created: open it from this deal's associations",
                                                        skipped="No up- / downgrade deal was created"))),
    "refresh": DealAction(_refresh, needs_billwerk=False),
    "replay": DealAction(_replay),
}


def deal_action(portal: Portal, deal_id: str, action: str, body: dict) -> dict:
    entry = ACTIONS.get(action)
    if entry is None:
        raise HubwerkError(f"Unknown deal card action {action!r}.", code="unknown_action", status=404)
    if entry.needs_billwerk and portal.billwerk_account is None:
        raise HubwerkError("Connect billwerk first (connector settings > billwerk).", code="billwerk_not_connected", status=409)
    message, run = entry.run(portal, deal_id, body)
    return deal_payload(portal, deal_id) | {"message": message, "runId": str(run.id) if run is not None else None}

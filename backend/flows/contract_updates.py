"""billwerk contract updates -> the deal that holds the contract (CONTRACT §6 "Contract updates").

A billwerk hook is only a hint. :func:`on_contract_event` (the row of every contract event in
``flows/billwerk_events.py``) notes what only the hook can tell — the dated escalation event, the
invoice an ``InvoiceCreated`` names — on the contract's :class:`~backend.models.ContractState` and
starts the run ``update_deal_from_contract`` for the contract, on the ``low`` queue and coalesced:

* every hook of a contract that arrives while its run waits joins that run, and the ``low`` queue is
  only worked when the webhook inbox (``default``) is empty, so a burst — or a storm — of hooks
  becomes one read of each contract after the burst;
* the first run a worker picks up takes up to 99 other waiting runs of the portal along
  (``flows/batches.py``): their contracts are read one by one (plus the hinted invoice) and their
  deals written with one HubSpot batch update.

The deal is the one whose contract link holds the contract and is not ``sync_stopped`` (an up-/
downgrade moved the contract on). Values are mapped by ``mapping/contract_updates.py`` (UTC
dates, HubSpot numbers) and only properties that differ from what was last written to that deal
are sent; nothing changed, nothing written. The deal properties written are not subscribed
webhooks of the connector, and HubSpot marks the connector's writes as its own (``is_echo``), so
they start no validation or apply.

Reconciliation (:func:`reconcile_contracts_everywhere`, a ``SCHEDULE`` row): every 10 minutes, per
portal, up to :data:`RECONCILE_PER_TICK` contracts held by a deal whose last read is older than a
day (or that were never read) get the same run — a hook billwerk dropped after its retries is
repaired within a day or so, at a bounded rate.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from backend.clients.base import ApiError, NotFound
from backend.clients.billwerk import client_for
from backend.extensions import db
from backend.flows.batches import Outcome, batch_of
from backend.flows.context import portal_context
from backend.jobs.runs import start_run
from backend.jobs.runtime import app_context
from backend.mapping.contract_updates import (HookError, billing_facts, changed_properties, deal_properties,
                                              escalation_moment, invoice_moment, invoice_of_contract, is_escalated,
                                              is_newer_invoice, parse_hook, retry_count)
from backend.models import BillwerkAccount, ContractLink, ContractState, InboxEvent, Portal, SyncRun, utcnow

log = logging.getLogger(__name__)

FLOW = "update_deal_from_contract"
QUEUE = "low"
RECONCILE_AFTER = timedelta(days=1)
RECONCILE_PER_TICK = 100          # contracts per portal per cron tick (every 10 minutes: 14,400 a day)


# -- which deal ---------------------------------------------------------------------------------------

def holding_links(portal_id: int, contract_ids: list[str], entity_id: str | None = None) -> dict[str, ContractLink]:
    """``{contract id: the link of the deal that holds it}``: not sync-stopped, the newest if several
    (``entity_id``, when the hook names it, lets the look-up use the links' whole index)."""
    if not contract_ids:
        return {}
    query = db.select(ContractLink).where(ContractLink.portal_id == portal_id,
                                          ContractLink.billwerk_contract_id.in_(contract_ids),
                                          ContractLink.sync_stopped.is_(False))
    if entity_id:
        query = query.where(ContractLink.entity_id == entity_id)
    links: dict[str, ContractLink] = {}
    for link in db.session.execute(query.order_by(ContractLink.id)).scalars():
        links[link.billwerk_contract_id] = link
    return links


# -- the hook --------------------------------------------------------------------------------------------

def on_contract_event(account: BillwerkAccount, payload: dict, event: InboxEvent):
    """A contract event: note the hook's own facts, start (or join) the contract's run."""
    return on_contract_events(account, [(payload, event)])[0]


def on_contract_events(account: BillwerkAccount, items: list[tuple[dict, InboxEvent]]) -> list:
    """Hooks of one account (one, or a chunk of the inbox drain): one link look-up per entity, what
    only the hooks tell — the dated escalation events, the invoice an ``InvoiceCreated`` names —
    noted on the contracts' :class:`ContractState` with one UPDATE per contract and kind (the newest
    moment of each kind wins, whatever the order) and committed, then one run started (or joined)
    per contract: a waiting run reads the facts when it starts; a started one no longer absorbs the
    hooks, so ``start_run`` queues another. Returns each hook's outcome, in order."""
    outcomes: list = [None] * len(items)
    parsed: list[tuple[int, object, InboxEvent]] = []
    for i, (payload, event) in enumerate(items):
        try:
            hook = parse_hook(payload)
        except HookError as exc:
            outcomes[i] = ("ignored", str(exc))
            continue
        if not hook.contract_id:
            outcomes[i] = ("ignored", f"The {hook.event} hook names no ContractId.")
        elif hook.entity_id and account.entity(hook.entity_id) is None:
            outcomes[i] = ("ignored", f"Entity {hook.entity_id} is not connected for this billwerk account.")
        else:
            parsed.append((i, hook, event))
    portal_id = account.portal_id
    by_entity: dict[str | None, set[str]] = {}
    for _, hook, _ in parsed:
        by_entity.setdefault(hook.entity_id, set()).add(hook.contract_id)
    held: dict[tuple[str | None, str], ContractLink] = {}
    for entity_id, contract_ids in by_entity.items():
        for contract_id, link in holding_links(portal_id, sorted(contract_ids), entity_id).items():
            held[(entity_id, contract_id)] = link
    facts: dict[str, dict[str, object]] = {}      # contract id -> column -> newest value
    first_event: dict[str, int] = {}
    for i, hook, event in parsed:
        if (hook.entity_id, hook.contract_id) not in held:
            outcomes[i] = ("ignored", f"No deal holds billwerk contract {hook.contract_id}; nothing to update.")
            continue
        outcomes[i] = True
        first_event.setdefault(hook.contract_id, event.id)
        if hook.event in ("PaymentEscalated", "PaymentEscalationReset"):
            column = "escalated_at" if hook.event == "PaymentEscalated" else "reset_at"
            value = escalation_moment(hook, event.received_at, retry_count(event.headers))
        elif hook.event == "InvoiceCreated" and hook.invoice_id:
            column, value = "invoice_hint", hook.invoice_id
        else:
            continue
        noted = facts.setdefault(hook.contract_id, {})
        if column not in noted or noted[column] < value:
            noted[column] = value
    if facts:
        # Committed before the runs are joined, as for a single hook.
        states = ContractState.ensure(portal_id, sorted(facts))
        for contract_id, columns in facts.items():
            for column, value in columns.items():
                ContractState.move_forward(states[contract_id].id, column, value, commit=False)
        db.session.commit()
    for contract_id, event_id in first_event.items():
        start_run(FLOW, portal_id=portal_id, object_type="contract", object_id=contract_id,
                  inbox_event_id=event_id, queue=QUEUE)
    return outcomes


# -- the run ----------------------------------------------------------------------------------------------

def update_deal_from_contract(run: SyncRun) -> dict | None:
    portal, account, hubspot = portal_context(run, "contract updates start once it is connected.")
    with batch_of(run) as batch:
        return batch.finish(update_contracts(portal, account, hubspot, batch.object_ids))


def _read_invoice(client, state: ContractState, contract_id: str) -> str | None:
    """The invoice an ``InvoiceCreated`` named: kept as the last invoice when it is the newest.
    Returns the hint to forget once the batch is stored."""
    hint = state.invoice_hint
    if not hint or hint == state.last_invoice_id:
        return hint
    try:
        invoice = client.get_invoice(hint)
    except NotFound:
        invoice = None
    if invoice and invoice_of_contract(invoice, contract_id):
        created = invoice_moment(invoice)
        current = (state.last_invoice_at, state.last_invoice_id) if state.last_invoice_id else None
        if is_newer_invoice((created, hint), current):
            state.last_invoice_id, state.last_invoice_at = hint, created
    return hint


def update_contracts(portal: Portal, account: BillwerkAccount, hubspot, contract_ids: list[str]) -> dict[str, Outcome]:
    """Read each contract (and its hinted invoice), write the deals that changed in batches of 100;
    ``{contract id: Outcome}``."""
    links = holding_links(portal.id, contract_ids)
    states = ContractState.ensure(portal.id, list(links))
    outcomes: dict[str, Outcome] = {}
    writes: dict[str, tuple[str, dict, dict]] = {}       # deal id -> (contract id, wanted, changes)
    now = utcnow()
    seen_hints: list[tuple[int, str]] = []
    # Nothing is written while billwerk is read (SQLite would hold its write lock, and the webhook
    # route's inserts would wait): the batch's changes are stored in one short transaction after.
    with db.session.no_autoflush:
        _read_all(account, contract_ids, links, states, outcomes, writes, seen_hints, now)
    for state_id, hint in seen_hints:
        ContractState.clear_hint(state_id, hint)
    db.session.commit()
    refused, retriable = _write(hubspot, {deal_id: changes for deal_id, (_, _, changes) in writes.items()})
    for deal_id, (contract_id, wanted, changes) in writes.items():
        if deal_id in refused:
            outcomes[contract_id] = Outcome.failed(refused[deal_id], retriable=retriable)
            continue
        state = states[contract_id]
        state.deal_id, state.written, state.written_at = deal_id, dict(wanted), now
        outcomes[contract_id] = Outcome.ok(written=1, properties=len(changes))
    db.session.commit()
    return outcomes


def _read_all(account, contract_ids, links, states, outcomes, writes, seen_hints, now) -> None:
    """Read each contract held by a deal (and its hinted invoice); fill ``outcomes`` and ``writes``."""
    clients: dict[str, object] = {}
    for contract_id in contract_ids:
        link = links.get(contract_id)
        if link is None:
            outcomes[contract_id] = Outcome.skipped(f"No deal holds billwerk contract {contract_id} (any more).")
            continue
        state = states[contract_id]
        try:
            client = clients.get(link.entity_id) or clients.setdefault(link.entity_id, client_for(account, link.entity_id))
            contract = client.get_contract(contract_id)
            hint = _read_invoice(client, state, contract_id)
            if hint:
                seen_hints.append((state.id, hint))
            facts = billing_facts(contract)
        except NotFound:
            state.checked_at = now
            outcomes[contract_id] = Outcome.failed(f"billwerk has no contract {contract_id}; the deal keeps its values.")
            continue
        except HookError as exc:
            state.checked_at = now
            outcomes[contract_id] = Outcome.failed(str(exc))
            continue
        except ApiError as exc:
            # billwerk is unreachable or limits us: the rest of the batch is tried again later.
            for rest in contract_ids[contract_ids.index(contract_id):]:
                outcomes.setdefault(rest, Outcome.failed(f"billwerk did not answer ({exc.message}).", retriable=True))
            break
        except Exception as exc:  # noqa: BLE001 — configuration problems (an entity no longer connected)
            state.checked_at = now
            outcomes[contract_id] = Outcome.failed(str(exc) or type(exc).__name__, retriable=False)
            continue
        state.checked_at = now
        wanted = deal_properties(facts, escalated=is_escalated(state.escalated_at, state.reset_at),
                                 last_invoice_id=state.last_invoice_id)
        changes = changed_properties(wanted, state.written if state.deal_id == link.hubspot_deal_id else None)
        if not changes:
            outcomes[contract_id] = Outcome.ok(unchanged=1)
            continue
        writes[link.hubspot_deal_id] = (contract_id, wanted, changes)


def _write(hubspot, writes: dict[str, dict]) -> tuple[dict[str, str], bool]:
    """One batch update per 100 deals; ``({deal id: why refused}, whether trying again may help)``."""
    if not writes:
        return {}, False
    try:
        result = hubspot.batch_update("deals", [{"id": d, "properties": p} for d, p in writes.items()], split_on_error=True)
    except ApiError as exc:
        return {d: f"HubSpot did not take the update ({exc.message})." for d in writes}, bool(exc.retriable)
    return {str((e.input or {}).get("id")): f"HubSpot refused the deal update: {e.message}" for e in result.errors}, False


# -- reconciliation -------------------------------------------------------------------------------------------

def stale_contracts(portal_id: int, limit: int = RECONCILE_PER_TICK) -> list[str]:
    """Contracts held by a deal, never read or last read more than a day ago, the oldest first."""
    cutoff = utcnow() - RECONCILE_AFTER
    query = (db.select(ContractLink.billwerk_contract_id)
             .outerjoin(ContractState, (ContractState.portal_id == ContractLink.portal_id)
                        & (ContractState.billwerk_contract_id == ContractLink.billwerk_contract_id))
             .where(ContractLink.portal_id == portal_id, ContractLink.sync_stopped.is_(False),
                    (ContractState.checked_at.is_(None)) | (ContractState.checked_at < cutoff))
             .order_by(ContractState.checked_at.is_not(None), ContractState.checked_at, ContractLink.id)
             .limit(limit))
    return list(dict.fromkeys(db.session.execute(query).scalars()))


def reconcile_contracts(limit: int = RECONCILE_PER_TICK) -> int:
    """Start (or join) the run of each stale contract of every connected portal; how many."""
    started = 0
    for portal in db.session.execute(db.select(Portal).where(Portal.status == "active")).scalars().all():
        if portal.billwerk_account is None:
            continue
        for contract_id in stale_contracts(portal.id, limit):
            start_run(FLOW, portal_id=portal.id, object_type="contract", object_id=contract_id, queue=QUEUE)
            started += 1
    if started:
        log.info("contracts.reconcile", extra={"started": started})
    return started


def reconcile_contracts_everywhere() -> int:
    """Cron entry point."""
    with app_context():
        return reconcile_contracts()

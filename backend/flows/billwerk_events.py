"""billwerk webhook deliveries -> runs, through ``EVENT_HANDLERS``: one row per billwerk event name
(``ContractCreated``, ``ContractChanged``, ``CustomerChanged``, …).

billwerk's hooks are thin (``{"Event": …, "EntityId": …, "ContractId": …}``): a handler starts a
run keyed by the billwerk object, which reads the current state itself. It returns whether it
started work (or ``(status, note)`` to say why not). Event names are trimmed (billwerk's own
tooling has sent ``"PlanVariantCreated "``). An event no row handles is kept as ``ignored`` with
the reason, and can be replayed once a later version handles it.

Every row needs a captured payload in ``tests/fixtures/billwerk/<Event>.json`` (a test checks).
"""
from __future__ import annotations

import json
from typing import Callable

from sqlalchemy.orm import joinedload

from backend.extensions import db
from backend.flows import contract_updates
from backend.mapping.contract_updates import CONTRACT_EVENTS
from backend.models import BillwerkAccount, InboxEvent

Handler = Callable[[BillwerkAccount, dict, InboxEvent], "bool | tuple[str, str]"]

EVENT_HANDLERS: dict[str, Handler] = {
    # CONTRACT §6 "Contract updates": re-read the contract, write the deal that holds it.
    **{name: contract_updates.on_contract_event for name in CONTRACT_EVENTS},
}


def _account(account_id: int | None) -> BillwerkAccount | None:
    """The hook's billwerk account with its entities (one query), or ``None`` once disconnected."""
    return db.session.get(BillwerkAccount, account_id, options=[joinedload(BillwerkAccount.entities)]) if account_id else None


def handle_billwerk_delivery(event: InboxEvent) -> "str | tuple[str, str]":
    payload = json.loads(event.body)
    name = str(payload.get("Event") or "").strip() if isinstance(payload, dict) else ""
    handler = EVENT_HANDLERS.get(name)
    if handler is None:
        return "ignored", f"No handler for billwerk {name or 'webhook'} events in this version; replay it after upgrading."
    account = _account(event.billwerk_account_id)
    if account is None:
        return "ignored", "The billwerk account of this webhook is no longer connected."
    outcome = handler(account, payload, event)
    if isinstance(outcome, tuple):
        return outcome
    return "processed" if outcome else "ignored"


def handle_billwerk_deliveries(events: list[InboxEvent]) -> dict[int, "str | tuple[str, str | None]"]:
    """A chunk of stored hooks at once (the inbox drain): contract events of one account go to
    ``contract_updates.on_contract_events`` together — one look-up, one commit and one run per
    contract for a burst — every other hook to :func:`handle_billwerk_delivery`. ``{inbox id: outcome}``."""
    outcomes: dict[int, "str | tuple[str, str | None]"] = {}
    contract_hooks: dict[int, list[tuple[dict, InboxEvent]]] = {}
    for event in events:
        try:
            payload = json.loads(event.body)
        except ValueError:
            payload = None
        name = str(payload.get("Event") or "").strip() if isinstance(payload, dict) else ""
        if EVENT_HANDLERS.get(name) is contract_updates.on_contract_event and event.billwerk_account_id:
            contract_hooks.setdefault(event.billwerk_account_id, []).append((payload, event))
        else:
            outcomes[event.id] = handle_billwerk_delivery(event)
    for account_id, items in contract_hooks.items():
        account = _account(account_id)
        if account is None:
            for _, event in items:
                outcomes[event.id] = ("ignored", "The billwerk account of this webhook is no longer connected.")
            continue
        for (_, event), outcome in zip(items, contract_updates.on_contract_events(account, items)):
            outcomes[event.id] = outcome if isinstance(outcome, tuple) else ("processed" if outcome else "ignored")
    return outcomes

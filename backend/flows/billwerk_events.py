"""billwerk webhook deliveries -> runs, through ``EVENT_HANDLERS``: one row per billwerk event name
(``ContractCreated``, ``ContractChanged``, ``CustomerChanged``, …).

billwerk's hooks are thin (``{"Event": …, "EntityId": …, "ContractId": …}``): a handler starts a
run keyed by the billwerk object, which reads the current state itself. It returns whether it
started work. An event no row handles is kept as ``ignored`` with the reason, and can be replayed
once a later version handles it.
"""
from __future__ import annotations

import json
from typing import Callable

from backend.extensions import db
from backend.models import BillwerkAccount, InboxEvent

Handler = Callable[[BillwerkAccount, dict, InboxEvent], bool]

EVENT_HANDLERS: dict[str, Handler] = {}


def handle_billwerk_delivery(event: InboxEvent) -> "str | tuple[str, str]":
    payload = json.loads(event.body)
    name = str(payload.get("Event") or "") if isinstance(payload, dict) else ""
    handler = EVENT_HANDLERS.get(name)
    if handler is None:
        return "ignored", f"No handler for billwerk {name or 'webhook'} events in this version; replay it after upgrading."
    account = db.session.get(BillwerkAccount, event.billwerk_account_id) if event.billwerk_account_id else None
    if account is None:
        return "ignored", "The billwerk account of this webhook is no longer connected."
    return "processed" if handler(account, payload, event) else "ignored"

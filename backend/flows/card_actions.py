"""What a card button does, as a row of its card's action table.

Each card module (``company_card``, ``deal_card``) has ``ACTIONS: {action id: CardAction}``; the
web layer offers exactly those ids and calls ``action.run(portal, object_id, body)``, which
returns the message shown with the card's fresh payload. A button that starts work runs a flow
(:class:`RunFlow`), so the click becomes a visible, replayable run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from backend.errors import HubwerkError
from backend.jobs.runs import run_now
from backend.models import Portal


@dataclass(frozen=True)
class CardAction:
    """A button that acts directly (``run`` returns the message); ``flow`` names the flow it runs, if any."""

    run: Callable[[Portal, str, dict], str]
    flow: str | None = None


@dataclass(frozen=True)
class RunFlow:
    """A button that runs ``flow`` on the card's record now (handed to the worker when the record is
    busy) and answers with how the run went."""

    flow: str
    object_type: str
    succeeded: str
    skipped: str = "Nothing to do"
    queued: str = "Queued; refresh in a moment"
    failed: str = "Failed"
    needs_billwerk: bool = True

    def run(self, portal: Portal, object_id: str, body: dict) -> str:
        if self.needs_billwerk and portal.billwerk_account is None:
            raise HubwerkError("Connect billwerk first (connector settings > billwerk).", code="billwerk_not_connected", status=409)
        run = run_now(self.flow, portal_id=portal.id, object_type=self.object_type, object_id=str(object_id), params=self.params(body))
        if run.found_problems:
            return run.error
        return {"succeeded": self.succeeded, "skipped": run.error or self.skipped,
                "queued": self.queued}.get(run.status, run.error or self.failed)

    def params(self, body: dict) -> dict:
        """What the button's body adds to the run (nothing by default)."""
        return {}


def carry_out(card: str, actions: dict, payload: Callable[[Portal, str], dict], portal: Portal, object_id: str,
              action: str, body: dict) -> dict:
    """Run the ``action`` row of a card's table; answer with the card's fresh payload and the message."""
    if action not in actions:
        raise HubwerkError(f"Unknown {card} card action {action!r}.", code="unknown_action", status=404)
    message = actions[action].run(portal, object_id, body)
    return payload(portal, object_id) | {"message": message}


def refresh(portal: Portal, object_id: str, body: dict) -> str:
    return "Refreshed"


REFRESH = CardAction(refresh)

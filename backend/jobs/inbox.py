"""Processing stored deliveries: one job per inbox row, dispatched by source.

Handlers live with their flows and are registered per source in ``backend/registry.py``. They
return the row's final status: ``processed`` (work was queued or done) or ``ignored`` (nothing
applies — an echo of our own write, an event no flow needs), optionally with a note for the row
as ``(status, note)``. A delivery no handler takes is kept as
``ignored`` with the reason, and can be replayed once a later version handles it.
"""
from __future__ import annotations

import logging
from typing import Callable

from backend.extensions import db
from backend.jobs import get_queue
from backend.jobs.runtime import app_context
from backend.models import InboxEvent

log = logging.getLogger(__name__)

Handler = Callable[[InboxEvent], "str | tuple[str, str | None]"]
HANDLERS: dict[str, Handler] = {}


def register_handler(source: str, func: Handler) -> None:
    HANDLERS[source] = func


def registered_handlers() -> dict[str, Handler]:
    return HANDLERS


def enqueue_inbox_event(event: InboxEvent, queue: str = "default") -> None:
    """After the row is committed. Idempotent on the inbox id: the job id is derived from it."""
    get_queue(queue).enqueue("backend.jobs.inbox.process_inbox_event", event.id, job_id=f"inbox-{event.id}-{event.status}")


def process_inbox_event(inbox_id: int) -> str:
    with app_context():
        event = db.session.get(InboxEvent, inbox_id)
        if event is None:
            return "missing"
        if event.status != "received":
            return event.status
        handler = registered_handlers().get(event.source)
        if handler is None:
            event.mark("ignored", f"No handler for {event.source} deliveries in this version; replay it after upgrading.")
        else:
            try:
                outcome = handler(event)
                event.mark(*((outcome, None) if isinstance(outcome, str) else outcome))
            except Exception as exc:  # stays visible and replayable
                db.session.rollback()
                event = db.session.get(InboxEvent, inbox_id)
                event.mark("failed", f"{type(exc).__name__}: {str(exc)[:300]}")
                log.exception("inbox.process.failed", extra={"inbox_id": inbox_id, "source": event.source})
        db.session.commit()
        return event.status


def replay_inbox_event(event: InboxEvent) -> None:
    event.status = "received"
    event.error = None
    event.processed_at = None
    db.session.commit()
    enqueue_inbox_event(event)

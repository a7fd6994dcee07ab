"""Processing stored deliveries: one job per inbox row, dispatched by source.

Handlers live with their flows and are registered per source in ``backend/registry.py``. They
return the row's final status: ``processed`` (work was queued or done) or ``ignored`` (nothing
applies — an echo of our own write, an event no flow needs), optionally with a note for the row
as ``(status, note)``. A delivery no handler takes is kept as
``ignored`` with the reason, and can be replayed once a later version handles it.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Callable

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from backend.extensions import db
from backend.jobs import get_queue, redis_connection
from backend.jobs.runtime import app_context
from backend.models import InboxEvent, UsedSignature, utcnow

log = logging.getLogger(__name__)

Handler = Callable[[InboxEvent], "str | tuple[str, str | None]"]
HANDLERS: dict[str, Handler] = {}


def register_handler(source: str, func: Handler) -> None:
    HANDLERS[source] = func


def registered_handlers() -> dict[str, Handler]:
    return HANDLERS


#: a ``received`` row this old with no job waiting for it lost its job (Redis was away): it is queued again
SWEEP_AFTER_S = 15
_WAITING = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
# Set in a process whose hand-over failed: its next successful one sweeps (the cron sweeps anyway).
_missed = threading.Event()


def _job_id(event_id: int) -> str:
    return f"inbox-{event_id}-received"


def enqueue_inbox_event(event: InboxEvent, queue: str = "default") -> None:
    """After the row is committed. Idempotent on the inbox id: the job id is derived from it."""
    get_queue(queue).enqueue("backend.jobs.inbox.process_inbox_event", event.id, job_id=_job_id(event.id))


def hand_over(event: InboxEvent) -> bool:
    """Queue a stored delivery from a web request. Redis being away is not the sender's problem:
    the row is stored, the answer stays 200, and a sweep queues it later."""
    try:
        enqueue_inbox_event(event)
    except (RedisError, OSError):
        _missed.set()
        log.warning("inbox.enqueue.failed", extra={"inbox_id": event.id, "source": event.source})
        return False
    if _missed.is_set():
        _missed.clear()
        try:
            sweep_inbox(older_than_s=0)
        except (RedisError, OSError):
            _missed.set()
        except Exception:  # a sweep must never fail the request whose delivery is stored and queued
            db.session.rollback()
            log.exception("inbox.sweep.failed")
    return True


def _waiting(event_id: int) -> bool:
    try:
        return Job.fetch(_job_id(event_id), connection=redis_connection()).get_status() in _WAITING
    except NoSuchJobError:
        return False


def sweep_inbox(older_than_s: float = SWEEP_AFTER_S, limit: int = 1000) -> dict:
    """Cron (and a web process after Redis came back): queue every ``received`` delivery whose job
    was lost, and forget v3 signatures whose window has passed."""
    with app_context():
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        rows = db.session.execute(db.select(InboxEvent.id).where(
            InboxEvent.status == "received", InboxEvent.received_at <= cutoff,
            InboxEvent.source.in_(sorted(registered_handlers()))).order_by(InboxEvent.id).limit(limit)).scalars().all()
        queued = 0
        for event_id in rows:
            if not _waiting(event_id):
                get_queue("default").enqueue("backend.jobs.inbox.process_inbox_event", event_id, job_id=_job_id(event_id))
                queued += 1
        purged = db.session.execute(db.delete(UsedSignature).where(UsedSignature.expires_at < utcnow())).rowcount
        db.session.commit()
        if queued:
            log.warning("inbox.swept", extra={"requeued": queued})
        return {"requeued": queued, "signatures_purged": purged or 0}


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

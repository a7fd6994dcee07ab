"""Processing stored deliveries, dispatched by source: one job per inbox row, or — for sources
whose deliveries come in storms (``DRAINED_SOURCES``: billwerk's thin hooks, one per change) — one
*drain* job that works off every waiting row of the source.

A drain is asked for by a Redis flag set with ``NX``: the web process sets it after the row is
committed and queues a drain only when it set it; the drain clears it before it reads the rows.
So a row is always either read by a running drain or finds the flag free and queues the next one —
a storm of 20,000 hooks costs the web process one ``SET`` per hook and the worker a few dozen jobs,
not 20,000 forks. One drain works at a time (a lease); it yields the worker after
``DRAIN_BUDGET_S`` so card buttons (queue ``high``) wait no longer, and asks for its successor.
Lost drains (Redis away, a killed worker) are covered by the sweep, as lost row jobs are.

Handlers live with their flows and are registered per source in ``backend/registry.py``. They
return the row's final status: ``processed`` (work was queued or done) or ``ignored`` (nothing
applies — an echo of our own write, an event no flow needs), optionally with a note for the row
as ``(status, note)``. A delivery no handler takes is kept as
``ignored`` with the reason, and can be replayed once a later version handles it.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta
from typing import Callable

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from backend.extensions import db
from backend.jobs import get_queue, redis_connection
from backend.jobs.leases import Lease, holder
from backend.jobs.runtime import app_context
from backend.models import InboxEvent, UsedSignature, utcnow
from backend.models.inbox import STATUSES

log = logging.getLogger(__name__)

Handler = Callable[[InboxEvent], "str | tuple[str, str | None]"]
HANDLERS: dict[str, Handler] = {}
# A drained source may take a chunk of rows at once: ``{inbox id: outcome}`` for every row given.
BatchHandler = Callable[[list[InboxEvent]], "dict[int, str | tuple[str, str | None]]"]
BATCH_HANDLERS: dict[str, BatchHandler] = {}


def register_handler(source: str, func: Handler) -> None:
    HANDLERS[source] = func


def register_batch_handler(source: str, func: BatchHandler) -> None:
    BATCH_HANDLERS[source] = func


def registered_handlers() -> dict[str, Handler]:
    return HANDLERS


#: a ``received`` row this old with no job waiting for it lost its job (Redis was away): it is queued again
SWEEP_AFTER_S = 15
_WAITING = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
# Set in a process whose hand-over failed: its next successful one sweeps (the cron sweeps anyway).
_missed = threading.Event()


#: sources worked off by a drain job instead of one job per row
DRAINED_SOURCES = frozenset({"billwerk_webhook"})
DRAIN_FLAG_TTL_S = 15        # a flag whose drain was lost frees itself by the time the sweep looks (rows 15 s old)
DRAIN_BUDGET_S = 5.0         # a drain hands the worker back after this long and queues its successor
DRAIN_CHUNK = 200            # rows read per query
DRAIN_BUSY_WAIT_S = 2.0      # a drain waits this long for another drain's lease, then comes back in a second


def _job_id(event_id: int) -> str:
    return f"inbox-{event_id}-received"


def _drain_flag(source: str) -> str:
    return f"hubwerk:inbox:drain-pending:{source}"


def _drain_lease(source: str) -> str:
    return f"hubwerk:lock:inbox-drain:{source}"


def enqueue_inbox_event(event: InboxEvent, queue: str = "default") -> None:
    """After the row is committed. Idempotent on the inbox id: the job id is derived from it (a
    drained source's row asks for a drain instead)."""
    if event.source in DRAINED_SOURCES:
        request_drain(event.source, queue=queue)
        return
    get_queue(queue).enqueue("backend.jobs.inbox.process_inbox_event", event.id, job_id=_job_id(event.id))


def request_drain(source: str, queue: str = "default") -> bool:
    """Queue a drain of ``source`` unless one is already waiting (after the row is committed).
    Returns whether a drain was queued."""
    redis = redis_connection()
    if not redis.set(_drain_flag(source), "1", nx=True, ex=DRAIN_FLAG_TTL_S):
        return False
    try:
        get_queue(queue).enqueue("backend.jobs.inbox.drain_inbox", source,
                                 job_id=f"inbox-drain-{source}-{uuid.uuid4().hex[:12]}",
                                 description=f"drain {source} inbox")
    except BaseException:
        try:
            redis.delete(_drain_flag(source))   # the next row (or the sweep) asks again
        except (RedisError, OSError):
            pass
        raise
    return True


def drain_inbox(source: str, budget_s: float = DRAIN_BUDGET_S) -> dict:
    """RQ entry point: work off the ``received`` rows of ``source``, oldest first, for up to
    ``budget_s``; then, if rows are left, queue the next drain."""
    with app_context():
        redis = redis_connection()
        lease = Lease(redis, _drain_lease(source), owner="inbox-drain")
        if not lease.acquire(wait_s=DRAIN_BUSY_WAIT_S):
            # Another drain is at work and may have read its rows before ours were stored: come back.
            # The flag stays set, so the web process does not queue more drains meanwhile.
            get_queue("default").enqueue_in(timedelta(seconds=1), "backend.jobs.inbox.drain_inbox", source,
                                            job_id=f"inbox-drain-{source}-{uuid.uuid4().hex[:12]}")
            return {"busy": True}
        counts: dict[str, int] = {}
        try:
            redis.delete(_drain_flag(source))   # from here on a newly stored row asks for the next drain
            deadline = time.monotonic() + budget_s
            after = 0
            while True:
                ids = db.session.execute(db.select(InboxEvent.id).where(
                    InboxEvent.status == "received", InboxEvent.source == source, InboxEvent.id > after)
                    .order_by(InboxEvent.id).limit(DRAIN_CHUNK)).scalars().all()
                db.session.rollback()            # no transaction kept open between rows
                if not ids:
                    break
                for status in _process_chunk(source, ids):
                    counts[status] = counts.get(status, 0) + 1
                after = ids[-1]
                if time.monotonic() >= deadline:
                    request_drain(source)        # the rest in the next job: other queues get their turn
                    break
        finally:
            lease.release()
        if counts:
            log.info("inbox.drained", extra={"source": source, "counts": counts})
        return counts


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
        # Rows worked one job each (a drained source's backlog cannot fill the limit and hide them).
        row_by_row = sorted(set(registered_handlers()) - DRAINED_SOURCES)
        rows = db.session.execute(db.select(InboxEvent.id).where(
            InboxEvent.status == "received", InboxEvent.received_at <= cutoff, InboxEvent.source.in_(row_by_row))
            .order_by(InboxEvent.id).limit(limit)).scalars().all()
        queued = 0
        # A drained source gets a drain unless one is at work (it queues its successor) or waiting
        # (its flag is set); a lost drain's flag has expired by now. Asked per source, so that a backlog
        # of other rows (the limit above) cannot hide them.
        for source in sorted(DRAINED_SOURCES & set(registered_handlers())):
            waiting = db.session.execute(db.select(InboxEvent.id).where(
                InboxEvent.status == "received", InboxEvent.source == source, InboxEvent.received_at <= cutoff).limit(1)).first()
            if waiting is not None and holder(redis_connection(), _drain_lease(source)) is None:
                queued += int(request_drain(source))
        for event_id in rows:
            if not _waiting(event_id):
                get_queue("default").enqueue("backend.jobs.inbox.process_inbox_event", event_id, job_id=_job_id(event_id))
                queued += 1
        purged = db.session.execute(db.delete(UsedSignature).where(UsedSignature.expires_at < utcnow())).rowcount
        db.session.commit()
        if queued:
            log.warning("inbox.swept", extra={"requeued": queued})
        return {"requeued": queued, "signatures_purged": purged or 0}


_CHUNK_COLUMNS = (InboxEvent.id, InboxEvent.source, InboxEvent.name, InboxEvent.portal_id, InboxEvent.billwerk_account_id,
                  InboxEvent.dedupe_key, InboxEvent.method, InboxEvent.path, InboxEvent.headers, InboxEvent.body,
                  InboxEvent.status, InboxEvent.received_at)


def _process_chunk(source: str, ids: list[int]) -> list[str]:
    """The rows ``ids`` of ``source``: through its batch handler when it has one, with every row's
    outcome marked in one commit; row by row otherwise — and when the batch handler fails, so that
    one bad row fails alone and the others are worked off."""
    batch = BATCH_HANDLERS.get(source)
    if batch is not None and source in registered_handlers():
        # Read-only copies, outside the session (marked below with UPDATEs): the handler's commits do
        # not expire them into a query per row, and a caller's own objects (a CLI run, a test sharing
        # the session) are left alone.
        rows = db.session.execute(db.select(*_CHUNK_COLUMNS).where(
            InboxEvent.id.in_(ids), InboxEvent.status == "received").order_by(InboxEvent.id)).all()
        events = [InboxEvent(**row._mapping) for row in rows]
        event_ids = [event.id for event in events]
        try:
            outcomes = batch(events)
            # One UPDATE per distinct outcome (usually one for the chunk): the write is over in a moment.
            marks: dict[tuple[str, str | None], list[int]] = {}
            for event_id in event_ids:
                outcome = outcomes[event_id]
                status, note = (outcome, None) if isinstance(outcome, str) else outcome
                if status not in STATUSES:
                    raise ValueError(f"unknown inbox status {status!r}")
                marks.setdefault((status, note), []).append(event_id)
            now = utcnow()
            for (status, note), marked in marks.items():
                db.session.execute(db.update(InboxEvent).where(InboxEvent.id.in_(marked), InboxEvent.status == "received")
                                   .values(status=status, error=note, processed_at=now))
            db.session.commit()
            return [status for (status, _), marked in marks.items() for _ in marked]
        except Exception:
            db.session.rollback()
            log.exception("inbox.batch.failed", extra={"source": source, "rows": len(ids)})
    return [process_inbox_event(event_id) for event_id in ids]


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

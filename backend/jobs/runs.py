"""Sync runs: the unit of background work a person can see, and replay when it failed.

``start_run`` stores a run, commits, then enqueues ``execute_run(run_id)``. Flows are registered by
name (``backend/registry.py`` lists them all; tests may use ``@flow("name")``) and receive the run;
they return counts (or ``None``), raise :class:`~backend.errors.FlowError` for expected failures and
:class:`~backend.errors.Skip` when there is nothing to do, and must be idempotent on the object
they concern: a run executed twice leaves billwerk and HubSpot as once.
"""
from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta
from typing import Callable

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry, get_current_job
from rq.job import Job, JobStatus

from backend.clients.waits import short_waits
from backend.errors import FlowError, FoundProblems, HubwerkError, Skip
from backend.extensions import db
from backend.jobs import get_queue, redis_connection
from backend.jobs.leases import LEASE_S, RENEW_EVERY_S, Lease, holder
from backend.jobs.runtime import app_context
from backend.logs import job_id_var
from backend.models import SyncRun, utcnow

log = logging.getLogger(__name__)

FlowFunc = Callable[[SyncRun], "dict | None"]
FLOWS: dict[str, FlowFunc] = {}
# Called with the run and a stage name whenever a long flow reports progress (the CLI prints it).
PROGRESS_LISTENERS: list[Callable[[SyncRun, "str | None"], None]] = []
# Called with every run that finished (workflow callbacks complete here).
FINISH_HOOKS: list[Callable[[SyncRun], None]] = []
MAX_ATTEMPTS = 8
LOCK_TIMEOUT_S = 30 * 60    # the longest a run may take (its job is killed then); its lock is a lease renewed meanwhile
LOCK_WAIT_S = 0             # a worker does not wait for another run of the same object: the run comes back later
BUSY_DELAY_S = 10.0         # ... this much later (plus jitter)
JOB_TIMEOUT_S = LOCK_TIMEOUT_S
# A retriable failure comes back this long after attempt 1, 2, … (or when the provider's Retry-After says).
RETRY_DELAYS_S = (5, 10, 20, 40, 60, 120, 240)
# A run the provider rate-limited, or whose object was locked, is deferred: it comes again after the
# wait without spending an attempt (the provider asked for later, nothing failed), this often at most.
MAX_DEFERRALS = 30
DEFER_CODES = ("provider_rate_limited", "busy")
WORKER_CALL_WAIT_S = 5.0    # the longest a worker's API call sleeps for retries; beyond, the run is re-queued
ORPHAN_AFTER_S = 10 * 60    # a run queued this long without a waiting job lost it (e.g. Redis restarted)
UNQUEUED_AFTER_S = 30       # a run stored while Redis was away (no job id) is handed to the queue by the cron after this


def register_flow(name: str, func: FlowFunc) -> None:
    if name in FLOWS and FLOWS[name] is not func:
        raise ValueError(f"flow {name!r} registered twice")
    FLOWS[name] = func


def register_finish_hook(hook: Callable[[SyncRun], None]) -> None:
    if hook not in FINISH_HOOKS:
        FINISH_HOOKS.append(hook)


def flow(name: str):
    """Register the decorated function as flow ``name`` (the connector's flows are listed in the registry)."""
    def register(func: FlowFunc) -> FlowFunc:
        register_flow(name, func)
        return func

    return register


def registered_flows() -> dict[str, FlowFunc]:
    return FLOWS


def start_run(
    flow_name: str,
    *,
    portal_id: int | None,
    object_type: str | None = None,
    object_id: str | None = None,
    params: dict | None = None,
    inbox_event_id: int | None = None,
    queue: str = "default",
    coalesce: bool = True,
) -> SyncRun:
    """Record a run and hand it to the worker. With ``coalesce``, a run for the same flow and
    object that is still waiting in the queue absorbs this request instead of a second job."""
    if flow_name not in registered_flows():
        raise ValueError(f"unknown flow {flow_name!r}")
    if coalesce:
        waiting = db.session.execute(
            db.select(SyncRun).where(
                SyncRun.portal_id == portal_id,
                SyncRun.flow == flow_name,
                SyncRun.object_type == object_type,
                SyncRun.object_id == object_id,
                SyncRun.status == "queued",
            ).limit(1)
        ).scalar_one_or_none()
        if waiting is not None and (waiting.params or {}) == (params or {}) and _absorbs(waiting):
            return waiting
    run = SyncRun(portal_id=portal_id, flow=flow_name, object_type=object_type, object_id=object_id, params=params or {},
                  inbox_event_id=inbox_event_id, status="queued")
    db.session.add(run)
    db.session.commit()
    try:
        enqueue_run(run, queue=queue)
    except (RedisError, OSError) as exc:  # stored is what counts: the cron hands it over (UNQUEUED_AFTER_S)
        log.warning("job.enqueue_deferred", extra={"run_id": run.id, "flow": flow_name, "error": type(exc).__name__})
    return run


def _absorbs(waiting: SyncRun) -> bool:
    """Whether a queued run of the same request will still run (one stored while Redis was away will)."""
    try:
        return waiting.job_id is None or _job_waiting(waiting)
    except (RedisError, OSError):
        return False


def _job_waiting(run: SyncRun) -> bool:
    """Whether the run's RQ job is still there to run it (a run whose job was lost must not absorb others)."""
    if not run.job_id:
        return False
    # The status field alone (a webhook storm asks this once per hook; the whole job need not be read).
    status = redis_connection().hget(Job.key_for(run.job_id), "status")
    if isinstance(status, bytes):
        status = status.decode()
    return status in _WAITING_STATUSES


_WAITING_STATUSES = frozenset(s.value for s in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED))


def enqueue_run(run: SyncRun, queue: str = "default", delay_s: float | None = None) -> None:
    """Enqueue after the row is committed, so the worker always finds it; with ``delay_s`` as an RQ
    scheduled job (the workers' scheduler queues it then), so nothing sleeps in a worker."""
    kwargs = dict(
        job_id=f"run-{run.id}-{run.attempts + 1}" + (f"-{uuid.uuid4().hex[:8]}" if delay_s is not None else ""),
        description=f"{run.flow} {run.object_type or 'portal'} {run.object_id or run.portal_id}",
        job_timeout=JOB_TIMEOUT_S,
        # Lost workers and broken connections to Redis: RQ tries again; flow failures are ours to record.
        retry=Retry(max=2, interval=[10, 60]),
    )
    if delay_s is None:
        job = get_queue(queue).enqueue("backend.jobs.runs.execute_run", run.id, **kwargs)
    else:
        job = get_queue(queue).enqueue_in(timedelta(seconds=max(1.0, delay_s)), "backend.jobs.runs.execute_run", run.id, **kwargs)
    run.job_id = job.id
    db.session.commit()


def _origin_queue() -> str:
    current = get_current_job()
    return current.origin if current is not None and current.origin in ("high", "default", "low") else "default"


class Busy(HubwerkError):
    """Another process holds the object's lock; the run gave way (``run_now(..., give_way=True)``)."""

    code = "busy"
    status = 409


def run_now(flow_name: str, *, wait_s: float = 10.0, give_way: bool = False, **kwargs) -> SyncRun:
    """Record a run and execute it in this process (a card button waiting for its answer, the CLI).

    When another process holds the object's lock longer than ``wait_s``, the run is handed to the
    worker (without Redis, to take no lock: left for the cron) and comes back still ``queued``;
    with ``give_way`` it is recorded as skipped and :class:`Busy` is raised. Its ``inline-`` job id
    says this process runs it: no other request is absorbed into it, and the cron leaves it alone.
    """
    if flow_name not in registered_flows():
        raise ValueError(f"unknown flow {flow_name!r}")
    queue = kwargs.pop("queue", "high")
    run = SyncRun(flow=flow_name, status="queued", portal_id=kwargs.pop("portal_id"), params=kwargs.pop("params", None) or {},
                  job_id=f"inline-{uuid.uuid4().hex[:16]}", **kwargs)
    db.session.add(run)
    db.session.commit()
    try:
        outcome = execute_run(run.id, wait_s=wait_s, hand_over_when_busy=True)
    except (RedisError, OSError) as exc:
        # No lock without Redis: the run stays queued, jobless, for the cron (UNQUEUED_AFTER_S), as in start_run.
        log.warning("job.run_now_deferred", extra={"run_id": run.id, "flow": flow_name, "error": type(exc).__name__})
        db.session.rollback()
        db.session.refresh(run)
        if run.status == "queued":
            run.job_id = None
            db.session.commit()
        return run
    if outcome == "busy":
        if give_way:
            db.session.refresh(run)
            run.status, run.error, run.finished_at = "skipped", "Another run of this flow for the same object was running.", utcnow()
            db.session.commit()
            raise Busy(f"A {flow_name.replace('_', ' ')} run for {run.object_type or 'the portal'} {run.object_id or ''} is running already.".replace("  ", " "))
        enqueue_run(run, queue=queue)
    db.session.refresh(run)
    return run


def execute_run(run_id: int, wait_s: float = LOCK_WAIT_S, hand_over_when_busy: bool = False) -> str:
    """RQ entry point. Idempotent on ``run_id``: a finished run is not executed again."""
    with app_context():
        run = db.session.get(SyncRun, run_id)
        if run is None:
            log.warning("job.run.missing", extra={"run_id": run_id})
            return "missing"
        if run.status in ("succeeded", "skipped"):
            return run.status
        token = job_id_var.set(run.job_id)
        lease = run_lock(run)
        try:
            if not lease.acquire(wait_s=wait_s):
                if hand_over_when_busy:
                    return "busy"
                # Another live run works on this object: give the worker back, come again shortly.
                enqueue_run(run, queue=_origin_queue(), delay_s=BUSY_DELAY_S * (1 + random.random()))
                log.info("job.run.busy_requeued", extra={"run_id": run.id, "flow": run.flow})
                return "busy"
            try:
                if get_current_job() is None:
                    return _execute_locked(run)
                with short_waits(WORKER_CALL_WAIT_S):
                    return _execute_locked(run)
            finally:
                lease.release()
        finally:
            job_id_var.reset(token)


def _execute_locked(run: SyncRun) -> str:
    db.session.refresh(run)
    if run.status in ("succeeded", "skipped"):
        return run.status
    current = get_current_job()
    if current is not None and run.job_id and current.id != run.job_id:
        return run.status  # another job (a batch that took this run along) worked it meanwhile
    run.status = "running"
    run.attempts += 1
    run.started_at = utcnow()
    run.error = None
    db.session.commit()
    log.info("job.run.started", extra={"run_id": run.id, "flow": run.flow, "object_id": run.object_id, "attempt": run.attempts})
    try:
        counts = registered_flows()[run.flow](run)
    except Skip as skip:
        _finish(run, "skipped", error=str(skip) or None)
    except FoundProblems as found:
        if found.counts:
            run.counts = found.counts
        _finish(run, "succeeded", error=found.message)
        log.info("job.run.found_problems", extra={"run_id": run.id, "flow": run.flow, "counts": found.counts})
    except HubwerkError as exc:
        db.session.rollback()
        wait = _deferrable(exc)
        if wait is not None and _defer(run, exc, wait):
            return run.status
        _finish(run, "failed", error=exc.message, retriable=exc.retriable, retry_after=getattr(exc, "retry_after", None))
        log.warning("job.run.failed", extra={"run_id": run.id, "flow": run.flow, "error_code": exc.code, "retriable": exc.retriable})
    except Exception as exc:  # a bug or an outage we did not foresee: keep it visible and replayable
        db.session.rollback()
        _finish(run, "failed", error=f"Internal error ({type(exc).__name__}); the run can be replayed once the cause is fixed.", retriable=True)
        log.exception("job.run.crashed", extra={"run_id": run.id, "flow": run.flow})
    else:
        if counts:
            run.counts = counts
        _finish(run, "succeeded")
        log.info("job.run.succeeded", extra={"run_id": run.id, "flow": run.flow, "counts": counts or {}})
    return run.status


def _deferrable(exc: BaseException) -> float | None:
    """The wait a rate limit or a busy lock asked for, when that is why the run stopped (flows often
    wrap the client's error in their own: the chain is followed)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, HubwerkError) and exc.code in DEFER_CODES:
            return float(getattr(exc, "retry_after", None) or BUSY_DELAY_S)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _defer(run: SyncRun, exc: HubwerkError, wait: float) -> bool:
    """Back to the queue as a scheduled job, the attempt not spent (only inside a worker)."""
    if get_current_job() is None:
        return False
    key = f"hubwerk:deferrals:run-{run.id}"
    try:
        count = redis_connection().incr(key)
        redis_connection().expire(key, 86400)
    except Exception:
        return False
    if count > MAX_DEFERRALS:
        return False
    delay = wait * (1 + random.random() / 4)
    run.attempts -= 1
    run.status, run.error, run.started_at = "queued", f"{exc.message} (deferred, comes again in {delay:.0f} s)", None
    run.next_retry_at = utcnow() + timedelta(seconds=delay)
    db.session.commit()
    enqueue_run(run, queue=_origin_queue(), delay_s=delay)
    log.info("job.run.deferred", extra={"run_id": run.id, "flow": run.flow, "error_code": exc.code, "delay_s": round(delay, 1)})
    return True


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until a retriable failure is tried again: the schedule, or the provider's wish if longer."""
    base = RETRY_DELAYS_S[min(max(attempts, 1), len(RETRY_DELAYS_S)) - 1]
    return max(float(base), float(retry_after or 0)) * (1 + random.random() / 4)


def _finish(run: SyncRun, status: str, error: str | None = None, retriable: bool = False,
            retry_after: float | None = None, retry_in_s: float | None = None) -> None:
    run.status = status
    run.error = error
    run.retriable = retriable
    run.finished_at = utcnow()
    again = retriable and run.attempts < MAX_ATTEMPTS
    delay = (retry_in_s if retry_in_s is not None else retry_delay(run.attempts, retry_after)) if again else None
    run.next_retry_at = run.finished_at + timedelta(seconds=delay) if again else None
    db.session.commit()
    for hook in FINISH_HOOKS:
        try:
            hook(run)
        except Exception:  # a hook must never turn a recorded outcome into a crash
            db.session.rollback()
            log.exception("job.run.finish_hook_failed", extra={"run_id": run.id})
    if again:
        # An RQ scheduled job, not a sleep: the worker is free meanwhile. Should Redis refuse, the cron's
        # retry_failed_runs replays the run once next_retry_at has passed.
        try:
            enqueue_run(run, queue=_origin_queue() if get_current_job() is not None else "low", delay_s=delay if delay >= 1 else None)
        except Exception:
            db.session.rollback()
            log.warning("job.run.retry_not_scheduled", extra={"run_id": run.id})


def report_progress(run: SyncRun, counts: dict, add: bool = False, stage: str | None = None) -> None:
    """Visible progress for long runs: stored on the run (pages poll it) and told to listeners."""
    current = dict(run.counts or {})
    for key, value in counts.items():
        current[key] = current.get(key, 0) + value if add else value
    run.counts = current
    db.session.commit()
    for listener in PROGRESS_LISTENERS:
        listener(run, stage)


def run_lock(run: SyncRun, timeout: float = LOCK_TIMEOUT_S) -> Lease:
    """The lock a run's job holds while it works (a batch takes it for the runs it works along): a
    lease its process renews, naming the run, gone within ``LEASE_S`` of the holder's death.
    (``timeout`` is kept for callers; a lease lives as long as its holder.)"""
    return Lease(redis_connection(), _lock_name(run), owner=f"run-{run.id}")


def holder_alive(run: SyncRun) -> bool:
    """Whether a live process holds this run's lease (``False`` once its holder died)."""
    return holder(redis_connection(), _lock_name(run)) == f"run-{run.id}"


def finish_run(run: SyncRun, status: str, error: str | None = None, retriable: bool = False) -> None:
    """Record how a run ended (and tell the finish hooks), for runs worked on in a batch."""
    _finish(run, status, error=error, retriable=retriable)


def _lock_name(run: SyncRun) -> str:
    # No request data in the key: one lock per flow and object, whoever asked, so two requests for one
    # object (a webhook and a button) never run side by side.
    return f"hubwerk:lock:{run.flow}:{run.portal_id}:{run.object_type}:{run.object_id}"


def replay_run(run: SyncRun, queue: str = "default") -> SyncRun:
    """Queue a failed (or stuck) run again; its history of attempts is kept."""
    if run.status == "queued" and _job_waiting(run):
        return run
    if run.status == "succeeded":
        raise FlowError(f"Run {run.id} already succeeded; start a new run instead of replaying it.", code="already_succeeded", status=409)
    run.status = "queued"
    run.next_retry_at = None
    db.session.commit()
    enqueue_run(run, queue=queue)
    return run


def recover_stuck_runs() -> dict:
    """Cron (every 20 s): a run that says *running* but whose lease has no holder any more (its
    process died: ``kill -9``, a deploy, a web request that timed out) becomes failed-retriable and
    is queued again at once; queued runs whose job was lost, or that were stored while Redis was
    away, are queued again. A missing lease is only believed when a later pass still misses it (a
    live holder re-takes a lease Redis lost within ``RENEW_EVERY_S``). Nothing stays stuck."""
    with app_context():
        now = utcnow()
        redis = redis_connection()
        interrupted = []
        for run in db.session.execute(db.select(SyncRun).where(SyncRun.status == "running")).scalars().all():
            started = run.started_at or now
            if started >= now - timedelta(seconds=LEASE_S):
                continue
            if started < now - timedelta(seconds=JOB_TIMEOUT_S) or _lost_holder(redis, run, now):
                interrupted.append(run)
        for run in interrupted:
            _finish(run, "failed", error="The run was interrupted (its process ended) and will be retried.", retriable=True, retry_in_s=0.0)
        orphans = [run for run in db.session.execute(db.select(SyncRun).where(SyncRun.status == "queued", db.or_(
            db.and_(SyncRun.job_id.is_(None), SyncRun.created_at < now - timedelta(seconds=UNQUEUED_AFTER_S)),
            SyncRun.created_at < now - timedelta(seconds=ORPHAN_AFTER_S)))).scalars() if not _job_waiting(run)]
        for run in orphans:  # stored while Redis was away: a click or an action someone waits for
            enqueue_run(run, queue="high" if run.job_id is None else "low")
        if interrupted or orphans:
            log.warning("job.recover_stuck_runs", extra={"interrupted": len(interrupted), "requeued": len(orphans)})
        return {"interrupted": len(interrupted), "requeued": len(orphans)}


def _lost_holder(redis, run: SyncRun, now) -> bool:
    key = f"hubwerk:lease-missing:run-{run.id}"
    if holder_alive(run):
        redis.delete(key)
        return False
    first = redis.set(key, now.timestamp(), nx=True, ex=3600)
    if first:
        return False  # seen missing once: believed on a later pass
    since = float(redis.get(key) or now.timestamp())
    if now.timestamp() - since < RENEW_EVERY_S + 1:
        return False
    redis.delete(key)
    return True


def is_stuck(run: SyncRun) -> bool:
    """A run that says running but whose process cannot still be at it."""
    return run.status == "running" and run.started_at is not None and run.started_at < utcnow() - timedelta(seconds=JOB_TIMEOUT_S)


def retry_failed_runs() -> int:
    """Cron: replay runs that failed for a reason that may have passed (outages, rate limits),
    with exponential backoff, up to ``MAX_ATTEMPTS``."""
    with app_context():
        due = db.session.execute(
            db.select(SyncRun).where(
                SyncRun.status == "failed",
                SyncRun.retriable.is_(True),
                SyncRun.attempts < MAX_ATTEMPTS,
                SyncRun.next_retry_at <= utcnow(),
            ).limit(500)
        ).scalars().all()
        due = [run for run in due if not _job_waiting(run)]  # its scheduled retry is still coming
        for run in due:
            replay_run(run, queue="low")
        if due:
            current_app.logger.info("job.retry_failed_runs", extra={"replayed": len(due)})
        return len(due)

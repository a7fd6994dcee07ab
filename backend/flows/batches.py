"""Runs that wait together are worked off together.

Every request (a webhook, a card button, a workflow action) still becomes its own run of its
own deal — visible, replayable, completing its own workflow callback — but the first of them a
worker picks up takes the other queued runs of the same flow and portal along: their deals are
read from HubSpot in one round of batch reads and written back in one batch update, instead of
one round trip per deal.

A run is taken along only if its lock can be had at once (the same lock its own job would take),
so no run is ever worked by two workers; its own job later finds it finished and does nothing.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass

from rq.job import Job, JobStatus

from backend.errors import FlowError, Skip
from backend.extensions import db
from backend.flows.callbacks import callbacks_together
from backend.jobs import redis_connection
from backend.jobs.runs import LOCK_TIMEOUT_S, finish_run, run_lock
from backend.models import SyncRun, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 100   # HubSpot's batch reads and updates take 100 records a call


@dataclass
class Outcome:
    """How one run of a batch ended: ``succeeded`` with counts, ``failed`` or ``skipped`` with why."""

    status: str
    counts: dict | None = None
    error: str | None = None
    retriable: bool = False

    @classmethod
    def ok(cls, **counts) -> "Outcome":
        return cls("succeeded", counts=counts)

    @classmethod
    def failed(cls, error: str, retriable: bool = False) -> "Outcome":
        return cls("failed", error=error, retriable=retriable)

    @classmethod
    def skipped(cls, why: str) -> "Outcome":
        return cls("skipped", error=why)


class Batch:
    def __init__(self, leader: SyncRun, members: list[tuple[SyncRun, object]]):
        self.leader = leader
        self._members = members
        self._done: set[int] = set()

    @property
    def runs(self) -> list[SyncRun]:
        return [self.leader] + [run for run, _ in self._members]

    @property
    def object_ids(self) -> list[str]:
        return list(dict.fromkeys(str(run.object_id) for run in self.runs))

    def finish(self, outcomes: dict[str, Outcome]) -> dict | None:
        """Record every member's outcome (by object id); returns the leader's counts, or raises
        its failure/skip for the run machinery to record."""
        with callbacks_together(self.leader.portal_id):
            for run, _ in self._members:
                outcome = outcomes.get(str(run.object_id)) or Outcome.failed("The deal was not worked on; replay the run.", True)
                if outcome.counts:
                    run.counts = outcome.counts
                finish_run(run, outcome.status, error=outcome.error, retriable=outcome.retriable)
                self._done.add(run.id)
        mine = outcomes.get(str(self.leader.object_id)) or Outcome.failed("The deal was not worked on; replay the run.", True)
        if mine.status == "skipped":
            raise Skip(mine.error or "Nothing to do.")
        if mine.status == "failed":
            raise FlowError(mine.error or "Failed.", retriable=mine.retriable)
        return mine.counts

    def abandon(self, error: str) -> None:
        for run, _ in self._members:
            if run.id not in self._done:
                finish_run(run, "failed", error=error, retriable=True)

    def release(self) -> None:
        for _, lock in self._members:
            try:
                lock.release()
            except Exception:  # expired meanwhile: nothing to give back
                log.warning("flow.batch.lock_lost", extra={"run_id": self.leader.id})


def _claim(leader: SyncRun, limit: int) -> list[tuple[SyncRun, object]]:
    candidates = db.session.execute(db.select(SyncRun).where(
        SyncRun.portal_id == leader.portal_id, SyncRun.flow == leader.flow, SyncRun.status == "queued",
        SyncRun.id != leader.id).order_by(SyncRun.id).limit(limit * 2)).scalars().all()
    members, seen, superseded = [], {str(leader.object_id)}, []
    for run in candidates:
        if len(members) >= limit - 1:
            break
        if str(run.object_id) in seen:  # the same deal twice: the second run works on its own, after this one
            continue
        lock = run_lock(run, timeout=LOCK_TIMEOUT_S)
        if not lock.acquire(blocking=False):
            continue
        db.session.refresh(run)
        if run.status != "queued":
            lock.release()
            continue
        seen.add(str(run.object_id))
        if run.job_id and run.job_id != leader.job_id:
            superseded.append(run.job_id)
        run.status, run.started_at, run.error = "running", utcnow(), None
        run.attempts += 1
        run.job_id = leader.job_id   # its own job, if it still comes, sees the run was worked by another

        members.append((run, lock))
    db.session.commit()
    _drop_jobs(superseded)
    return members


def _drop_jobs(job_ids: list[str]) -> None:
    """The queued jobs of runs a batch took along are taken off their queues: a worker would only
    start each to find its run done (a fork apiece — in a storm, thousands). Best effort: a job left
    behind does no harm."""
    if not job_ids:
        return
    try:
        connection = redis_connection()
        with connection.pipeline() as pipe:
            for job in Job.fetch_many(job_ids, connection=connection):
                if job is not None and job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
                    job.delete(pipeline=pipe, remove_from_queue=True)
            pipe.execute()
    except Exception:  # noqa: BLE001 — Redis away: the jobs run and find their runs done
        log.warning("flow.batch.jobs_not_dropped", extra={"jobs": len(job_ids)})


@contextmanager
def batch_of(leader: SyncRun, limit: int = BATCH_SIZE):
    """The leader run plus the queued runs of its flow and portal it can take along."""
    batch = Batch(leader, _claim(leader, limit))
    if len(batch.runs) > 1:
        log.info("flow.batch.claimed", extra={"run_id": leader.id, "flow": leader.flow, "runs": len(batch.runs)})
    try:
        yield batch
    except BaseException as exc:
        db.session.rollback()
        message = exc.message if isinstance(exc, FlowError) else f"The batch this run was part of stopped ({type(exc).__name__}); it will be retried."
        batch.abandon(message)
        raise
    finally:
        batch.release()

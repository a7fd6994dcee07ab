"""The connector's schedule for ``flask --app backend cron`` (RQ's own cron scheduler)."""
from __future__ import annotations

from rq.cron import CronScheduler

from backend.jobs.runs import retry_failed_runs

# (function, queue, schedule) — tests enumerate this table.
SCHEDULE = [
    (retry_failed_runs, "low", {"interval": 300}),
]


def build_scheduler(connection) -> CronScheduler:
    scheduler = CronScheduler(connection=connection, name="hubwerk-cron")
    for func, queue_name, when in SCHEDULE:
        scheduler.register(func, queue_name=queue_name, **when)
    return scheduler

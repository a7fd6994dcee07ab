"""RQ's cron scheduler for ``flask --app backend cron``; the table of what runs when is
``backend.registry.SCHEDULE``."""
from __future__ import annotations

from rq.cron import CronScheduler

def build_scheduler(connection, schedule) -> CronScheduler:
    """``schedule``: rows of (function, queue, ``{"interval": seconds}`` or ``{"cron": "m h dom mon dow"}``)."""
    scheduler = CronScheduler(connection=connection, name="hubwerk-cron")
    for func, queue_name, when in schedule:
        scheduler.register(func, queue_name=queue_name, **when)
    return scheduler

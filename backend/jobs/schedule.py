"""The connector's schedule for ``flask --app backend cron`` (RQ's own cron scheduler)."""
from __future__ import annotations

from rq.cron import CronScheduler

from backend.jobs.runs import recover_stuck_runs, retry_failed_runs


def sync_products_everywhere() -> int:
    """Cron: start the product sync of every active portal with a billwerk account (every 12 hours)."""
    from backend.flows.catalog_sync import start_all_syncs
    from backend.jobs.runtime import app_context

    with app_context():
        return start_all_syncs()


# (function, queue, schedule) — tests enumerate this table.
SCHEDULE = [
    (retry_failed_runs, "low", {"interval": 300}),
    (recover_stuck_runs, "low", {"interval": 600}),
    (sync_products_everywhere, "low", {"cron": "0 */12 * * *"}),
]


def build_scheduler(connection) -> CronScheduler:
    scheduler = CronScheduler(connection=connection, name="hubwerk-cron")
    for func, queue_name, when in SCHEDULE:
        scheduler.register(func, queue_name=queue_name, **when)
    return scheduler

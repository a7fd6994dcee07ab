"""RQ's cron scheduler for ``flask --app backend cron``; the table of what runs when is
``backend.registry.SCHEDULE``.

RQ's own loop ends the process on the first Redis error; this one logs, waits and carries on,
so the sweeps resume by themselves once Redis is back."""
from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rq.cron import CronScheduler

log = logging.getLogger(__name__)
OUTAGE_PAUSE_S = 2.0


class HubwerkCron(CronScheduler):
    _redis_down = False

    def _survive(self, step, default=None):
        try:
            result = step()
        except (RedisError, OSError) as exc:
            if not self._redis_down:
                log.warning("cron.redis_unavailable", extra={"error": type(exc).__name__})
            self._redis_down = True
            return default
        if self._redis_down:
            log.info("cron.redis_back")
            self._redis_down = False
        return result

    def enqueue_jobs(self):
        return self._survive(super().enqueue_jobs, [])

    def save(self, pipeline=None):
        return self._survive(lambda: super(HubwerkCron, self).save(pipeline))

    def heartbeat(self):
        return self._survive(super().heartbeat)

    def calculate_sleep_interval(self) -> float:
        interval = super().calculate_sleep_interval()
        return max(interval, OUTAGE_PAUSE_S) if self._redis_down else interval


def build_scheduler(connection, schedule) -> CronScheduler:
    """``schedule``: rows of (function, queue, ``{"interval": seconds}`` or ``{"cron": "m h dom mon dow"}``)."""
    scheduler = HubwerkCron(connection=connection, name="hubwerk-cron")
    for func, queue_name, when in schedule:
        scheduler.register(func, queue_name=queue_name, **when)
    return scheduler

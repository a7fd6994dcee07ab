"""Issue 18 points 3 and 4: locks that know their holder, busy runs and retriable failures that go
back to the queue as RQ scheduled jobs instead of holding a worker, calls that do not sleep long
inside a worker. Deterministic: expiry through tiny lease times, missing leases through the cron's
own bookkeeping, no waiting on real rate windows."""
import logging
import time
from datetime import timedelta

import pytest
import requests
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from backend.clients.base import BaseClient, RateLimited, ServerError
from backend.clients.ratelimit import RateLimitTimeout, RedisRateLimiter
from backend.clients.waits import short_waits
from backend.errors import FlowError
from backend.extensions import db
from backend.jobs import QUEUE_NAMES, get_queue
from backend.jobs.leases import Lease, LockBusy, _keeper, holder
from backend.jobs.runs import _lock_name, execute_run, flow, recover_stuck_runs, run_lock, start_run
from backend.models import SyncRun, utcnow

CALLS = []


@flow("test_lease_flow")
def lease_flow(run):
    CALLS.append(run.id)
    if run.params.get("fail") == "rate":
        raise RateLimited("slow down", provider="hubspot", method="GET", path="/x", retry_after=40.0)
    if run.params.get("fail") == "outage":
        raise FlowError("billwerk answered 503", retriable=True)
    return {"ok": 1}


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()


def work(redis):
    SimpleWorker([get_queue(q) for q in QUEUE_NAMES], connection=redis).work(burst=True)


def scheduled(redis, queue="default"):
    return ScheduledJobRegistry(queue=get_queue(queue)).get_job_ids()


# --- the lease ------------------------------------------------------------------------------------

def test_a_lease_is_exclusive_names_its_holder_and_is_released(app, redis):
    with app.app_context():
        first = Lease(redis, "hubwerk:test:lease", owner="run-1")
        second = Lease(redis, "hubwerk:test:lease", owner="run-2")
        assert first.acquire() and not second.acquire(wait_s=0.3)
        assert holder(redis, "hubwerk:test:lease") == "run-1"
        first.release()
        assert holder(redis, "hubwerk:test:lease") is None
        assert second.acquire()
        second.release()


def test_a_lease_whose_holder_died_is_gone_within_its_time(redis):
    dead = Lease(redis, "hubwerk:test:dead", owner="run-7", ttl_s=0.3)
    assert dead.acquire()
    _keeper().discard(dead)  # its process is gone: nobody renews it
    time.sleep(0.5)
    assert holder(redis, "hubwerk:test:dead") is None
    assert Lease(redis, "hubwerk:test:dead", owner="run-8").acquire()


def test_the_keeper_renews_held_leases_and_retakes_a_vanished_one(redis, caplog):
    lease = Lease(redis, "hubwerk:test:kept", owner="run-3", ttl_s=2)
    assert lease.acquire()
    redis.pexpire("hubwerk:test:kept", 100)
    _keeper().renew_all()
    assert redis.pttl("hubwerk:test:kept") > 1500
    redis.delete("hubwerk:test:kept")  # Redis restarted without it
    _keeper().renew_all()
    assert holder(redis, "hubwerk:test:kept") == "run-3"
    redis.set("hubwerk:test:kept", "run-9:other")  # someone else took it meanwhile: not stolen back
    with caplog.at_level(logging.WARNING, logger="backend.jobs.leases"):
        assert lease.renew() is False and holder(redis, "hubwerk:test:kept") == "run-9"
        assert lease.renew() is False and not lease.held
    assert [r.getMessage() for r in caplog.records if r.name == "backend.jobs.leases"] == ["lease.lost"]  # once, not every 10 s
    lease.release()
    assert holder(redis, "hubwerk:test:kept") == "run-9"  # release never frees another's lock


def test_company_lock_gives_way_with_a_retriable_error(ctx, redis):
    from backend.flows.locks import company_lock

    class P:
        id = 1

    with company_lock(P, "42"):
        with pytest.raises(LockBusy) as busy:
            with company_lock(P, "42", wait_s=0.1):
                pass
    assert busy.value.retriable
    with company_lock(P, "42", wait_s=0):
        pass


# --- runs -------------------------------------------------------------------------------------------

def test_a_busy_run_goes_back_to_the_queue_without_holding_the_worker(ctx, redis):
    run = start_run("test_lease_flow", portal_id=None, object_type="company", object_id="1")
    other = Lease(redis, _lock_name(run), owner="run-999")
    assert other.acquire()
    started = time.monotonic()
    work(redis)
    assert time.monotonic() - started < 5
    db.session.refresh(run)
    assert run.status == "queued" and CALLS == []
    assert run.job_id in scheduled(redis)
    other.release()
    # RQ's scheduler (in every worker) would move it to the queue when due; done by hand here.
    ScheduledJobRegistry(queue=get_queue("default")).remove(run.job_id)
    from rq.job import Job
    get_queue("default").enqueue_job(Job.fetch(run.job_id, connection=redis))
    work(redis)
    db.session.refresh(run)
    assert run.status == "succeeded" and CALLS == [run.id]


def test_a_retriable_failure_is_rescheduled_soon_not_slept_on(ctx, redis):
    run = start_run("test_lease_flow", portal_id=None, object_id="outage", params={"fail": "outage"})
    work(redis)
    db.session.refresh(run)
    assert run.status == "failed" and run.retriable and run.attempts == 1
    assert 5 <= (run.next_retry_at - run.finished_at).total_seconds() <= 5 * 1.3
    assert run.job_id in scheduled(redis)


def test_a_rate_limited_run_is_deferred_without_spending_an_attempt(ctx, redis):
    run = start_run("test_lease_flow", portal_id=None, object_id="rate", params={"fail": "rate"})
    work(redis)
    db.session.refresh(run)
    assert run.status == "queued" and run.attempts == 0 and "deferred" in run.error
    assert 40 <= (run.next_retry_at - utcnow()).total_seconds() <= 40 * 1.3
    assert run.job_id in scheduled(redis)


def test_a_wrapped_rate_limit_is_still_deferred(ctx, redis):
    from backend.jobs.runs import _deferrable

    try:
        try:
            raise RateLimited("slow", provider="billwerk", method="POST", path="/c", retry_after=12.0)
        except RateLimited:
            raise FlowError("billwerk is not answering properly; the import will be retried.", retriable=True) from None
    except FlowError as wrapped:
        assert _deferrable(wrapped) == 12.0
    assert _deferrable(FlowError("no", retriable=True)) is None


def test_a_run_whose_holder_died_is_recovered_within_two_passes(ctx, redis):
    run = start_run("test_lease_flow", portal_id=None, object_id="killed")
    work(redis)
    db.session.refresh(run)
    run.status, run.started_at = "running", utcnow() - timedelta(seconds=90)  # as when its work horse was killed
    alive = start_run("test_lease_flow", portal_id=None, object_id="alive")
    work(redis)
    db.session.refresh(alive)
    alive.status, alive.started_at = "running", utcnow() - timedelta(seconds=90)
    db.session.commit()
    lease = run_lock(alive)
    assert lease.acquire()
    try:
        assert recover_stuck_runs()["interrupted"] == 0  # a missing lease is believed on a later pass
        redis.set(f"hubwerk:lease-missing:run-{run.id}", (utcnow() - timedelta(seconds=25)).timestamp())
        assert recover_stuck_runs()["interrupted"] == 1
    finally:
        lease.release()
    db.session.refresh(run)
    db.session.refresh(alive)
    assert run.status == "failed" and run.retriable and alive.status == "running"
    assert run.next_retry_at == run.finished_at  # queued again at once, not scheduled
    assert run.job_id in get_queue("low").job_ids


def test_a_recent_run_is_left_alone(ctx, redis):
    run = start_run("test_lease_flow", portal_id=None, object_id="young")
    work(redis)
    db.session.refresh(run)
    run.status, run.started_at = "running", utcnow()
    db.session.commit()
    redis.set(f"hubwerk:lease-missing:run-{run.id}", (utcnow() - timedelta(seconds=60)).timestamp())
    assert recover_stuck_runs()["interrupted"] == 0


def test_execute_run_is_idempotent_after_recovery(ctx, redis):
    run = start_run("test_lease_flow", portal_id=None, object_id="twice")
    work(redis)
    assert execute_run(run.id) == "succeeded" and CALLS == [run.id]


# --- calls inside a worker ----------------------------------------------------------------------------

class _Session:
    def __init__(self, responses):
        self.responses = list(responses)

    def request(self, method, url, **kw):
        status, headers = self.responses.pop(0)
        resp = requests.Response()
        resp.status_code, resp._content = status, b"{}"
        resp.headers.update(headers)
        return resp


def test_a_long_retry_after_is_not_slept_in_a_worker():
    sleeps = []
    client = BaseClient("http://x", session=_Session([(429, {"Retry-After": "30"}), (200, {})]), sleep=sleeps.append)
    with short_waits(5.0):
        with pytest.raises(RateLimited) as err:
            client.call("GET", "/a")
    assert sleeps == [] and err.value.retry_after == 30 and err.value.retriable
    client = BaseClient("http://x", session=_Session([(429, {"Retry-After": "30"}), (200, {})]), sleep=sleeps.append)
    assert client.request("GET", "/a").status_code == 200 and len(sleeps) == 1  # the CLI still waits


def test_short_5xx_backoffs_still_happen_in_a_worker_but_not_beyond_the_limit():
    sleeps = []
    client = BaseClient("http://x", session=_Session([(503, {}), (200, {})]), sleep=sleeps.append)
    with short_waits(5.0):
        assert client.request("GET", "/a").status_code == 200
    assert len(sleeps) == 1 and sleeps[0] <= 0.5
    client = BaseClient("http://x", session=_Session([(503, {})] * 5), sleep=sleeps.append)
    client.backoff_base_s = 4.0
    with short_waits(5.0), pytest.raises(ServerError) as err:
        client.request("GET", "/a")
    assert sum(sleeps[1:]) <= 5.0 and err.value.retriable


def test_the_shared_rate_limit_is_not_waited_for_in_a_worker(redis):
    slept = []
    limiter = RedisRateLimiter(redis, "test:worker-wait", 1, 30.0, sleep=slept.append)
    limiter.reset()
    limiter.acquire()
    with short_waits(5.0), pytest.raises(RateLimitTimeout) as err:
        limiter.acquire()
    assert slept == [] and 25 < err.value.retry_after <= 31.5
    limiter.reset()

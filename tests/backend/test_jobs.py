import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from rq import SimpleWorker

from backend.errors import FlowError, Skip
from backend.extensions import db
from backend.jobs import QUEUE_NAMES, get_queue
from backend.jobs.runs import execute_run, flow, replay_run, retry_failed_runs, start_run
from backend.jobs.schedule import build_scheduler
from backend.registry import SCHEDULE
from backend.models import SyncRun, utcnow
from tests.conftest import app_environ

CALLS = []


@flow("test_counting")
def counting(run):
    CALLS.append(run.object_id)
    if run.params.get("fail") == "expected":
        raise FlowError("Postal code is missing", retriable=False)
    if run.params.get("fail") == "outage":
        raise FlowError("billwerk answered 503", retriable=True)
    if run.params.get("fail") == "bug":
        raise KeyError("oops")
    if run.params.get("skip"):
        raise Skip("already imported")
    return {"written": 1}


def work(redis):
    SimpleWorker([get_queue(q) for q in QUEUE_NAMES], connection=redis).work(burst=True)


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def test_run_is_stored_then_executed_and_recorded(ctx, redis):
    run = start_run("test_counting", portal_id=None, object_type="company", object_id="7")
    assert run.status == "queued" and run.job_id
    work(redis)
    db.session.refresh(run)
    assert run.status == "succeeded" and run.attempts == 1 and run.counts == {"written": 1}
    assert run.started_at and run.finished_at
    assert CALLS == ["7"]


def test_execution_is_idempotent_on_the_run_id(ctx, redis):
    run = start_run("test_counting", portal_id=None, object_type="company", object_id="8")
    work(redis)
    assert execute_run(run.id) == "succeeded"
    assert CALLS == ["8"]


def test_waiting_runs_coalesce(ctx, redis):
    first = start_run("test_counting", portal_id=None, object_type="company", object_id="9")
    second = start_run("test_counting", portal_id=None, object_type="company", object_id="9")
    other = start_run("test_counting", portal_id=None, object_type="company", object_id="10")
    assert first.id == second.id != other.id
    work(redis)
    assert sorted(CALLS) == ["10", "9"]


def test_a_run_stored_without_its_job_absorbs_the_same_request_and_one_run_here_does_not(ctx, redis):
    from backend.jobs.runs import recover_stuck_runs

    unqueued = SyncRun(flow="test_counting", object_type="company", object_id="11", status="queued")  # Redis was away
    inline = SyncRun(flow="test_counting", object_type="company", object_id="12", status="queued",
                     job_id="inline-0123456789abcdef")                                                  # run_now, waiting for its lock
    db.session.add_all([unqueued, inline])
    db.session.commit()
    assert start_run("test_counting", portal_id=None, object_type="company", object_id="11").id == unqueued.id
    assert start_run("test_counting", portal_id=None, object_type="company", object_id="12").id != inline.id
    for run in (unqueued, inline):
        run.created_at = utcnow() - timedelta(seconds=60)   # past UNQUEUED_AFTER_S, well before ORPHAN_AFTER_S
    db.session.commit()
    assert recover_stuck_runs()["requeued"] == 1            # the jobless one; the inline one is its process's
    db.session.refresh(unqueued)
    assert unqueued.job_id and get_queue("high").fetch_job(unqueued.job_id) is not None   # a click waits for it
    work(redis)
    assert sorted(CALLS) == ["11", "12"]                    # each once (12: the second request's own run)


@pytest.mark.parametrize("fail, retriable, words", [
    ("expected", False, "Postal code is missing"),
    ("outage", True, "503"),
    ("bug", True, "Internal error (KeyError)"),
])
def test_failures_are_visible(ctx, redis, fail, retriable, words):
    run = start_run("test_counting", portal_id=None, object_id="x", params={"fail": fail})
    work(redis)
    db.session.refresh(run)
    assert run.status == "failed"
    assert words in run.error
    assert run.retriable is retriable
    assert (run.next_retry_at is not None) is retriable


def test_skip(ctx, redis):
    run = start_run("test_counting", portal_id=None, object_id="s", params={"skip": True})
    work(redis)
    db.session.refresh(run)
    assert run.status == "skipped" and run.error == "already imported"


def test_replay_runs_a_failed_run_again(ctx, redis):
    run = start_run("test_counting", portal_id=None, object_id="r", params={"fail": "outage"})
    work(redis)
    run.params = {}
    db.session.commit()
    replay_run(run)
    work(redis)
    db.session.refresh(run)
    assert run.status == "succeeded" and run.attempts == 2 and run.error is None
    with pytest.raises(FlowError, match="already succeeded"):
        replay_run(run)


def test_cron_retries_due_retriable_runs_only(ctx, redis):
    due = start_run("test_counting", portal_id=None, object_id="due", params={"fail": "outage"})
    final = start_run("test_counting", portal_id=None, object_id="final", params={"fail": "expected"})
    later = start_run("test_counting", portal_id=None, object_id="later", params={"fail": "outage"})
    work(redis)
    for run in (due, later):
        db.session.refresh(run)
    # Both have their retry scheduled in RQ; the cron is the fallback for a retry whose job was lost.
    from rq.job import Job
    Job.fetch(due.job_id, connection=redis).delete()
    due.next_retry_at = utcnow() - timedelta(seconds=1)
    due.params = {}
    db.session.commit()
    assert retry_failed_runs() == 1
    work(redis)
    for run in (due, final, later):
        db.session.refresh(run)
    assert (due.status, final.status, later.status) == ("succeeded", "failed", "failed")


def test_schedule_table(redis):
    for func, queue, when in SCHEDULE:
        assert queue in QUEUE_NAMES
        assert callable(func) and func.__module__.startswith("backend.")
        assert set(when) <= {"interval", "cron"}
    assert {job.func_name for job in build_scheduler(redis, SCHEDULE).get_jobs()} == {f"{f.__module__}.{f.__name__}" for f, _, _ in SCHEDULE}


def test_sync_runs_cli(ctx, redis, runner):
    run = start_run("test_counting", portal_id=None, object_id="cli", params={"fail": "expected"})
    work(redis)
    listed = runner.invoke(args=["sync-runs", "list", "--status", "failed"])
    assert listed.exit_code == 0 and f"{run.id}" in listed.output and "Postal code is missing" in listed.output
    replayed = runner.invoke(args=["sync-runs", "replay", str(run.id)])
    assert replayed.exit_code == 0 and f"replayed run {run.id}" in replayed.output
    missing = runner.invoke(args=["sync-runs", "replay", "999999"])
    assert missing.exit_code == 1
    assert "There is no sync run 999999" in missing.output


@pytest.mark.slow
def test_forking_worker_process_runs_the_probe(app, settings, tmp_path):
    """The real ``worker`` process (forking work horses) on the suite's database and Redis."""
    env = app_environ(settings.instance_path, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url)
    env["ENCRYPTION_KEYS"] = ",".join(settings.encryption_keys)
    env["SECRET_KEY"] = settings.secret_key
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "backend", "worker", "--queues", "high"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        check = subprocess.run([sys.executable, "-m", "flask", "--app", "backend", "check-worker", "--timeout", "60"],
                               env=env, capture_output=True, text=True, timeout=90)
        assert check.returncode == 0, check.stderr
        assert check.stdout.startswith("worker ok: run ")
        # done in a forked work horse, and reported as the worker's: the pid an operator can find running
        assert f"done by the worker with pid {worker.pid} " in check.stdout, check.stdout
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


def test_check_worker_without_worker_fails_cleanly(runner):
    result = runner.invoke(args=["check-worker", "--timeout", "0.5"])
    assert result.exit_code == 1
    assert "No worker ran the probe" in result.output

"""Redis away (stopped, restarting, unreachable): what a rep or a workflow asks for is stored and
done once Redis answers again; card views go on; what cannot be done says so plainly."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from backend.extensions import db
from backend.jobs.runs import UNQUEUED_AFTER_S, recover_stuck_runs
from backend.models import SyncRun, utcnow
from tests.e2e.deals import Catalog, deal, signup_deal, synced_shop
from tests.e2e.records import GOOD_DE, company_with_deal


@pytest.fixture
def shop(connector):
    portal = synced_shop(connector)
    return connector, portal, Catalog(connector)


class Outage:
    """Every Redis call of the connector fails as when nothing listens on its port, from ``begin()`` to ``end()``."""

    def __init__(self, connector, monkeypatch):
        self.extensions, self.monkeypatch = connector.app.extensions, monkeypatch
        self.real = self.extensions["hubwerk.redis"]
        self.dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))

    def begin(self):
        self.monkeypatch.setitem(self.extensions, "hubwerk.redis", lambda: self.dead)

    def end(self):
        self.monkeypatch.setitem(self.extensions, "hubwerk.redis", self.real)


@pytest.fixture
def outage(connector, monkeypatch):
    return Outage(connector, monkeypatch)


def _hand_over_stored_runs():
    """The cron's pass once Redis answers, ``UNQUEUED_AFTER_S`` after the runs were stored."""
    for run in db.session.execute(db.select(SyncRun).where(SyncRun.status == "queued")).scalars():
        run.created_at = utcnow() - timedelta(seconds=UNQUEUED_AFTER_S + 1)
    db.session.commit()
    return recover_stuck_runs()


def test_a_button_and_a_workflow_action_during_an_outage_run_once_redis_is_back(shop, outage, caplog):
    connector, portal, catalog = shop
    hs = connector.hubspot
    by_button = signup_deal(connector, catalog, GOOD_DE)["deal"]
    by_workflow = signup_deal(connector, catalog, dict(GOOD_DE, name="Workflow GmbH"))["deal"]
    connector.deliver()
    outage.begin()
    url = f"{connector.url}/api/cards/deals/{by_button}/request-validation"
    pressed = hs.call_card(100001, "POST", url, {})
    assert pressed.status_code == 200, pressed.text
    action = hs.execute_workflow_action(100001, f"{connector.url}/api/workflow-actions/validate-deal", "DEAL", by_workflow, {})
    assert action.status_code == 200 and action.json()["outputFields"]["hs_execution_state"] == "BLOCK"
    again = hs.call_card(100001, "POST", url, {})                 # pressed twice: still one run
    assert again.status_code == 200, again.text
    stored = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "validate_deal")).scalars().all()
    assert sorted(r.object_id for r in stored) == sorted([by_button, by_workflow])
    assert {(r.status, r.job_id) for r in stored} == {("queued", None)}
    # A GET view (the card could not read the record) still reads HubSpot, within this process's share.
    with caplog.at_level(logging.WARNING, logger="hubwerk.clients.ratelimit"):
        view = hs.call_card(100001, "GET", f"{connector.url}/api/cards/deals/{by_button}")
    assert view.status_code == 200, view.text
    assert "client.ratelimit.redis_away" in [r.getMessage() for r in caplog.records]

    outage.end()                                                   # Redis is back
    assert recover_stuck_runs()["requeued"] == 0                   # not before UNQUEUED_AFTER_S
    assert _hand_over_stored_runs()["requeued"] == 2
    connector.work()
    assert deal(connector, by_button)["billwerk_validation"] == "valid"
    assert deal(connector, by_workflow)["billwerk_validation"] == "valid"
    [callback] = [c for c in hs.callbacks().values() if c["objectId"] == by_workflow]
    assert callback["state"] == "COMPLETED" and callback["outputFields"]["result"] == "success"
    runs = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "validate_deal")).scalars().all()
    assert {(r.status, r.attempts) for r in runs} == {("succeeded", 1)} and len(runs) == 2


def test_a_button_that_runs_at_once_is_queued_instead(shop, outage):
    connector, portal, catalog = shop
    ids = company_with_deal(connector.hubspot, dict(GOOD_DE, name="Button GmbH"))
    connector.deliver()
    before = db.session.execute(db.select(db.func.max(SyncRun.id))).scalar_one()
    outage.begin()
    pressed = connector.hubspot.call_card(100001, "POST", f"{connector.url}/api/cards/companies/{ids['company']}/import", {})
    assert pressed.status_code == 200, pressed.text
    assert pressed.json()["message"] == "Import queued; refresh in a moment"
    assert pressed.json()["status"] == "pending"                   # the card shows it waiting
    [run] = db.session.execute(db.select(SyncRun).where(SyncRun.id > before)).scalars().all()
    assert run.flow == "import_company"
    assert (run.status, run.job_id, run.attempts) == ("queued", None, 0)
    outage.end()
    assert _hand_over_stored_runs()["requeued"] == 1
    connector.work()
    db.session.refresh(run)
    assert (run.status, run.attempts) == ("succeeded", 1)
    assert connector.hubspot.get_object("companies", ids["company"])["properties"].get("billwerk_customer_id")


def test_the_cli_says_a_run_it_could_not_start_is_left_for_the_worker(shop, outage, runner):
    connector, portal, catalog = shop
    outage.begin()
    result = runner.invoke(args=["sync-products", "--portal-id", "100001"])
    assert result.exit_code != 0
    assert "Redis is not answering" in result.output and "the worker runs it once Redis answers" in result.output
    [run] = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "sync_products", SyncRun.status == "queued")).scalars().all()
    assert run.job_id is None                                      # the cron hands it over when Redis is back


def test_what_cannot_be_done_without_redis_says_so(shop, monkeypatch):
    connector, portal, catalog = shop
    ids = signup_deal(connector, catalog, GOOD_DE)
    connector.deliver()
    from backend.flows import card_reads

    def needs_redis(*args, **kwargs):
        raise redis_lib.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(card_reads, "deal_rows", needs_redis)
    answer = connector.hubspot.call_card(100001, "GET", f"{connector.url}/api/cards/deals/{ids['deal']}")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert answer.json()["error"] == "redis_unavailable"
    assert "cannot reach its Redis" in answer.json()["message"] and "6379" not in answer.json()["message"]

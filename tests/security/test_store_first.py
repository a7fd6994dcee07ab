"""Issue 18 points 1 and 2: a delivery is stored whether Redis is there or not, a lost job is swept
up again, and a replayed (byte-identical) delivery is one row whatever signed it."""
import time

import pytest
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import SimpleWorker

from backend.extensions import db
from backend.jobs import get_queue
from backend.jobs.inbox import sweep_inbox
from backend.models import InboxEvent, UsedSignature
from tests.helpers import basic, body, connected_portal, v1_headers, v3_headers

HS_PATH = "/api/webhook/hubspot/events"
BW_PATH = "/api/webhook/billwerk/events"


def events(event_id=1):
    return [{"eventId": event_id, "subscriptionId": 1, "portalId": 100001, "appId": 4242, "occurredAt": 1,
             "subscriptionType": "company.propertyChange", "attemptNumber": 0, "objectId": 7,
             "propertyName": "name", "propertyValue": "ACME", "changeSource": "CRM_UI"}]


def rows():
    return db.session.execute(db.select(InboxEvent).order_by(InboxEvent.id)).scalars().all()


@pytest.fixture
def redis_down(app, monkeypatch):
    """Every Redis call fails as when the server is stopped (nothing listens on the port)."""
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    real = app.extensions["hubwerk.redis"]
    monkeypatch.setitem(app.extensions, "hubwerk.redis", lambda: dead)

    def restore():
        monkeypatch.setitem(app.extensions, "hubwerk.redis", real)

    return restore


def work(redis):
    SimpleWorker([get_queue("default")], connection=redis).work(burst=True)


def test_v1_only_replay_of_an_old_delivery_is_one_row(ctx, client, redis):
    connected_portal()
    raw = body(events())
    old = int(time.time() * 1000) - 6 * 60 * 1000
    # The original delivery, as HubSpot sends webhooks: v1 and v3 headers (v3 checked then, long expired now).
    first = client.post(HS_PATH, data=raw, headers=v1_headers(raw) | v3_headers("POST", HS_PATH, raw))
    assert first.status_code == 200 and first.get_json()["duplicate"] is False
    stale = client.post(HS_PATH, data=raw, headers=v1_headers(raw) | v3_headers("POST", HS_PATH, raw, timestamp_ms=old))
    assert stale.status_code == 401  # its v3 headers kept: v3 decides, and the timestamp is stale
    queued = get_queue("default").count
    for _ in range(5):  # the v3 headers dropped: v1 alone proves it, and it is the same delivery
        again = client.post(HS_PATH, data=raw, headers=v1_headers(raw))
        assert again.status_code == 200
        assert again.get_json() == {"received": 1, "inbox_id": first.get_json()["inbox_id"], "duplicate": True}
    assert len(rows()) == 1
    assert get_queue("default").count == queued  # nothing queued again


def test_a_new_body_is_a_new_row(ctx, client):
    connected_portal()
    for event_id in (1, 2):
        raw = body(events(event_id))
        assert client.post(HS_PATH, data=raw, headers=v1_headers(raw)).get_json()["duplicate"] is False
    assert len(rows()) == 2


def test_billwerk_deliveries_with_the_same_body_are_all_kept(ctx, client):
    """billwerk's thin hooks repeat legitimately (ContractChanged twice): never folded."""
    connected_portal(username="hubwerk-a", password="pw-a-" + "x" * 20)
    raw = body({"Event": "ContractChanged", "ContractId": "c1", "EntityId": "5f0000000000000000000001"})
    for _ in range(2):
        assert client.post(BW_PATH, data=raw, headers=basic("hubwerk-a", "pw-a-" + "x" * 20)).status_code == 200
    assert len(rows()) == 2


def test_v3_replay_is_refused_without_redis(ctx, client, redis_down):
    connected_portal()
    raw = body(events())
    headers = v3_headers("POST", HS_PATH, raw)
    assert client.post(HS_PATH, data=raw, headers=headers).status_code == 200
    replay = client.post(HS_PATH + "?x=1", data=raw, headers=headers)
    assert replay.status_code == 401
    assert db.session.execute(db.select(db.func.count(UsedSignature.digest))).scalar_one() == 1
    assert len(rows()) == 1


def test_deliveries_during_a_redis_outage_are_stored_and_swept(ctx, client, redis, redis_down):
    connected_portal(username="hubwerk-a", password="pw-a-" + "x" * 20)
    raw = body(events())
    answer = client.post(HS_PATH, data=raw, headers=v1_headers(raw) | v3_headers("POST", HS_PATH, raw))
    assert answer.status_code == 200
    billwerk = client.post(BW_PATH, data=body({"Event": "InvoiceCreated", "InvoiceId": "i1", "EntityId": "5f0000000000000000000001"}),
                           headers=basic("hubwerk-a", "pw-a-" + "x" * 20))
    assert billwerk.status_code == 200
    assert [r.status for r in rows()] == ["received", "received"]
    redis_down()  # Redis is back
    work(redis)
    assert [r.status for r in rows()] == ["received", "received"]  # their jobs were never queued
    assert sweep_inbox()["requeued"] == 0  # too young: the request that stored them may still be queuing
    assert sweep_inbox(older_than_s=0)["requeued"] == 2
    assert sweep_inbox(older_than_s=0)["requeued"] == 0  # waiting in the queue: not twice
    work(redis)
    db.session.expire_all()
    assert all(r.status in ("processed", "ignored") for r in rows())


def test_the_next_successful_enqueue_sweeps(ctx, client, redis, redis_down):
    connected_portal()
    lost = body(events(1))
    assert client.post(HS_PATH, data=lost, headers=v1_headers(lost)).status_code == 200
    redis_down()
    later = body(events(2))
    assert client.post(HS_PATH, data=later, headers=v1_headers(later)).status_code == 200
    work(redis)
    db.session.expire_all()
    assert [r.status for r in rows()] != ["received", "received"]
    assert all(r.status in ("processed", "ignored") for r in rows())


def test_cards_and_workflow_rows_are_not_swept(ctx, redis):
    portal, _ = connected_portal()
    db.session.add(InboxEvent(source="hubspot_card", portal_id=portal.id, method="POST", path="/api/cards/x", headers={}, body=""))
    db.session.commit()
    assert sweep_inbox(older_than_s=0)["requeued"] == 0


def test_cli_lists_and_replays_received(ctx, client, runner, redis, redis_down):
    connected_portal()
    raw = body(events())
    client.post(HS_PATH, data=raw, headers=v1_headers(raw))
    redis_down()
    listed = runner.invoke(args=["inbox", "list", "--status", "received"])
    assert listed.exit_code == 0 and "hubspot_webhook" in listed.output and "received" in listed.output
    replay = runner.invoke(args=["inbox", "replay", "--status", "received"])
    assert replay.exit_code == 0 and "replaying 1 delivery" in replay.output
    work(redis)
    db.session.expire_all()
    assert rows()[0].status in ("processed", "ignored")


def test_expired_signatures_are_purged(ctx):
    from datetime import timedelta

    from backend.models import utcnow

    db.session.add_all([UsedSignature(digest="a" * 64, expires_at=utcnow() - timedelta(seconds=1)),
                        UsedSignature(digest="b" * 64, expires_at=utcnow() + timedelta(minutes=5))])
    db.session.commit()
    assert sweep_inbox()["signatures_purged"] == 1
    assert [s.digest for s in db.session.execute(db.select(UsedSignature)).scalars()] == ["b" * 64]


def test_cron_survives_a_redis_outage():
    from backend.jobs.schedule import HubwerkCron

    cron = HubwerkCron(connection=redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)), name="t")
    cron.register(sweep_inbox, queue_name="default", interval=30)
    cron._cron_jobs[0].next_enqueue_time = None  # due now
    assert cron.enqueue_jobs() == []
    cron.heartbeat()
    assert cron.calculate_sleep_interval() >= 2.0

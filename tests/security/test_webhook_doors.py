"""The two webhook doors: refused requests change nothing; accepted ones are stored before the answer."""
import pytest

from backend.extensions import db
from backend.models import InboxEvent
from tests.helpers import (ROOT_ENTITY, SUB_ENTITY, basic, body, connected_portal, v1_headers, v2_headers, v3_headers)

HS_PATH = "/api/webhook/hubspot/events"
BW_PATH = "/api/webhook/billwerk/events"
EVENTS = [{"eventId": 1, "subscriptionId": 1, "portalId": 100001, "appId": 4242, "occurredAt": 1, "subscriptionType": "deal.propertyChange",
           "attemptNumber": 0, "objectId": 7, "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM_UI"}]


def inbox_count():
    return db.session.execute(db.select(db.func.count(InboxEvent.id))).scalar_one()


def test_hubspot_v3_and_v1_are_accepted_and_stored(ctx, client):
    portal, _ = connected_portal()
    raws = [body(EVENTS), body([dict(EVENTS[0], eventId=2)])]
    for raw, headers in ((raws[0], v3_headers("POST", HS_PATH, raws[0])), (raws[1], v1_headers(raws[1]))):
        response = client.post(HS_PATH, data=raw, headers=headers | {"Content-Type": "application/json"})
        assert response.status_code == 200, response.get_json()
    rows = db.session.execute(db.select(InboxEvent).order_by(InboxEvent.id)).scalars().all()
    assert [r.source for r in rows] == ["hubspot_webhook", "hubspot_webhook"]
    assert rows[0].body == raws[0].decode() and rows[0].portal_id == portal.id


@pytest.mark.parametrize("case", ["no-headers", "wrong-secret", "stale", "tampered-body", "tampered-query", "v2-not-accepted", "replay"])
def test_hubspot_refusals_store_nothing(ctx, client, case):
    connected_portal()
    raw = body(EVENTS)
    path = HS_PATH
    headers = v3_headers("POST", HS_PATH, raw)
    if case == "no-headers":
        headers = {}
    if case == "wrong-secret":
        headers = v3_headers("POST", HS_PATH, raw, secret="not-the-app-secret")
    if case == "stale":
        import time
        headers = v3_headers("POST", HS_PATH, raw, timestamp_ms=int(time.time() * 1000) - 6 * 60 * 1000)
    if case == "tampered-body":
        raw = raw.replace(b"closedwon", b"closedlost")
    if case == "tampered-query":
        path = HS_PATH + "?portalId=100002"
    if case == "v2-not-accepted":
        headers = v2_headers("POST", HS_PATH, raw)
    if case == "replay":
        assert client.post(path, data=raw, headers=headers).status_code == 200
        before = inbox_count()
        response = client.post(path, data=raw, headers=headers)
        assert response.status_code == 401 and inbox_count() == before
        return
    response = client.post(path, data=raw, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert inbox_count() == 0


def test_hubspot_malformed_json_is_400_and_not_stored(ctx, client):
    raw = b'{"not": "an array"'
    response = client.post(HS_PATH, data=raw, headers=v1_headers(raw))
    assert response.status_code == 400 and response.get_json()["error"] == "malformed_json"
    assert inbox_count() == 0


def test_billwerk_delivery_is_stored_with_its_account(ctx, client):
    portal, account = connected_portal(username="hubwerk-a", password="secret-a-" + "x" * 20)
    payload = {"ContractId": "6298a006e636b694d807080f", "CustomerId": "6298a006e636b694d8070809", "Event": "ContractCreated", "EntityId": SUB_ENTITY}
    response = client.post(BW_PATH, data=body(payload), headers=basic("hubwerk-a", "secret-a-" + "x" * 20))
    assert response.status_code == 200
    row = db.session.execute(db.select(InboxEvent)).scalar_one()
    assert (row.source, row.name, row.billwerk_account_id, row.portal_id) == ("billwerk_webhook", "ContractCreated", account.id, portal.id)
    assert "Authorization" not in row.headers


def test_unknown_events_are_still_acknowledged(ctx, client):
    connected_portal(username="hubwerk-a", password="pw-a-" + "x" * 20)
    response = client.post(BW_PATH, data=body({"Event": "SomethingNew", "EntityId": ROOT_ENTITY}), headers=basic("hubwerk-a", "pw-a-" + "x" * 20))
    assert response.status_code == 200


@pytest.mark.parametrize("case", ["no-auth", "wrong-password", "unknown-user", "disabled", "other-accounts-entity", "malformed", "no-event"])
def test_billwerk_refusals(ctx, client, case):
    _, account_a = connected_portal(100001, username="hubwerk-a", password="pw-a-" + "x" * 20)
    connected_portal(100002, username="hubwerk-b", password="pw-b-" + "x" * 20, entities=(("5f00000000000000000000bb", "B GmbH"),))
    headers = basic("hubwerk-a", "pw-a-" + "x" * 20)
    raw = body({"Event": "ContractChanged", "ContractId": "c1", "EntityId": ROOT_ENTITY})
    expected = 401
    if case == "no-auth":
        headers = {}
    if case == "wrong-password":
        headers = basic("hubwerk-a", "pw-b-" + "x" * 20)
    if case == "unknown-user":
        headers = basic("hubwerk-zzz", "pw-a-" + "x" * 20)
    if case == "disabled":
        account_a.webhook_enabled = False
        db.session.commit()
    if case == "other-accounts-entity":  # A's credentials cannot reach B's entity (and so not B's deals)
        raw, expected = body({"Event": "ContractChanged", "ContractId": "c1", "EntityId": "5f00000000000000000000bb"}), 403
    if case == "malformed":
        raw, expected = b"{nope", 400
    if case == "no-event":
        raw, expected = body({"ContractId": "c1"}), 400
    response = client.post(BW_PATH, data=raw, headers=headers)
    assert response.status_code == expected
    assert inbox_count() == 0


def test_stored_deliveries_are_processed_and_replayable(ctx, client, redis, runner):
    from rq import SimpleWorker

    from backend.jobs import get_queue

    connected_portal(username="hubwerk-a", password="pw-a-" + "x" * 20)
    client.post(BW_PATH, data=body({"Event": "InvoiceCreated", "InvoiceId": "i1", "EntityId": ROOT_ENTITY}), headers=basic("hubwerk-a", "pw-a-" + "x" * 20))
    SimpleWorker([get_queue("default")], connection=redis).work(burst=True)
    row = db.session.execute(db.select(InboxEvent)).scalar_one()
    db.session.refresh(row)
    assert row.status in ("processed", "ignored") and row.processed_at is not None
    listed = runner.invoke(args=["inbox", "list"])
    assert "billwerk_webhook" in listed.output and "InvoiceCreated" in listed.output
    replay = runner.invoke(args=["inbox", "replay", str(row.id)])
    assert replay.exit_code == 0 and "replaying 1 delivery" in replay.output
    SimpleWorker([get_queue("default")], connection=redis).work(burst=True)
    db.session.refresh(row)
    assert row.status in ("processed", "ignored")

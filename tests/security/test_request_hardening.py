"""Issue 18 point 5: login ``next`` stays on this host, an ambiguous (repeated) query parameter on a
signed request is refused, and property provisioning survives a 5xx and a 409."""
import pytest
from werkzeug.security import generate_password_hash

from backend.extensions import db
from backend.models import InboxEvent
from tests.helpers import body, connected_portal, v2_headers, v3_headers

PASSWORD = "correct horse battery"


@pytest.fixture
def login(ctx, client, redis):
    portal, _ = connected_portal()
    portal.password_hash = generate_password_hash(PASSWORD, method="scrypt")
    db.session.commit()
    redis.delete(*(redis.keys("hubwerk:login*") or ["-"]))

    def post(next_value: str):
        return client.post("/login", query_string={"next": next_value}, data={"hub_id": "100001", "password": PASSWORD})

    return post


@pytest.mark.parametrize("target", [
    "/\t/evil.example", "/\r\n/evil.example", "/\n/evil.example", "//evil.example", "///evil.example", "/\\evil.example",
    "https://evil.example/", "javascript:alert(1)", "evil.example", "/ /evil.example", "/\x00/x", "/\x7f", "/a\u2028b",
    "http:/evil.example", "/x:y",
])
def test_login_next_refuses_other_hosts_and_control_characters(login, target):
    response = login(target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/", (target, response.headers["Location"])


def test_login_next_keeps_a_local_path(login):
    response = login("/settings/stages?tab=1")
    assert response.status_code == 302 and response.headers["Location"] == "/settings/stages?tab=1"


def test_login_next_percent_encoded_forms_from_the_issue(ctx, client, redis):
    """The exact requests of the report: raw ``%09`` and ``%0D%0A`` in the query string."""
    portal, _ = connected_portal()
    portal.password_hash = generate_password_hash(PASSWORD, method="scrypt")
    db.session.commit()
    for raw in ("/%09/evil.example", "/%0D%0A/evil.example", "%2F%2Fevil.example", "/%5Cevil.example"):
        response = client.post("/login?next=" + raw, data={"hub_id": "100001", "password": PASSWORD})
        assert response.status_code == 302 and response.headers["Location"] == "/", raw


def test_card_with_two_portal_ids_is_refused(ctx, client):
    connected_portal(100001)
    connected_portal(100002, username="hubwerk-b")
    path = "/api/cards/companies/7?portalId=100001&portalId=100002&appId=4242"
    response = client.get(path, headers=v3_headers("GET", path))
    assert response.status_code == 400 and "portalId" in response.get_json()["message"]
    single = "/api/cards/companies/7?portalId=100001&appId=4242"
    assert client.get(single, headers=v3_headers("GET", single)).status_code != 400


def test_card_button_with_repeated_parameter_stores_nothing(ctx, client):
    connected_portal(100001)
    path = "/api/cards/companies/7/import?portalId=100001&appId=4242&appId=4242"
    response = client.post(path, data=b"{}", headers=v3_headers("POST", path, b"{}"))
    assert response.status_code == 400
    assert db.session.execute(db.select(db.func.count(InboxEvent.id))).scalar_one() == 0


def test_workflow_action_with_repeated_parameter_is_refused(ctx, client):
    connected_portal(100001)
    raw = body({"callbackId": "cb-1", "origin": {"portalId": 100001}, "object": {"objectId": 7, "objectType": "COMPANY"}})
    path = "/api/workflow-actions/import-customer?x=1&x=2"
    response = client.post(path, data=raw, headers=v2_headers("POST", path, raw))
    assert response.status_code == 400
    assert db.session.execute(db.select(db.func.count(InboxEvent.id))).scalar_one() == 0


def test_unsigned_request_with_repeated_parameter_is_still_401(ctx, client):
    response = client.get("/api/cards/companies/7?portalId=1&portalId=2")
    assert response.status_code == 401


def test_a_card_call_signed_once_is_answered_once(ctx, client, redis):
    """Card calls keep their used v3 signatures in Redis (a view stores nothing in the database)."""
    from backend.models import UsedSignature

    connected_portal()
    path = "/api/cards/companies/7?portalId=100001&appId=4242"
    view = body({"properties": {"hs_object_id": "7", "name": "ACME"}})
    headers = v3_headers("POST", path, view)
    assert client.post(path, data=view, headers=headers).status_code == 200
    again = client.post(path, data=view, headers=headers)
    assert again.status_code == 401 and "already used" in str(again.get_json())
    assert list(redis.scan_iter("hubwerk:used-signature:*"))
    assert db.session.execute(db.select(db.func.count()).select_from(UsedSignature)).scalar_one() == 0


def test_without_redis_a_card_call_is_still_single_use(ctx, client, app, monkeypatch):
    import redis as redis_lib
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from backend.models import UsedSignature
    from backend.web import inbound

    connected_portal()
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    monkeypatch.setitem(app.extensions, "hubwerk.redis", lambda: dead)
    path = "/api/cards/companies/7?portalId=100001&appId=4242"
    headers = v3_headers("GET", path)
    with app.test_request_context(path, headers=headers):
        verified = inbound.hubspot_signature.verify(secret=app.config["HUBWERK"].hubspot_client_secret, method="GET",
                                                     uri=inbound.signed_uri(), body=b"", headers=headers,
                                                     now_ms=int(__import__("time").time() * 1000), accept=("v3",))
        assert inbound._first_use_redis(verified.signature) is True     # recorded in the database instead
        assert inbound._first_use_redis(verified.signature) is False
    assert db.session.execute(db.select(db.func.count()).select_from(UsedSignature)).scalar_one() == 1


def test_a_card_button_keeps_its_signature_in_the_database(ctx, app, redis):
    """A click acts: its single-use check is the database's, as for every stored delivery."""
    from backend.models import UsedSignature
    from backend.web import cards

    connected_portal()
    path = "/api/cards/companies/7/import?portalId=100001&appId=4242"
    with app.test_request_context(path, method="POST", headers=v3_headers("POST", path)):
        assert cards._portal(view=False).hub_id == 100001
    assert db.session.execute(db.select(db.func.count()).select_from(UsedSignature)).scalar_one() == 1
    assert not list(redis.scan_iter("hubwerk:used-signature:*"))

"""App-card calls as hubspot.fetch makes them: one retry on a connection failure or 5xx, at
most 20 at a time per account, 1 MB bodies both ways, a 15 s default timeout."""
import threading
import time

import pytest
import requests
from flask import Flask, request

from sandbox.server import ServerThread


def test_one_retry_on_5xx(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    receiver.statuses = [502]
    resp = hs.call_card(hs.default_portal_id, "POST", receiver.url + "/api/cards/deals/1/refresh", body={})
    assert resp.status_code == 200 and len(receiver.requests) == 2
    assert [a["status"] for a in hs.card_calls[-1]["attempts"]] == [502, 200]
    receiver.statuses = [500, 500, 500]
    assert hs.call_card(hs.default_portal_id, "GET", receiver.url + "/api/cards/deals/1").status_code == 500
    assert len(receiver.requests) == 4                       # once more, not twice more
    receiver.statuses = [404]
    assert hs.call_card(hs.default_portal_id, "GET", receiver.url + "/api/cards/deals/1").status_code == 404
    assert len(receiver.requests) == 5                       # 4xx: no retry


def test_one_retry_on_a_connection_failure(hubspot_sandbox):
    hs = hubspot_sandbox
    with pytest.raises(requests.ConnectionError):
        hs.call_card(hs.default_portal_id, "GET", "http://127.0.0.1:9/api/cards/deals/1")
    assert [a["error"] for a in hs.card_calls[-1]["attempts"]] == ["ConnectionError", "ConnectionError"]


@pytest.fixture
def slow_backend():
    release = threading.Event()
    inside = []
    app = Flask("slow")

    @app.route("/<path:path>", methods=["GET", "POST"])
    def slow(path):
        inside.append(request.path)
        release.wait(10)
        return {"ok": True}

    server = ServerThread(app).start()
    yield server.url, release, inside
    release.set()
    server.stop()


def test_at_most_20_concurrent_calls_per_account(hubspot_sandbox, slow_backend):
    hs = hubspot_sandbox
    url, release, inside = slow_backend
    hs.create_portal(200002)
    results = []
    threads = [threading.Thread(target=lambda: results.append(hs.call_card(hs.default_portal_id, "GET", url + "/c")))
               for _ in range(20)]
    for t in threads:
        t.start()
    deadline = time.time() + 10
    while len(inside) < 20 and time.time() < deadline:
        time.sleep(0.01)
    assert len(inside) == 20
    refused = hs.call_card(hs.default_portal_id, "GET", url + "/c")
    assert refused.status_code == 429 and refused.json()["category"] == "RATE_LIMITS"
    assert len(inside) == 20                                  # the 21st never reached the backend
    other = threading.Thread(target=lambda: results.append(hs.call_card(200002, "GET", url + "/c")))
    other.start()
    while len(inside) < 21 and time.time() < deadline:        # another account has its own 20
        time.sleep(0.01)
    assert len(inside) == 21
    release.set()
    for t in threads + [other]:
        t.join(10)
    assert [r.status_code for r in results] == [200] * 21
    assert hs.call_card(hs.default_portal_id, "GET", url + "/c").status_code == 200


def test_bodies_are_limited_to_1_mb(hubspot_sandbox, receiver):
    hs = hubspot_sandbox
    big = {"x": "a" * (1024 * 1024)}
    refused = hs.call_card(hs.default_portal_id, "POST", receiver.url + "/api/cards/deals/1/x", body=big)
    assert refused.status_code == 413 and receiver.requests == []
    receiver.response_body = {"x": "a" * (1024 * 1024)}
    too_big = hs.call_card(hs.default_portal_id, "GET", receiver.url + "/api/cards/deals/1")
    assert too_big.status_code == 502 and "1 MB" in too_big.json()["message"]
    receiver.response_body = {"x": "a" * (1024 * 1000)}
    assert hs.call_card(hs.default_portal_id, "GET", receiver.url + "/api/cards/deals/1").status_code == 200


def test_15_s_default_timeout_and_the_timeout_option(hubspot_sandbox, slow_backend):
    hs = hubspot_sandbox
    url, release, inside = slow_backend
    with pytest.raises(requests.Timeout):
        hs.call_card(hs.default_portal_id, "GET", url + "/c", timeout=0.3)
    assert len(inside) == 1 and hs.card_calls[-1]["timeout_s"] == 0.3     # a timeout is not retried
    release.set()
    hs.call_card(hs.default_portal_id, "GET", url + "/c")
    assert hs.card_calls[-1]["timeout_s"] == 15.0
    with pytest.raises(ValueError):
        hs.call_card(hs.default_portal_id, "GET", url + "/c", timeout=121)

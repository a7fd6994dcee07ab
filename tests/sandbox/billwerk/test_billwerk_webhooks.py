"""Webhook delivery: events per action, Basic auth, retries, ordering, entity scope, faults."""
from __future__ import annotations

import pytest

from billwerk_helpers import UK, Api, Receiver, new_customer_body, signup
from sandbox.billwerk import BillwerkSandbox
from sandbox.server import ServerThread

SIGNUP = ["CustomerCreated", "ContractCreated", "ContractChanged", "OrderSucceeded", "InvoiceCreated"]
ALL = SIGNUP + ["ContractDataChanged", "ContractCancelled", "CustomerChanged", "PaymentEscalated",
                "PaymentEscalationReset", "PaymentDataChanged", "InvoiceCorrected"]


def test_signup_events_in_order_with_basic_auth(seeded, api, receiver):
    seeded.register_webhook(receiver.url, ALL, username="hubwerk-acct-1", password="s3cret")
    order, contract = signup(api)
    assert seeded.flush_webhooks(5)
    assert [p["Event"] for p in receiver.payloads()] == SIGNUP
    assert all(h["auth"] == ("hubwerk-acct-1", "s3cret") for h in receiver.hits)
    assert all(h["headers"]["Content-Type"] == "application/json" for h in receiver.hits)
    assert all("X-Retry-Count" not in h["headers"] for h in receiver.hits)
    p = {x["Event"]: x for x in receiver.payloads()}
    assert p["OrderSucceeded"]["OrderId"] == order["Id"]
    assert p["ContractCreated"] == {"ContractId": contract["Id"], "CustomerId": contract["CustomerId"],
                                    "Event": "ContractCreated", "EntityId": "5f0000000000000000000001"}
    invoice = api.get("invoices", params={"customerId": contract["CustomerId"]}).json()[0]
    assert p["InvoiceCreated"]["InvoiceId"] == invoice["Id"]


def test_only_ticked_events_and_no_auth(seeded, api, receiver):
    hook = seeded.register_webhook(receiver.url, ["ContractChanged", "PaymentEscalated"])
    assert hook["AuthenticationType"] == "None"
    _, contract = signup(api)
    api.put(f"customers/{contract['CustomerId']}", new_customer_body())            # CustomerChanged: not ticked
    api.patch(f"contracts/{contract['Id']}", {"Notes": "n"})                         # ContractDataChanged: not ticked
    seeded.trigger("PaymentEscalated", contract_id=contract["Id"])
    assert seeded.flush_webhooks(5)
    assert [p["Event"] for p in receiver.payloads()] == ["ContractChanged", "PaymentEscalated"]
    assert receiver.hits[0]["auth"] is None


def test_actions_emit_their_events(seeded, api, receiver):
    seeded.register_webhook(receiver.url, ALL)
    _, contract = signup(api)
    cid = contract["CustomerId"]
    api.put(f"customers/{cid}", new_customer_body())
    api.patch(f"customers/{cid}", {"Notes": "x"})
    api.patch(f"contracts/{contract['Id']}", {"CustomFields": {"seatsCommitted": 1}})
    api.post(f"contracts/{contract['Id']}/end", {"EndDate": "2031-01-01"})
    assert seeded.flush_webhooks(5)
    assert [p["Event"] for p in receiver.payloads()][len(SIGNUP):] == [
        "CustomerChanged", "CustomerChanged", "ContractDataChanged", "ContractCancelled", "ContractChanged"]


def test_payment_escalation_cycle_and_triggers(seeded, api, receiver):
    seeded.register_webhook(receiver.url, ALL)
    contract = api.get("contracts").json()[0]
    days = [seeded.trigger("PaymentEscalated", contract_id=contract["Id"])["TriggerDays"] for _ in range(3)]
    assert days == [5, 10, 5]
    assert seeded.trigger("PaymentEscalated", contract_id=contract["Id"], trigger_days=15,
                          due_date="2026-01-01")["DueDate"] == "2026-01-01T00:00:00.0000000Z"
    reset = seeded.trigger("PaymentEscalationReset", contract_id=contract["Id"])
    assert list(reset) == ["ContractId", "CustomerId", "Event", "EntityId"]
    billed_before = contract["BilledUntil"]
    created = seeded.trigger("InvoiceCreated", contract_id=contract["Id"])
    assert api.get(f"invoices/{created['InvoiceId']}").status_code == 200
    assert api.get(f"contracts/{contract['Id']}").json()["BilledUntil"] > billed_before
    corrected = seeded.trigger("InvoiceCorrected", contract_id=contract["Id"])
    credit = [i for i in api.get("invoices", params={"customerId": contract["CustomerId"]}).json() if not i["IsInvoice"]]
    assert len(credit) == 1 and credit[0]["TotalGross"] < 0
    assert corrected["OldInvoiceId"] == created["InvoiceId"]
    with pytest.raises(KeyError):
        seeded.trigger("PaymentEscalated", contract_id="ffffffffffffffffffffffff")
    with pytest.raises(ValueError):
        seeded.trigger("NoSuchEvent", contract_id=contract["Id"])
    assert seeded.flush_webhooks(5)
    assert len(receiver.payloads("PaymentEscalated")) == 4


def test_retries_double_the_delay_and_count(receiver):
    bw = BillwerkSandbox(webhook_retry_base_s=0.05)
    try:
        bw.register_webhook(receiver.url, ["CustomerChanged"])
        bw.seed(catalog_items=5, customers=1)
        receiver.statuses = [500, 503, 404]
        customer = bw.state("customers")["customers"][0]
        bw.trigger("CustomerChanged", customer_id=customer["Id"])
        assert bw.flush_webhooks(5)
        hits = receiver.hits
        assert len(hits) == 4
        assert [h["headers"].get("X-Retry-Count") for h in hits] == [None, "1", "2", "3"]
        gaps = [b["t"] - a["t"] for a, b in zip(hits, hits[1:])]
        assert gaps[0] >= 0.045 and gaps[1] >= 0.095 and gaps[2] >= 0.195
        d = bw.deliveries[0]
        assert d["Status"] == "Delivered" and [a["StatusCode"] for a in d["Attempts"]] == [500, 503, 404, 200]
    finally:
        bw.stop()


def test_gives_up_after_max_attempts_and_accepts_2xx_variants(receiver):
    bw = BillwerkSandbox(webhook_retry_base_s=0.001, webhook_max_attempts=3)
    try:
        bw.register_webhook(receiver.url, ["CustomerChanged"])
        bw.seed(catalog_items=5, customers=1)
        cust = bw.state("customers")["customers"][0]["Id"]
        receiver.statuses = [500] * 3
        bw.trigger("CustomerChanged", customer_id=cust)
        assert bw.flush_webhooks(5)
        receiver.statuses = [201, 202, 204]
        for _ in range(3):
            bw.trigger("CustomerChanged", customer_id=cust)
        assert bw.flush_webhooks(5)
        assert [d["Status"] for d in bw.deliveries] == ["Failed", "Delivered", "Delivered", "Delivered"]
        assert len(receiver.hits) == 6
    finally:
        bw.stop()


def test_a_retried_hook_does_not_hold_back_later_ones(receiver):
    """billwerk sends one contract's hooks in order, but retries on the side: a later hook of the
    same contract goes out while an earlier one waits for its retry, so it arrives first."""
    bw = BillwerkSandbox(webhook_retry_base_s=0.05)
    try:
        bw.register_webhook(receiver.url, ["ContractDataChanged", "PaymentDataChanged"])
        bw.seed(catalog_items=10, customers=3)
        a, b = bw.state("contracts")["contracts"][:2]
        failures = {(a["Id"], "ContractDataChanged"): 2}

        def decide(payload):
            key = (payload["ContractId"], payload["Event"])
            left = failures.get(key, 0)
            failures[key] = left - 1
            return 500 if left > 0 else 200
        receiver.decide = decide
        bw.trigger("ContractDataChanged", contract_id=a["Id"])      # fails twice, then succeeds
        bw.trigger("PaymentDataChanged", contract_id=a["Id"])       # later, same contract: not held back
        bw.trigger("ContractDataChanged", contract_id=b["Id"])      # other customer: not held back
        assert bw.flush_webhooks(5)
        order = [(h["json"]["ContractId"], h["json"]["Event"], h["headers"].get("X-Retry-Count")) for h in receiver.hits]
        a_hits = [r[1:] for r in order if r[0] == a["Id"]]
        assert a_hits == [("ContractDataChanged", None), ("PaymentDataChanged", None),
                          ("ContractDataChanged", "1"), ("ContractDataChanged", "2")]
        assert order.index((b["Id"], "ContractDataChanged", None)) < order.index((a["Id"], "ContractDataChanged", "1"))
        statuses = {(d["Payload"]["ContractId"], d["Event"]): d["Status"] for d in bw.deliveries}
        assert set(statuses.values()) == {"Delivered"}
    finally:
        bw.stop()


def test_redirect_is_followed(seeded, receiver):
    seeded.register_webhook(receiver.url.replace("/hook", "/redirect"), ["CustomerChanged"])
    cust = seeded.state("customers")["customers"][0]["Id"]
    seeded.trigger("CustomerChanged", customer_id=cust)
    assert seeded.flush_webhooks(5)
    assert receiver.hits[0]["path"] == "/moved" and receiver.hits[0]["json"]["Event"] == "CustomerChanged"


def test_entity_scope_and_account_scope(seeded, api):
    root_rx, uk_rx, other_rx = Receiver(), Receiver(), Receiver()
    try:
        seeded.register_webhook(root_rx.url, ["CustomerCreated"])                    # all entities
        seeded.register_webhook(uk_rx.url, ["CustomerCreated"], entity_id=UK)        # UK only
        seeded.add_account("b", "b", [{"id": "6b0000000000000000000001", "name": "B"}])
        seeded.register_webhook(other_rx.url, ["CustomerCreated"], client_id="b")
        api.post("customers", {"CompanyName": "root"})
        api.post("customers", {"CompanyName": "uk"}, entity=UK)
        Api(seeded, "b", "b").post("customers", {"CompanyName": "b"})
        assert seeded.flush_webhooks(5)
        assert [p["EntityId"] for p in root_rx.payloads()] == ["5f0000000000000000000001", UK]
        assert [p["EntityId"] for p in uk_rx.payloads()] == [UK]
        assert [p["EntityId"] for p in other_rx.payloads()] == ["6b0000000000000000000001"]
        # API registration with the entity header is scoped to that entity
        hook = api.post("webhooks", {"url": root_rx.url, "events": ["CustomerCreated"]}, entity=UK).json()
        assert hook["EntityId"] == UK and hook["AuthenticationType"] == "None"
        assert api.post("webhooks", {"url": root_rx.url, "events": ["Nope"]}).status_code == 422
        assert api.post("webhooks", {"url": "ftp://x", "events": ["CustomerCreated"]}).status_code == 422
    finally:
        for rx in (root_rx, uk_rx, other_rx):
            rx.server.stop()


def test_drop_and_duplicate_faults(seeded, receiver):
    seeded.register_webhook(receiver.url, ["CustomerChanged"])
    cust = seeded.state("customers")["customers"][0]["Id"]
    seeded.add_fault(drop_webhooks=2)
    for _ in range(3):
        seeded.trigger("CustomerChanged", customer_id=cust)
    assert seeded.flush_webhooks(5)
    assert len(receiver.hits) == 1
    assert [d["Status"] for d in seeded.deliveries] == ["Dropped", "Dropped", "Delivered"]
    seeded.add_fault(duplicate_webhooks=1)
    seeded.trigger("CustomerChanged", customer_id=cust)
    assert seeded.flush_webhooks(5)
    assert len(receiver.hits) == 3 and receiver.hits[1]["json"] == receiver.hits[2]["json"]


def test_unreachable_receiver_times_out_and_retries():
    bw = BillwerkSandbox(webhook_retry_base_s=0.01, webhook_max_attempts=2, webhook_timeout_s=0.2)
    try:
        server = ServerThread(lambda env, start: None)       # find a free port, then close it
        port = server.port
        server._server.server_close()
        bw.register_webhook(f"http://127.0.0.1:{port}/hook", ["CustomerCreated"])
        api_client = bw.app.test_client()
        token = api_client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                      "client_id": bw.settings.default_client_id,
                                                      "client_secret": bw.settings.default_client_secret}).json
        api_client.post("/api/v1/customers", json={"CompanyName": "x"},
                        headers={"Authorization": f"Bearer {token['access_token']}"})
        assert bw.flush_webhooks(5)
        d = bw.deliveries[0]
        assert d["Status"] == "Failed" and len(d["Attempts"]) == 2 and d["Attempts"][0]["Error"]
    finally:
        bw.stop()


def test_pause_and_cross_customer_reordering_keep_per_customer_order(seeded, receiver):
    seeded.register_webhook(receiver.url, ["CustomerChanged"])
    a, b, c = [x["Id"] for x in seeded.state("customers")["customers"][:3]]
    seeded.add_fault(pause_webhooks=True, reorder_webhooks=True)
    for cust in (a, b, a, c):
        seeded.trigger("CustomerChanged", customer_id=cust)
    assert not seeded.flush_webhooks(0.2) and receiver.hits == []
    seeded.add_fault(pause_webhooks=False)
    assert seeded.flush_webhooks(5)
    assert [h["json"]["CustomerId"] for h in receiver.hits] == [c, b, a, a]

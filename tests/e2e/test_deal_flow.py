"""Signup deals end to end (signed webhooks, the worker, both sandboxes): validation with billwerk's
priced preview, every invalid case with its reason, contract creation exactly once."""
from __future__ import annotations

import pytest
import requests

from backend.extensions import db
from backend.models import ContractLink, CustomerLink, SyncRun
from backend.models.deals import DealOrder, DealPreview
from sandbox.hubspot.signing import signed_headers
from tests.e2e.deals import Catalog, add_line_item, card, deal, signup_deal, synced_shop
from tests.e2e.records import GOOD_DE, GOOD_US


@pytest.fixture
def shop(connector):
    portal = synced_shop(connector)
    return connector, portal, Catalog(connector)


def billwerk_preview(connector, portal, deal_id):
    """What billwerk computes for the order the connector previewed (asked again, directly)."""
    row = db.session.execute(db.select(DealPreview).where(DealPreview.hubspot_deal_id == deal_id)).scalar_one()
    token = requests.post(f"{connector.billwerk.base_url}/oauth/token/", data={
        "grant_type": "client_credentials", "client_id": "hubwerk-sandbox-billwerk-client",
        "client_secret": "hubwerk-sandbox-billwerk-secret"}, timeout=10).json()["access_token"]
    r = requests.post(f"{connector.billwerk.base_url}/api/v1/orders/preview", json=row.request,
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return r.json()["Order"]


def test_signup_deal_is_validated_and_the_card_shows_billwerks_totals(shop):
    connector, portal, catalog = shop
    ids = signup_deal(connector, catalog, GOOD_DE)
    connector.deliver()
    connector.hubspot.user_update("deals", ids["deal"], {"billwerk_validation": "request"})
    connector.deliver()
    props = deal(connector, ids["deal"])
    assert props["billwerk_validation"] == "valid", props.get("billwerk_validation_message")
    assert not props.get("billwerk_validation_message")
    shown = card(connector, ids["deal"])
    assert shown["status"] == "valid" and shown["busy"] is False
    billwerk = billwerk_preview(connector, portal, ids["deal"])
    assert shown["preview"]["firstInvoice"] == {"net": billwerk["Total"], "vat": billwerk["TotalVat"], "gross": billwerk["TotalGross"]}
    assert shown["preview"]["currency"] == "EUR" and shown["preview"]["outdated"] is False
    assert [ln["kind"] for ln in shown["preview"]["lines"]] == ["plan_variant", "component", "component", "discount"]
    assert shown["preview"]["recurring"][0]["gross"] == billwerk["NextTotalGross"]
    assert shown["company"]["id"] == ids["company"]
    assert {a["id"] for a in shown["actions"]} >= {"request-validation", "create-contract", "refresh"}
    assert connector.billwerk.state()["customers"] == [c for c in connector.billwerk.state()["customers"]
                                                        if c.get("ExternalCustomerId", "").startswith("seed-")]  # nothing stored
    # a changed cart makes the validation outdated (HubSpot recalculates the amount)
    add_line_item(connector.hubspot, ids["deal"], catalog.products[catalog.components[0]["Id"]], 1, name="More seats")
    connector.hubspot.user_update("deals", ids["deal"], {"amount": "999"})
    connector.deliver()
    assert deal(connector, ids["deal"])["billwerk_validation"] == "outdated"
    assert card(connector, ids["deal"])["preview"]["outdated"] is True


def test_each_invalid_case_is_reported_with_its_reason(shop):
    connector, portal, catalog = shop
    hs = connector.hubspot
    handmade = hs.user_create("products", {"name": "Consulting day", "price": "900"})
    cases = {}
    ids = signup_deal(connector, catalog, GOOD_DE, discount=False)
    add_line_item(hs, ids["deal"], handmade["id"], 1, name="Consulting day")
    cases[ids["deal"]] = "Line item 'Consulting day' is not a billwerk product"
    ids = signup_deal(connector, catalog, GOOD_US, discount=False)
    second = catalog.variants[1]
    add_line_item(hs, ids["deal"], catalog.products[second["Id"]], 1, name="Second plan")
    cases[ids["deal"]] = "Line item 'Second plan' is a second plan variant"
    ids = signup_deal(connector, catalog, dict(GOOD_DE, name="Entity Mix GmbH"), discount=False)
    hs.user_update("deals", ids["deal"], {"billwerk_entity": "5f0000000000000000000002"})
    cases[ids["deal"]] = "is a product of billwerk entity 5f0000000000000000000001, the deal is in 5f0000000000000000000002"
    ids = signup_deal(connector, catalog, dict(GOOD_DE, name="Hidden Seats GmbH"), discount=False)
    connector.billwerk.set_hidden("component", catalog.components[0]["Id"])
    from backend.flows.catalog_sync import start_sync
    start_sync(portal)
    connector.work()
    cases[ids["deal"]] = "is hidden in billwerk and can no longer be sold"
    connector.deliver()
    for deal_id in cases:
        hs.user_update("deals", deal_id, {"billwerk_validation": "request"})
    connector.deliver()
    for deal_id, reason in cases.items():
        props = deal(connector, deal_id)
        assert props["billwerk_validation"] == "invalid", (deal_id, props)
        assert reason in props["billwerk_validation_message"], (reason, props["billwerk_validation_message"])
        problems = card(connector, deal_id)["problems"]
        assert any(reason in p["message"] and p["url"] for p in problems)


@pytest.mark.parametrize("request_first", [True, False], ids=["request-then-won", "won-then-request"])
def test_closed_won_and_request_three_times_make_one_contract(shop, request_first):
    connector, portal, catalog = shop
    ids = signup_deal(connector, catalog, GOOD_DE)
    connector.deliver()
    steps = [{"billwerk_apply_changes": "request"}, {"dealstage": "closedwon"}]
    for props in steps if request_first else steps[::-1]:
        connector.hubspot.user_update("deals", ids["deal"], props)
        assert connector.hubspot.flush_webhooks(timeout=10)
        stored = _last_delivery()
        url = f"{connector.url}/api/webhook/hubspot/events"
        for _ in range(2):   # HubSpot delivers the same events again, signed anew
            headers = signed_headers(connector.hubspot.client_secret, versions=("v1", "v3"), method="POST", uri=url,
                                     body=stored.body.encode())
            assert requests.post(url, data=stored.body.encode(), headers=headers | {"Content-Type": "application/json"},
                                 timeout=10).status_code == 200
        connector.work()
    connector.deliver()
    state = connector.billwerk.state()
    mine = [c for c in state["customers"] if c.get("ExternalCustomerId") == ids["company"]]
    assert len(mine) == 1
    contracts = [c for c in state["contracts"] if c["CustomerId"] == mine[0]["Id"]]
    orders = [o for o in state["orders"] if o["CustomerId"] == mine[0]["Id"]]
    assert len(contracts) == 1 and len(orders) == 1 and orders[0]["Status"] == "Completed"
    props = deal(connector, ids["deal"])
    assert (props["billwerk_apply_changes"], props["billwerk_contract_id"], props["billwerk_customer_id"],
            props["billwerk_order_id"]) == ("applied", contracts[0]["Id"], mine[0]["Id"], orders[0]["Id"])
    link = db.session.execute(db.select(ContractLink)).scalar_one()
    assert (link.hubspot_deal_id, link.billwerk_contract_id) == (ids["deal"], contracts[0]["Id"])
    assert db.session.execute(db.select(db.func.count(CustomerLink.id))).scalar_one() == 1
    assert card(connector, ids["deal"])["status"] == "applied"


def _last_delivery():
    from backend.models import InboxEvent
    return db.session.execute(db.select(InboxEvent).where(InboxEvent.source == "hubspot_webhook")
                              .order_by(InboxEvent.id.desc())).scalars().first()


def test_signup_existing_uses_the_linked_customer(shop):
    connector, portal, catalog = shop
    existing = connector.billwerk.state()["customers"][0]
    ids = signup_deal(connector, catalog, GOOD_DE, deal_type="signup_existing")
    connector.deliver()
    from backend.flows.linking import link_company
    link_company(portal, ids["company"], existing["Id"])
    before = len(connector.billwerk.state()["customers"])
    connector.hubspot.user_update("deals", ids["deal"], {"billwerk_apply_changes": "request", "dealstage": "closedwon"})
    connector.deliver()
    props = deal(connector, ids["deal"])
    assert props["billwerk_apply_changes"] == "applied", props.get("billwerk_apply_message")
    assert props["billwerk_customer_id"] == existing["Id"]
    assert len(connector.billwerk.state()["customers"]) == before


class WorkerKilled(BaseException):
    """The worker process dies (a deploy, OOM): nothing after this line runs."""


def test_a_worker_killed_between_order_creation_and_commit_still_makes_one_contract(shop, monkeypatch):
    connector, portal, catalog = shop
    ids = signup_deal(connector, catalog, GOOD_DE, stage="closedwon")
    connector.deliver()
    from backend.clients.billwerk import BillwerkClient

    def die(self, order_id, payment_method=None):
        raise WorkerKilled()

    monkeypatch.setattr(BillwerkClient, "commit_order", die)
    connector.hubspot.user_update("deals", ids["deal"], {"billwerk_apply_changes": "request"})
    assert connector.hubspot.flush_webhooks(timeout=10)
    connector.work()      # the job dies inside the commit call
    row = db.session.execute(db.select(DealOrder)).scalar_one()
    assert row.status == "committing" and row.billwerk_order_id
    assert connector.billwerk.state()["contracts"] == [c for c in connector.billwerk.state()["contracts"]
                                                        if c["CustomerId"] != row.billwerk_customer_id]
    monkeypatch.undo()
    # recovery: the cron finds the run its dead worker left running and retries it
    from datetime import timedelta
    from backend.jobs.runs import recover_stuck_runs, retry_failed_runs
    from backend.models import utcnow
    run = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "create_contract", SyncRun.status == "running")).scalar_one()
    run.started_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    redis = connector.app.extensions["hubwerk.redis"]()
    stale = redis.keys("hubwerk:lock:*")   # a dead worker's locks expire
    if stale:
        redis.delete(*stale)
    recover_stuck_runs()
    db.session.refresh(run)
    run.next_retry_at = utcnow()
    db.session.commit()
    retry_failed_runs()
    connector.work()
    contracts = [c for c in connector.billwerk.state()["contracts"] if c["CustomerId"] == row.billwerk_customer_id]
    assert len(contracts) == 1
    orders = [o for o in connector.billwerk.state()["orders"] if o["CustomerId"] == row.billwerk_customer_id]
    assert len(orders) == 1 and orders[0]["Id"] == row.billwerk_order_id
    assert deal(connector, ids["deal"])["billwerk_apply_changes"] == "applied"


def test_card_buttons_start_runs_and_answer_at_once(shop):
    connector, portal, catalog = shop
    ids = signup_deal(connector, catalog, GOOD_DE)
    connector.deliver()
    first = card(connector, ids["deal"], "POST", "request-validation", {})
    again = card(connector, ids["deal"], "POST", "request-validation", {})   # hubspot.fetch retried: joins the waiting run
    assert first["busy"] is True and first["status"] == "validating" and first["runId"] == again["runId"]
    connector.work()
    shown = card(connector, ids["deal"])
    assert shown["status"] == "valid" and shown["runs"][0]["flow"] == "validate_deal"
    created = card(connector, ids["deal"], "POST", "create-contract", {})
    assert created["status"] == "applying"
    connector.work()
    shown = card(connector, ids["deal"])
    assert shown["status"] == "applied" and shown["billing"]["contractId"]
    assert card(connector, ids["deal"], "POST", "refresh", {})["message"] == "Refreshed"


def test_workflow_actions_validate_and_create(shop):
    connector, portal, catalog = shop
    ids = signup_deal(connector, catalog, GOOD_DE)
    connector.deliver()
    for action in ("validate-deal", "create-contract"):
        url = f"{connector.url}/api/workflow-actions/{action}"
        answer = connector.hubspot.execute_workflow_action(100001, url, "DEAL", ids["deal"], {})
        assert answer.json()["outputFields"]["hs_execution_state"] == "BLOCK"
        connector.work()
    callbacks = [c for c in connector.hubspot.callbacks().values() if c["objectId"] == ids["deal"]]
    assert [c["outputFields"]["result"] for c in callbacks] == ["success", "success"], callbacks
    contract = deal(connector, ids["deal"])["billwerk_contract_id"]
    assert callbacks[-1]["outputFields"]["contract_id"] == contract


def test_deals_waiting_together_are_read_and_written_back_together(shop):
    connector, portal, catalog = shop
    deals = [signup_deal(connector, catalog, dict(GOOD_DE, name=f"Batch {i} GmbH"))["deal"] for i in range(6)]
    connector.deliver()
    for deal_id in deals:
        connector.hubspot.user_update("deals", deal_id, {"billwerk_validation": "request"})
    assert connector.hubspot.flush_webhooks(timeout=10)
    connector.hubspot.reset_calls()
    connector.billwerk.reset_calls()
    connector.work()
    assert all(deal(connector, d)["billwerk_validation"] == "valid" for d in deals)
    previews = [c for c in connector.billwerk.calls if c["path"].lower().endswith("/orders/preview")]
    assert len(previews) == len(deals)                   # each deal asked once, none twice
    updates = [c for c in connector.hubspot.calls if c["path"] == "/crm/v3/objects/deals/batch/update"]
    reads = [c for c in connector.hubspot.calls if c["path"] == "/crm/v3/objects/deals/batch/read"]
    assert len(updates) == 1 and len(reads) == 1          # one read and one write-back for all of them
    runs = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "validate_deal")).scalars().all()
    assert sorted(r.object_id for r in runs) == sorted(deals)
    assert {(r.status, r.attempts) for r in runs} == {("succeeded", 1)}


def test_a_workflow_enrolling_many_deals_is_answered_in_one_callback_batch(shop):
    connector, portal, catalog = shop
    deals = [signup_deal(connector, catalog, dict(GOOD_DE, name=f"Enrolled {i} GmbH"))["deal"] for i in range(4)]
    connector.deliver()
    url = f"{connector.url}/api/workflow-actions/validate-deal"
    for deal_id in deals:
        assert connector.hubspot.execute_workflow_action(100001, url, "DEAL", deal_id, {}).status_code == 200
    connector.hubspot.reset_calls()
    connector.work()
    callbacks = [c for c in connector.hubspot.callbacks().values() if c["objectId"] in deals]
    assert len(callbacks) == 4 and {c["state"] for c in callbacks} == {"COMPLETED"}
    assert {c["outputFields"]["result"] for c in callbacks} == {"success"}
    completing = [c for c in connector.hubspot.calls if "/callbacks/" in c["path"]]
    # the leader's own callback, then the three it took along, together
    assert [c["path"] for c in completing].count("/automation/v4/actions/callbacks/complete") == 1
    assert len(completing) == 2

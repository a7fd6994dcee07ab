"""Up-/downgrade deals end to end (issue 14, "Done when"): create the follow-up deal, change its cart
(new plan variant, one component removed, one quantity raised), validate it with billwerk's preview
and the card's before/after, execute it exactly once, and watch the contract move to it — also
along a chain of up-/downgrades."""
from __future__ import annotations

import pytest

from backend.extensions import db
from backend.models import ContractLink, SyncRun
from backend.models.deals import DealOrder
from tests.e2e.deals import Catalog, add_line_item, card, deal, signup_deal, synced_shop
from tests.e2e.records import GOOD_DE


@pytest.fixture
def shop(connector):
    portal = synced_shop(connector)
    return connector, portal, Catalog(connector)


def signed_up(connector, catalog, company=GOOD_DE):
    """A closed-won signup deal (plan variant, seats x3, storage x2) with its contract."""
    ids = signup_deal(connector, catalog, company, discount=False, stage="closedwon")
    connector.deliver()
    connector.hubspot.user_update("deals", ids["deal"], {"billwerk_apply_changes": "request"})
    connector.deliver()
    props = deal(connector, ids["deal"])
    assert props["billwerk_apply_changes"] == "applied", props.get("billwerk_apply_message")
    return ids | {"contract": props["billwerk_contract_id"]}


def create_upgrade_deal(connector, origin_id) -> str:
    connector.hubspot.user_update("deals", origin_id, {"billwerk_upgrade_deal": "create"})
    connector.deliver()
    [found] = [d for d in connector.hubspot.objects("deals") if d["properties"].get("billwerk_origin_deal_id") == origin_id]
    return found["id"]


def line_items(connector, deal_id) -> dict[str, dict]:
    hs = connector.hubspot
    return {a["id"]: hs.get_object("line_items", a["id"])["properties"]
            for a in hs.get_object("deals", deal_id)["associations"].get("line_items", [])}


def other_variant(catalog, same_period=False):
    return next(v for v in catalog.variants[1:] if v["PlanGroupId"] == catalog.variant["PlanGroupId"]
                and (not same_period or v.get("FeePeriod") == catalog.variant.get("FeePeriod")))


def change_cart(connector, catalog, deal_id, *, variant=None, seats=5):
    """New plan variant, storage removed, seats raised to ``seats``."""
    hs = connector.hubspot
    products = {v: k for k, v in catalog.products.items()}
    for line_id, props in line_items(connector, deal_id).items():
        billwerk_id = products.get(props.get("hs_product_id"))
        if billwerk_id in {v["Id"] for v in catalog.variants} and variant is not None:
            hs.user_archive("line_items", line_id)
        elif billwerk_id == catalog.components[1]["Id"]:
            hs.user_archive("line_items", line_id)
        elif billwerk_id == catalog.components[0]["Id"]:
            hs.user_update("line_items", line_id, {"quantity": str(seats)})
    if variant is not None:
        add_line_item(hs, deal_id, catalog.products[variant["Id"]], 1, variant["RecurringFee"], name=variant["InternalName"])
    hs.user_update("deals", deal_id, {"amount": "1"})   # HubSpot recalculates the amount


def holder(portal, contract_id) -> str:
    [link] = db.session.execute(db.select(ContractLink).where(ContractLink.billwerk_contract_id == contract_id,
                                                              ContractLink.sync_stopped.is_(False))).scalars().all()
    return link.hubspot_deal_id


def upgrade_orders(connector, contract_id):
    return [o for o in connector.billwerk.state()["orders"] if o.get("ContractId") == contract_id and o["OrderType"] == "Upgrade"]


def test_upgrade_deal_validated_with_before_and_after_then_executed_once(shop):
    connector, portal, catalog = shop
    hs = connector.hubspot
    ids = signed_up(connector, catalog)
    contract_id = ids["contract"]
    before_subs = {s["ComponentId"]: s for s in connector.billwerk.state()["component_subscriptions"]
                   if s["ContractId"] == contract_id}
    upgrade = create_upgrade_deal(connector, ids["deal"])
    props = deal(connector, upgrade)
    assert props["dealname"] == f"Up- / Downgrade deal for {deal(connector, ids['deal'])['dealname']}"
    assert props["billwerk_deal_type"] == "upgrade" and props["billwerk_origin_deal_id"] == ids["deal"]

    def associated(deal_id, to_type):
        return sorted(a["id"] for a in hs.get_object("deals", deal_id)["associations"].get(to_type, []))
    assert associated(upgrade, "companies") == associated(ids["deal"], "companies") == [ids["company"]]
    assert associated(upgrade, "contacts") == associated(ids["deal"], "contacts") != []
    assert sorted((p["hs_product_id"], p["quantity"]) for p in line_items(connector, upgrade).values()) == \
        sorted((p["hs_product_id"], p["quantity"]) for p in line_items(connector, ids["deal"]).values())
    new_variant = other_variant(catalog)        # yearly, where the origin's is monthly
    change_cart(connector, catalog, upgrade, variant=new_variant, seats=5)
    hs.user_update("deals", upgrade, {"billwerk_payment_term_days": "30"})
    connector.deliver()

    hs.user_update("deals", upgrade, {"billwerk_validation": "request"})
    connector.deliver()
    props = deal(connector, upgrade)
    assert props["billwerk_validation"] == "valid", props.get("billwerk_validation_message")
    shown = card(connector, upgrade)
    assert shown["status"] == "valid"
    comparison = shown["upgrade"]
    seats, storage = catalog.components[0], catalog.components[1]
    assert [c["quantity"] for c in comparison["before"]["components"]] == [3, 2]
    assert [c["quantity"] for c in comparison["after"]["components"]] == [5]
    assert comparison["before"]["planVariant"] != comparison["after"]["planVariant"]
    assert (catalog.variant["FeePeriod"], new_variant["FeePeriod"]) == ({"Unit": "Month", "Quantity": 1}, {"Unit": "Year", "Quantity": 1})
    before_fee = catalog.variant["RecurringFee"] + 3 * seats["PricePerUnit"] + 2 * storage["PricePerUnit"]
    fees = {(f["period"], f["label"]): f["net"] for f in comparison["before"]["recurring"]}
    assert fees == {("P1M", "per month"): pytest.approx(before_fee)}
    fees = {f["period"]: f["net"] for f in comparison["after"]["recurring"]}
    assert fees == {"P12M": pytest.approx(new_variant["RecurringFee"]), "P1M": pytest.approx(5 * seats["PricePerUnit"])}
    yearly_after = new_variant["RecurringFee"] + 12 * 5 * seats["PricePerUnit"]
    assert (comparison["period"], comparison["periodLabel"]) == ("P12M", "per year")   # the new plan's period
    assert comparison["differencePerPeriod"] == pytest.approx(yearly_after - 12 * before_fee)
    assert "upgrade" not in shown["preview"]
    assert any("payment term" in w for w in shown["preview"]["warnings"])   # ignored, with a warning
    assert {a["id"] for a in shown["actions"]} >= {"request-validation", "execute-upgrade"}
    assert upgrade_orders(connector, contract_id) == []                     # a preview stores nothing

    for _ in range(3):   # the rep sets it again, HubSpot redelivers
        hs.user_update("deals", upgrade, {"billwerk_apply_changes": "request", "dealstage": "closedwon"})
        connector.deliver()
    [order] = upgrade_orders(connector, contract_id)
    assert order["Status"] == "Completed" and order["PlanVariantId"] == new_variant["Id"]
    # the storage subscription ended, the seats one ended and subscribed again with 5
    assert sorted(order["EndComponentSubscriptions"]) == sorted([before_subs[storage["Id"]]["Id"], before_subs[seats["Id"]]["Id"]])
    assert [(c["ComponentId"], c["Quantity"]) for c in order["ComponentSubscriptions"]] == [(seats["Id"], 5.0)]
    state = connector.billwerk.state()
    active = [(s["ComponentId"], s["Quantity"]) for s in state["component_subscriptions"]
              if s["ContractId"] == contract_id and not s.get("EndDate")]
    assert active == [(seats["Id"], 5.0)]

    props = deal(connector, upgrade)
    assert props["billwerk_apply_changes"] == "applied", props.get("billwerk_apply_message")
    assert (props["billwerk_contract_id"], props["billwerk_order_id"]) == (contract_id, order["Id"])
    assert props["billwerk_customer_id"] == deal(connector, ids["deal"])["billwerk_customer_id"]
    assert props["billwerk_lifecycle_status"] == "Active" and props["billwerk_currency"] == "EUR"
    origin = deal(connector, ids["deal"])
    assert origin["billwerk_sync_stopped"] == "true" and origin["billwerk_order_id"] != order["Id"]
    assert holder(portal, contract_id) == upgrade            # billwerk's next ContractChanged goes to the upgrade deal
    link = ContractLink.for_deal(portal.id, upgrade)
    assert link.origin_deal_id == ids["deal"] and ContractLink.for_deal(portal.id, ids["deal"]).sync_stopped
    assert card(connector, ids["deal"])["status"] == "sync_stopped"
    shown = card(connector, upgrade)
    assert shown["status"] == "applied" and [a["id"] for a in shown["actions"]] == ["create-upgrade-deal", "refresh"]
    assert shown["statusLabel"] == "Contract changed in billwerk"
    assert shown["upgrade"] is None and shown["billing"]["contractId"] == contract_id

    # the same triggers three times more, and the card button and the workflow action: nothing changes
    def billwerk_props(deal_id):
        return {k: v for k, v in deal(connector, deal_id).items() if k.startswith("billwerk_")}
    settled = {d: billwerk_props(d) for d in (upgrade, ids["deal"])}
    for _ in range(3):
        hs.user_update("deals", upgrade, {"billwerk_apply_changes": "request"})
        hs.user_update("deals", upgrade, {"billwerk_validation": "request"})
        connector.deliver()
    card(connector, upgrade, "POST", "execute-upgrade", {})
    answer = hs.execute_workflow_action(100001, f"{connector.url}/api/workflow-actions/execute-upgrade", "DEAL", upgrade, {})
    assert answer.status_code == 200
    connector.settle()   # runs deferred by the spent HubSpot budget come back
    assert len(upgrade_orders(connector, contract_id)) == 1
    assert len(connector.billwerk.state()["contracts"]) == len(state["contracts"])
    assert holder(portal, contract_id) == upgrade
    [callback] = [c for c in hs.callbacks().values() if c["objectId"] == upgrade]
    assert callback["outputFields"]["result"] == "success" and callback["outputFields"]["order_id"] == order["Id"]
    assert {d: billwerk_props(d) for d in (upgrade, ids["deal"])} == settled
    assert deal(connector, upgrade)["billwerk_validation"] == "valid"


def test_a_chain_moves_the_contract_again(shop):
    connector, portal, catalog = shop
    hs = connector.hubspot
    ids = signed_up(connector, catalog)
    contract_id = ids["contract"]
    first = create_upgrade_deal(connector, ids["deal"])
    change_cart(connector, catalog, first, variant=other_variant(catalog), seats=4)
    connector.deliver()
    card(connector, first, "POST", "execute-upgrade", {})      # not validated yet: validated first, then executed
    connector.work()
    assert deal(connector, first)["billwerk_apply_changes"] == "applied", deal(connector, first).get("billwerk_apply_message")
    assert holder(portal, contract_id) == first
    second = create_upgrade_deal(connector, first)
    assert deal(connector, second)["dealname"] == f"Up- / Downgrade deal for {deal(connector, first)['dealname']}"
    change_cart(connector, catalog, second, seats=9)          # same plan variant, only the seats
    connector.deliver()
    answer = hs.execute_workflow_action(100001, f"{connector.url}/api/workflow-actions/validate-deal", "DEAL", second, {})
    assert answer.status_code == 200
    connector.work()
    assert deal(connector, second)["billwerk_validation"] == "valid", deal(connector, second).get("billwerk_validation_message")
    assert card(connector, second)["upgrade"]["after"]["components"][0]["quantity"] == 9
    from datetime import datetime, timedelta, timezone
    when = (datetime.now(timezone.utc) + timedelta(days=10)).replace(hour=0, minute=0, second=0, microsecond=0)
    answer = hs.execute_workflow_action(100001, f"{connector.url}/api/workflow-actions/execute-upgrade", "DEAL", second,
                                        {"change_date": str(int(when.timestamp() * 1000))})   # HubSpot's epoch ms
    assert answer.status_code == 200
    connector.work()
    assert deal(connector, second)["billwerk_apply_changes"] == "applied", deal(connector, second).get("billwerk_apply_message")
    assert holder(portal, contract_id) == second
    assert deal(connector, first)["billwerk_sync_stopped"] == "true"
    assert ContractLink.for_deal(portal.id, second).origin_deal_id == first
    orders = upgrade_orders(connector, contract_id)
    assert len(orders) == 2 and orders[-1].get("PlanVariantId") is None      # the plan variant stays
    assert orders[-1]["ChangeDate"].startswith(when.date().isoformat())    # the workflow's change date
    active = [(s["ComponentId"], s["Quantity"]) for s in connector.billwerk.state()["component_subscriptions"]
              if s["ContractId"] == contract_id and not s.get("EndDate")]
    assert active == [(catalog.components[0]["Id"], 9.0)]


def test_a_refused_commit_says_why_and_can_be_requested_again(shop, monkeypatch):
    connector, portal, catalog = shop
    hs = connector.hubspot
    ids = signed_up(connector, catalog)
    upgrade = create_upgrade_deal(connector, ids["deal"])
    change_cart(connector, catalog, upgrade, variant=other_variant(catalog), seats=6)
    connector.deliver()
    from backend.clients.base import ValidationFailed
    from backend.clients.billwerk import BillwerkClient
    real = BillwerkClient.commit_order

    def refuse(self, order_id, payment_method=None):
        raise ValidationFailed("billwerk refused", provider="billwerk", method="POST", path=f"/orders/{order_id}/commit",
                               provider_status=422, provider_message="The contract is locked for changes.")

    monkeypatch.setattr(BillwerkClient, "commit_order", refuse)
    hs.user_update("deals", upgrade, {"billwerk_apply_changes": "request", "dealstage": "closedwon"})
    connector.deliver()
    props = deal(connector, upgrade)
    assert props["billwerk_apply_changes"] == "failed"
    assert "The contract is locked for changes" in props["billwerk_apply_message"]
    assert holder(portal, ids["contract"]) == ids["deal"]          # nothing moved
    assert upgrade_orders(connector, ids["contract"]) == []        # the refused order is deleted in billwerk
    monkeypatch.setattr(BillwerkClient, "commit_order", real)
    hs.user_update("deals", upgrade, {"billwerk_apply_changes": "request"})
    connector.deliver()
    assert deal(connector, upgrade)["billwerk_apply_changes"] == "applied"
    orders = upgrade_orders(connector, ids["contract"])
    assert [o["Status"] for o in orders] == ["Completed"]         # built anew and committed, one in all
    assert holder(portal, ids["contract"]) == upgrade


def test_billwerk_away_during_the_commit_is_retried_and_said_so(shop, monkeypatch):
    connector, portal, catalog = shop
    ids = signed_up(connector, catalog)
    upgrade = create_upgrade_deal(connector, ids["deal"])
    change_cart(connector, catalog, upgrade, variant=other_variant(catalog), seats=6)
    connector.deliver()
    from backend.clients.base import ServerError
    from backend.clients.billwerk import BillwerkClient

    def unavailable(self, order_id, payment_method=None):
        raise ServerError("billwerk answered 503", provider="billwerk", method="POST", path=f"/orders/{order_id}/commit",
                          provider_status=503)

    monkeypatch.setattr(BillwerkClient, "commit_order", unavailable)
    card(connector, upgrade, "POST", "execute-upgrade", {})
    connector.work()
    run = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "execute_upgrade")
                             .order_by(SyncRun.id.desc())).scalars().first()
    assert run.status == "failed" and run.retriable
    assert "the up-/downgrade will be retried" in run.error and "contract creation" not in run.error
    assert holder(portal, ids["contract"]) == ids["deal"]          # nothing moved yet


class WorkerKilled(BaseException):
    """The worker process dies: nothing after this line runs."""


def _recover(connector):
    """The cron finds the run its dead worker left running (its locks expired) and retries it."""
    from datetime import timedelta
    from backend.jobs.runs import recover_stuck_runs, retry_failed_runs
    from backend.models import utcnow
    run = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "execute_upgrade", SyncRun.status == "running")).scalar_one()
    run.started_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    redis = connector.app.extensions["hubwerk.redis"]()
    stale = redis.keys("hubwerk:lock:*")
    if stale:
        redis.delete(*stale)
    recover_stuck_runs()
    db.session.refresh(run)
    run.next_retry_at = utcnow()
    db.session.commit()
    retry_failed_runs()
    connector.work()


@pytest.mark.parametrize("dies_in", ["create_order", "commit_order"])
def test_a_worker_killed_after_billwerk_answered_still_makes_one_upgrade(shop, monkeypatch, dies_in):
    connector, portal, catalog = shop
    ids = signed_up(connector, catalog)
    upgrade = create_upgrade_deal(connector, ids["deal"])
    change_cart(connector, catalog, upgrade, variant=other_variant(catalog), seats=6)
    connector.deliver()
    from backend.clients.billwerk import BillwerkClient
    real = getattr(BillwerkClient, dies_in)

    def call_then_die(self, *args, **kwargs):
        real(self, *args, **kwargs)   # billwerk did it; the answer never arrives
        raise WorkerKilled()

    monkeypatch.setattr(BillwerkClient, dies_in, call_then_die)
    card(connector, upgrade, "POST", "execute-upgrade", {})
    connector.work()
    row = db.session.execute(db.select(DealOrder).where(DealOrder.hubspot_deal_id == upgrade)).scalar_one()
    assert row.kind == "upgrade" and row.status == {"create_order": "creating", "commit_order": "committing"}[dies_in]
    monkeypatch.undo()
    _recover(connector)
    [order] = upgrade_orders(connector, ids["contract"])
    assert order["Status"] == "Completed"
    assert deal(connector, upgrade)["billwerk_apply_changes"] == "applied"
    assert deal(connector, upgrade)["billwerk_order_id"] == order["Id"]
    assert holder(portal, ids["contract"]) == upgrade


def test_an_unchanged_cart_is_invalid_and_a_request_waits_for_closed_won(shop):
    connector, portal, catalog = shop
    hs = connector.hubspot
    ids = signed_up(connector, catalog)
    upgrade = create_upgrade_deal(connector, ids["deal"])     # the copied cart is today's contract
    hs.user_update("deals", upgrade, {"billwerk_validation": "request"})
    connector.deliver()
    props = deal(connector, upgrade)
    assert props["billwerk_validation"] == "invalid"
    assert "The cart is the contract as it is today" in props["billwerk_validation_message"]
    change_cart(connector, catalog, upgrade, seats=4)
    connector.deliver()
    hs.user_update("deals", upgrade, {"billwerk_apply_changes": "request"})
    connector.deliver()
    assert upgrade_orders(connector, ids["contract"]) == [] and holder(portal, ids["contract"]) == ids["deal"]
    hs.user_update("deals", upgrade, {"dealstage": "closedwon"})
    connector.deliver()
    props = deal(connector, upgrade)
    assert props["billwerk_apply_changes"] == "applied", props.get("billwerk_apply_message")
    assert props["billwerk_validation"] == "valid"                # validated on the way
    [order] = upgrade_orders(connector, ids["contract"])
    assert order.get("PlanVariantId") is None and [c["Quantity"] for c in order["ComponentSubscriptions"]] == [4.0]
    assert holder(portal, ids["contract"]) == upgrade


def test_hand_made_upgrade_deals_follow_the_contract(shop):
    connector, portal, catalog = shop
    hs = connector.hubspot
    ids = signed_up(connector, catalog)
    first = create_upgrade_deal(connector, ids["deal"])
    change_cart(connector, catalog, first, seats=8)
    connector.deliver()
    card(connector, first, "POST", "execute-upgrade", {})
    connector.work()
    assert holder(portal, ids["contract"]) == first

    def by_hand(origin):
        made = hs.user_create("deals", {"dealname": "By hand", "pipeline": "default", "dealstage": "appointmentscheduled",
                                        "billwerk_deal_type": "upgrade", "billwerk_origin_deal_id": origin})
        hs.user_associate("deals", made["id"], "companies", ids["company"])
        v, seat = catalog.variant, catalog.components[0]
        add_line_item(hs, made["id"], catalog.products[v["Id"]], 1, v["RecurringFee"], name=v["InternalName"])
        add_line_item(hs, made["id"], catalog.products[seat["Id"]], 2, seat["PricePerUnit"], name=seat["InternalName"])
        return made["id"]

    stale = by_hand(ids["deal"])           # its origin no longer holds the contract
    connector.deliver()
    hs.user_update("deals", stale, {"billwerk_validation": "request"})
    connector.deliver()
    props = deal(connector, stale)
    assert props["billwerk_validation"] == "invalid"
    assert f"has moved to deal {first}" in props["billwerk_validation_message"]
    follow = by_hand(first)                # the holder's follow-up: the property request is handed to the execution
    connector.deliver()
    hs.user_update("deals", follow, {"billwerk_apply_changes": "request", "dealstage": "closedwon"})
    connector.deliver()
    props = deal(connector, follow)
    assert props["billwerk_apply_changes"] == "applied", props.get("billwerk_apply_message")
    assert holder(portal, ids["contract"]) == follow and deal(connector, first)["billwerk_sync_stopped"] == "true"
    assert len(upgrade_orders(connector, ids["contract"])) == 2


def test_a_following_contract_change_is_for_the_upgrade_deal(shop):
    """billwerk's next ContractChanged: stored, and — once the contract-update handler is part of the
    build — written to the upgrade deal, never to the stopped origin."""
    connector, portal, catalog = shop
    from datetime import datetime, timedelta, timezone
    from backend.clients.billwerk import client_for
    from backend.flows import billwerk_events
    from backend.models import InboxEvent
    ids = signed_up(connector, catalog)
    upgrade = create_upgrade_deal(connector, ids["deal"])
    change_cart(connector, catalog, upgrade, seats=4)
    connector.deliver()
    card(connector, upgrade, "POST", "execute-upgrade", {})
    connector.work()
    connector.deliver()
    origin_before = deal(connector, ids["deal"])
    end = (datetime.now(timezone.utc) + timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
    client_for(portal.billwerk_account, "5f0000000000000000000001").end_contract(ids["contract"], end.isoformat())
    connector.deliver()
    hooks = [e for e in db.session.execute(db.select(InboxEvent).where(InboxEvent.source == "billwerk_webhook")).scalars()
             if '"ContractChanged"' in e.body and ids["contract"] in e.body]
    assert hooks, "billwerk's ContractChanged was not stored"
    assert holder(portal, ids["contract"]) == upgrade
    if "ContractChanged" in billwerk_events.EVENT_HANDLERS:
        connector.work()
        assert deal(connector, upgrade)["billwerk_end_date"] == end.date().isoformat()
        after = deal(connector, ids["deal"])
        assert {k: v for k, v in after.items() if k.startswith("billwerk_")} == \
            {k: v for k, v in origin_before.items() if k.startswith("billwerk_")}


def test_upgrade_deals_waiting_together_share_reads_and_the_catalogue(shop):
    connector, portal, catalog = shop
    hs = connector.hubspot
    upgrades = []
    for i in range(3):
        ids = signed_up(connector, catalog, dict(GOOD_DE, name=f"Batch {i} GmbH"))
        upgrade = create_upgrade_deal(connector, ids["deal"])
        change_cart(connector, catalog, upgrade, seats=4 + i)
        upgrades.append(upgrade)
    connector.deliver()
    for upgrade in upgrades:
        hs.user_update("deals", upgrade, {"billwerk_validation": "request"})
    assert hs.flush_webhooks(timeout=10)
    hs.reset_calls()
    connector.billwerk.reset_calls()
    connector.fresh_budget()
    connector.work()
    assert [deal(connector, u)["billwerk_validation"] for u in upgrades] == ["valid"] * 3
    paths = [c["path"].lower() for c in connector.billwerk.calls]
    assert paths.count("/api/v1/productinfo") == 1                     # once for the three
    assert sum(p.endswith("/orders/preview") for p in paths) == 3
    assert sum(p.startswith("/api/v1/contracts/") for p in paths) == 3
    assert [c["path"] for c in hs.calls].count("/crm/v3/objects/deals/batch/update") == 1

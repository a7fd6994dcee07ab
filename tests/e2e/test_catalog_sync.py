"""Product sync end to end: the billwerk sandbox's catalogue into the HubSpot sandbox's product library."""
import pytest

from backend.extensions import db
from backend.flows.catalog_sync import FLOW
from backend.flows.catalog_sync import sync_products_everywhere
from backend.models import CatalogProduct, SyncRun
from tests.e2e.conftest import ROOT_ENTITY

UPSERT = "/crm/v3/objects/products/batch/upsert"


@pytest.fixture
def ready(connector):
    connector.billwerk.seed(catalog_items=30, customers=0)
    portal = connector.install()
    connector.connect_billwerk(portal)
    return connector, portal


def sync(connector, portal) -> SyncRun:
    from backend.flows.catalog_sync import start_sync

    connector.hubspot.reset_calls()
    connector.billwerk.reset_calls()
    run = start_sync(portal)
    connector.work()
    db.session.refresh(run)
    return run


def visible_items(connector, entities=None) -> dict[str, dict]:
    """billwerk id -> item, for the items that belong in HubSpot (not hidden, plan not hidden)."""
    catalog = connector.billwerk.state()["catalog"]
    hidden_plans = {p["Id"] for p in catalog["plans"] if p.get("Hidden")}
    out = {}
    for kind in ("plan_variants", "components", "discounts"):
        for item in catalog[kind]:
            if entities and item["EntityId"] not in entities:
                continue
            if not item.get("Hidden") and item.get("PlanId") not in hidden_plans:
                out[item["Id"]] = dict(item, kind=kind)
    return out


def products(connector, archived=False) -> dict[str, dict]:
    return {p["properties"]["billwerk_id"]: p for p in connector.hubspot.objects("products", archived=archived)
            if p["properties"].get("billwerk_id")}


def crm_calls(connector, path_prefix="/crm/v3/objects/products"):
    return [c for c in connector.hubspot.calls if c["path"].startswith(path_prefix)]


def test_first_sync_creates_one_product_per_visible_item_and_the_second_writes_nothing(ready):
    connector, portal = ready
    run = sync(connector, portal)
    assert run.status == "succeeded", run.error
    visible = visible_items(connector)
    synced = products(connector)
    assert set(synced) == set(visible)
    assert run.counts["created"] == len(visible) and run.counts["failed"] == 0 and run.counts["hidden"] > 0
    assert run.counts["items"] == len(visible) + run.counts["hidden"]
    # HubSpot: one list of its products (none yet) and upserts of 100, nothing else.
    upserts = crm_calls(connector, UPSERT)
    assert [c["batch_size"] for c in upserts] == [100] * (len(visible) // 100) + ([len(visible) % 100] if len(visible) % 100 else [])
    assert len(crm_calls(connector, "/crm/")) == len(upserts) + 1
    # billwerk: every list read with its largest page.
    assert all("take=500" in str(c["query"]) or c["query"].get("take") == "500" for c in connector.billwerk.calls if c["path"].lower().startswith("/api/v1/"))

    variant = next(v for v in visible.values() if v["kind"] == "plan_variants" and v["EntityId"] == ROOT_ENTITY[0])
    props = synced[variant["Id"]]["properties"]
    assert props["billwerk_object_type"] == "plan_variant" and props["billwerk_entity"] == ROOT_ENTITY[0]
    assert props["name"].endswith("monthly") or props["name"].endswith("yearly")
    assert " – " in props["name"]
    assert props["hs_sku"] == variant["ExternalId"]
    assert float(props["price"]) == variant["RecurringFee"]
    assert props["recurringbillingfrequency"] in ("monthly", "annually")
    component = next(v for v in visible.values() if v["kind"] == "components")
    assert float(products(connector)[component["Id"]]["properties"]["price"]) == component["PricePerUnit"]

    again = sync(connector, portal)
    assert again.status == "succeeded", again.error
    assert crm_calls(connector, "/crm/") == []
    assert again.counts["unchanged"] == len(visible) and again.counts["created"] == again.counts["updated"] == 0


def test_hiding_archives_the_product_but_not_the_deal_line_item_and_showing_restores_it(ready):
    connector, portal = ready
    sync(connector, portal)
    hs, bw = connector.hubspot, connector.billwerk
    component = next(v for v in visible_items(connector).values() if v["kind"] == "components")
    product = products(connector)[component["Id"]]
    deal = hs.user_create("deals", {"dealname": "Seats deal", "pipeline": "default", "dealstage": "appointmentscheduled"})
    line = hs.user_create("line_items", {"name": product["properties"]["name"], "hs_product_id": product["id"],
                                         "quantity": "5", "price": product["properties"]["price"]})
    hs.user_associate("line_items", line["id"], "deals", deal["id"])

    bw.set_hidden("component", component["Id"], True)
    run = sync(connector, portal)
    assert run.status == "succeeded", run.error
    assert run.counts["archived"] == 1 and run.counts["created"] == run.counts["updated"] == 0
    assert component["Id"] not in products(connector)
    assert component["Id"] in products(connector, archived=True)
    kept = hs.get_object("line_items", line["id"])
    assert kept["properties"]["hs_product_id"] == product["id"] and kept["properties"]["quantity"] == "5"
    assert not kept.get("archived")
    assert [c["path"] for c in crm_calls(connector)] == ["/crm/v3/objects/products/batch/archive"]

    again = sync(connector, portal)
    assert crm_calls(connector) == [] and again.counts["archived"] == 0

    bw.set_hidden("component", component["Id"], False)
    shown = sync(connector, portal)
    assert shown.status == "succeeded", shown.error
    assert (shown.counts["created"], shown.counts["restored"]) == (1, 1)
    restored = products(connector)[component["Id"]]
    assert restored["properties"]["name"] == product["properties"]["name"]
    assert hs.get_object("line_items", line["id"])["properties"]["hs_product_id"] == product["id"]


def test_a_hidden_plan_archives_its_variants_and_a_deleted_item_is_archived(ready):
    connector, portal = ready
    sync(connector, portal)
    bw = connector.billwerk
    catalog = bw.state()["catalog"]
    plan = next(p for p in catalog["plans"] if not p.get("Hidden"))
    variants = {v["Id"] for v in catalog["plan_variants"] if v["PlanId"] == plan["Id"] and v["Id"] in products(connector)}
    assert variants
    bw.set_hidden("plan", plan["Id"], True)
    discount = next(d for d in catalog["discounts"] if d["Id"] in products(connector))
    bw.store.delete("discounts", discount["Id"])
    run = sync(connector, portal)
    assert run.status == "succeeded", run.error
    assert run.counts["archived"] == len(variants) + 1
    live = products(connector)
    assert not (variants | {discount["Id"]}) & set(live)
    assert db.session.execute(db.select(CatalogProduct).where(CatalogProduct.billwerk_id == discount["Id"])).first() is None


def test_one_invalid_item_refuses_the_upsert_batch_which_is_split_until_it_is_alone(connector):
    """HubSpot refuses a batch upsert as a whole for one bad record (no per-input 207 as for
    batch create): the sync halves the batch until the bad item is alone, writes the other 99
    and names the one it could not write."""
    connector.billwerk.seed(catalog_items=104, customers=0)  # 4 of them hidden: 100 visible
    portal = connector.install()
    connector.connect_billwerk(portal, entities=(ROOT_ENTITY,))
    bw = connector.billwerk
    component = next(v for v in visible_items(connector, {ROOT_ENTITY[0]}).values() if v["kind"] == "components")
    with bw.store.lock:
        stored = bw.store.get("components", component["Id"])
        original = stored["Description"]
        stored["Description"] = {"_c": "x" * 70_000}  # HubSpot refuses strings over 65,536 characters
    run = sync(connector, portal)
    assert run.status == "failed"
    assert (run.counts["created"], run.counts["failed"]) == (99, 1)
    assert component["Id"] in run.error and "refused 1 of the 100 products to write" in run.error
    assert "longer than 65536 characters" in run.error
    sizes = [c["batch_size"] for c in crm_calls(connector, UPSERT)]
    statuses = [c["status"] for c in crm_calls(connector, UPSERT)]
    assert sizes[0] == 100 and statuses[0] == 400 and 207 not in statuses
    assert len(sizes) <= 2 * 7 + 1  # halving 100 down to the one bad item
    assert len(products(connector)) == 99 and component["Id"] not in products(connector)

    with bw.store.lock:
        bw.store.get("components", component["Id"])["Description"] = original
    fixed = sync(connector, portal)
    assert fixed.status == "succeeded", fixed.error
    assert (fixed.counts["created"], fixed.counts["unchanged"]) == (1, 99)
    assert [c["batch_size"] for c in crm_calls(connector, UPSERT)] == [1]


def test_server_errors_and_rate_limits_are_retried(ready):
    connector, portal = ready
    connector.hubspot.add_fault(path_prefix=UPSERT, method="POST", status=500, times=1)
    connector.hubspot.add_fault(path_prefix=UPSERT, method="POST", status=429, times=1)
    run = sync(connector, portal)
    # The 500 is retried inside the call; the 429's Retry-After (10 s) is not slept in the worker:
    # the run is deferred: it comes back as an RQ scheduled job, the attempt not spent (issue 18 point 4).
    assert run.status == "queued" and "deferred" in run.error and run.next_retry_at is not None, run.error
    assert connector.run_scheduled() >= 1
    db.session.refresh(run)
    assert run.status == "succeeded", run.error
    assert len(products(connector)) == len(visible_items(connector)) == run.counts["created"]


def test_a_lost_database_learns_what_hubspot_holds_from_one_listing(ready):
    connector, portal = ready
    sync(connector, portal)
    db.session.execute(db.delete(CatalogProduct))
    db.session.commit()
    run = sync(connector, portal)
    assert run.status == "succeeded", run.error
    calls = crm_calls(connector)
    assert [c["path"] for c in calls] == ["/crm/v3/objects/products"] * len(calls)
    assert run.counts["unchanged"] == len(visible_items(connector))


def test_language_setting_localizes_names_and_descriptions(ready):
    connector, portal = ready
    sync(connector, portal)
    client = connector.client
    client.post("/login", data={"hub_id": "100001", "password": "correct horse battery"})
    assert client.post("/products/settings", data={"language": "de"}).status_code == 302
    run = sync(connector, portal)
    assert run.counts["updated"] == len(visible_items(connector))
    component = next(v for v in visible_items(connector).values() if v["kind"] == "components")
    props = products(connector)[component["Id"]]["properties"]
    assert props["name"] == component["Name"]["de"] and props["description"] == component["Description"]["de"]
    assert client.post("/products/settings", data={"language": "xx"}).status_code == 302
    assert "Choose one of the listed languages" in client.get("/products").get_data(as_text=True)


def test_admin_page_starts_a_sync_and_shows_the_last_run(ready):
    connector, portal = ready
    client = connector.client
    client.post("/login", data={"hub_id": "100001", "password": "correct horse battery"})
    page = client.get("/products").get_data(as_text=True)
    assert "Start sync of products" in page and "No sync of products has run yet" in page
    started = client.post("/products/sync")
    assert started.status_code == 302
    assert client.post("/products/sync").status_code == 302  # a second click joins the waiting run
    assert db.session.execute(db.select(db.func.count(SyncRun.id)).where(SyncRun.flow == FLOW)).scalar_one() == 1
    connector.work()
    page = client.get("/products").get_data(as_text=True)
    created = len(visible_items(connector))
    assert "succeeded" in page and f"<td>{created}</td>" in page


def test_cli_syncs_in_the_foreground_or_enqueues(ready):
    connector, portal = ready
    runner = connector.app.test_cli_runner()
    result = runner.invoke(args=["sync-products", "--portal-id", "100001"])
    assert result.exit_code == 0, result.output
    visible = len(visible_items(connector))
    assert "read " in result.output and f"created {visible}" in result.output
    assert len(products(connector)) == visible
    queued = runner.invoke(args=["sync-products", "--portal-id", "100001", "--enqueue"])
    assert queued.exit_code == 0 and "queued product sync run" in queued.output
    connector.work()
    last = db.session.execute(db.select(SyncRun).where(SyncRun.flow == FLOW).order_by(SyncRun.id.desc())).scalars().first()
    assert last.status == "succeeded" and last.counts["unchanged"] == visible
    unknown = runner.invoke(args=["sync-products", "--portal-id", "999"])
    assert unknown.exit_code == 1 and unknown.output.startswith("error: Portal 999 has not installed")


def test_cli_reports_a_failed_sync_in_one_error_line(ready):
    connector, portal = ready
    connector.hubspot.add_fault(path_prefix=UPSERT, method="POST", status=403, times=1)  # nothing a retry or a split can mend
    result = connector.app.test_cli_runner().invoke(args=["sync-products", "--portal-id", "100001"])
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: HubSpot did not take a batch of products")


def test_one_sync_at_a_time_per_portal(ready):
    connector, portal = ready
    redis = connector.app.extensions["hubwerk.redis"]()
    lock = redis.lock(f"hubwerk:lock:{FLOW}:{portal.id}:portal:{portal.hub_id}", timeout=30)
    assert lock.acquire(blocking=False)
    try:
        result = connector.app.test_cli_runner().invoke(args=["sync-products", "--portal-id", "100001"])
    finally:
        lock.release()
    assert result.exit_code == 1 and "running already" in result.output
    assert products(connector) == {}


def test_cron_starts_one_sync_per_connected_portal(ready):
    connector, portal = ready
    assert sync_products_everywhere() == 1
    assert sync_products_everywhere() == 1  # still waiting: joined, not doubled
    runs = db.session.execute(db.select(SyncRun).where(SyncRun.flow == FLOW)).scalars().all()
    assert len(runs) == 1 and (runs[0].object_type, runs[0].object_id) == ("portal", str(portal.hub_id))
    connector.work()
    db.session.refresh(runs[0])
    assert runs[0].status == "succeeded" and runs[0].counts["created"] == len(visible_items(connector))

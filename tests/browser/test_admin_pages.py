"""Every admin page in headless Chromium, filled with the demo data, one screenshot each in
``tests/browser/screenshots/page-*.png`` (git-ignored) for a reviewer to look at.

Beyond the pictures, each page is checked for what a person relies on: no horizontal overflow of
the page, every POST form with its CSRF token, disabled buttons that look disabled, nothing
rendered as raw JSON, and links back to HubSpot.
"""
from __future__ import annotations

import pytest

from tests.browser.test_admin_flow import BILLWERK_CLIENT_ID, BILLWERK_CLIENT_SECRET, ROOT, assert_forms_carry_csrf, flashes, install_and_set_password

SUB = ("5f0000000000000000000002", "5f00000000000000000000a2", "Sandbox Ltd (UK)")


def no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 0, f"{page.url} is {width}px wider than the window"


def shot(page, screenshot, name: str) -> None:
    no_horizontal_overflow(page)
    assert_forms_carry_csrf(page)
    assert '{"' not in page.locator("main").inner_text(), f"raw JSON on {page.url}"
    screenshot(page, f"page-{name}")


@pytest.mark.browser
def test_every_admin_page_screenshotted(page, csrf_connector, screenshot):
    connector = csrf_connector
    connector.hubspot.seed(companies=12, closed_won_ratio=0.5, demo=True)
    connector.billwerk.seed(catalog_items=12, customers=3)

    page.goto(f"{connector.url}/login")
    assert "reset-password" in page.locator("main").inner_text()
    shot(page, screenshot, "01-login")

    install_and_set_password(page, connector)
    # billwerk: a first connection shows the root row and one sub-entity row; "Add another entity" adds more.
    assert page.locator(".entity-row").count() == 2
    page.click("#add-entity")
    assert page.locator(".entity-row").count() == 3
    page.fill("#base_url", connector.billwerk.base_url)
    page.fill("#client_id", BILLWERK_CLIENT_ID)
    page.fill("#client_secret", BILLWERK_CLIENT_SECRET)
    for i, (entity_id, key, name) in enumerate((ROOT, SUB)):
        page.locator("input[name=entity_id]").nth(i).fill(entity_id)
        page.locator("input[name=public_api_key]").nth(i).fill(key)
        page.locator("input[name=entity_name]").nth(i).fill(name)
    # A 24-character entity id fits its input (not cut off).
    fits = page.locator("input[name=entity_id]").first.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert fits, "the entity id is cut off in its input"
    shot(page, screenshot, "02-billwerk-new")
    page.click("text=Confirm settings")
    page.wait_for_url(f"{connector.url}/settings/webhooks")
    connector.work()
    assert any("could not be proven" in f for f in flashes(page))
    # the required events are ticked and cannot be unticked
    assert page.locator("#event-ContractCreated").is_checked() and page.locator("#event-ContractCreated").is_disabled()
    shot(page, screenshot, "03-webhooks")

    page.goto(f"{connector.url}/settings/billwerk")
    assert page.locator(".entity-row").count() == 2
    shot(page, screenshot, "04-billwerk-connected")

    page.goto(f"{connector.url}/settings/stages")
    shot(page, screenshot, "05-stages")

    # Import: before a scan, the disabled "Import all valid (0)" looks disabled.
    page.goto(f"{connector.url}/import")
    button = page.locator("button", has_text="Import all valid")
    assert button.is_disabled()
    assert button.evaluate("b => getComputedStyle(b).cursor") == "not-allowed"
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(228, 231, 235)", "a disabled button must look disabled"
    shot(page, screenshot, "06-import-empty")
    page.click("text=Scan closed-won deals")
    connector.work()
    page.goto(f"{connector.url}/import")
    main = page.locator("main").inner_text()
    assert "needs fixing" in main and "Open in HubSpot" in main
    shot(page, screenshot, "07-import-scanned")
    page.click("text=Import all valid")
    connector.work()
    page.goto(f"{connector.url}/import")
    shot(page, screenshot, "08-import-done")

    page.goto(f"{connector.url}/customers")
    assert page.locator("table tbody tr").count() > 1
    shot(page, screenshot, "09-customers")
    assert "Open in HubSpot" in page.locator("table").inner_text()
    page.locator("a", has_text="Link to HubSpot").first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Link billwerk customer ")
    page.fill("#q", "Software")
    page.click("text=Search HubSpot")
    page.wait_for_load_state()
    shot(page, screenshot, "10-customer-link")

    # A product sync that HubSpot refuses: a failed run with its Replay button on the runs page.
    connector.hubspot.add_fault(path_prefix="/crm/v3/objects/products/batch", status=400, times=None,
                                message="Property values were not valid")
    page.goto(f"{connector.url}/products")
    page.click("text=Start sync of products")
    assert any("Synchronization of products started" in f for f in flashes(page))
    shot(page, screenshot, "11-products-queued")
    connector.work()
    connector.hubspot.clear_faults()
    page.goto(f"{connector.url}/products")
    shot(page, screenshot, "12-products")

    page.goto(f"{connector.url}/sync-runs")
    assert page.locator("button", has_text="Replay").count() >= 1
    assert "import_" not in page.locator("table").inner_text()  # flows by name, not by identifier
    shot(page, screenshot, "13-sync-runs")

    page.locator("table.runs a", has_text=str(failed_run_id(connector))).first.click()
    page.wait_for_url(f"{connector.url}/sync-runs/*")
    assert page.locator("button", has_text="Replay").count() == 1
    shot(page, screenshot, "14-sync-run-failed")
    page.goto(f"{connector.url}/sync-runs")
    page.locator("table.runs tr", has_text="Scan of closed-won deals").locator("a").first.click()
    page.wait_for_url(f"{connector.url}/sync-runs/*")
    shot(page, screenshot, "15-sync-run-scan")

    page.goto(f"{connector.url}/")
    shot(page, screenshot, "16-overview")

    page.goto(f"{connector.url}/settings/custom-mappings")
    assert page.locator("h1").count() == 1
    shot(page, screenshot, "18-custom-mappings")

    response = page.goto(f"{connector.url}/no-such-page")
    assert response.status == 404 and page.locator("h1").inner_text() == "Page not found"
    shot(page, screenshot, "17-not-found")
    favicon = page.request.get(f"{connector.url}/favicon.ico")
    assert favicon.status == 200


def failed_run_id(connector) -> int:
    from backend.extensions import db
    from backend.models import SyncRun

    db.session.expire_all()
    return db.session.execute(db.select(SyncRun.id).where(SyncRun.status == "failed").order_by(SyncRun.id.desc())).scalars().first()

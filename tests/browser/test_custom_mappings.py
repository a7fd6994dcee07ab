"""Custom mappings in a real browser (headless Chromium, CSRF on): add a mapping, see it listed, remove it."""
from __future__ import annotations

import pytest

from backend.clients.hubspot import HubSpotClient
from backend.models import CustomFieldMapping
from tests.browser.test_admin_flow import assert_forms_carry_csrf, flashes, fresh, install_and_set_password
from tests.e2e.conftest import ROOT_ENTITY, SUB_ENTITY


@pytest.mark.browser
def test_add_and_remove_a_mapping_in_chromium(page, csrf_connector, screenshot):
    connector = csrf_connector
    portal = install_and_set_password(page, connector)
    connector.connect_billwerk(portal, entities=(ROOT_ENTITY, SUB_ENTITY))
    HubSpotClient(portal).call("POST", "/crm/v3/properties/deals", json={
        "name": "cf_cost_center", "label": "Cost center", "type": "string", "fieldType": "text",
        "groupName": "billwerk_custom_fields_sync"})

    page.click("header nav >> text=Custom mappings")
    page.wait_for_url(f"{connector.url}/settings/custom-mappings")
    assert "No mappings yet." in page.locator("main").inner_text()
    assert assert_forms_carry_csrf(page) >= 2   # add mapping, log out
    page.select_option("#entity_id", ROOT_ENTITY[0])
    page.select_option("#object", "deal")
    page.select_option("#hubspot_property", "cf_cost_center")
    page.fill("#billwerk_field", "nosuchfield")
    with page.expect_navigation():
        page.click("button:has-text('Add mapping')")
    assert any("billwerk has no contract custom field nosuchfield" in f for f in flashes(page))
    page.fill("#billwerk_field", "costcenter")
    with page.expect_navigation():
        page.click("button:has-text('Add mapping')")
    page.wait_for_url(f"{connector.url}/settings/custom-mappings")
    assert any("Mapped deal property Cost center (cf_cost_center) to the contract custom field costcenter" in f for f in flashes(page))
    row = page.locator("table tbody tr")
    assert row.count() == 1 and "Sandbox GmbH" in row.inner_text() and "costcenter" in row.inner_text()
    screenshot(page, "custom-mappings")
    assert len(fresh(CustomFieldMapping)) == 1

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("table >> button:has-text('Remove')")
    page.wait_for_url(f"{connector.url}/settings/custom-mappings")
    assert any("Removed the mapping cf_cost_center -> costcenter" in f for f in flashes(page))
    assert fresh(CustomFieldMapping) == []

"""The admin's path in a real browser (headless Chromium), against the HubSpot and billwerk sandboxes,
with CSRF checked on every form: install -> HubSpot consent -> set password -> connect billwerk
(a wrong secret first) -> webhook credentials -> closed-won stages; logout/login; a form posted
without its CSRF token is refused. And the same connection from the shell (``flask connect-billwerk``).

One screenshot per page goes to ``tests/browser/screenshots/`` (git-ignored).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend.extensions import db
from backend.models import BillwerkAccount, Portal
from tests.conftest import app_environ

PASSWORD = "correct horse battery staple"
BILLWERK_CLIENT_ID = "hubwerk-sandbox-billwerk-client"
BILLWERK_CLIENT_SECRET = "hubwerk-sandbox-billwerk-secret"
ROOT = ("5f0000000000000000000001", "5f00000000000000000000a1", "Sandbox GmbH")
REPO = Path(__file__).resolve().parents[2]


def fresh(model, **where):
    """Read from the database as it is now (the browser's requests ran in the server's thread)."""
    db.session.expire_all()
    return db.session.execute(db.select(model).filter_by(**where)).scalars().all()


def flashes(page) -> list[str]:
    return [t.strip() for t in page.locator(".flash").all_inner_texts()]


def assert_forms_carry_csrf(page) -> int:
    """Every POST form on the page has a non-empty csrf_token; returns how many forms were checked."""
    forms = page.locator("form[method=post]")
    for i in range(forms.count()):
        token = forms.nth(i).locator("input[name=csrf_token]")
        assert token.count() == 1, f"form {i} on {page.url} has no csrf_token"
        assert len(token.get_attribute("value") or "") > 20
    return forms.count()


def install_and_set_password(page, connector, screenshot=None) -> Portal:
    """Install from the connector -> HubSpot's consent page -> callback -> "Set a password"."""
    page.goto(f"{connector.url}/oauth/hubspot/install")
    assert page.url.startswith(f"{connector.hubspot.base_url}/oauth/authorize"), page.url
    assert page.locator("h1").inner_text() == "Choose account"
    page.check('input[type=radio][name=portal_id][value="100001"]')
    if screenshot:
        screenshot(page, "01-hubspot-consent")
    page.click("#connect")
    page.wait_for_url(f"{connector.url}/setup/password")
    assert "Set a password" in page.locator("h1").inner_text()
    assert "100001" in page.locator("main").inner_text()
    assert_forms_carry_csrf(page)
    if screenshot:
        screenshot(page, "02-set-password")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{connector.url}/settings/billwerk")
    assert "Password saved. Now connect your billwerk account." in flashes(page)
    connector.work()  # property provisioning queued by the install
    (portal,) = fresh(Portal, hub_id=100001)
    assert portal.status == "active" and portal.password_hash and portal.properties_provisioned_at
    return portal


def fill_billwerk(page, connector, secret: str) -> None:
    page.fill("#base_url", connector.billwerk.base_url)
    page.fill("#client_id", BILLWERK_CLIENT_ID)
    page.fill("#client_secret", secret)
    page.locator("input[name=entity_id]").first.fill(ROOT[0])
    page.locator("input[name=public_api_key]").first.fill(ROOT[1])
    page.locator("input[name=entity_name]").first.fill(ROOT[2])


@pytest.mark.browser
def test_install_password_billwerk_stages_in_chromium(page, csrf_connector, screenshot):
    connector = csrf_connector
    portal = install_and_set_password(page, connector, screenshot)
    assert_forms_carry_csrf(page)
    screenshot(page, "03-billwerk")

    # A wrong secret: a clear message, the form again, nothing stored.
    fill_billwerk(page, connector, "not-the-secret")
    with page.expect_navigation() as nav:
        page.click("text=Confirm settings")
    assert nav.value.status == 400
    assert page.url == f"{connector.url}/settings/billwerk"
    assert any("billwerk refused the client id or secret" in f for f in flashes(page)), flashes(page)
    assert page.input_value("#client_id") == BILLWERK_CLIENT_ID  # what the admin typed is kept …
    assert page.input_value("#client_secret") == ""                # … except the secret
    assert fresh(BillwerkAccount) == []
    screenshot(page, "04-billwerk-wrong-secret")

    # The right secret: verified, stored, and on to the webhook page.
    fill_billwerk(page, connector, BILLWERK_CLIENT_SECRET)
    page.click("text=Confirm settings")
    page.wait_for_url(f"{connector.url}/settings/webhooks")
    assert "billwerk connection saved. Verified with billwerk: the client id and secret, and the entity Sandbox GmbH." in flashes(page)
    assert any("public API keys could not be proven" in f for f in flashes(page))
    (account,) = fresh(BillwerkAccount)
    assert (account.portal_id, account.base_url, account.client_id, account.client_secret) == (
        portal.id, connector.billwerk.base_url, BILLWERK_CLIENT_ID, BILLWERK_CLIENT_SECRET)
    assert [(e.entity_id, e.public_api_key, e.name, e.position) for e in account.entities] == [(*ROOT, 0)]
    assert page.inner_text("#webhook-url") == f"{connector.url}/api/webhook/billwerk/events"
    assert page.inner_text("#webhook-username") == account.webhook_username
    assert page.inner_text("#webhook-password") == account.webhook_password and len(account.webhook_password) >= 32
    assert assert_forms_carry_csrf(page) == 3  # logout, rotate, events
    screenshot(page, "05-webhooks")

    # Closed-won stages, chosen from the sandbox portal's real deal pipeline.
    page.click("header nav >> text=Closed-won stages")
    page.wait_for_url(f"{connector.url}/settings/stages")
    assert page.is_checked('input[name=stage][value="closedwon"]')  # the default: HubSpot's won stage
    assert not page.is_checked('input[name=stage][value="closedlost"]')
    assert fresh(Portal, id=portal.id)[0].closed_won_stages in (None, [])
    assert_forms_carry_csrf(page)
    screenshot(page, "06-stages")
    for box in page.locator("input[name=stage]").all():
        box.uncheck()
    page.check('input[name=stage][value="closedwon"]')
    page.click("text=Save stages")
    page.wait_for_url(f"{connector.url}/settings/stages")
    assert "Closed-won stages saved." in flashes(page)
    assert fresh(Portal, id=portal.id)[0].closed_won_stages == ["closedwon"]
    assert [b.get_attribute("value") for b in page.locator("input[name=stage]:checked").all()] == ["closedwon"]
    screenshot(page, "07-stages-saved")

    # The overview shows the connection.
    page.click("header .brand")
    page.wait_for_url(f"{connector.url}/")
    main = page.locator("main").inner_text()
    assert "Portal 100001" in main and connector.billwerk.base_url in main and "Sandbox GmbH" in main
    assert page.title() == "Overview · hubwerk"
    assert_forms_carry_csrf(page)
    screenshot(page, "08-dashboard")


@pytest.mark.browser
def test_logout_then_login(page, csrf_connector, screenshot):
    connector = csrf_connector
    install_and_set_password(page, connector)
    page.click("header >> text=Log out")
    page.wait_for_url(f"{connector.url}/login")
    assert "Logged out." in flashes(page)
    page.goto(f"{connector.url}/settings/stages")
    assert page.url.replace("%2F", "/") == f"{connector.url}/login?next=/settings/stages"
    assert_forms_carry_csrf(page)
    screenshot(page, "09-login")

    page.fill("#hub_id", "100001")
    page.fill("#password", "not the password at all")
    with page.expect_navigation() as nav:
        page.click("main button[type=submit]")
    assert nav.value.status == 401
    assert flashes(page) and "password" in flashes(page)[0].lower()
    screenshot(page, "10-login-refused")

    page.fill("#hub_id", "100001")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{connector.url}/settings/stages")  # back where the login was asked for (?next=)
    assert "Portal 100001" in page.locator("header").inner_text()
    page.goto(f"{connector.url}/")
    assert page.url == f"{connector.url}/"


@pytest.mark.browser
def test_forms_without_csrf_token_are_refused(page, csrf_connector, screenshot):
    connector = csrf_connector
    portal = install_and_set_password(page, connector)
    page.goto(f"{connector.url}/settings/stages")

    # The browser's own form, with its token removed from the page: refused with 400, nothing saved.
    page.evaluate("document.querySelectorAll('main form input[name=csrf_token]').forEach(e => e.remove())")
    page.check('input[name=stage][value="closedlost"]')
    with page.expect_navigation() as nav:
        page.click("text=Save stages")
    assert nav.value.status == 400
    assert "CSRF" in page.locator("main").inner_text()
    assert fresh(Portal, id=portal.id)[0].closed_won_stages in (None, [])
    screenshot(page, "11-csrf-refused")

    # Forged posts with the session cookie but without (or with a wrong) token, on every admin form.
    request = page.context.request
    forms = {"/settings/stages": {"stage": "closedlost"},
             "/settings/billwerk": {"base_url": connector.billwerk.base_url, "client_id": BILLWERK_CLIENT_ID,
                                    "client_secret": BILLWERK_CLIENT_SECRET, "entity_id": ROOT[0], "public_api_key": ROOT[1]},
             "/settings/webhooks": {"action": "rotate"}, "/settings/provision": {}, "/settings/revoke": {"confirm": "REVOKE"},
             "/sync-runs/replay-failed": {}, "/setup/password": {"password": "x" * 20, "confirm": "x" * 20},
             "/logout": {}, "/login": {"hub_id": "100001", "password": PASSWORD}}
    for path, form in forms.items():
        for token in ({}, {"csrf_token": "forged"}):
            response = request.post(f"{connector.url}{path}", form=form | token, max_redirects=0)
            assert response.status == 400, (path, token, response.status)
            assert "CSRF" in response.text(), path
    after = fresh(Portal, id=portal.id)[0]
    assert after.status == "active" and after.closed_won_stages in (None, [])
    assert fresh(BillwerkAccount) == []
    # … and the session survived: still logged in (the forged /logout did nothing).
    page.goto(f"{connector.url}/settings/stages")
    assert page.url == f"{connector.url}/settings/stages"


def test_connect_billwerk_from_the_cli(connector, settings):
    """The same steps from the shell: install (fixture), then ``flask --app backend connect-billwerk``."""
    portal = connector.install()
    flask = shutil.which("flask", path=str(Path(sys.executable).parent)) or shutil.which("flask")
    assert flask, "the flask command is not installed"
    env = app_environ(
        settings.instance_path,
        DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
        PUBLIC_BASE_URL=connector.url,
        HUBSPOT_API_BASE_URL=connector.hubspot.base_url,
        HUBSPOT_AUTHORIZE_URL=f"{connector.hubspot.base_url}/oauth/authorize",
        HUBSPOT_APP_BASE_URL=connector.hubspot.base_url,
        SECRET_KEY=settings.secret_key, ENCRYPTION_KEYS=",".join(settings.encryption_keys),
        HUBWERK_BILLWERK_CLIENT_SECRET=None,
    )
    args = [flask, "--app", "backend", "connect-billwerk", "--portal-id", "100001", "--base-url", connector.billwerk.base_url,
            "--client-id", BILLWERK_CLIENT_ID, "--entity", ":".join(ROOT)]

    def run(secret: str):
        return subprocess.run(args + ["--client-secret", secret], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)

    wrong = run("not-the-secret")
    assert wrong.returncode == 1 and wrong.stdout == "", (wrong.stdout, wrong.stderr)
    assert "error: billwerk refused the client id or secret" in wrong.stderr.splitlines()[-1], wrong.stderr
    assert fresh(BillwerkAccount) == []

    done = run(BILLWERK_CLIENT_SECRET)
    assert done.returncode == 0, (done.stdout, done.stderr)
    lines = done.stdout.splitlines()
    (account,) = fresh(BillwerkAccount)
    assert lines == [f"webhook_url: {connector.url}/api/webhook/billwerk/events",
                     f"username: {account.webhook_username}",
                     f"password: {account.webhook_password}"]
    assert re.fullmatch(r"hubwerk-100001-[0-9a-f]{12}", account.webhook_username)
    assert account.portal_id == portal.id and account.client_secret == BILLWERK_CLIENT_SECRET
    assert [(e.entity_id, e.public_api_key, e.name) for e in account.entities] == [ROOT]
    # The printed credentials open the billwerk webhook door of the app that serves the browser.
    import requests

    answer = requests.post(lines[0].split(": ", 1)[1], json={"Event": "ContractCreated", "ContractId": "c1", "EntityId": ROOT[0]},
                           auth=(account.webhook_username, account.webhook_password), timeout=10)
    assert answer.status_code == 200, answer.text

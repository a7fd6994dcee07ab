"""Browser tests: headless Chromium (Debian's ``chromium`` package) driven by Playwright against the
connector served on loopback next to the two sandboxes, with CSRF protection switched ON.

Where Chromium (or Playwright) is missing, every ``browser`` test is skipped with the reason and
the run ends with a loud banner saying that the browser tests were NOT run. Set
``HUBWERK_REQUIRE_BROWSER=1`` (CI) to turn that skip into a failure. ``HUBWERK_CHROMIUM`` points at
another Chromium binary (default ``/usr/bin/chromium``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import connector, serve_connector  # noqa: F401  (connector: the CSRF-less variant, for the CLI test)

CHROMIUM = os.environ.get("HUBWERK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).parent / "screenshots"

_not_run: dict[str, str] = {}  # nodeid -> why the browser test did not run


def _browser_missing() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (install Debian's package: apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"the Playwright Python package is not importable ({exc}); pip install playwright"
    return None


def pytest_runtest_setup(item):
    if item.get_closest_marker("browser") is None:
        return
    why = _browser_missing()
    if why is None:
        return
    _not_run[item.nodeid] = why
    if os.environ.get("HUBWERK_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"BROWSER TEST NOT RUN and HUBWERK_REQUIRE_BROWSER is set: {why}", pytrace=False)
    pytest.skip(f"BROWSER TEST NOT RUN: {why}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _not_run:
        return
    reasons = sorted(set(_not_run.values()))
    tr = terminalreporter
    tr.write_sep("!", "BROWSER TESTS WERE NOT RUN", red=True, bold=True)
    tr.write_line(f"{len(_not_run)} browser test(s) skipped: {'; '.join(reasons)}.", red=True, bold=True)
    tr.write_line("The admin flow (install -> password -> billwerk -> stages, CSRF) was NOT proven in a real browser.", red=True, bold=True)
    for nodeid in sorted(_not_run):
        tr.write_line(f"  not run: {nodeid}", red=True)
    tr.write_sep("!", "BROWSER TESTS WERE NOT RUN", red=True, bold=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshot():
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def csrf_connector(app, settings, hubspot_sandbox, billwerk_sandbox):
    """``tests/e2e``'s ``connector``, but the app checks CSRF tokens as in production."""
    with serve_connector(settings, hubspot_sandbox, billwerk_sandbox, csrf=True) as served:
        assert served.app.config["WTF_CSRF_ENABLED"] is True
        yield served

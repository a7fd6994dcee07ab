"""The README's run command: sandboxes + web + worker + cron come up healthy, the README's demo works
across the real processes (signed webhooks into gunicorn, the job through Redis to the RQ worker),
and Ctrl-C stops all of it."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs

import psutil
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_run_command_starts_everything_and_ctrl_c_stops_everything(tmp_path):
    web, hs, bw = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "HUBWERK_"))}
    env["HUBWERK_INSTANCE_PATH"] = str(tmp_path / "instance")
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.devserver", "--port", str(web), "--hubspot-sandbox-port", str(hs),
         "--billwerk-sandbox-port", str(bw), "--seed-companies", "10"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "the run command ended early:\n" + "".join(lines[-40:])
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        banner = "".join(lines)
        assert f"http://127.0.0.1:{web}/healthz" in banner and f"http://127.0.0.1:{hs}/_sandbox/state" in banner
        assert requests.get(f"http://127.0.0.1:{web}/healthz", timeout=5).json() == {"status": "ok", "database": "ok", "redis": "ok"}
        assert requests.get(f"http://127.0.0.1:{hs}/_sandbox/health", timeout=5).status_code == 200
        # web, worker and cron share the embedded Redis: a probe queued from outside is worked off
        check = subprocess.run([sys.executable, "-m", "flask", "--app", "backend", "check-worker", "--timeout", "60"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
        assert check.returncode == 0, check.stderr
        walk_through_the_demo(web, hs, bw)
        family = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        from backend.redis_store import embedded_server_pid

        redis_pid = embedded_server_pid(tmp_path / "instance")
        assert redis_pid and psutil.pid_exists(redis_pid)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.stdout.read()
        assert proc.wait(timeout=60) == 0
    time.sleep(0.5)
    alive = [pid for pid in family + [redis_pid] if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left running: {alive}"
    for port in (web, hs, bw):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def walk_through_the_demo(web: int, hs: int, bw: int) -> None:
    """README "Quick start" steps 1-3 and 5, as a person does them (CSRF on), then wait for billwerk."""
    connector, hubspot, billwerk = (f"http://127.0.0.1:{p}" for p in (web, hs, bw))
    browser = requests.Session()
    consent = browser.get(f"{connector}/oauth/hubspot/install", allow_redirects=False).headers["Location"]
    form = {k: v[0] for k, v in parse_qs(consent.split("?", 1)[1]).items()} | {"portal_id": "100001"}
    callback = requests.post(consent.split("?", 1)[0], data=form, allow_redirects=False, timeout=10).headers["Location"]
    page = browser.get(callback, timeout=30)
    assert page.url.endswith("/setup/password"), page.url
    page = browser.post(page.url, data={"csrf_token": _csrf(page.text), "password": "correct horse battery", "confirm": "correct horse battery"}, timeout=30)
    assert page.url.endswith("/settings/billwerk"), page.url
    page = browser.post(page.url, timeout=30, data={
        "csrf_token": _csrf(page.text), "base_url": billwerk, "client_id": "hubwerk-sandbox-billwerk-client",
        "client_secret": "hubwerk-sandbox-billwerk-secret", "entity_id": "5f0000000000000000000001",
        "public_api_key": "5f00000000000000000000a1", "entity_name": "Sandbox GmbH"})
    assert page.url.endswith("/settings/webhooks") and "verified and saved" in page.text, page.text[:500]

    def create(kind, properties):
        return requests.post(f"{hubspot}/_sandbox/objects/{kind}", json={"properties": properties}, timeout=10).json()["id"]

    company = create("companies", {"name": "Quickstart GmbH", "address": "Torstraße 1", "city": "Berlin", "zip": "10119", "country": "DE"})
    contact = create("contacts", {"firstname": "Jana", "lastname": "Berg", "email": "jana@quickstart.example"})
    deal = create("deals", {"dealname": "Quickstart – Pro", "pipeline": "default", "dealstage": "contractsent"})
    for to_type, to_id, types in (("companies", company, [341, 5]), ("contacts", contact, [3])):
        requests.post(f"{hubspot}/_sandbox/associations", json={"from_type": "deals", "from_id": deal, "to_type": to_type,
                                                                "to_id": to_id, "type_ids": types}, timeout=10).raise_for_status()
    requests.patch(f"{hubspot}/_sandbox/objects/deals/{deal}", json={"properties": {"dealstage": "closedwon"}}, timeout=10).raise_for_status()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        customers = [c for c in requests.get(f"{billwerk}/_sandbox/state", params={"kind": "customers"}, timeout=10).json()["customers"]
                     if c.get("ExternalCustomerId") == company]
        status = requests.get(f"{hubspot}/_sandbox/state/objects/companies/{company}", timeout=10).json()["properties"].get("billwerk_import_status")
        if customers and status == "imported":
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the closed-won deal's company did not reach billwerk through web and worker")
    assert len(customers) == 1 and customers[0]["EmailAddress"] == "jana@quickstart.example"

"""The README's run command: sandboxes + web + worker + cron come up healthy, the README's demo works
across the real processes (signed webhooks into gunicorn, the job through Redis to the RQ worker)
exactly as the README writes it (its values and its curl commands are read from README.md), the
README's operator commands work from a second shell, and Ctrl-C — or a hard kill — stops all of it.

Ports are free ones picked per test, so parallel runs of the suite on one machine do not collide."""
import json
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
README = (ROOT / "README.md").read_text()
QUICK_START = README[README.index("## Quick start"):README.index("## What it does")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(tmp_path) -> dict:
    """A shell without any hubwerk setting; only the instance folder stands for "the same checkout"."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "HUBWERK_", "SANDBOX_", "PORT"))}
    env["HUBWERK_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


def _start_run_command(env, web, hs, bw, seed_companies="10"):
    # `make run` is `python -m backend.devserver`; its ports come from the environment as the README says.
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.devserver", "--seed-companies", seed_companies],
        cwd=ROOT, env=env | {"PORT": str(web), "SANDBOX_HUBSPOT_PORT": str(hs), "SANDBOX_BILLWERK_PORT": str(bw)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            raise AssertionError("the run command ended early:\n" + "".join(lines[-40:]))
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    return proc, lines


@pytest.mark.slow
def test_run_command_starts_everything_and_ctrl_c_stops_everything(tmp_path):
    web, hs, bw = free_port(), free_port(), free_port()
    env = _clean_env(tmp_path)
    proc, lines = _start_run_command(env, web, hs, bw)
    try:
        banner = "".join(lines)
        assert f"http://127.0.0.1:{web}/healthz" in banner and f"http://127.0.0.1:{hs}/_sandbox/state" in banner
        assert requests.get(f"http://127.0.0.1:{web}/healthz", timeout=5).json() == {"status": "ok", "database": "ok", "redis": "ok"}
        assert requests.get(f"http://127.0.0.1:{hs}/_sandbox/health", timeout=5).status_code == 200
        # web, worker and cron share the embedded Redis: a probe queued from outside is worked off
        check = subprocess.run([sys.executable, "-m", "flask", "--app", "backend", "check-worker", "--timeout", "60"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
        assert check.returncode == 0, check.stderr
        # the pid it reports is the worker process's (not a work horse that is gone already)
        worker_pid = int(re.search(r"done by the worker with pid (\d+)", check.stdout).group(1))
        assert psutil.pid_exists(worker_pid) and "worker" in psutil.Process(worker_pid).cmdline(), check.stdout
        demo_deal = re.search(r"demo deal (\d+)", banner).group(1)
        walk_through_the_demo(web, hs, bw, demo_deal)
        operator_commands_from_a_second_shell(env, hs)
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
    assert not (tmp_path / "instance" / "devserver.json").exists()


@pytest.mark.slow
def test_a_hard_killed_run_command_takes_its_processes_with_it(tmp_path):
    web, hs, bw = free_port(), free_port(), free_port()
    proc, lines = _start_run_command(_clean_env(tmp_path), web, hs, bw, seed_companies="0")
    from backend.redis_store import embedded_server_pid

    family = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    redis_pid = embedded_server_pid(tmp_path / "instance")
    assert redis_pid and len(family) >= 5  # sandbox, web (+ its workers), worker, cron, watchdog
    proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()
    deadline = time.monotonic() + 40
    alive = family + [redis_pid]
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [pid for pid in alive if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left running after kill -9: {[(pid, psutil.Process(pid).cmdline()) for pid in alive]}"
    assert not (tmp_path / "instance" / "devserver.json").exists()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _readme_value(pattern: str) -> str:
    return re.search(pattern, QUICK_START).group(1)


def _readme_curl(starting: str) -> str:
    """A curl command of the quick start, exactly as printed there."""
    return next(c for c in re.findall(r"`(curl [^`]+)`", QUICK_START) if c.startswith(starting))


def _run_readme_curl(command: str, hs: int, bw: int, deal_id: str) -> str:
    command = command.replace("localhost:5001", f"localhost:{hs}").replace("localhost:5002", f"localhost:{bw}").replace("1027", deal_id)
    done = subprocess.run(["bash", "-c", command + " --silent --show-error --fail-with-body"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done.stdout


def walk_through_the_demo(web: int, hs: int, bw: int, demo_deal: str) -> None:
    """README "Quick start" steps 1-5, as a person does them (CSRF on), with the README's own values and commands."""
    connector, hubspot, billwerk = (f"http://127.0.0.1:{p}" for p in (web, hs, bw))
    browser = requests.Session()
    # 1. install, portal 100001, Connect app
    portal = _readme_value(r"choose portal (\d+)")
    consent = browser.get(f"{connector}/oauth/hubspot/install", allow_redirects=False).headers["Location"]
    form = {k: v[0] for k, v in parse_qs(consent.split("?", 1)[1]).items()} | {"portal_id": portal}
    callback = requests.post(consent.split("?", 1)[0], data=form, allow_redirects=False, timeout=10).headers["Location"]
    page = browser.get(callback, timeout=30)
    assert page.url.endswith("/setup/password"), page.url
    # 2. password
    page = browser.post(page.url, data={"csrf_token": _csrf(page.text), "password": "correct horse battery", "confirm": "correct horse battery"}, timeout=30)
    assert page.url.endswith("/settings/billwerk"), page.url
    # 3. billwerk
    base_url = _readme_value(r"base URL `([^`]+)`").replace(":5002", f":{bw}")
    page = browser.post(page.url, timeout=30, data={
        "csrf_token": _csrf(page.text), "base_url": base_url, "client_id": _readme_value(r"client id `([^`]+)`"),
        "client_secret": _readme_value(r"client secret `([^`]+)`"), "entity_id": _readme_value(r"root entity: id `([^`]+)`"),
        "public_api_key": _readme_value(r"public API key `([^`]+)`"), "entity_name": _readme_value(r"name `([^`]+)`")})
    assert page.url.endswith("/settings/webhooks"), page.text[:500]
    # 4. Import customers -> Scan closed-won deals; needs-fixing rows with Open in HubSpot links; Import all valid
    page = browser.get(f"{connector}/import", timeout=30)
    browser.post(f"{connector}/import/scan", data={"csrf_token": _csrf(page.text)}, timeout=30)
    page = _until_settled(browser, f"{connector}/import")
    needs_fixing = page.text.count('<span class="tag invalid">needs fixing</span>')
    assert needs_fixing >= 4, page.text
    for problem in ("UK", "Postal code is missing", "State &#39;XX&#39;", "Street address is missing"):
        assert problem in page.text, problem
    assert f"{hubspot}/contacts/{portal}/record/0-2/" in page.text and "Open in HubSpot" in page.text
    ready = int(re.search(r"Import all valid \((\d+)\)", page.text).group(1))
    assert ready > 0
    before = len(requests.get(f"{billwerk}/_sandbox/state", params={"kind": "customers"}, timeout=10).json()["customers"])
    browser.post(f"{connector}/import/run", data={"csrf_token": _csrf(page.text), "scope": "all"}, timeout=30)
    _until_settled(browser, f"{connector}/import")
    after = len(requests.get(f"{billwerk}/_sandbox/state", params={"kind": "customers"}, timeout=10).json()["customers"])
    assert after - before == ready
    # 5. the README's two curl commands: find the open deal, move it to closed won
    listed = json.loads(_run_readme_curl(_readme_curl("curl '"), hs, bw, demo_deal))["results"]
    assert demo_deal in [d["id"] for d in listed]
    _run_readme_curl(_readme_curl("curl -X PATCH"), hs, bw, demo_deal)
    company = requests.get(f"{hubspot}/_sandbox/state/objects/deals/{demo_deal}", timeout=10).json()["associations"]["companies"][0]["id"]
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
    assert len(customers) == 1 and customers[0]["EmailAddress"]
    page = browser.get(f"{connector}/customers", timeout=30)
    assert customers[0]["Id"] in page.text


def _until_settled(browser, url: str):
    """The import page refreshes itself while a scan or import runs; wait until it stops."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        page = browser.get(url, timeout=30)
        if 'http-equiv="refresh"' not in page.text:
            return page
        time.sleep(0.5)
    raise AssertionError(f"{url} kept running: {page.text[:1000]}")


def operator_commands_from_a_second_shell(env: dict, hs: int) -> None:
    """The README's operator-command block, run as written in another shell (no sandbox settings in it)."""
    block = re.search(r"```sh\n(\. \.venv/bin/activate\n.*?)```", QUICK_START, re.S).group(1)
    calls_before = len(requests.get(f"http://127.0.0.1:{hs}/_sandbox/calls", timeout=10).json()["results"])
    done = subprocess.run(["bash", "-e", "-c", block], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "could not be reached" not in done.stdout + done.stderr and "Traceback" not in done.stderr, done.stderr
    assert re.search(r"imported \d+, linked to existing customers \d+", done.stdout), done.stdout
    assert re.search(r"^\s+\d+\s+succeeded\s", done.stdout, re.M), done.stdout  # sync-runs list | head
    calls_after = len(requests.get(f"http://127.0.0.1:{hs}/_sandbox/calls", timeout=10).json()["results"])
    assert calls_after > calls_before  # it read HubSpot: the sandbox make run started

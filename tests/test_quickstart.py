"""The README's run command: sandboxes + web + worker + cron come up healthy; Ctrl-C stops all of it."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

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

"""``make run``: the whole connector on one machine, for development and demos.

Starts the offline HubSpot and billwerk sandboxes (seeded) unless a real HubSpot app is
configured (``HUBSPOT_CLIENT_ID`` set), migrates the database, then runs the Procfile's
``web``, ``worker`` and ``cron`` processes with their output prefixed. Ctrl-C stops all of
them, and the embedded Redis server with them: nothing is left running.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLOURS = {"sandbox": 35, "web": 36, "worker": 33, "cron": 32}


class Supervisor:
    def __init__(self, env: dict[str, str], quiet: bool = False):
        self.env = env
        self.quiet = quiet
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop it and every child it forks
        )
        self.processes[name] = process
        threading.Thread(target=self._pump, args=(name, process), daemon=True).start()
        return process

    def _pump(self, name: str, process: subprocess.Popen) -> None:
        colour = COLOURS.get(name, 37)
        prefix = f"\033[{colour}m{name:<8}|\033[0m " if sys.stdout.isatty() else f"{name:<8}| "
        for raw in iter(process.stdout.readline, b""):
            if not self.quiet:
                sys.stdout.write(prefix + raw.decode("utf-8", "replace"))
                sys.stdout.flush()

    def exited(self) -> tuple[str, int] | None:
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def stop(self, grace_s: float = 15.0) -> None:
        self.stopping = True
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=5)
        # Work horses forked by the worker live in its process group; make sure none survived.
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _wait_http(url: str, timeout_s: float, supervisor: Supervisor) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if supervisor.exited():
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.devserver", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--hubspot-sandbox-port", type=int, default=int(os.environ.get("SANDBOX_HUBSPOT_PORT", "5001")))
    parser.add_argument("--billwerk-sandbox-port", type=int, default=int(os.environ.get("SANDBOX_BILLWERK_PORT", "5002")))
    parser.add_argument("--seed-companies", type=int, default=40, help="size of the sandbox's seeded CRM data")
    parser.add_argument("--quiet", action="store_true", help="do not echo the processes' logs")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{args.port}")
    env["PORT"] = str(args.port)
    env["HOST"] = "127.0.0.1"
    env["PYTHONUNBUFFERED"] = "1"
    instance_path = Path(env.get("HUBWERK_INSTANCE_PATH") or ROOT / "instance").resolve()
    env["HUBWERK_INSTANCE_PATH"] = str(instance_path)
    bin_dir = Path(sys.executable).parent
    python = sys.executable

    supervisor = Supervisor(env, quiet=args.quiet)
    use_sandbox = not env.get("HUBSPOT_CLIENT_ID")
    sandbox_lines = []
    if use_sandbox:
        hubspot_url = f"http://127.0.0.1:{args.hubspot_sandbox_port}"
        billwerk_url = f"http://127.0.0.1:{args.billwerk_sandbox_port}"
        env.update(
            HUBSPOT_API_BASE_URL=hubspot_url,
            HUBSPOT_AUTHORIZE_URL=f"{hubspot_url}/oauth/authorize",
            HUBSPOT_APP_BASE_URL=hubspot_url,
        )
        supervisor.start("sandbox", [
            python, "-m", "sandbox",
            "--hubspot-port", str(args.hubspot_sandbox_port),
            "--billwerk-port", str(args.billwerk_sandbox_port),
            "--seed-companies", str(args.seed_companies),
            "--hubspot-webhook-url", f"{env['PUBLIC_BASE_URL']}/api/webhook/hubspot/events",
        ])
        sandbox_lines = [
            f"  HubSpot sandbox   {hubspot_url}/_sandbox/state   (portal 100001; control API under /_sandbox/)",
            f"  billwerk sandbox  {billwerk_url}/_sandbox/state   (client id hubwerk-sandbox-billwerk-client)",
        ]

    def shutdown(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    try:
        if use_sandbox and not (
            _wait_http(f"http://127.0.0.1:{args.hubspot_sandbox_port}/_sandbox/health", 30, supervisor)
            and _wait_http(f"http://127.0.0.1:{args.billwerk_sandbox_port}/_sandbox/health", 30, supervisor)
        ):
            print("error: the sandboxes did not start; see their output above", file=sys.stderr)
            return 1
        migrate = subprocess.run([python, "-m", "flask", "--app", "backend", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True)
        if migrate.returncode != 0:
            print((migrate.stderr.strip().splitlines() or ["error: database migration failed"])[-1], file=sys.stderr)
            return 1
        supervisor.start("web", [str(bin_dir / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"), "backend:create_app()"])
        supervisor.start("worker", [python, "-m", "flask", "--app", "backend", "worker"])
        supervisor.start("cron", [python, "-m", "flask", "--app", "backend", "cron"])
        base = env["PUBLIC_BASE_URL"]
        if not _wait_http(f"http://127.0.0.1:{args.port}/healthz", 60, supervisor):
            print("error: the connector did not become healthy; see the output above", file=sys.stderr)
            return 1
        print("\n".join([
            "",
            "hubwerk is running:",
            f"  connector         {base}/                 (admin pages)",
            f"  install           {base}/oauth/hubspot/install",
            f"  health            {base}/healthz",
            *sandbox_lines,
            "Press Ctrl-C to stop everything.",
            "",
        ]), flush=True)
        while True:
            ended = supervisor.exited()
            if ended:
                name, code = ended
                print(f"error: the {name} process exited with status {code}; stopping the others", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        supervisor.stop()
        if not env.get("REDIS_URL"):
            from backend.redis_store import stop_embedded_server

            stop_embedded_server(instance_path)


if __name__ == "__main__":
    sys.exit(main())

"""``make run``: the whole connector on one machine, for development and demos.

Starts the offline HubSpot and billwerk sandboxes (seeded) unless a real HubSpot app is
configured (``HUBSPOT_CLIENT_ID`` set), migrates the database, then runs the Procfile's
``web``, ``worker`` and ``cron`` processes with their output prefixed. Ctrl-C stops all of
them, and the embedded Redis server with them: nothing is left running.

What it decides (the sandboxes' URLs, the public URL with its port) is written to
``instance/devserver.json`` while it runs; the settings of every other process started from the
same checkout read it, so ``flask --app backend import-customers`` in a second shell talks to the
same sandboxes. If the dev server itself is killed hard, its children still end: each gets
SIGTERM from the kernel when it dies (PR_SET_PDEATHSIG), and a small watchdog process stops
whatever is left (forked grandchildren, the embedded Redis server, which runs as a daemon) and
removes the state file.
"""
from __future__ import annotations

import argparse
import ctypes
import json
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
PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """In the child, before exec: the kernel sends SIGTERM when the dev server dies, however it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog alone cleans up
        pass


class StateFile:
    """``instance/devserver.json``: what this dev server decided, and the process groups it started.

    Written atomically (rename), so a reader never sees half a file.
    """

    def __init__(self, instance_path: Path, environment: dict[str, str]):
        from backend.config import DEVSERVER_STATE_FILE

        self.path = instance_path / DEVSERVER_STATE_FILE
        self.data = {"pid": os.getpid(), "environment": environment, "process_groups": []}

    def add_group(self, pid: int) -> None:
        self.data["process_groups"].append(pid)
        self.write()

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n")
        tmp.replace(self.path)

    def remove(self) -> None:
        try:
            if json.loads(self.path.read_text()).get("pid") == self.data["pid"]:
                self.path.unlink()
        except (OSError, ValueError):
            pass


class Supervisor:
    def __init__(self, env: dict[str, str], quiet: bool = False, state: StateFile | None = None):
        self.env = env
        self.quiet = quiet
        self.state = state
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop it and every child it forks
            preexec_fn=_end_with_parent,
        )
        self.processes[name] = process
        if self.state is not None:
            self.state.add_group(process.pid)
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
    _kill_group(process.pid, sig)


def _kill_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def watch(parent_pid: int, instance_path: Path) -> int:
    """The watchdog: wait for the dev server to end, then stop what it left behind.

    A normal stop has done all of this already (every step is then a no-op); after a hard kill the
    children got SIGTERM from the kernel, but work horses they forked and the embedded Redis server
    (a daemon, nobody's child) would live on.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal is for the dev server
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from backend.config import DEVSERVER_STATE_FILE
    from backend.redis_store import stop_embedded_server

    while os.getppid() == parent_pid:
        time.sleep(0.3)
    path = instance_path / DEVSERVER_STATE_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if data.get("pid") == parent_pid:
        groups = [int(g) for g in data.get("process_groups", [])]
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            alive = [g for g in groups if _kill_group(g, sig)]
            deadline = time.monotonic() + grace
            while alive and time.monotonic() < deadline:
                time.sleep(0.2)
                alive = [g for g in alive if _kill_group(g, 0)]
            if not alive:
                break
        if not data.get("external_redis"):
            stop_embedded_server(instance_path)
        try:
            path.unlink()
        except OSError:
            pass
    return 0


def _start_watchdog(instance_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "backend.devserver", "--watch", str(os.getpid()), "--instance", str(instance_path)],
        cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True,
    )


def _running_devserver(instance_path: Path) -> int | None:
    """The pid of another dev server that runs for this instance folder, if one does."""
    from backend.config import DEVSERVER_STATE_FILE

    try:
        pid = int(json.loads((instance_path / DEVSERVER_STATE_FILE).read_text())["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid != os.getpid() else None


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
    parser.add_argument("--watch", type=int, help=argparse.SUPPRESS)  # internal: the watchdog's mode
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.watch:
        return watch(args.watch, Path(args.instance))

    env = dict(os.environ)
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{args.port}")
    env["PORT"] = str(args.port)
    env["HOST"] = "127.0.0.1"
    env["PYTHONUNBUFFERED"] = "1"
    instance_path = Path(env.get("HUBWERK_INSTANCE_PATH") or ROOT / "instance").resolve()
    env["HUBWERK_INSTANCE_PATH"] = str(instance_path)
    bin_dir = Path(sys.executable).parent
    python = sys.executable
    other = _running_devserver(instance_path)
    if other:
        print(f"error: make run is already running for {instance_path} (pid {other}); stop it first, "
              "or give this one its own HUBWERK_INSTANCE_PATH", file=sys.stderr)
        return 1

    use_sandbox = not env.get("HUBSPOT_CLIENT_ID")
    sandbox_lines = []
    decided = {"PUBLIC_BASE_URL": env["PUBLIC_BASE_URL"]}
    if use_sandbox:
        hubspot_url = f"http://127.0.0.1:{args.hubspot_sandbox_port}"
        billwerk_url = f"http://127.0.0.1:{args.billwerk_sandbox_port}"
        decided.update(
            HUBSPOT_API_BASE_URL=hubspot_url,
            HUBSPOT_AUTHORIZE_URL=f"{hubspot_url}/oauth/authorize",
            HUBSPOT_APP_BASE_URL=hubspot_url,
        )
        env.update(decided)
    # Only what this run decided: URLs, never secrets. An external Redis (REDIS_URL) is not ours to stop.
    state = StateFile(instance_path, decided)
    state.data["external_redis"] = bool(env.get("REDIS_URL"))
    state.write()
    _start_watchdog(instance_path)
    supervisor = Supervisor(env, quiet=args.quiet, state=state)
    if use_sandbox:
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
            "Operator commands (flask --app backend …) from another shell in this checkout use the same sandboxes and database.",
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
        state.remove()


if __name__ == "__main__":
    sys.exit(main())

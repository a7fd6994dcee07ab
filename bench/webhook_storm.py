"""Benchmark: a storm of billwerk webhooks — ``--events`` per contract on ``--contracts`` contracts,
each held by one deal — sent concurrently at the connector's web process.

    .venv/bin/python bench/webhook_storm.py [--contracts 2000] [--events 10] [--concurrency 8]

Both sandboxes run in this process at their default limits. The connector runs as its default
processes do (Procfile): gunicorn with gunicorn.conf.py (2 workers x 4 threads) and one
``flask --app backend worker``, on a throw-away instance folder (SQLite and an embedded Redis unless
DATABASE_URL / REDIS_URL are set). Every contract gets a burst of billwerk-side changes, made in the
billwerk sandbox as billwerk makes them (invoices, escalations and their reset, contract and payment
data changes, orders); their hooks (billwerk's thin payloads, HTTP Basic) are sent by
``--concurrency`` clients in a separate process, each sending one contract's hooks in order as
billwerk does and then the next contract's.

Printed, from the clients' clocks and the sandboxes' own call logs: billwerk contract reads per
contract (target <= 1.05 per burst) and invoice reads, HubSpot deal-write calls (target
<= 1.1 x ceil(contracts / 100)) and records per write call, webhook acknowledgement p50/p99
(target p99 <= 25 ms), the time from the first hook until every deal shows its contract's final
state, 429s (target 0), and the machine's load average.
"""
from __future__ import annotations

import argparse
import base64
import collections
import http.client
import json
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from harness import ROOT_ENTITY, Sandboxes, build_app, install_portal

ROOT = Path(__file__).resolve().parent.parent
PORTAL = 100001
HOOK_PATH = "/api/webhook/billwerk/events"


def burst(i: int) -> list[tuple[str, dict]]:
    """The billwerk-side changes of one contract, in the order billwerk makes them."""
    steps = [("ContractChanged", {}), ("InvoiceCreated", {}), ("PaymentEscalated", {}), ("ContractDataChanged", {}),
             ("InvoiceCreated", {}), ("PaymentDataChanged", {}), ("PaymentEscalationReset", {}), ("OrderSucceeded", {}),
             ("PaymentEscalated" if i % 2 == 0 else "ContractDataChanged", {}), ("ContractChanged", {})]
    return steps


def make_storm(sandboxes, contract_ids: list[str], per_contract: int) -> tuple[list[list[bytes]], dict[str, dict]]:
    """Change every contract in billwerk and keep its hooks; returns (bodies per contract, final deal values)."""
    from sandbox.billwerk.contracts import serialize
    from sandbox.billwerk.events import trigger

    sb = sandboxes.billwerk
    bursts, final = [], {}
    for i, contract_id in enumerate(contract_ids):
        steps = burst(i)
        bodies, escalated, invoice = [], False, ""
        for n in range(per_contract):
            event, _ = steps[n % len(steps)]
            if event == "PaymentDataChanged" and i % 3 == 0:
                with sb.store.lock:
                    sb.store.tables["contracts"][contract_id].update(
                        PaymentProvider="PayOne", PaymentProviderRole="Debit", PaymentMethod="Debit:PayOne")
            payload = trigger(sb, event, contract_id=contract_id)
            if event in ("PaymentEscalated", "PaymentEscalationReset"):
                escalated = event == "PaymentEscalated"
            if event == "InvoiceCreated":
                invoice = payload["InvoiceId"]
            bodies.append(json.dumps(payload).encode())
        with sb.store.lock:
            c = serialize(sb, sb.store.tables["contracts"][contract_id])
        final[contract_id] = expected(c, escalated, invoice)
        bursts.append(bodies)
    return bursts, final


def number(value) -> str:
    from decimal import Decimal

    d = Decimal(str(value))
    return "0" if d == 0 else format(d.normalize(), "f")


def expected(c: dict, escalated: bool, invoice: str) -> dict:
    return {
        "billwerk_lifecycle_status": c["LifecycleStatus"], "billwerk_balance": number(c["Balance"]),
        "billwerk_currency": c["Currency"], "billwerk_billed_until": (c.get("BilledUntil") or "")[:10],
        "billwerk_end_date": (c.get("EndDate") or "")[:10], "billwerk_payment_escalated": "true" if escalated else "false",
        "billwerk_payment_provider": c.get("PaymentProvider") or "",
        "billwerk_payment_method": (c.get("PaymentMethod") or "").split(":")[0], "billwerk_last_invoice_id": invoice,
    }


def _sender(url: str, auth: str, bursts: list[list[bytes]], concurrency: int, results) -> None:
    """Runs in its own process: ``concurrency`` clients, each sending one contract's hooks in order,
    then the next contract's; puts (latencies ms, statuses, first send, last answer) on ``results``."""
    target = urlsplit(url)
    lock = threading.Lock()
    nxt = iter(range(len(bursts)))
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    headers = {"Content-Type": "application/json", "Authorization": auth, "User-Agent": "billwerk-storm/1.0"}

    def client() -> None:
        mine, counts = [], collections.Counter()
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        while True:
            with lock:
                index = next(nxt, None)
            if index is None:
                break
            for body in bursts[index]:
                started = time.perf_counter()
                try:
                    connection.request("POST", HOOK_PATH, body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    counts[response.status] += 1
                    if response.getheader("Connection", "").lower() == "close":
                        connection.close()
                except (OSError, http.client.HTTPException) as exc:
                    counts[type(exc).__name__] += 1
                    connection.close()
                    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                mine.append((time.perf_counter() - started) * 1000)
        connection.close()
        with lock:
            latencies.extend(mine)
            statuses.update(counts)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    first = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((latencies, dict(statuses), first, time.time()))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float) -> bool:
    import requests

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=2000)
    parser.add_argument("--events", type=int, default=10, help="hooks per contract")
    parser.add_argument("--concurrency", type=int, default=8, help="clients sending at once")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the final state")
    parser.add_argument("--worker-after", action="store_true",
                        help="start the worker only once every hook is acknowledged (acks without the worker's load)")
    args = parser.parse_args()

    load_before = os.getloadavg()
    sandboxes = Sandboxes()
    # Every fifth seeded customer has no contract: 5/4 customers per contract.
    sandboxes.billwerk.seed(catalog_items=20, customers=math.ceil(args.contracts * 5 / 4), entity_ids=[ROOT_ENTITY[0]])
    hs = sandboxes.hubspot
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp) / "instance"
        app = build_app(instance, hs.base_url)
        port = free_port()
        with app.app_context():
            from backend.extensions import db
            from backend.models import ContractLink

            portal = install_portal(app, sandboxes, PORTAL)
            account = portal.billwerk_account
            auth = "Basic " + base64.b64encode(f"{account.webhook_username}:{account.webhook_password}".encode()).decode()
            contracts = sorted(c["Id"] for c in sandboxes.billwerk.state()["contracts"])[:args.contracts]
            rows = []
            for contract_id in contracts:
                deal = hs.user_create("deals", {"dealname": f"Storm {contract_id}", "pipeline": "default",
                                                "dealstage": "closedwon", "billwerk_contract_id": contract_id}, portal_id=PORTAL)
                rows.append({"portal_id": portal.id, "entity_id": ROOT_ENTITY[0], "hubspot_deal_id": deal["id"],
                             "billwerk_contract_id": contract_id, "sync_stopped": False})
            db.session.execute(db.insert(ContractLink), rows)
            db.session.commit()
            deal_of = {r["billwerk_contract_id"]: r["hubspot_deal_id"] for r in rows}
        hs.flush_webhooks(timeout=5)
        started_setup = time.perf_counter()
        bursts, final = make_storm(sandboxes, contracts, args.events)
        setup_s = time.perf_counter() - started_setup

        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HUBWERK_", "PUBLIC_BASE_URL"))}
        env.update(HUBWERK_ENV="test", HUBWERK_INSTANCE_PATH=str(instance), HUBSPOT_API_BASE_URL=hs.base_url,
                   HUBSPOT_AUTHORIZE_URL=f"{hs.base_url}/oauth/authorize", HUBSPOT_APP_BASE_URL=hs.base_url,
                   HUBSPOT_RATE_LIMIT="110/10s", LOG_LEVEL="WARNING", PORT=str(port), HOST="127.0.0.1",
                   PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
        bin_dir = Path(sys.executable).parent
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        processes.append(subprocess.Popen([str(bin_dir / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"),
                                           "backend:create_app()"], cwd=ROOT, env=env, **quiet))
        worker = [sys.executable, "-m", "flask", "--app", "backend", "worker"]
        if not args.worker_after:
            processes.append(subprocess.Popen(worker, cwd=ROOT, env=env, **quiet))
        try:
            if not wait_http(f"http://127.0.0.1:{port}/healthz", 60):
                print("error: the connector's web process did not become healthy", file=sys.stderr)
                return 1
            hs.reset_calls()
            sandboxes.billwerk.reset_calls()
            results = multiprocessing.get_context("spawn").Queue()
            sender = multiprocessing.get_context("spawn").Process(
                target=_sender, args=(f"http://127.0.0.1:{port}", auth, bursts, args.concurrency, results))
            sender.start()
            latencies, statuses, first_sent, last_acked = results.get()
            sender.join()
            if args.worker_after:
                processes.append(subprocess.Popen(worker, cwd=ROOT, env=env, **quiet))
            # Until every deal shows its contract's final state.
            final_at, missing = None, len(final)
            deadline = time.time() + args.timeout
            while time.time() < deadline:
                store = {d["id"]: d["properties"] for d in hs.objects("deals", portal_id=PORTAL)}
                missing = sum(1 for cid, want in final.items()
                              if any((store.get(deal_of[cid], {}).get(k) or "") != v for k, v in want.items()))
                if missing == 0:
                    final_at = time.time()
                    break
                time.sleep(0.25)
            time.sleep(2)   # anything still running after the final state counts too
            load_after = os.getloadavg()
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        from backend.redis_store import stop_embedded_server

        stop_embedded_server(instance)
    bw_calls = sandboxes.billwerk.calls
    hs_calls = [c for c in hs.calls if c.get("portal_id") == PORTAL]
    sandboxes.close()

    reads = collections.Counter(c["path"].rsplit("/", 1)[-1] for c in bw_calls
                                if c["method"] == "GET" and "/contracts/" in c["path"])
    invoice_reads = sum(1 for c in bw_calls if c["method"] == "GET" and "/invoices/" in c["path"])
    writes = [c for c in hs_calls if c["method"] in ("POST", "PATCH") and "/objects/deals" in c["path"]
              and not c["path"].endswith(("/batch/read", "/search"))]
    records = [c.get("batch_size") or 1 for c in writes]
    n = len(final)
    target_writes = 1.1 * math.ceil(n / 100)
    events = sum(len(b) for b in bursts)
    print(f"webhook storm: {events} billwerk hooks on {n} contracts (each held by one deal), {args.concurrency} concurrent "
          f"senders, gunicorn {os.environ.get('WEB_CONCURRENCY', '2')}x{os.environ.get('WEB_THREADS', '4')} + 1 worker; "
          f"billwerk changes made in {setup_s:.0f} s")
    print(f"  answers                      {dict(sorted(statuses.items(), key=str))}")
    print(f"  sent in                      {last_acked - first_sent:.1f} s ({events / max(last_acked - first_sent, 1e-9):.0f} hooks/s)")
    print(f"  ack p50 / p99 / max          {percentile(latencies, 50):.1f} / {percentile(latencies, 99):.1f} / "
          f"{max(latencies, default=0):.1f} ms   (target p99 <= 25 ms)")
    print(f"  billwerk contract reads      {sum(reads.values())} = {sum(reads.values()) / n:.3f} per contract "
          f"(max {max(reads.values(), default=0)}, {sum(1 for c in final if c not in reads)} never read)   (target <= 1.05)")
    print(f"  billwerk invoice reads       {invoice_reads} = {invoice_reads / n:.3f} per contract")
    print(f"  HubSpot deal-write calls     {len(writes)}   (target <= {target_writes:.0f}); "
          f"records per call mean {sum(records) / max(len(records), 1):.1f}, min {min(records, default=0)}, max {max(records, default=0)}")
    print(f"  HubSpot calls in all         {len(hs_calls)}")
    print(f"  429s                         HubSpot {sum(1 for c in hs_calls if c['status'] == 429)}, "
          f"billwerk {sum(1 for c in bw_calls if c['status'] == 429)}   (target 0)")
    if final_at is None:
        print(f"  final state                  NOT reached within {args.timeout:.0f} s: {missing} deals differ")
    else:
        print(f"  final state                  every deal after {final_at - first_sent:.1f} s from the first hook "
              f"({final_at - last_acked:.1f} s after the last answer)")
    print(f"  machine load (1/5/15 min)    before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; {os.cpu_count()} cores")
    return 0 if final_at is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())

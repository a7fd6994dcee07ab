"""Benchmark: the customer import of N closed-won companies, from the HubSpot sandbox into the
billwerk sandbox, at the sandboxes' default rate limits (HubSpot: 110 calls per 10 s per portal,
about 5 searches per second).

    .venv/bin/python bench/import.py [--companies 2000]

Runs the ``import_customers`` flow exactly as ``flask --app backend import-customers`` does, and
prints, from the sandboxes' own call logs: HubSpot calls per imported customer (target ≤ 0.05:
search pages of 200, association reads of 1,000, batch reads and updates of 100), billwerk calls
per customer (target ≤ 1.05), 429s received (target 0) and wall time. SQLite and an embedded
Redis under a temporary folder unless DATABASE_URL / REDIS_URL are set.
"""
from __future__ import annotations

import argparse
import collections
import re
import tempfile
from pathlib import Path

from harness import Sandboxes, Window, build_app, install_portal

PORTAL = 100001


def endpoint(path: str) -> str:
    return re.sub(r"/\d+", "/{id}", path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=2000)
    args = parser.parse_args()

    sandboxes = Sandboxes()
    report = sandboxes.hubspot.seed(companies=args.companies, closed_won_ratio=1.0, broken_ratio=0.0, contacts_per_company=1)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp) / "instance", sandboxes.hubspot.base_url)
        with app.app_context():
            from backend.extensions import db
            from backend.jobs.runs import execute_run
            from backend.models import CustomerLink, SyncRun

            portal = install_portal(app, sandboxes, PORTAL)
            run = SyncRun(portal_id=portal.id, flow="import_customers", object_type="portal", object_id=str(PORTAL), status="queued", params={})
            db.session.add(run)
            db.session.commit()
            with Window(sandboxes, PORTAL) as window:
                execute_run(run.id)
            db.session.refresh(run)
            imported = db.session.execute(db.select(db.func.count(CustomerLink.id))).scalar_one()
            counts = run.counts
        from backend.redis_store import stop_embedded_server

        stop_embedded_server(Path(tmp) / "instance")
    sandboxes.close()

    per = max(imported, 1)
    by_endpoint = collections.Counter(f"{c['method']} {endpoint(c['path'])}" for c in window.hubspot)
    print(f"customer import: {report['closed_won_companies']} closed-won companies seeded, run {run.status}, {imported} customers imported")
    print(f"  run counts                 {counts}")
    print(f"  HubSpot calls              {window.hubspot_calls} ({window.hubspot_reads} reads, {window.hubspot_writes} writes)")
    for name, n in by_endpoint.most_common():
        print(f"    {n:>5}  {name}")
    print(f"  HubSpot calls per customer {window.hubspot_calls / per:.4f}   (target <= 0.05)")
    print(f"  billwerk calls             {window.billwerk_calls}")
    print(f"  billwerk calls per customer {window.billwerk_calls / per:.4f}  (target <= 1.05)")
    print(f"  429s received              HubSpot {window.hubspot_429}, billwerk {window.billwerk_429}   (target 0)")
    print(f"  wall time                  {window.wall_s:.1f} s")
    ok = run.status == "succeeded" and imported == args.companies and window.hubspot_calls / per <= 0.05 \
        and window.billwerk_calls / per <= 1.05 and window.hubspot_429 == 0
    print("  targets met" if ok else "  TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

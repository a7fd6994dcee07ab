"""Admin pages of the sync runs: the list (``admin.sync_runs``) links to one page per run that says
what the run did, its counts, its error, the inbound delivery that started it, and offers *Replay*."""
from __future__ import annotations

import json

from flask import abort, current_app, g, render_template, url_for

from backend.extensions import db
from backend.mapping.problems import record_url
from backend.models import InboxEvent, SyncRun
from backend.web.admin import bp, login_required

# Object types a run can concern that have a HubSpot record page.
_HUBSPOT_RECORDS = ("company", "deal", "contact")


@bp.app_context_processor
def _run_links():
    return {"run_url": lambda run: url_for("admin.sync_run", run_id=run.id)}


@bp.get("/sync-runs/<int:run_id>")
@login_required
def sync_run(run_id: int):
    run = db.session.get(SyncRun, run_id)
    if run is None or run.portal_id != g.portal.id:
        abort(404, description=f"There is no sync run {run_id} in this portal; the Sync runs page lists them.")
    event = db.session.get(InboxEvent, run.inbox_event_id) if run.inbox_event_id else None
    settings = current_app.config["HUBWERK"]
    hubspot_url = (record_url(settings.hubspot_app_base_url, g.portal.hub_id, run.object_type, run.object_id)
                   if run.object_type in _HUBSPOT_RECORDS and run.object_id else None)
    return render_template("sync_run.html", run=run, event=event, hubspot_url=hubspot_url, event_body=_pretty(event))


def _pretty(event: InboxEvent | None) -> str | None:
    """The stored delivery's body, indented when it is JSON (it holds ids and names, no secrets)."""
    if event is None or not event.body:
        return None
    try:
        return json.dumps(json.loads(event.body), indent=2, ensure_ascii=False)[:20_000]
    except ValueError:
        return event.body[:20_000]

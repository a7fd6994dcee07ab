"""Operator commands: ``flask --app backend <command>``.

A failing command exits 1 with one line ``error: …`` on stderr and no traceback.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import socket
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from backend.errors import HubwerkError


def foreground_logging() -> None:
    """A command a person runs and reads: its JSON log lines stay on stderr, and only warnings and
    errors unless LOG_LEVEL asks for more (the worker and the cron keep the configured level)."""
    if not os.environ.get("LOG_LEVEL", "").strip():
        logging.getLogger().setLevel(logging.WARNING)


def _stdout_gone() -> None:
    """The reader of our output went away (``… | head``): stop quietly, as Unix tools do.

    stdout is pointed at /dev/null so the interpreter's final flush does not complain again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(0)


def fails_cleanly(func):
    """Turn failures into one ``error: …`` line on stderr and exit status 1; a closed pipe ends quietly."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        foreground_logging()
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            _stdout_gone()
        except HubwerkError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        except Exception as exc:  # the details go to the log, the operator gets one line
            logging.getLogger(__name__).exception("cli.command.crashed")
            click.echo(f"error: {func.__name__.replace('_', '-')} failed unexpectedly ({type(exc).__name__}); "
                       f"the log above has the details.", err=True)
            sys.exit(1)

    return wrapper


# Ids (portals, runs, deliveries) fit a 64-bit column; a larger number is a typo, not a traceback.
PORTAL_ID = click.IntRange(1, 2**63 - 1)


def register_cli(app: Flask) -> None:
    app.cli.add_command(worker)
    app.cli.add_command(cron)
    app.cli.add_command(sync_runs)
    app.cli.add_command(rotate_encryption)
    app.cli.add_command(check_worker)
    app.cli.add_command(inbox)
    app.cli.add_command(connect_billwerk)
    app.cli.add_command(import_customers)
    app.cli.add_command(sync_products)
    app.cli.add_command(reset_password)


@click.command("worker")
@with_appcontext
@click.option("--queues", default="high,default,low", show_default=True, help="Comma-separated queues, most urgent first.")
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
def worker(queues: str, burst: bool) -> None:
    """Run an RQ worker on the connector's queues."""
    from backend.extensions import db
    from backend.jobs import QUEUE_NAMES, get_queue, redis_connection
    from backend.jobs.runtime import set_app
    from backend.jobs.worker import HubwerkWorker

    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = [q for q in names if q not in QUEUE_NAMES]
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {', '.join(unknown)}; choose from {', '.join(QUEUE_NAMES)}")
    set_app(current_app._get_current_object())
    db.engine.dispose()
    connection = redis_connection()
    connection.ping()   # an embedded Redis this process starts runs at the web process's priority …
    # … and then background work gives way to the web process on a shared machine: a webhook's answer
    # waits for no job (CPU only; the worker still runs at full speed when the web process is idle).
    nice = current_app.config["HUBWERK"].worker_nice
    if nice:
        os.nice(nice)
    name = f"hubwerk-{socket.gethostname()}-{os.getpid()}"
    HubwerkWorker([get_queue(q) for q in names], connection=connection, name=name).work(
        burst=burst, with_scheduler=True, logging_level=current_app.config["HUBWERK"].log_level
    )


@click.command("cron")
@with_appcontext
def cron() -> None:
    """Run RQ's cron scheduler with the connector's schedule (product sync, retries)."""
    from backend.jobs import redis_connection
    from backend.jobs.schedule import build_scheduler
    from backend.registry import SCHEDULE

    build_scheduler(redis_connection(), SCHEDULE).start()


@click.group("sync-runs")
def sync_runs() -> None:
    """List and replay sync runs."""


@sync_runs.command("list")
@with_appcontext
@click.option("--portal-id", type=PORTAL_ID, help="HubSpot portal (hub) id.")
@click.option("--status", type=click.Choice(["queued", "running", "succeeded", "failed", "skipped"]))
@click.option("--flow")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@fails_cleanly
def sync_runs_list(portal_id, status, flow, limit, as_json) -> None:
    from backend.extensions import db
    from backend.models import Portal, SyncRun

    query = db.select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
    if portal_id is not None:
        portal = _portal(portal_id)
        query = query.where(SyncRun.portal_id == portal.id)
    if status:
        query = query.where(SyncRun.status == status)
    if flow:
        query = query.where(SyncRun.flow == flow)
    hub_ids = dict(db.session.execute(db.select(Portal.id, Portal.hub_id)).all())
    for run in db.session.execute(query).scalars():
        row = run.as_dict() | {"portal_id": hub_ids.get(run.portal_id)}
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"{run.id:>6}  {run.status:<9} {run.flow:<20} {run.object_type or '-'}:{run.object_id or '-'}  attempts={run.attempts}  {run.error or ''}")


@sync_runs.command("replay")
@with_appcontext
@click.argument("run_ids", nargs=-1, type=PORTAL_ID)
@click.option("--all-failed", is_flag=True, help="Replay every failed run (of --portal-id, if given).")
@click.option("--portal-id", type=PORTAL_ID)
@fails_cleanly
def sync_runs_replay(run_ids, all_failed, portal_id) -> None:
    """Queue failed runs again (the worker picks them up)."""
    from backend.extensions import db
    from backend.jobs.runs import replay_run
    from backend.models import SyncRun

    if not run_ids and not all_failed:
        raise HubwerkError("Name the run ids to replay, or pass --all-failed.")
    runs = []
    if all_failed:
        query = db.select(SyncRun).where(SyncRun.status == "failed")
        if portal_id is not None:
            query = query.where(SyncRun.portal_id == _portal(portal_id).id)
        runs.extend(db.session.execute(query).scalars())
    for run_id in run_ids:
        run = db.session.get(SyncRun, run_id)
        if run is None:
            raise HubwerkError(f"There is no sync run {run_id}; `flask --app backend sync-runs list` shows the runs.")
        runs.append(run)
    for run in runs:
        replay_run(run)
        click.echo(f"replayed run {run.id} ({run.flow} {run.object_type or 'portal'} {run.object_id or ''})".rstrip())
    if not runs:
        click.echo("nothing to replay")


@click.command("rotate-encryption")
@with_appcontext
@fails_cleanly
def rotate_encryption() -> None:
    """Re-encrypt every stored secret with the newest key of ENCRYPTION_KEYS."""
    from backend.crypto_rotation import rotate_all

    count = rotate_all()
    click.echo(f"re-encrypted {count} secret(s) with the newest key; older keys can now be removed from ENCRYPTION_KEYS")


def _portal(hub_id: int):
    from backend.extensions import db
    from backend.models import Portal

    portal = db.session.execute(db.select(Portal).where(Portal.hub_id == hub_id)).scalar_one_or_none()
    if portal is None or portal.status == "revoked":
        raise HubwerkError(f"Portal {hub_id} has not installed the connector; install it from {current_app.config['HUBWERK'].public_base_url}/oauth/hubspot/install first.")
    return portal


@click.command("check-worker")
@with_appcontext
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a worker.")
@fails_cleanly
def check_worker(timeout: float) -> None:
    """Queue a probe and wait until a worker has run it (checks web, database, Redis and worker together)."""
    import time

    from backend.extensions import db
    from backend.jobs.runs import start_run

    run = start_run("worker_probe", portal_id=None, queue="high", coalesce=False)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        db.session.refresh(run)
        if run.is_finished:
            break
        time.sleep(0.2)
    else:
        raise HubwerkError(f"No worker ran the probe within {timeout:g}s: start one with `flask --app backend worker`.")
    if run.status != "succeeded":
        raise HubwerkError(f"The worker failed the probe: {run.error}")
    counts = run.counts or {}
    name = f" ({counts['worker_name']})" if counts.get("worker_name") else ""
    click.echo(f"worker ok: run {run.id} done by the worker with pid {counts.get('pid')}{name} in {time.monotonic() - started:.1f}s")


@click.group("inbox")
def inbox() -> None:
    """List and replay stored inbound deliveries (webhooks, card and workflow calls)."""


@inbox.command("list")
@with_appcontext
@click.option("--status", type=click.Choice(["received", "processed", "ignored", "failed"]))
@click.option("--source", type=click.Choice(["hubspot_webhook", "hubspot_card", "hubspot_workflow", "billwerk_webhook"]))
@click.option("--limit", default=50, show_default=True)
@fails_cleanly
def inbox_list(status, source, limit) -> None:
    from backend.extensions import db
    from backend.models import InboxEvent

    query = db.select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit)
    if status:
        query = query.where(InboxEvent.status == status)
    if source:
        query = query.where(InboxEvent.source == source)
    for event in db.session.execute(query).scalars():
        click.echo(f"{event.id:>7}  {event.received_at:%Y-%m-%d %H:%M:%S}  {event.source:<17} {event.status:<9} {event.name or '-'}  {event.error or ''}")


@inbox.command("replay")
@with_appcontext
@click.argument("inbox_ids", nargs=-1, type=PORTAL_ID)
@click.option("--status", type=click.Choice(["received", "failed", "ignored"]),
              help="Replay every delivery with this status (received: stored but never processed).")
@click.option("--source", type=click.Choice(["hubspot_webhook", "hubspot_card", "hubspot_workflow", "billwerk_webhook"]))
@fails_cleanly
def inbox_replay(inbox_ids, status, source) -> None:
    """Process stored deliveries again (after a fix, or after an upgrade that handles them)."""
    from backend.extensions import db
    from backend.jobs.inbox import replay_inbox_event
    from backend.models import InboxEvent

    if not inbox_ids and not status:
        raise HubwerkError("Name the inbox ids to replay, or pass --status received|failed|ignored.")
    events = [db.session.get(InboxEvent, i) for i in inbox_ids]
    if any(e is None for e in events):
        raise HubwerkError("Some of these inbox ids do not exist; `flask --app backend inbox list` shows them.")
    if status:
        query = db.select(InboxEvent).where(InboxEvent.status == status)
        if source:
            query = query.where(InboxEvent.source == source)
        events.extend(db.session.execute(query).scalars())
    for event in events:
        replay_inbox_event(event)
    click.echo(f"replaying {len(events)} deliver{'y' if len(events) == 1 else 'ies'}")


@click.command("connect-billwerk")
@with_appcontext
@click.option("--portal-id", type=PORTAL_ID, required=True, help="HubSpot portal (hub) id that installed the connector.")
@click.option("--base-url", required=True, help="sandbox.billwerk.com, app.billwerk.com or a full http(s):// URL.")
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True, help="Prefer the environment: HUBWERK_BILLWERK_CLIENT_SECRET.", envvar="HUBWERK_BILLWERK_CLIENT_SECRET")
@click.option("--entity", "entities", multiple=True, metavar="ENTITY_ID:PUBLIC_API_KEY[:NAME]", help="Root entity first, then sub-entities.")
@click.option("--rotate-webhook-credentials", is_flag=True, help="Issue new webhook credentials (the old ones stop working).")
@fails_cleanly
def connect_billwerk(portal_id, base_url, client_id, client_secret, entities, rotate_webhook_credentials) -> None:
    """Connect (or update) the billwerk account of an installed portal, proving the credentials."""
    from backend.setup.billwerk_connection import KEYS_NOT_PROVABLE, key_warnings, parse_entity_option, webhook_url
    from backend.setup.billwerk_connection import connect_billwerk as connect

    account = connect(
        _portal(portal_id), base_url=base_url, client_id=client_id, client_secret=client_secret,
        entities=[parse_entity_option(e) for e in entities], rotate_webhook_credentials=rotate_webhook_credentials,
    )
    click.echo(f"webhook_url: {webhook_url()}")
    click.echo(f"username: {account.webhook_username}")
    click.echo(f"password: {account.webhook_password}")
    click.echo(f"note: {KEYS_NOT_PROVABLE}", err=True)
    for warning in key_warnings(account.entities):
        click.echo(f"warning: {warning}", err=True)


@click.command("sync-products")
@with_appcontext
@click.option("--portal-id", type=PORTAL_ID, required=True, help="HubSpot portal (hub) id that installed the connector.")
@click.option("--enqueue", is_flag=True, help="Hand the sync to the worker instead of running it here.")
@fails_cleanly
def sync_products(portal_id, enqueue) -> None:
    """Sync billwerk's plan variants, components and discounts into HubSpot's product library now."""
    from backend.flows.catalog_sync import FLOW, start_sync

    portal = _connected_portal(portal_id)
    if enqueue:
        run = start_sync(portal)
        click.echo(f"queued product sync run {run.id}; `flask --app backend sync-runs list --flow {FLOW}` shows how it went")
        return

    def show(counts: dict, stage: str | None) -> str:
        if stage == "read":
            return f"read {counts['items']} catalogue items from billwerk"
        if stage == "archived":
            return f"archived {counts['archived']} hidden or deleted products"
        return (f"written {counts['created'] + counts['updated'] + counts['failed']} products "
                f"(created {counts['created']}, updated {counts['updated']}, failed {counts['failed']})")

    run, seconds = _run_here(portal, FLOW, show)
    counts = run.counts or {}
    if counts:
        click.echo(f"products: {counts.get('items', 0)} items, created {counts.get('created', 0)}, updated {counts.get('updated', 0)}, "
                   f"archived {counts.get('archived', 0)}, unchanged {counts.get('unchanged', 0)}, failed {counts.get('failed', 0)} "
                   f"(restored {counts.get('restored', 0)}, hidden {counts.get('hidden', 0)}); run {run.id}, {seconds:.1f}s")
    if run.status == "failed":
        first, *details = (run.error or "the product sync failed").splitlines()
        for line in details:
            click.echo(f"  {line}")
        raise HubwerkError(first)
    if run.status == "skipped":
        click.echo(f"nothing to do: {run.error}")


def _connected_portal(hub_id: int):
    portal = _portal(hub_id)
    if portal.billwerk_account is None:
        raise HubwerkError(f"Portal {hub_id} has no billwerk connection yet; connect it with `flask --app backend connect-billwerk` first.")
    return portal


def _run_here(portal, flow_name: str, describe) -> tuple:
    """Run a portal-wide flow in this process (``--enqueue`` hands it to the worker instead), printing
    its progress; another run of the same flow for the portal makes this one give way."""
    import time

    from backend.jobs.runs import PROGRESS_LISTENERS, Busy, run_now

    def listener(progress_run, stage):
        line = describe(progress_run.counts or {}, stage)
        if line:
            click.echo("  " + line)

    started = time.monotonic()
    PROGRESS_LISTENERS.append(listener)
    try:
        run = run_now(flow_name, portal_id=portal.id, object_type="portal", object_id=str(portal.hub_id), wait_s=2.0, give_way=True)
    except Busy:
        raise HubwerkError(f"A {flow_name.replace('_', ' ')} run of portal {portal.hub_id} is running already; wait for it "
                           f"(`flask --app backend sync-runs list --flow {flow_name}`).") from None
    finally:
        PROGRESS_LISTENERS.remove(listener)
    if run.status == "queued":  # Redis did not answer, so no lock could be taken here
        raise HubwerkError(f"Redis is not answering, so the run cannot start here; run {run.id} is stored and the worker "
                           f"runs it once Redis answers (`flask --app backend sync-runs list --flow {flow_name}`).")
    return run, time.monotonic() - started


@click.command("import-customers")
@with_appcontext
@click.option("--portal-id", type=PORTAL_ID, required=True, help="HubSpot portal (hub) id.")
@click.option("--enqueue", is_flag=True, help="Hand the import to the worker instead of running it here.")
@fails_cleanly
def import_customers(portal_id, enqueue) -> None:
    """Import every company of a closed-won deal that is not linked yet (invalid ones are checked again)."""
    from backend.jobs.runs import start_run

    portal = _connected_portal(portal_id)
    if enqueue:
        run = start_run("import_customers", portal_id=portal.id, object_type="portal", object_id=str(portal_id), queue="low")
        click.echo(f"queued run {run.id}; follow it with `flask --app backend sync-runs list --portal-id {portal_id}`")
        return

    shown: dict = {}

    def show(counts: dict, stage: str | None) -> str | None:
        """One line per new fact: the deals read so far, then the companies done; never a repeat."""
        done = sum(counts.get(k, 0) for k in ("imported", "linked_existing", "already_linked", "invalid", "failed"))
        total = counts.get("companies")
        if total is None:
            line = f"closed-won deals read: {counts.get('deals_read', 0)}"
        else:
            line = f"companies: {done} of {total} done"
        if shown.get("last") == line:
            return None
        shown["last"] = line
        return line

    run, _ = _run_here(portal, "import_customers", show)
    counts = run.counts or {}
    summary = (f"imported {counts.get('imported', 0)}, linked to existing customers {counts.get('linked_existing', 0)}, "
               f"already linked {counts.get('already_linked', 0)}, need fixing in HubSpot {counts.get('invalid', 0)}, "
               f"failed {counts.get('failed', 0)} (run {run.id})")
    if run.status == "failed":
        raise HubwerkError(f"{run.error} [{summary}]")
    click.echo(summary)


@click.command("reset-password")
@with_appcontext
@click.option("--portal-id", type=PORTAL_ID, required=True, help="HubSpot portal (hub) id whose connector password to set.")
@fails_cleanly
def reset_password(portal_id) -> None:
    """Set a new connector password for a portal (asked twice; never an argument, so it stays out of shell history)."""
    from backend.setup.account import reset_password as reset

    portal = _portal(portal_id)
    password = click.prompt("New connector password", hide_input=True)
    confirm = click.prompt("Repeat it", hide_input=True)
    reset(portal, password, confirm)
    click.echo(f"password of portal {portal_id} set; every session logged in with the old one has ended. "
               f"Log in at {current_app.config['HUBWERK'].public_base_url}/login")

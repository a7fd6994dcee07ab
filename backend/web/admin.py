"""The connector's own settings pages (HTML, CSRF on every form): account, billwerk connection,
closed-won stages, webhook setup, sync runs, revoke."""
from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from backend.setup import account as accounts
from backend.errors import HubwerkError
from backend.extensions import db
from backend.models import Portal, SyncRun

bp = Blueprint("admin", __name__)

NAV_ITEMS = [
    ("admin.dashboard", "Overview"),
    ("admin.import_tool", "Import customers"),   # web/admin_customers.py
    ("admin.customers", "Customers"),
    ("admin.billwerk", "billwerk"),
    ("admin.stages", "Closed-won stages"),
    ("admin.webhooks", "Webhooks"),
    ("admin.sync_runs", "Sync runs"),
    ("admin.products", "Products"),
    ("admin.custom_mappings", "Custom mappings"),
]


@bp.app_context_processor
def _layout():
    return {"current_portal": g.get("portal"), "nav_items": NAV_ITEMS}


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        portal = accounts.current_portal()
        if portal is None:
            return redirect(url_for("admin.login", next=request.path))
        g.portal = portal
        return view(*args, **kwargs)

    return wrapper


@bp.route("/login", methods=["GET", "POST"])
def login():
    hub_id = request.values.get("hub_id", "")
    if request.method == "POST":
        try:
            portal = accounts.check_login(hub_id.strip(), request.form.get("password", ""), request.remote_addr or "-")
        except HubwerkError as exc:
            flash(exc.message, "error")
            return render_template("login.html", hub_id=hub_id), exc.status
        accounts.log_in(portal)
        return redirect(_local_path(request.args.get("next", "")) or url_for("admin.dashboard"))
    if request.args.get("reinstalled"):
        flash("The connector was installed again and its HubSpot tokens renewed. Log in to continue.", "success")
    return render_template("login.html", hub_id=hub_id)


def _local_path(target: str) -> str | None:
    """A path on this site, never another host: it starts with one "/", names no scheme or host
    ("//evil", "/\\evil", "https://evil", "/%09/evil" are refused) and has no control characters or
    spaces (browsers drop tabs and newlines, and a newline in a header would be a 500)."""
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch == "\\" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or ":" in parts.path:
        return None
    return target


@bp.post("/logout")
def logout():
    accounts.log_out()
    flash("Logged out.", "info")
    return redirect(url_for("admin.login"))


@bp.route("/setup/password", methods=["GET", "POST"])
def set_password():
    """Right after install (proven by the OAuth callback in this browser session), or when logged in."""
    portal = accounts.current_portal()
    if portal is None and session.get("installing_portal_id"):
        installing = db.session.get(Portal, session["installing_portal_id"])
        # Only a portal without a password can get its first one this way.
        portal = installing if installing is not None and not installing.password_hash else None
    if portal is None:
        flash("Install the connector first, or log in to change the password.", "info")
        return redirect(url_for("admin.login"))
    g.portal = accounts.current_portal()
    if request.method == "POST":
        try:
            accounts.set_password(portal, request.form.get("password", ""), request.form.get("confirm", ""))
        except HubwerkError as exc:
            flash(exc.message, "error")
            return render_template("set_password.html", portal=portal, min_length=accounts.MIN_PASSWORD_LENGTH), 400
        accounts.log_in(portal)
        flash("Password saved. Now connect your billwerk account.", "success")
        return redirect(url_for("admin.billwerk"))
    return render_template("set_password.html", portal=portal, min_length=accounts.MIN_PASSWORD_LENGTH)


@bp.get("/")
@login_required
def dashboard():
    runs = db.session.execute(db.select(SyncRun).where(SyncRun.portal_id == g.portal.id).order_by(SyncRun.id.desc()).limit(10)).scalars().all()
    return render_template("dashboard.html", portal=g.portal, account=g.portal.billwerk_account, runs=runs)


@bp.post("/settings/provision")
@login_required
def provision():
    from backend.jobs.runs import start_run

    start_run("provision_properties", portal_id=g.portal.id, object_type="portal", object_id=str(g.portal.hub_id), queue="high")
    flash("Creating or repairing the billwerk properties in HubSpot; see the sync runs below.", "info")
    return redirect(url_for("admin.dashboard"))


@bp.route("/settings/billwerk", methods=["GET", "POST"])
@login_required
def billwerk():
    from backend.setup.billwerk_connection import KEYS_NOT_PROVABLE, EntityInput, connect_billwerk, key_warnings

    account = g.portal.billwerk_account
    form = request.form
    if request.method == "POST":
        entities = []
        for entity_id, key, name in zip(form.getlist("entity_id"), form.getlist("public_api_key"), form.getlist("entity_name")):
            entity_id, key = entity_id.strip(), key.strip()
            stored = account.entity(entity_id) if account and entity_id else None
            if not key and stored is not None:
                key = stored.public_api_key  # the page never shows stored keys: empty means "keep"
            if entity_id or key:
                entities.append(EntityInput(entity_id, key, name.strip() or entity_id))
        try:
            connect_billwerk(g.portal, base_url=form.get("base_url", ""), client_id=form.get("client_id", ""),
                             client_secret=form.get("client_secret"), entities=entities)
        except HubwerkError as exc:
            flash(exc.message, "error")
            return render_template("billwerk.html", account=account, form=form, entities=entities + [None], keys_note=KEYS_NOT_PROVABLE), 400
        names = ", ".join(e.name for e in entities)
        flash(f"billwerk connection saved. Verified with billwerk: the client id and secret, and the entit"
              f"{'y' if len(entities) == 1 else 'ies'} {names}.", "success")
        flash(KEYS_NOT_PROVABLE, "info")
        for warning in key_warnings(entities):
            flash(warning, "error")
        return redirect(url_for("admin.webhooks"))
    entities = list(account.entities) if account else []
    return render_template("billwerk.html", account=account, form=None, entities=entities + [None], keys_note=KEYS_NOT_PROVABLE)


@bp.route("/settings/stages", methods=["GET", "POST"])
@login_required
def stages():
    from backend.setup.stages import closed_won_choices, save_closed_won_stages

    try:
        pipelines = closed_won_choices(g.portal)
    except HubwerkError as exc:
        flash(exc.message, "error")
        return render_template("stages.html", pipelines=[]), exc.status
    if request.method == "POST":
        try:
            save_closed_won_stages(g.portal, request.form.getlist("stage"), pipelines)
        except HubwerkError as exc:
            flash(exc.message, "error")
            return render_template("stages.html", pipelines=pipelines), 400
        flash("Closed-won stages saved.", "success")
        return redirect(url_for("admin.stages"))
    return render_template("stages.html", pipelines=pipelines)


@bp.route("/settings/webhooks", methods=["GET", "POST"])
@login_required
def webhooks():
    from backend.setup.billwerk_connection import WEBHOOK_EVENTS, rotate_webhook_credentials, save_webhook_events, webhook_url

    account = g.portal.billwerk_account
    if account is None:
        flash("Connect billwerk first; the webhook credentials belong to the billwerk connection.", "info")
        return redirect(url_for("admin.billwerk"))
    selected = account.webhook_events or []
    if request.method == "POST":
        if request.form.get("action") == "rotate":
            rotate_webhook_credentials(account)
            flash("New webhook credentials issued. Enter them in billwerk now: the old ones no longer work.", "success")
        else:
            selected = request.form.getlist("event")
            try:
                save_webhook_events(account, selected)
            except HubwerkError as exc:
                flash(exc.message, "error")
                return render_template("webhooks.html", account=account, url=webhook_url(), events=WEBHOOK_EVENTS, selected=selected), 400
            flash("Event selection saved. Tick the same events in billwerk (Settings > Webhooks).", "success")
        return redirect(url_for("admin.webhooks"))
    return render_template("webhooks.html", account=account, url=webhook_url(), events=WEBHOOK_EVENTS, selected=selected)


@bp.post("/settings/revoke")
@login_required
def revoke():
    from backend.setup.revoke import revoke_portal

    if request.form.get("confirm", "").strip().upper() != "REVOKE":
        flash("Type REVOKE to confirm.", "error")
        return redirect(url_for("admin.dashboard"))
    outcome = revoke_portal(g.portal)
    accounts.log_out()
    return render_template("error.html", title="Access revoked", message=outcome), 200


@bp.get("/sync-runs")
@login_required
def sync_runs():
    status = request.args.get("status") or None
    query = db.select(SyncRun).where(SyncRun.portal_id == g.portal.id).order_by(SyncRun.id.desc()).limit(200)
    if status:
        query = query.where(SyncRun.status == status)
    failed = db.session.execute(db.select(db.func.count(SyncRun.id)).where(SyncRun.portal_id == g.portal.id, SyncRun.status == "failed")).scalar_one()
    return render_template("sync_runs.html", runs=db.session.execute(query).scalars().all(), status=status, failed_count=failed)


@bp.post("/sync-runs/<int:run_id>/replay")
@login_required
def replay_run(run_id: int):
    from backend.jobs.runs import replay_run as replay

    run = db.session.get(SyncRun, run_id)
    if run is None or run.portal_id != g.portal.id:
        flash("That sync run does not exist.", "error")
    else:
        try:
            replay(run)
            flash(f"Run {run.id} queued again.", "success")
        except HubwerkError as exc:
            flash(exc.message, "error")
    return redirect(request.referrer if (request.referrer or "").startswith(request.host_url) else url_for("admin.sync_runs"))


@bp.post("/sync-runs/replay-failed")
@login_required
def replay_all_failed():
    from backend.jobs.runs import replay_run as replay

    runs = db.session.execute(db.select(SyncRun).where(SyncRun.portal_id == g.portal.id, SyncRun.status == "failed")).scalars().all()
    for run in runs:
        replay(run)
    flash(f"{len(runs)} failed run(s) queued again.", "success")
    return redirect(url_for("admin.sync_runs"))


@bp.get("/products")
@login_required
def products():
    from backend.flows.catalog_sync import FLOW, LANGUAGES, language_of

    runs = db.session.execute(db.select(SyncRun).where(SyncRun.portal_id == g.portal.id, SyncRun.flow == FLOW)
                              .order_by(SyncRun.id.desc()).limit(10)).scalars().all()
    return render_template("products.html", account=g.portal.billwerk_account, runs=runs, last=runs[0] if runs else None,
                           languages=LANGUAGES, language=language_of(g.portal) or "")


@bp.post("/products/sync")
@login_required
def start_product_sync():
    from backend.flows.catalog_sync import start_sync

    if g.portal.billwerk_account is None:
        flash("Connect billwerk first; the products come from its catalogue.", "error")
        return redirect(url_for("admin.billwerk"))
    run = start_sync(g.portal, queue="high")
    flash(f"Synchronization of products started (run {run.id}); this page follows it until it is done.", "success")
    return redirect(url_for("admin.products"))


@bp.post("/products/settings")
@login_required
def product_settings():
    from backend.flows.catalog_sync import save_language

    try:
        save_language(g.portal, request.form.get("language", ""))
    except HubwerkError as exc:
        flash(exc.message, "error")
    else:
        flash("Language saved; the next sync of products writes names and descriptions in it.", "success")
    return redirect(url_for("admin.products"))

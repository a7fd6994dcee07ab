"""Admin pages of the customer import: the import tool over the companies of
closed-won deals, and the billwerk customers with their HubSpot links."""
from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from backend.clients.base import ApiError
from backend.errors import HubwerkError
from backend.extensions import db
from backend.ids import is_id
from backend.jobs.runs import start_run
from backend.flows.customer_import import recheck_candidate
from backend.flows.linking import (company_name, company_names, customer_name, customer_page, find_customer, link_company,
                                   search_companies, unlink_company)
from backend.mapping.problems import record_url
from backend.models import CustomerLink, ImportCandidate, SyncRun
from backend.web.admin import bp, login_required

PAGE_SIZE = 100


def _latest(flow: str) -> SyncRun | None:
    return db.session.execute(db.select(SyncRun).where(SyncRun.portal_id == g.portal.id, SyncRun.flow == flow)
                              .order_by(SyncRun.id.desc()).limit(1)).scalar_one_or_none()


def _needs_billwerk():
    if g.portal.billwerk_account is None:
        flash("Connect billwerk first: imported customers are created there.", "info")
        return redirect(url_for("admin.billwerk"))
    return None


@bp.get("/import")
@login_required
def import_tool():
    if (redirect_to := _needs_billwerk()) is not None:
        return redirect_to
    status = request.args.get("status") or None
    page = max(1, request.args.get("page", 1, type=int))
    query = db.select(ImportCandidate).where(ImportCandidate.portal_id == g.portal.id)
    if status:
        query = query.where(ImportCandidate.status == status)
    total = db.session.execute(db.select(db.func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.order_by(ImportCandidate.company_name, ImportCandidate.id)
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).scalars().all()
    counts = dict(db.session.execute(db.select(ImportCandidate.status, db.func.count()).where(
        ImportCandidate.portal_id == g.portal.id).group_by(ImportCandidate.status)).all())
    scan, run = _latest("scan_import_candidates"), _latest("import_customers")
    busy = any(r is not None and r.status in ("queued", "running") for r in (scan, run))
    settings = current_app.config["HUBWERK"]
    return render_template(
        "import.html", rows=rows, counts=counts, status=status, page=page, pages=max(1, -(-total // PAGE_SIZE)),
        scan=scan, run=run, busy=busy,
        company_url=lambda cid: record_url(settings.hubspot_app_base_url, g.portal.hub_id, "company", cid),
        problem_url=lambda p: record_url(settings.hubspot_app_base_url, g.portal.hub_id, p.get("object_type", "company"), p.get("object_id")),
    )


@bp.post("/import/scan")
@login_required
def import_scan():
    start_run("scan_import_candidates", portal_id=g.portal.id, object_type="portal", object_id=str(g.portal.hub_id), queue="low")
    flash("Reading the companies of closed-won deals from HubSpot; this page refreshes until it is done.", "info")
    return redirect(url_for("admin.import_tool"))


@bp.post("/import/run")
@login_required
def import_run():
    if request.form.get("scope") == "all":
        ids = [cid for (cid,) in db.session.execute(db.select(ImportCandidate.hubspot_company_id).where(
            ImportCandidate.portal_id == g.portal.id, ImportCandidate.status == "ready"))]
    else:
        ids = [i for i in request.form.getlist("company_id") if is_id(i)]
    if not ids:
        flash("Nothing to import: select companies, or scan first.", "error")
        return redirect(url_for("admin.import_tool"))
    start_run("import_customers", portal_id=g.portal.id, object_type="portal", object_id=str(g.portal.hub_id),
              params={"company_ids": sorted(ids, key=int)}, queue="low", coalesce=False)
    flash(f"Importing {len(ids)} compan{'y' if len(ids) == 1 else 'ies'}; this page refreshes until it is done.", "info")
    return redirect(url_for("admin.import_tool"))


@bp.post("/import/reload/<company_id>")
@login_required
def import_reload(company_id: str):
    """Check one company again after it was fixed in HubSpot (nothing is imported)."""
    try:
        category, message = recheck_candidate(g.portal, company_id)
    except ApiError as exc:
        category, message = "error", f"HubSpot did not answer: {exc.message}"
    flash(message, category)
    if category == "error":
        return redirect(url_for("admin.import_tool"))
    return redirect(request.referrer if (request.referrer or "").startswith(request.host_url) else url_for("admin.import_tool"))


@bp.get("/customers")
@login_required
def customers():
    if (redirect_to := _needs_billwerk()) is not None:
        return redirect_to
    account = g.portal.billwerk_account
    entity = account.entity(request.args.get("entity") or None) or account.root_entity
    cursor = request.args.get("from") or None
    try:
        page, next_cursor = customer_page(account, entity.entity_id, cursor, PAGE_SIZE)
    except ApiError as exc:
        flash(f"billwerk did not answer: {exc.message}", "error")
        page, next_cursor = [], None
    links = CustomerLink.by_customer(g.portal.id, entity.entity_id, [c["Id"] for c in page])
    names = {}
    if links:
        try:
            names = company_names(g.portal, [link.hubspot_company_id for link in links.values()])
        except ApiError as exc:
            flash(f"HubSpot did not answer, so the companies are shown by id: {exc.message}", "error")
    settings = current_app.config["HUBWERK"]
    return render_template("customers.html", account=account, entity=entity, customers=page, links=links,
                           company_names=names, next_cursor=next_cursor, customer_name=customer_name,
                           company_url=lambda cid: record_url(settings.hubspot_app_base_url, g.portal.hub_id, "company", cid))


@bp.route("/customers/<customer_id>/link", methods=["GET", "POST"])
@login_required
def customer_link(customer_id: str):
    """Choose the HubSpot company (by search) to link a billwerk customer to."""
    if (redirect_to := _needs_billwerk()) is not None:
        return redirect_to
    entity_id = request.values.get("entity") or None
    if g.portal.billwerk_account.entity(entity_id) is None:
        abort(404, description=f"Entity {entity_id} is not connected; the Customers page lists the connected ones.")
    try:
        customer = find_customer(g.portal, entity_id, customer_id)
    except ApiError as exc:
        flash(f"billwerk did not answer: {exc.message}", "error")
        return redirect(url_for("admin.customers", entity=entity_id))
    if customer is None:
        abort(404, description=f"billwerk has no customer {customer_id} in this entity; the Customers page lists them.")
    name = customer_name(customer)
    if request.method == "POST":
        company_id = request.form.get("company_id", "")
        try:
            link_company(g.portal, company_id, customer_id)
        except (HubwerkError, ApiError) as exc:
            flash(exc.message, "error")
            return redirect(url_for("admin.customer_link", customer_id=customer_id, q=request.form.get("q", ""), entity=entity_id))
        flash(f"billwerk customer {name} ({customer_id}) linked to HubSpot company {company_name(g.portal, company_id)} ({company_id}).", "success")
        return redirect(url_for("admin.customers", entity=entity_id))
    q = (request.args.get("q") or "").strip()
    results = []
    if q:
        try:
            results = search_companies(g.portal, q)
        except ApiError as exc:
            flash(f"HubSpot search failed: {exc.message}", "error")
    settings = current_app.config["HUBWERK"]
    return render_template("customer_link.html", customer_id=customer_id, customer_name=name, q=q, results=results, entity=entity_id or "",
                           company_url=lambda cid: record_url(settings.hubspot_app_base_url, g.portal.hub_id, "company", cid))


@bp.post("/customers/unlink/<company_id>")
@login_required
def customer_unlink(company_id: str):
    link = CustomerLink.for_company(g.portal.id, company_id)
    try:
        unlink_company(g.portal, company_id)
        customer = f" from billwerk customer {link.billwerk_customer_id}" if link is not None else ""
        flash(f"HubSpot company {company_name(g.portal, company_id)} ({company_id}) unlinked{customer}.", "success")
    except (HubwerkError, ApiError) as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.customers", entity=request.form.get("entity") or None))

"""Admin page *Custom mappings*: HubSpot properties of the group 'Billwerk custom fields sync' mapped to
billwerk custom fields, per entity and object."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from backend.errors import HubwerkError
from backend.setup import custom_fields as mappings
from backend.web.admin import bp, login_required


def _options(account) -> dict:
    """What the form offers, read live from HubSpot and billwerk; a side that cannot be read says so."""
    offer: dict = {"hubspot": {}, "billwerk": [], "unlisted": [], "problems": []}
    for obj in mappings.OBJECTS:
        try:
            offer["hubspot"][obj] = mappings.hubspot_candidates(g.portal, obj)
        except HubwerkError as exc:
            offer["hubspot"][obj] = []
            offer["problems"].append(f"HubSpot {obj} properties could not be read: {exc.message}")
    for entity in account.entities:
        try:
            by_object = mappings.billwerk_fields_by_object(g.portal, entity.entity_id)
        except HubwerkError as exc:
            offer["problems"].append(f"billwerk fields of {entity.name} could not be read: {exc.message}")
            continue
        if by_object is None:
            offer["unlisted"].append(entity.name)
            continue
        offer["billwerk"].extend((entity, obj, f) for obj, fields in by_object.items() for f in fields)
    return offer


@bp.get("/settings/custom-mappings")
@login_required
def custom_mappings():
    account = g.portal.billwerk_account
    if account is None:
        flash("Connect billwerk first: custom fields are mapped per billwerk entity.", "info")
        return redirect(url_for("admin.billwerk"))
    return render_template("custom_mappings.html", account=account, mappings=mappings.list_mappings(g.portal),
                           offer=_options(account), form=request.args, group=mappings.GROUP_LABEL)


@bp.post("/settings/custom-mappings")
@login_required
def add_custom_mapping():
    form = request.form
    try:
        made = mappings.add_mapping(g.portal, form.get("entity_id"), form.get("object", ""), form.get("hubspot_property", ""),
                                    form.get("billwerk_field", ""))
    except HubwerkError as exc:
        flash(exc.message, "error")
        account = g.portal.billwerk_account
        if account is None:
            return redirect(url_for("admin.billwerk"))
        return render_template("custom_mappings.html", account=account, mappings=mappings.list_mappings(g.portal),
                               offer=_options(account), form=form, group=mappings.GROUP_LABEL), 400
    target = "contract" if made.object == "deal" else "customer"
    flash(f"Mapped {made.object} property {made.hubspot_label} ({made.hubspot_property}) to the {target} custom field "
          f"{made.billwerk_field}. New values travel to billwerk from now on.", "success")
    return redirect(url_for("admin.custom_mappings"))


@bp.post("/settings/custom-mappings/<int:mapping_id>/remove")
@login_required
def remove_custom_mapping(mapping_id: int):
    try:
        gone = mappings.remove_mapping_by_id(g.portal, mapping_id)
    except HubwerkError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Removed the mapping {gone.hubspot_property} -> {gone.billwerk_field}; that value no longer travels to billwerk.", "success")
    return redirect(url_for("admin.custom_mappings"))

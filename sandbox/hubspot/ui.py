"""A minimal stand-in for HubSpot's record pages, so links the connector builds
(``{HUBSPOT_APP_BASE_URL}/contacts/{portalId}/record/{objectTypeId}/{id}``) open something
useful in demos: the record's properties and associations as an HTML table. Not an API:
no auth, not rate limited, not in the call log.
"""
from __future__ import annotations

import html

from flask import Blueprint, Response

from . import schema
from .app import sandbox

bp = Blueprint("ui", __name__)


@bp.route("/contacts/<int:portal_id>/record/<type_id>/<object_id>", methods=["GET"])
def record_page(portal_id, type_id, object_id):
    hs = sandbox()
    ot = schema.resolve_type(type_id)
    obj = hs.get_object(ot.name, object_id, portal_id) if ot and portal_id in hs.store.portals else None
    if obj is None:
        return Response("<!doctype html><title>Not found</title><h1>Record not found</h1>", 404, mimetype="text/html")
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v or '')}</td></tr>"
                   for k, v in sorted(obj["properties"].items()) if v)
    links = "".join(
        f"<li>{html.escape(t)}: " + ", ".join(
            f'<a href="/contacts/{portal_id}/record/{schema.OBJECT_TYPES[t].type_id}/{a["id"]}">{a["id"]}</a>'
            for a in assoc) + "</li>"
        for t, assoc in obj["associations"].items() if assoc)
    title = html.escape(obj["properties"].get("name") or obj["properties"].get("dealname")
                        or obj["properties"].get("email") or f"{ot.label} {object_id}")
    body = (f"<!doctype html><html><head><title>{title} | HubSpot sandbox</title></head><body>"
            f"<h1>{title}</h1><p>{ot.label} {html.escape(object_id)} in portal {portal_id}"
            f"{' (archived)' if obj['archived'] else ''}</p><table>{rows}</table><ul>{links}</ul></body></html>")
    return Response(body, mimetype="text/html")

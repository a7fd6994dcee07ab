"""OAuth 2.0 as HubSpot runs it (reference §6).

* ``GET /oauth/authorize`` shows a "Choose account" page (form POST "Connect app"), or with
  ``auto_approve`` redirects straight to ``redirect_uri?code=…&state=…`` for the default portal.
* ``POST /oauth/v1/token``: ``authorization_code`` (code single-use, bound to client and
  redirect_uri, valid 10 minutes) and ``refresh_token`` (refresh token stays the same).
  Errors are 400 ``{"status": "BAD_AUTH_CODE" | "BAD_REFRESH_TOKEN" | "BAD_CLIENT_ID" | …,
  "message", "correlationId", "error": "invalid_grant" | "invalid_client" | …,
  "error_description"}``.
* ``GET /oauth/v1/access-tokens/{token}``, ``GET|DELETE /oauth/v1/refresh-tokens/{token}``,
  ``DELETE /appinstalls/v3/external-install`` (bearer; uninstalls the app from the portal).
"""
from __future__ import annotations

import html
import secrets
from urllib.parse import urlencode

from flask import Blueprint, Response, g, redirect, request

from .app import json_response, no_content, sandbox
from .errors import ApiError, correlation_id

bp = Blueprint("oauth", __name__)

CODE_TTL_S = 600


def _oauth_error(status: str, message: str, error: str = "invalid_grant", http: int = 400) -> Response:
    return json_response({"status": status, "message": message, "correlationId": correlation_id(),
                          "error": error, "error_description": message}, http)


def _error_page(message: str, status: int = 400) -> Response:
    body = (f"<!doctype html><html><head><title>HubSpot - error</title></head><body>"
            f"<h1>Something went wrong</h1><p class=\"error\">{html.escape(message)}</p></body></html>")
    return Response(body, status=status, mimetype="text/html")


def _params():
    src = request.form if request.method == "POST" else request.args
    return {k: src.get(k, "") for k in ("client_id", "redirect_uri", "scope", "optional_scope", "state")}


def _issue_code(hs, portal_id: int, p: dict) -> Response:
    scopes = [s for s in (p["scope"] + " " + p["optional_scope"]).replace("+", " ").split() if s]
    code = "code-" + secrets.token_urlsafe(24)
    hs.store.auth_codes[code] = {"portal_id": portal_id, "client_id": p["client_id"],
                                 "redirect_uri": p["redirect_uri"], "scopes": scopes,
                                 "expires_at": hs.store.now() + CODE_TTL_S}
    sep = "&" if "?" in p["redirect_uri"] else "?"
    query = {"code": code}
    if p["state"]:
        query["state"] = p["state"]
    return redirect(p["redirect_uri"] + sep + urlencode(query), code=302)


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    hs = sandbox()
    p = _params()
    if p["client_id"] != hs.settings.client_id:
        return _error_page(f"Unknown client_id {p['client_id']!r}: no app with this client ID exists.")
    if not p["redirect_uri"]:
        return _error_page("redirect_uri is required.")
    allowed = hs.settings.redirect_uris
    if allowed is not None and p["redirect_uri"] not in allowed:
        return _error_page("redirect_uri does not match any redirect URL of the app.")
    if request.method == "POST":
        try:
            portal_id = int(request.form.get("portal_id", ""))
            hs.store.portal(portal_id)
        except (ValueError, KeyError):
            return _error_page("Choose an account.")
        return _issue_code(hs, portal_id, p)
    if hs.settings.auto_approve:
        return _issue_code(hs, hs.settings.default_portal_id, p)
    rows = "".join(
        f'<li><label><input type="radio" name="portal_id" value="{pid}"{" checked" if i == 0 else ""}> '
        f'{html.escape(portal.name)} <small>({pid})</small></label></li>'
        for i, (pid, portal) in enumerate(hs.store.portals.items()))
    hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in p.items())
    scopes = html.escape(p["scope"] or "(none)")
    body = (f"<!doctype html><html><head><title>Choose account | HubSpot sandbox</title></head><body>"
            f"<h1>Choose account</h1><p>The app <b>hubwerk</b> (app {hs.settings.app_id}) requests: {scopes}</p>"
            f'<form method="post" action="/oauth/authorize">{hidden}<ul>{rows}</ul>'
            f'<button type="submit" id="connect">Connect app</button></form></body></html>')
    return Response(body, mimetype="text/html")


@bp.route("/oauth/v1/token", methods=["POST"])
def token():
    hs = sandbox()
    f = request.form
    grant = f.get("grant_type", "")
    if f.get("client_id") != hs.settings.client_id:
        return _oauth_error("BAD_CLIENT_ID", "missing or invalid client_id", "invalid_client")
    if f.get("client_secret") != hs.settings.client_secret:
        return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client_secret", "invalid_client")
    store = hs.store
    if grant == "authorization_code":
        code = store.auth_codes.pop(f.get("code", ""), None)
        if code is None or code["expires_at"] < store.now():
            return _oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
        if code["redirect_uri"] != f.get("redirect_uri", ""):
            return _oauth_error("BAD_REDIRECT_URI", "redirect_uri does not match the one used to authorize")
        hs.install(code["portal_id"], code["scopes"] or None)
        g.portal_id = code["portal_id"]
        return json_response(hs._grant(code["portal_id"]))
    if grant == "refresh_token":
        rt = f.get("refresh_token", "")
        info = store.refresh_tokens.get(rt)
        if info is None or store.portals[info["portal_id"]].install is None:
            return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        g.portal_id = info["portal_id"]
        return json_response(hs._new_access_token(info["portal_id"], info["scopes"], rt))
    return _oauth_error("BAD_GRANT_TYPE", f"unsupported grant_type {grant!r}", "unsupported_grant_type")


@bp.route("/oauth/v1/access-tokens/<path:tok>", methods=["GET"])
def access_token_info(tok: str):
    hs = sandbox()
    info = hs.store.access_tokens.get(tok)
    if info is None or info["expires_at"] <= hs.store.now():
        raise ApiError(404, "Token not found or expired", "OBJECT_NOT_FOUND")
    portal = hs.store.portal(info["portal_id"])
    g.portal_id = portal.id
    return json_response({
        "token": tok, "user": info["user"], "hub_domain": portal.domain, "scopes": info["scopes"],
        "hub_id": portal.id, "app_id": hs.settings.app_id, "expires_in": int(info["expires_at"] - hs.store.now()),
        "user_id": info["user_id"], "token_type": "access", "is_private_distribution": False,
        "signed_access_token": {"expiresAt": int(info["expires_at"] * 1000), "scopes": "", "hubId": portal.id,
                                "userId": info["user_id"], "appId": hs.settings.app_id, "isUserLevel": False,
                                "isPrivateDistribution": False, "isServiceAccount": False},
    })


@bp.route("/oauth/v1/refresh-tokens/<path:tok>", methods=["GET", "DELETE"])
def refresh_token_info(tok: str):
    hs = sandbox()
    info = hs.store.refresh_tokens.get(tok)
    if info is None:
        raise ApiError(404, "Refresh token not found", "OBJECT_NOT_FOUND")
    g.portal_id = info["portal_id"]
    if request.method == "DELETE":
        del hs.store.refresh_tokens[tok]
        return no_content()
    portal = hs.store.portal(info["portal_id"])
    return json_response({"token": tok, "user": info["user"], "hub_domain": portal.domain, "scopes": info["scopes"],
                          "hub_id": portal.id, "client_id": hs.settings.client_id, "user_id": info["user_id"],
                          "token_type": "refresh"})


@bp.route("/appinstalls/v3/external-install", methods=["DELETE"])
def uninstall():
    hs = sandbox()
    hs.uninstall(g.portal_id)
    return no_content()


@bp.route("/account-info/v3/details", methods=["GET"])
def account_details():
    portal = g.portal
    return json_response({"portalId": portal.id, "accountType": "SANDBOX", "timeZone": "Europe/Berlin",
                          "companyCurrency": "EUR", "additionalCurrencies": ["USD", "GBP"],
                          "utcOffset": "+01:00", "utcOffsetMilliseconds": 3600000,
                          "uiDomain": "app.hubspot.com", "dataHostingLocation": "eu1"})

"""Installing the app: ``/oauth/hubspot/install`` -> HubSpot's consent page -> ``/callback``."""
from __future__ import annotations

import hmac
import logging

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from backend.clients.base import ApiError
from backend.setup.install import SCOPES, complete_install, redirect_uri

log = logging.getLogger(__name__)
bp = Blueprint("oauth", __name__, url_prefix="/oauth/hubspot")


def _session_client() -> OAuth2Session:
    settings = current_app.config["HUBWERK"]
    return OAuth2Session(
        client_id=settings.hubspot_client_id,
        client_secret=settings.hubspot_client_secret,
        scope=" ".join(SCOPES),
        redirect_uri=redirect_uri(),
        token_endpoint_auth_method="client_secret_post",  # HubSpot wants the credentials in the form body
    )


@bp.get("/install")
def install():
    url, state = _session_client().create_authorization_url(current_app.config["HUBWERK"].hubspot_authorize_url)
    session["oauth_state"] = state
    return redirect(url)


@bp.get("/callback")
def callback():
    expected = session.pop("oauth_state", None)
    if request.args.get("error"):
        return _failed("Installation cancelled", f"HubSpot did not authorize the connector: {request.args.get('error_description') or request.args['error']}.", 400)
    state = request.args.get("state", "")
    if not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        log.warning("hubspot.install.bad_state")
        return _failed("Installation link expired", "This installation link is no longer valid. Start the installation again from the connector.", 400)
    code = request.args.get("code")
    if not code:
        return _failed("Installation failed", "HubSpot sent no authorization code. Start the installation again.", 400)
    settings = current_app.config["HUBWERK"]
    from backend.clients.hubspot_auth import HubSpotOAuth

    try:
        with _session_client() as client:
            token = client.fetch_token(f"{settings.hubspot_api_base_url}/oauth/v1/token", code=code, grant_type="authorization_code", timeout=15)
        info = HubSpotOAuth.from_settings(settings).token_info(token["access_token"])
    except OAuthError as exc:  # HubSpot answered: the code is unknown, used or expired - the request's fault
        log.warning("hubspot.install.exchange_failed", extra={"error_type": type(exc).__name__})
        return _failed("Installation failed", "HubSpot refused the authorization code (it may have been used already). Start the installation again.", 400)
    except (AuthlibBaseError, ApiError, requests.RequestException) as exc:  # HubSpot unreachable or failing
        log.warning("hubspot.install.exchange_failed", extra={"error_type": type(exc).__name__})
        return _failed("Installation failed", "HubSpot could not complete the installation right now. Start the installation again in a few minutes.", 502)
    portal = complete_install(token, info)
    session.clear()
    if portal.password_hash:
        # Installing again proves HubSpot access, not knowledge of the connector password: log in.
        return redirect(url_for("admin.login", hub_id=portal.hub_id, reinstalled=1))
    session["installing_portal_id"] = portal.id
    return redirect(url_for("admin.set_password"))


def _failed(title: str, message: str, status: int):
    return render_template("error.html", title=title, message=message), status

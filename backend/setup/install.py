"""Installing the connector in a HubSpot portal (OAuth), and revoking it again."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app

from backend.clients.hubspot_auth import token_lock
from backend.errors import HubwerkError
from backend.extensions import db
from backend.jobs.runs import start_run
from backend.models import Portal, utcnow

log = logging.getLogger(__name__)

# The scopes requested at install: CRM objects the flows read and write, the connector's own
# properties (schemas), line items and products (e-commerce), workflow actions (automation).
SCOPES = (
    "oauth",
    *(f"crm.objects.{obj}.{access}" for obj in ("deals", "companies", "contacts", "line_items", "products") for access in ("read", "write")),
    *(f"crm.schemas.{obj}.write" for obj in ("deals", "companies", "contacts")),
    "e-commerce",
    "automation",
)


@contextmanager
def tokens_locked(portal: Portal, busy: str):
    """Hold the lock under which the portal's tokens change (refreshes, installs, revokes never
    interleave); ``busy`` is the error when another process holds it too long."""
    lock = token_lock(current_app.extensions["hubwerk.redis"](), portal.id)
    if not lock.acquire():
        raise HubwerkError(busy, code="busy", status=503)
    try:
        yield
    finally:
        lock.release()


def redirect_uri() -> str:
    return current_app.config["HUBWERK"].public_base_url + "/oauth/hubspot/callback"


def complete_install(token: dict, info: dict) -> Portal:
    """Store (or update, on reinstall) the portal with its encrypted tokens, then provision properties."""
    hub_id = int(info["hub_id"])
    portal = db.session.execute(db.select(Portal).where(Portal.hub_id == hub_id)).scalar_one_or_none()
    reinstall = portal is not None
    if portal is None:
        portal = Portal(hub_id=hub_id)
        db.session.add(portal)
        db.session.commit()
    # A refresh in flight for the old tokens finishes first; then these, the newest, are stored.
    with tokens_locked(portal, "Another process is updating this portal's HubSpot tokens; start the installation again."):
        _store_tokens(portal, token, info)
    if portal.billwerk_account is not None and not portal.billwerk_account.webhook_enabled and reinstall:
        # A revoked portal that is installed again gets its billwerk webhooks back.
        portal.billwerk_account.webhook_enabled = True
        db.session.commit()
    log.info("hubspot.install.completed", extra={"hub_id": hub_id, "reinstall": reinstall})
    start_run("provision_properties", portal_id=portal.id, object_type="portal", object_id=str(hub_id), queue="high")
    return portal


def _store_tokens(portal: Portal, token: dict, info: dict) -> None:
    db.session.refresh(portal)
    portal.access_token = token["access_token"]
    portal.refresh_token = token["refresh_token"]
    portal.access_token_expires_at = utcnow() + timedelta(seconds=int(token.get("expires_in") or 1800))
    portal.scopes = list(info.get("scopes") or token.get("scopes") or [])
    portal.hub_domain = info.get("hub_domain")
    portal.app_id = str(info.get("app_id") or current_app.config["HUBWERK"].hubspot_app_id)
    portal.installed_by_user_id = str(info.get("user_id")) if info.get("user_id") is not None else None
    portal.status = "active"
    portal.status_reason = None
    db.session.commit()

"""Revoking access from the connector's side: the admin can cut HubSpot and billwerk off without
waiting for anyone to uninstall the app."""
from __future__ import annotations

import logging

from backend.clients.base import ApiError
from backend.clients.hubspot import HubSpotClient
from backend.clients.hubspot_auth import HubSpotOAuth
from backend.extensions import db
from backend.models import Portal
from backend.setup.install import tokens_locked

log = logging.getLogger(__name__)


def revoke_portal(portal: Portal) -> str:
    """Uninstall from HubSpot, delete the refresh token, disable billwerk webhook credentials,
    forget the tokens; keep the sync history. Local state is cleared even when HubSpot fails."""
    problems = []
    if portal.status == "active" and portal.access_token:
        try:
            HubSpotClient(portal).uninstall()
        except ApiError as exc:
            problems.append(f"HubSpot did not confirm the uninstall ({exc.message})")
    db.session.refresh(portal)
    if portal.refresh_token:
        try:
            HubSpotOAuth.from_settings().delete_refresh_token(portal.refresh_token)
        except ApiError as exc:
            problems.append(f"HubSpot did not delete the refresh token ({exc.message})")
    # Under the token lock: a refresh in flight finishes first, and one that starts later finds the
    # portal revoked (it re-reads the status under the same lock) instead of writing tokens back.
    with tokens_locked(portal, "The portal's HubSpot tokens are being refreshed right now; revoke again in a moment."):
        db.session.refresh(portal)
        if portal.billwerk_account is not None:
            portal.billwerk_account.webhook_enabled = False
        portal.access_token = None
        portal.refresh_token = None
        portal.access_token_expires_at = None
        portal.status = "revoked"
        portal.status_reason = "revoked by the admin"
        portal.password_hash = None
        db.session.commit()
    log.info("hubspot.revoked", extra={"hub_id": portal.hub_id, "problems": len(problems)})
    message = (f"The connector no longer has access to HubSpot portal {portal.hub_id}, and billwerk webhooks for it are refused. "
               "Also remove the app in HubSpot (Settings > Integrations > Connected apps) and delete the webhook and the app "
               "in billwerk (Settings > Webhooks, Settings > My Apps).")
    if problems:
        message += " Note: " + "; ".join(problems) + "."
    return message

"""What every portal flow needs first: the portal, its billwerk account and a HubSpot client."""
from __future__ import annotations

from backend.clients.hubspot import HubSpotClient
from backend.errors import FlowError, Skip
from backend.extensions import db
from backend.models import BillwerkAccount, Portal, SyncRun


def portal_context(run: SyncRun, without_billwerk: str) -> tuple[Portal, BillwerkAccount, HubSpotClient]:
    """Skip when the portal is gone or has no billwerk account (``without_billwerk`` says what that
    means for this flow); fail when HubSpot no longer accepts the connector's token."""
    portal = db.session.get(Portal, run.portal_id)
    if portal is None or portal.status == "revoked":
        raise Skip("The connector is no longer installed in this portal.")
    if portal.status != "active":
        raise FlowError("HubSpot no longer accepts the connector's token; reinstall the connector.", retriable=False)
    account = portal.billwerk_account
    if account is None or not account.entities:
        raise Skip(f"billwerk is not connected yet; {without_billwerk}")
    return portal, account, HubSpotClient(portal)

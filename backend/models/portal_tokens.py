"""The token store of :class:`~backend.clients.hubspot_auth.TokenManager`: a portal's HubSpot tokens
in the ``portals`` table (encrypted columns), read and written in a session of its own, so a refresh
never commits (or is rolled back with) the caller's unit of work."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from backend.clients.hubspot_auth import TokenSnapshot
from backend.extensions import db
from backend.models.portal import Portal


class PortalTokenStore:
    def _session(self) -> Session:
        return Session(db.engine, expire_on_commit=False)

    def load(self, portal_id: int) -> TokenSnapshot | None:
        with self._session() as session:
            portal = session.get(Portal, portal_id)
            if portal is None:
                return None
            expires = portal.access_token_expires_at.timestamp() if portal.access_token_expires_at else None
            return TokenSnapshot(portal.id, portal.hub_id, portal.status, portal.access_token, portal.refresh_token, expires)

    def save(self, portal_id: int, tokens: dict) -> float:
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=float(tokens.get("expires_in") or 1800))
        with self._session() as session:
            portal = session.get(Portal, portal_id)
            portal.access_token = tokens["access_token"]
            if tokens.get("refresh_token"):
                portal.refresh_token = tokens["refresh_token"]
            portal.access_token_expires_at = expires_at
            session.commit()
        return expires_at.timestamp()

    def disconnect(self, portal_id: int, reason: str) -> None:
        with self._session() as session:
            portal = session.get(Portal, portal_id)
            portal.status = "disconnected"
            portal.status_reason = reason
            portal.access_token = None
            portal.access_token_expires_at = None
            session.commit()

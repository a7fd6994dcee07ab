from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.crypto import EncryptedText
from backend.extensions import db
from backend.models.base import JSONType, UTCDateTime, utcnow


class Portal(db.Model):
    """A HubSpot portal (account) that installed the connector.

    Tokens are stored Fernet-encrypted. ``status`` is ``active``, ``disconnected`` (HubSpot
    refused the refresh token: the admin must reinstall) or ``revoked`` (uninstalled by us).
    """

    __tablename__ = "portals"

    id: Mapped[int] = mapped_column(primary_key=True)
    hub_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    hub_domain: Mapped[str | None] = mapped_column(String(255))
    app_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list] = mapped_column(JSONType, default=list)
    access_token: Mapped[str | None] = mapped_column(EncryptedText)
    refresh_token: Mapped[str | None] = mapped_column(EncryptedText)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    installed_by_user_id: Mapped[str | None] = mapped_column(String(32))
    # The connector account: the admin sets a password right after install.
    password_hash: Mapped[str | None] = mapped_column(Text)
    # Deal stages the admin marked as closed-won; empty means "every stage HubSpot marks won".
    closed_won_stages: Mapped[list] = mapped_column(JSONType, default=list)
    properties_provisioned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    billwerk_account = relationship("BillwerkAccount", back_populates="portal", uselist=False)

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def __repr__(self) -> str:
        return f"<Portal {self.hub_id} {self.status}>"

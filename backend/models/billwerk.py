from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.crypto import EncryptedText
from backend.extensions import db
from backend.models.base import JSONType, UTCDateTime, utcnow


class BillwerkAccount(db.Model):
    """The billwerk account connected to one portal.

    ``webhook_username`` names the account in billwerk's Basic-auth webhook calls; the password
    is stored encrypted because the admin page and ``connect-billwerk`` show it again.
    """

    __tablename__ = "billwerk_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"), unique=True)
    base_url: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[str] = mapped_column(EncryptedText)
    webhook_username: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_password: Mapped[str] = mapped_column(EncryptedText)
    webhook_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook_events: Mapped[list] = mapped_column(JSONType, default=list)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    portal = relationship("Portal", back_populates="billwerk_account")
    entities = relationship(
        "BillwerkEntity", back_populates="account", order_by="BillwerkEntity.position", cascade="all, delete-orphan"
    )

    @property
    def root_entity(self) -> "BillwerkEntity | None":
        return self.entities[0] if self.entities else None

    def entity(self, entity_id: str | None) -> "BillwerkEntity | None":
        """The entity with this id; ``None``/empty means the root entity."""
        return pick_entity(self.entities, entity_id)


def pick_entity(entities, entity_id: str | None):
    """The entity with this id among ``entities`` (root first); ``None``/empty means the root entity."""
    if not entity_id:
        return entities[0] if entities else None
    wanted = entity_id.strip().lower()
    return next((e for e in entities if e.entity_id == wanted), None)


class BillwerkEntity(db.Model):
    """A billwerk legal entity of an account; position 0 is the root entity."""

    __tablename__ = "billwerk_entities"
    __table_args__ = (
        UniqueConstraint("account_id", "entity_id"),
        UniqueConstraint("account_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billwerk_accounts.id", ondelete="CASCADE"))
    entity_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    public_api_key: Mapped[str] = mapped_column(EncryptedText)
    position: Mapped[int] = mapped_column(Integer)

    account = relationship("BillwerkAccount", back_populates="entities")

    @property
    def is_root(self) -> bool:
        return self.position == 0

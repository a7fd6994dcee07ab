from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import UTCDateTime, utcnow


class CustomerLink(db.Model):
    """HubSpot company <-> billwerk customer, per entity.

    One link per company and entity, and one company per billwerk customer: the database
    enforces both, so racing imports cannot create a second link.
    """

    __tablename__ = "customer_links"
    __table_args__ = (
        UniqueConstraint("portal_id", "entity_id", "hubspot_company_id"),
        UniqueConstraint("portal_id", "entity_id", "billwerk_customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    entity_id: Mapped[str] = mapped_column(String(64))
    hubspot_company_id: Mapped[str] = mapped_column(String(32))
    billwerk_customer_id: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))  # "import" or "manual"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContractLink(db.Model):
    """HubSpot deal <-> billwerk contract.

    An up-/downgrade deal takes the contract over: the origin deal's link gets
    ``sync_stopped`` and the new deal's link becomes the one billwerk webhooks update.
    """

    __tablename__ = "contract_links"
    __table_args__ = (
        UniqueConstraint("portal_id", "hubspot_deal_id"),
        Index("ix_contract_links_contract", "portal_id", "entity_id", "billwerk_contract_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    entity_id: Mapped[str] = mapped_column(String(64))
    hubspot_deal_id: Mapped[str] = mapped_column(String(32))
    billwerk_contract_id: Mapped[str] = mapped_column(String(64))
    billwerk_customer_id: Mapped[str | None] = mapped_column(String(64))
    billwerk_order_id: Mapped[str | None] = mapped_column(String(64))
    origin_deal_id: Mapped[str | None] = mapped_column(String(32))
    sync_stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

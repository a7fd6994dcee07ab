from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import UTCDateTime, utcnow


class CatalogProduct(db.Model):
    """What the product sync last wrote to HubSpot for one billwerk catalogue item.

    The content hash of the properties written lets a sync skip unchanged products without
    reading them from HubSpot; ``hubspot_id`` is what an archive call needs. A row is written
    only after HubSpot accepted the product, so a failed item is tried again next time.
    """

    __tablename__ = "catalog_products"
    __table_args__ = (
        UniqueConstraint("portal_id", "entity_id", "billwerk_id"),
        Index("ix_catalog_products_portal_billwerk_id", "portal_id", "billwerk_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    entity_id: Mapped[str] = mapped_column(String(64))
    billwerk_id: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(16))  # plan_variant | component | discount
    hubspot_id: Mapped[str | None] = mapped_column(String(32))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogSettings(db.Model):
    """Per-portal choices of the product sync: the language of product names and descriptions
    (billwerk's localized texts; empty means billwerk's default text)."""

    __tablename__ = "catalog_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"), unique=True)
    language: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

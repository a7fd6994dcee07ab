from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import UTCDateTime, utcnow


class UpgradeDealLink(db.Model):
    """The one up-/downgrade deal made from an origin deal for its contract.

    The row is the claim: committed before HubSpot is asked to create the deal, so a repeated trigger
    finds it; ``upgrade_deal_id`` is stored as soon as HubSpot answers; ``attempts`` tells a retry that
    an earlier attempt may have created the deal without recording it.
    """

    __tablename__ = "upgrade_deal_links"
    __table_args__ = (UniqueConstraint("portal_id", "origin_deal_id", "billwerk_contract_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    origin_deal_id: Mapped[str] = mapped_column(String(32))
    billwerk_contract_id: Mapped[str] = mapped_column(String(64))
    upgrade_deal_id: Mapped[str | None] = mapped_column(String(32))
    line_items_copied: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def for_origin(cls, portal_id: int, origin_deal_id: str, contract_id: str) -> "UpgradeDealLink | None":
        return db.session.execute(db.select(cls).where(
            cls.portal_id == portal_id, cls.origin_deal_id == str(origin_deal_id),
            cls.billwerk_contract_id == contract_id)).scalar_one_or_none()

    @classmethod
    def for_upgrade_deal(cls, portal_id: int, deal_id: str) -> "UpgradeDealLink | None":
        return db.session.execute(db.select(cls).where(cls.portal_id == portal_id, cls.upgrade_deal_id == str(deal_id))
                                  .limit(1)).scalar_one_or_none()

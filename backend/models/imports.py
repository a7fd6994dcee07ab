from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import JSONType, UTCDateTime, utcnow

CANDIDATE_STATUSES = ("ready", "invalid", "imported", "linked", "failed")


class ImportCandidate(db.Model):
    """A company with a closed-won deal, as the customer import tool last saw it.

    Filled by the scan (search + batch reads), updated by imports and by "reload"; the
    problems are kept so that the tool can list thousands of rows without asking HubSpot.
    """

    __tablename__ = "import_candidates"
    __table_args__ = (
        UniqueConstraint("portal_id", "hubspot_company_id"),
        Index("ix_import_candidates_portal_status", "portal_id", "status"),
        Index("ix_import_candidates_deal", "portal_id", "hubspot_deal_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    hubspot_company_id: Mapped[str] = mapped_column(String(32))
    company_name: Mapped[str | None] = mapped_column(String(255))
    hubspot_deal_id: Mapped[str | None] = mapped_column(String(32))
    hubspot_contact_id: Mapped[str | None] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="ready")
    problems: Mapped[list] = mapped_column(JSONType, default=list)  # [{"field", "message", "object_type", "object_id"}]
    billwerk_customer_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

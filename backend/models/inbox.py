from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import JSONType, UTCDateTime, utcnow

SOURCES = ("hubspot_webhook", "hubspot_card", "hubspot_workflow", "billwerk_webhook")
STATUSES = ("received", "processed", "ignored", "failed")

# Never stored: credentials, and signatures — a v1/v2 signature has no timestamp, so whoever reads
# it next to the stored body could replay the delivery. The inbox row records which version proved it.
_DROPPED_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-hubspot-signature", "x-hubspot-signature-v3"}


class InboxEvent(db.Model):
    """One authenticated inbound delivery, stored and committed before it is acknowledged.

    The raw body is kept byte for byte so that a delivery can be investigated and replayed.
    """

    __tablename__ = "inbox_events"
    __table_args__ = (
        Index("ix_inbox_events_portal_received", "portal_id", "received_at"),
        # The waiting rows of a source, oldest first (the drain and the sweep).
        Index("ix_inbox_events_waiting", "status", "source", "id"),
        # A key names one delivery (a workflow's callbackId): a second copy is refused, not run twice.
        UniqueConstraint("source", "dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(128))
    portal_id: Mapped[int | None] = mapped_column(ForeignKey("portals.id", ondelete="SET NULL"))
    billwerk_account_id: Mapped[int | None] = mapped_column(ForeignKey("billwerk_accounts.id", ondelete="SET NULL"))
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    headers: Mapped[dict] = mapped_column(JSONType, default=dict)
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @staticmethod
    def safe_headers(headers) -> dict:
        return {k: v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}

    def mark(self, status: str, error: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown inbox status {status!r}")
        self.status = status
        self.error = error
        self.processed_at = utcnow()


class UsedSignature(db.Model):
    """A v3 signature seen once: a second request with it is a replay. Kept in the database (not
    Redis), so the check never decides against storing a delivery when Redis is away; rows are
    purged once their five-minute window has passed (``backend.jobs.inbox.sweep_inbox``)."""

    __tablename__ = "used_signatures"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)   # sha256 of the signature, hex
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import JSONType, UTCDateTime, utcnow

STATUSES = ("queued", "running", "succeeded", "failed", "skipped")


class SyncRun(db.Model):
    """One execution of a flow for one object (or a whole portal), visible and replayable.

    A job receives the run's id, re-reads the current state from the source systems and
    records here what happened. Replaying a run enqueues it again with ``attempts + 1``.
    """

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_portal_flow_status", "portal_id", "flow", "status"),
        Index("ix_sync_runs_object", "portal_id", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int | None] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    flow: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retriable: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict] = mapped_column(JSONType, default=dict)
    job_id: Mapped[str | None] = mapped_column(String(128))
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_events.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def found_problems(self) -> bool:
        """Done, but with records a person must fix (the message says which): not a failure."""
        return self.status == "succeeded" and bool(self.error)

    @property
    def is_finished(self) -> bool:
        return self.status in ("succeeded", "failed", "skipped")

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "portal_id": self.portal_id,
            "flow": self.flow,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "status": self.status,
            "attempts": self.attempts,
            "retriable": self.retriable,
            "error": self.error,
            "counts": self.counts or {},
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }

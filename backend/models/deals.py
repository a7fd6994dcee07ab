"""What the connector knows of a deal between HubSpot and billwerk: its last validation (with
billwerk's priced preview) and the order that applies it, one per deal."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import JSONType, UTCDateTime, utcnow

VALIDATION_STATES = ("valid", "invalid", "outdated")
ORDER_STATES = ("new", "creating", "created", "committing", "committed", "written_back")


class DealPreview(db.Model):
    """The last validation of a deal: what was sent to billwerk's order preview, what billwerk
    answered (raw, and as the deal card shows it), the problems found before asking billwerk,
    and the hash of the cart and its inputs. A deal whose cart no longer has this hash is
    ``outdated``; contract creation applies only a valid deal whose hash still matches."""

    __tablename__ = "deal_previews"
    __table_args__ = (UniqueConstraint("portal_id", "hubspot_deal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    hubspot_deal_id: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    deal_type: Mapped[str | None] = mapped_column(String(32))
    hubspot_company_id: Mapped[str | None] = mapped_column(String(32))
    company_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))                 # valid | invalid | outdated
    cart_hash: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)               # billwerk_validation_message
    problems: Mapped[list] = mapped_column(JSONType, default=list)  # [{field, message, object_type, object_id}]
    request: Mapped[dict | None] = mapped_column(JSONType)          # the order body previewed
    response: Mapped[dict | None] = mapped_column(JSONType)         # billwerk's answer, unwrapped
    shown: Mapped[dict | None] = mapped_column(JSONType)            # the card's DealPreview
    previewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    validated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DealOrder(db.Model):
    """The one billwerk order that applies a deal (a signup's contract, an up-/downgrade).

    Created *before* the order exists in billwerk and moved forward step by step, each step
    committed before the next call: ``new`` -> ``creating`` (POST /orders under way) ->
    ``created`` (the order id is stored) -> ``committing`` -> ``committed`` (billwerk executed
    it) -> ``written_back`` (HubSpot has the ids). A retry, a second trigger or another worker
    finds this row: an order already created is committed again, never created twice; a
    committed order is only written back.
    """

    __tablename__ = "deal_orders"
    __table_args__ = (
        UniqueConstraint("portal_id", "hubspot_deal_id"),
        Index("ix_deal_orders_order", "portal_id", "billwerk_order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    hubspot_deal_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))                   # signup | upgrade
    entity_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="new")
    cart_hash: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[dict | None] = mapped_column(JSONType)          # the order body sent to billwerk
    billwerk_order_id: Mapped[str | None] = mapped_column(String(64))
    billwerk_customer_id: Mapped[str | None] = mapped_column(String(64))
    billwerk_contract_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    # billwerk_apply_changes = request seen while the deal was not closed-won: the move to
    # closed-won starts the contract creation.
    apply_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

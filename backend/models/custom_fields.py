from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import UTCDateTime, utcnow


class CustomFieldMapping(db.Model):
    """A HubSpot property of the group ``billwerk_custom_fields_sync`` that feeds a billwerk custom field.

    Per portal, entity and object: ``deal`` properties feed the contract's custom fields (the order's
    ``ContractCustomFields``), ``company`` properties the customer's ``CustomFields``. A property maps
    to one field and a field is fed by one property, so a value never has two sources. The types are
    remembered from when the mapping was made (``billwerk_type`` is ``None`` where billwerk could not
    list its fields and the key was checked by an order preview instead).
    """

    __tablename__ = "custom_field_mappings"
    __table_args__ = (
        UniqueConstraint("portal_id", "entity_id", "object", "hubspot_property"),
        UniqueConstraint("portal_id", "entity_id", "object", "billwerk_field"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    entity_id: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(16))  # "deal" or "company"
    hubspot_property: Mapped[str] = mapped_column(String(100))
    hubspot_label: Mapped[str] = mapped_column(String(255), default="")
    hubspot_type: Mapped[str] = mapped_column(String(32))
    billwerk_field: Mapped[str] = mapped_column(String(100))
    billwerk_type: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomFieldState(db.Model):
    """What billwerk was last given for one record's mapped custom fields (a hash of the values), so
    an unchanged record costs no billwerk call; ``hubspot_id`` ``*`` holds the change-search cursor."""

    __tablename__ = "custom_field_states"
    __table_args__ = (UniqueConstraint("portal_id", "object", "hubspot_id", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    object: Mapped[str] = mapped_column(String(16))
    hubspot_id: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    values_hash: Mapped[str] = mapped_column(String(64), default="")
    modified_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

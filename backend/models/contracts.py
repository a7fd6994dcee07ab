from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import JSONType, UTCDateTime, utcnow


class ContractState(db.Model):
    """What the connector knows of a billwerk contract beyond the contract itself, and what it last
    wrote to the deal that holds it.

    * ``escalated_at`` / ``reset_at``: the newest dated ``PaymentEscalated`` / ``PaymentEscalationReset``
      (``mapping.contract_updates.escalation_moment``); only ever moved forward, in one UPDATE, so
      hooks processed side by side cannot lose one another.
    * ``invoice_hint``: the newest invoice id an ``InvoiceCreated`` named that was not read yet;
      ``last_invoice_id`` / ``last_invoice_at``: the newest invoice read back.
    * ``deal_id`` / ``written``: the deal the properties went to and their values, so an unchanged
      value is not written again (and a deal that took the contract over gets everything).
    * ``checked_at``: the last time the contract was read; the reconciliation cron re-reads those
      older than a day.
    """

    __tablename__ = "contract_states"
    __table_args__ = (
        UniqueConstraint("portal_id", "billwerk_contract_id"),
        Index("ix_contract_states_checked", "portal_id", "checked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    billwerk_contract_id: Mapped[str] = mapped_column(String(64))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invoice_hint: Mapped[str | None] = mapped_column(String(64))
    last_invoice_id: Mapped[str | None] = mapped_column(String(64))
    last_invoice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deal_id: Mapped[str | None] = mapped_column(String(32))
    written: Mapped[dict | None] = mapped_column(JSONType)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def get_or_create(cls, portal_id: int, contract_id: str) -> "ContractState":
        """The contract's row, inserted (and committed) when missing; a racing insert is found instead."""
        query = db.select(cls).where(cls.portal_id == portal_id, cls.billwerk_contract_id == contract_id)
        state = db.session.execute(query).scalar_one_or_none()
        if state is not None:
            return state
        state = cls(portal_id=portal_id, billwerk_contract_id=contract_id)
        db.session.add(state)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            state = db.session.execute(query).scalar_one()
        return state

    @classmethod
    def for_contracts(cls, portal_id: int, contract_ids: list[str]) -> "dict[str, ContractState]":
        if not contract_ids:
            return {}
        return {s.billwerk_contract_id: s for s in db.session.execute(db.select(cls).where(
            cls.portal_id == portal_id, cls.billwerk_contract_id.in_(contract_ids))).scalars()}

    @classmethod
    def ensure(cls, portal_id: int, contract_ids: list[str]) -> "dict[str, ContractState]":
        """The rows of ``contract_ids``, the missing ones inserted in one commit (one by one if another
        process inserted some meanwhile)."""
        states = cls.for_contracts(portal_id, contract_ids)
        missing = [c for c in dict.fromkeys(contract_ids) if c not in states]
        if missing:
            db.session.add_all(cls(portal_id=portal_id, billwerk_contract_id=c) for c in missing)
            try:
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                for contract_id in missing:
                    cls.get_or_create(portal_id, contract_id)
            states = cls.for_contracts(portal_id, contract_ids)
        return states

    @classmethod
    def move_forward(cls, state_id: int, column: str, value, commit: bool = True) -> None:
        """Set ``column`` to ``value`` unless it holds that or a larger value already (one UPDATE)."""
        col = getattr(cls, column)
        db.session.execute(update(cls).where(cls.id == state_id, or_(col.is_(None), col < value)).values({column: value}))
        if commit:
            db.session.commit()

    @classmethod
    def clear_hint(cls, state_id: int, seen: str) -> None:
        """Forget the invoice hint once read, unless a newer hint arrived meanwhile."""
        db.session.execute(update(cls).where(cls.id == state_id, cls.invoice_hint == seen).values(invoice_hint=None))

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.exc import IntegrityError
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
        Index("ix_customer_links_portal_contact", "portal_id", "hubspot_contact_id"),
        Index("ix_customer_links_company", "portal_id", "hubspot_company_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id", ondelete="CASCADE"))
    entity_id: Mapped[str] = mapped_column(String(64))
    hubspot_company_id: Mapped[str] = mapped_column(String(32))
    billwerk_customer_id: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16))  # "import" or "manual"
    #: the customer's person: the contact it was created or last updated with (its changes update the customer)
    hubspot_contact_id: Mapped[str | None] = mapped_column(String(32))
    # How the company card names the customer (billwerk's CustomerName/CompanyName when the link was
    # made, else read once by the card); the card never asks billwerk once it is known.
    billwerk_customer_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # -- look-ups: the only queries of this table --------------------------------------------------
    @classmethod
    def for_company(cls, portal_id: int, company_id: str, entity_id: str | None = None) -> "CustomerLink | None":
        """The company's link in ``entity_id``; without an entity, its link in any entity."""
        query = db.select(cls).where(cls.portal_id == portal_id, cls.hubspot_company_id == str(company_id))
        if entity_id is not None:
            query = query.where(cls.entity_id == entity_id)
        return db.session.execute(query.order_by(cls.id).limit(1)).scalar_one_or_none()

    @classmethod
    def all_for_company(cls, portal_id: int, company_id: str) -> "list[CustomerLink]":
        """The company's links in every entity."""
        return list(db.session.execute(db.select(cls).where(cls.portal_id == portal_id, cls.hubspot_company_id == str(company_id))
                                       .order_by(cls.id)).scalars())

    @classmethod
    def by_companies(cls, portal_id: int, company_ids: list[str]) -> "dict[str, list[CustomerLink]]":
        """``{company id: its links (every entity)}`` for those of ``company_ids`` that are linked."""
        out: dict[str, list[CustomerLink]] = {}
        if company_ids:
            for link in db.session.execute(db.select(cls).where(cls.portal_id == portal_id, cls.hubspot_company_id.in_(
                    [str(c) for c in company_ids])).order_by(cls.id)).scalars():
                out.setdefault(link.hubspot_company_id, []).append(link)
        return out

    @classmethod
    def by_contacts(cls, portal_id: int, contact_ids: list[str]) -> "dict[str, list[CustomerLink]]":
        """``{contact id: the links whose person it is}``."""
        out: dict[str, list[CustomerLink]] = {}
        if contact_ids:
            for link in db.session.execute(db.select(cls).where(cls.portal_id == portal_id, cls.hubspot_contact_id.in_(
                    [str(c) for c in contact_ids])).order_by(cls.id)).scalars():
                out.setdefault(link.hubspot_contact_id, []).append(link)
        return out

    @classmethod
    def for_customer(cls, portal_id: int, entity_id: str, customer_id: str) -> "CustomerLink | None":
        return db.session.execute(db.select(cls).where(cls.portal_id == portal_id, cls.entity_id == entity_id,
                                                       cls.billwerk_customer_id == customer_id)).scalar_one_or_none()

    @classmethod
    def by_customer(cls, portal_id: int, entity_id: str, customer_ids: list[str]) -> "dict[str, CustomerLink]":
        """``{customer id: link}`` for those of ``customer_ids`` that are linked."""
        if not customer_ids:
            return {}
        return {link.billwerk_customer_id: link for link in db.session.execute(db.select(cls).where(
            cls.portal_id == portal_id, cls.entity_id == entity_id, cls.billwerk_customer_id.in_(customer_ids))).scalars()}

    @classmethod
    def customer_by_company(cls, portal_id: int) -> dict[str, str]:
        """``{company id: billwerk customer id}`` of every linked company of the portal."""
        return dict(db.session.execute(db.select(cls.hubspot_company_id, cls.billwerk_customer_id).where(
            cls.portal_id == portal_id)).all())

    @classmethod
    def origin_by_company(cls, portal_id: int, company_ids: list[str]) -> dict[str, str]:
        if not company_ids:
            return {}
        return dict(db.session.execute(db.select(cls.hubspot_company_id, cls.origin).where(
            cls.portal_id == portal_id, cls.hubspot_company_id.in_(company_ids))).all())

    @classmethod
    def create(cls, portal_id: int, entity_id: str, company_id: str, customer_id: str, origin: str,
               contact_id: str | None = None, name: str | None = None) -> "CustomerLink":
        """Insert and commit the link. The database decides races: when the company got its link in
        this entity meanwhile, that link is returned; when the customer is linked to another company,
        :class:`CustomerTaken` says which."""
        link = cls(portal_id=portal_id, entity_id=entity_id, hubspot_company_id=str(company_id),
                   billwerk_customer_id=customer_id, origin=origin,
                   hubspot_contact_id=str(contact_id) if contact_id else None,
                   billwerk_customer_name=(name or None) and name[:255])
        db.session.add(link)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            existing = cls.for_company(portal_id, company_id, entity_id)
            if existing is not None:
                return existing
            other = cls.for_customer(portal_id, entity_id, customer_id)
            raise CustomerTaken(other.hubspot_company_id if other else None) from None
        return link


class CustomerTaken(Exception):
    """The billwerk customer is linked to another company (``company_id``; ``None`` if it is gone again)."""

    def __init__(self, company_id: str | None):
        super().__init__(company_id)
        self.company_id = company_id


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

    @classmethod
    def for_deal(cls, portal_id: int, deal_id: str) -> "ContractLink | None":
        return db.session.execute(db.select(cls).where(cls.portal_id == portal_id,
                                                       cls.hubspot_deal_id == str(deal_id))).scalar_one_or_none()

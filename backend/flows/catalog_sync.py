"""Product sync: billwerk plan variants, components and discounts into the HubSpot product library;
an item hidden in billwerk is archived in HubSpot.

At the smallest number of calls the platforms allow:

* billwerk is read with its largest pages (``take=500``): plans, plan variants, components and
  discounts, once per connected entity.
* What HubSpot holds is known without reading it: :class:`~backend.models.CatalogProduct` keeps,
  per portal and billwerk id, the HubSpot id and the content hash of what was last written. Only
  a portal without any such rows (the first sync, or a lost database) lists HubSpot's products
  once, 100 a page, to learn what an earlier sync left there.
* Products whose content changed, or that are new, go to HubSpot in batch upserts of 100 keyed
  on the unique ``billwerk_id``; unchanged ones are not sent at all.
* Hidden or deleted items are archived in batches of 100; shown again, they are upserted, which
  creates them anew (an archived product holds no unique value). Line items on deals are copies
  and are never touched.

State is committed after every batch, so a run that dies half way (HubSpot outage after the
client's retries) is resumed by its replay without writing the finished batches again. Items
HubSpot refuses (207) are reported on the run and are tried again by the next sync.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable

from backend.clients.billwerk import client_for
from backend.clients.base import ApiError
from backend.clients.hubspot import BATCH_SIZE, HubSpotClient
from backend.errors import FlowError
from backend.extensions import db
from backend.flows.context import portal_context
from backend.jobs.runs import report_progress, start_run
from backend.jobs.runtime import app_context
from backend.mapping.catalog import (PRODUCT_PROPERTIES, content_hash, is_hidden, product_from_component,
                                     product_from_discount, product_from_plan_variant)
from backend.models import BillwerkAccount, CatalogProduct, CatalogSettings, Portal, SyncRun, utcnow

log = logging.getLogger(__name__)

FLOW = "sync_products"
ID_PROPERTY = "billwerk_id"
#: Lines of item errors kept on a failed run (the count is always complete).
MAX_ERROR_LINES = 20

#: The CLI's foreground run listens here: ``listener(event, counts)``.


@dataclass
class Item:
    """One billwerk catalogue item as the HubSpot product it becomes."""

    entity_id: str
    billwerk_id: str
    object_type: str
    properties: dict[str, str]
    hash: str
    hidden: bool


def run_key(portal: Portal) -> dict:
    """The one key every product sync of a portal runs under: runs are locked (and coalesced)
    per flow and object, so the cron, the admin page and the CLI never sync a portal twice at once."""
    return {"portal_id": portal.id, "object_type": "portal", "object_id": str(portal.hub_id)}


#: Languages of billwerk's localized texts the admin can choose ("" is billwerk's default text).
LANGUAGES = (("", "billwerk's default text"), ("de", "German"), ("en", "English"), ("fr", "French"), ("es", "Spanish"),
             ("it", "Italian"), ("nl", "Dutch"), ("fi", "Finnish"), ("sv", "Swedish"), ("da", "Danish"), ("pl", "Polish"))


def language_of(portal: Portal) -> str | None:
    """The portal's language for product names and descriptions (``None``: billwerk's default text)."""
    settings = db.session.execute(db.select(CatalogSettings).where(CatalogSettings.portal_id == portal.id)).scalar_one_or_none()
    return (settings.language or None) if settings else None


def save_language(portal: Portal, language: str) -> None:
    language = (language or "").strip()
    if language not in dict(LANGUAGES):
        raise FlowError(f"Choose one of the listed languages, not {language!r}.", code="bad_language", status=400)
    settings = db.session.execute(db.select(CatalogSettings).where(CatalogSettings.portal_id == portal.id)).scalar_one_or_none()
    if settings is None:
        settings = CatalogSettings(portal_id=portal.id)
        db.session.add(settings)
    settings.language = language or None
    db.session.commit()


# -- reading billwerk ------------------------------------------------------------------------------------

def read_catalog(account: BillwerkAccount, language: str | None) -> list[Item]:
    """Every plan variant, component and discount of every connected entity, hidden ones included."""
    items: dict[str, Item] = {}

    def add(entity_id: str, obj: dict, object_type: str, build: Callable[[], dict], hidden: bool) -> None:
        try:
            properties = build()
        except ValueError:
            log.warning("flow.catalog.item_without_id", extra={"entity_id": entity_id, "object_type": object_type})
            return
        billwerk_id = properties[ID_PROPERTY]
        if billwerk_id in items:  # HubSpot's key is unique per portal: first entity wins
            log.warning("flow.catalog.duplicate_id", extra={"billwerk_id": billwerk_id, "entity_id": entity_id})
            return
        items[billwerk_id] = Item(entity_id, billwerk_id, object_type, properties, content_hash(properties), hidden)

    for entity in account.entities:
        eid = entity.entity_id
        billwerk = client_for(account, eid)
        plans = {p.get("Id"): p for p in billwerk.plans()}
        for variant in billwerk.plan_variants():
            plan = plans.get(variant.get("PlanId"))
            add(eid, variant, "plan_variant",
                lambda: product_from_plan_variant(variant, plan, entity_id=eid, language=language), is_hidden(variant, plan))
        for component in billwerk.components():
            add(eid, component, "component",
                lambda: product_from_component(component, entity_id=eid, language=language), is_hidden(component))
        for discount in billwerk.discounts():
            add(eid, discount, "discount",
                lambda: product_from_discount(discount, entity_id=eid, language=language), is_hidden(discount))
    return list(items.values())


# -- what HubSpot holds ------------------------------------------------------------------------------------

def known_products(portal: Portal, hubspot: HubSpotClient, items: list[Item]) -> dict[str, CatalogProduct]:
    """The sync state by billwerk id; learnt from HubSpot's product list when there is none."""
    rows = db.session.execute(db.select(CatalogProduct).where(CatalogProduct.portal_id == portal.id)).scalars().all()
    if rows:
        return {row.billwerk_id: row for row in rows}
    entity_of = {item.billwerk_id: item.entity_id for item in items}
    known: dict[str, CatalogProduct] = {}
    for product in hubspot.iter_objects("products", PRODUCT_PROPERTIES):
        props = product.get("properties") or {}
        billwerk_id = (props.get(ID_PROPERTY) or "").strip()
        if not billwerk_id or billwerk_id in known:
            continue  # a product of the portal's own, not from billwerk
        row = CatalogProduct(
            portal_id=portal.id, billwerk_id=billwerk_id, hubspot_id=str(product["id"]), archived=False,
            entity_id=entity_of.get(billwerk_id) or props.get("billwerk_entity") or "",
            object_type=props.get("billwerk_object_type") or "",
            content_hash=content_hash({k: props.get(k) for k in PRODUCT_PROPERTIES}),
        )
        db.session.add(row)
        known[billwerk_id] = row
    db.session.commit()
    log.info("flow.catalog.learnt_from_hubspot", extra={"hub_id": portal.hub_id, "products": len(known)})
    return known


# -- the sync ------------------------------------------------------------------------------------------------

def _chunks(values: list, size: int = BATCH_SIZE) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _upsert_input(item: Item, row: CatalogProduct | None) -> dict:
    properties = dict(item.properties)
    if row is not None and not row.archived:
        # Clear what billwerk no longer has (a removed description); empty values do not change the hash.
        properties = {name: "" for name in PRODUCT_PROPERTIES} | properties
    return {"id": item.billwerk_id, "properties": properties, "objectWriteTraceId": item.billwerk_id}


def _error_text(error) -> str:
    """The per-property sentences of a refused input ("value of description is longer than …"), else
    HubSpot's message."""
    details = [e["message"] for e in error.errors if isinstance(e, dict) and e.get("message")]
    return "; ".join(details) or error.message


def _item_label(item: Item) -> str:
    return f"{item.object_type.replace('_', ' ')} {item.billwerk_id} \"{item.properties.get('name', '')}\""


class CatalogSync:
    """One sync of one portal; ``counts`` is what the run records."""

    def __init__(self, run: SyncRun, portal: Portal, account: BillwerkAccount, hubspot: HubSpotClient):
        self.run, self.portal, self.account, self.hubspot = run, portal, account, hubspot
        self.counts = {"items": 0, "created": 0, "updated": 0, "archived": 0, "unchanged": 0, "failed": 0,
                       "restored": 0, "hidden": 0}
        self.failures: list[str] = []
        self.retriable = False
        self.to_write = 0

    def progress(self, event: str) -> None:
        report_progress(self.run, dict(self.counts), stage=event)

    def execute(self) -> dict:
        items = read_catalog(self.account, language_of(self.portal))
        self.counts["items"] = len(items)
        self.progress("read")
        rows = known_products(self.portal, self.hubspot, items)
        upserts: list[Item] = []
        archives: list[CatalogProduct] = []
        for item in items:
            row = rows.get(item.billwerk_id)
            live = row is not None and not row.archived
            if item.hidden:
                if live and row.hubspot_id:
                    archives.append(row)
                else:
                    self.counts["hidden"] += 1
            elif live and row.content_hash == item.hash:
                self.counts["unchanged"] += 1
            else:
                upserts.append(item)
        present = {item.billwerk_id for item in items}
        self.to_write = len(upserts)
        deleted = [row for row in rows.values() if row.billwerk_id not in present and not row.archived and row.hubspot_id]
        for chunk in _chunks(upserts):
            self.upsert(chunk, rows)
        for chunk in _chunks(archives + deleted):
            self.archive(chunk, present)
        self.progress("done")
        if self.failures:
            raise FlowError(self.failure_message(), retriable=self.retriable)
        return dict(self.counts)

    def upsert(self, chunk: list[Item], rows: dict[str, CatalogProduct]) -> None:
        inputs = [_upsert_input(item, rows.get(item.billwerk_id)) for item in chunk]
        try:
            # A batch HubSpot refuses as a whole for one bad product is split until that product is alone.
            result = self.hubspot.batch_upsert("products", inputs, ID_PROPERTY, split_on_error=True)
        except ApiError as exc:
            raise FlowError(f"HubSpot did not take a batch of products ({exc.message}); the sync stopped after "
                            f"{self.counts['created'] + self.counts['updated']} written products and can be replayed.",
                            retriable=exc.retriable) from None
        written = {}
        for record in result.results:
            key = record.get("objectWriteTraceId") or (record.get("properties") or {}).get(ID_PROPERTY)
            if key:
                written[str(key)] = record
        refused = {}
        for error in result.errors:
            key = (error.input or {}).get("id") or (error.ids[0] if error.ids else None)
            if key is not None:
                refused[str(key)] = error
        now = utcnow()
        for item in chunk:
            record = written.get(item.billwerk_id)
            if record is None:
                error = refused.get(item.billwerk_id)
                message = _error_text(error) if error else "HubSpot did not confirm the write"
                self.counts["failed"] += 1
                self.retriable |= error is None or error.status is None or error.status >= 500 or error.status == 429
                self.failures.append(f"{_item_label(item)}: {message}")
                log.warning("flow.catalog.product_refused", extra={"hub_id": self.portal.hub_id, "billwerk_id": item.billwerk_id,
                                                                   "category": error.category if error else None})
                continue
            row = rows.get(item.billwerk_id)
            if row is None:
                row = rows[item.billwerk_id] = CatalogProduct(portal_id=self.portal.id, billwerk_id=item.billwerk_id)
                db.session.add(row)
            elif row.archived:
                self.counts["restored"] += 1
            self.counts["created" if record.get("new") else "updated"] += 1
            row.entity_id, row.object_type = item.entity_id, item.object_type
            row.hubspot_id, row.content_hash, row.archived, row.synced_at = str(record["id"]), item.hash, False, now
        self.progress("upserted")

    def archive(self, chunk: list[CatalogProduct], present: set[str]) -> None:
        try:
            self.hubspot.batch_archive("products", [row.hubspot_id for row in chunk])
        except ApiError as exc:
            raise FlowError(f"HubSpot did not archive a batch of hidden products ({exc.message}); replay the sync.",
                            retriable=exc.retriable) from None
        now = utcnow()
        for row in chunk:
            if row.billwerk_id in present:
                row.archived, row.synced_at = True, now
            else:  # deleted in billwerk: nothing can bring it back
                db.session.delete(row)
        self.counts["archived"] += len(chunk)
        self.progress("archived")

    def failure_message(self) -> str:
        n = len(self.failures)
        lines = self.failures[:MAX_ERROR_LINES]
        if n > len(lines):
            lines.append(f"… and {n - len(lines)} more")
        return (f"HubSpot refused {n} of the {self.to_write} products to write; the others were synced. Fix "
                f"{'it' if n == 1 else 'them'} in billwerk and sync again:\n" + "\n".join(lines))


def _context(run: SyncRun) -> tuple[Portal, BillwerkAccount, HubSpotClient]:
    return portal_context(run, "there are no products to sync.")


def sync_products(run: SyncRun) -> dict:
    """The whole catalogue of a portal's billwerk account into its HubSpot product library.

    Idempotent on the portal: a second run with nothing changed in billwerk writes nothing."""
    portal, account, hubspot = _context(run)
    log.info("flow.catalog.started", extra={"hub_id": portal.hub_id, "run_id": run.id})
    return CatalogSync(run, portal, account, hubspot).execute()


def start_sync(portal: Portal, queue: str = "default") -> SyncRun:
    """Hand a product sync to the worker (one waiting run per portal absorbs further requests)."""
    return start_run(FLOW, queue=queue, **run_key(portal))


def start_all_syncs() -> int:
    """Every active portal with a billwerk account: the 12-hourly sync."""
    portals = db.session.execute(db.select(Portal).where(Portal.status == "active")).scalars().all()
    started = 0
    for portal in portals:
        if portal.billwerk_account is not None:
            start_sync(portal, queue="low")
            started += 1
    log.info("flow.catalog.scheduled", extra={"portals": started})
    return started


def sync_products_everywhere() -> int:
    """Cron: start the product sync of every active portal with a billwerk account (every 12 hours)."""
    with app_context():
        return start_all_syncs()

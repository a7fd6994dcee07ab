"""CRM operations shared by the API, the control API ("user edits") and the seed.

Every write goes through :class:`Crm`: it validates values the HubSpot way, keeps unique
indexes and derived properties (deal stage flags, line item amount) up to date, and reports
each change to the webhook dispatcher with the write's :class:`Source`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from . import schema
from .errors import ApiError, PropertyErrors, conflict, validation
from .store import Portal, Record, Store
from .values import iso_ms, normalise

TIMESTAMP_PROPS = ("hs_lastmodifieddate", "lastmodifieddate")
# What a new line item takes over from the product named by hs_product_id, unless it sets it.
LINE_ITEM_FROM_PRODUCT = ("name", "description", "price", "hs_sku", "recurringbillingfrequency",
                          "hs_recurring_billing_period")
# A line item's or product's term: ISO-8601 PnYnMnD or PnW (P12M, P1Y, P1Y6M, P2W).
ISO_PERIOD = re.compile(r"^P(?=\d)(\d+Y)?(\d+M)?(\d+D)?$|^P\d+W$")
ALWAYS_RETURNED = ("hs_object_id", "createdate", "hs_lastmodifieddate")


@dataclass(frozen=True)
class Source:
    """Who made a change, as webhook events report it."""
    change_source: str          # "INTEGRATION" (app token), "CRM_UI" (user), "IMPORT", ...
    source_id: str | None       # "<appId>" or "userId:<id>"


def integration_source(app_id: int) -> Source:
    return Source("INTEGRATION", str(app_id))


def user_source(user_id: int) -> Source:
    return Source("CRM_UI", f"userId:{user_id}")


SEED_SOURCE = Source("IMPORT", None)


class Crm:
    def __init__(self, store: Store, emit: Callable[[int, dict], None]):
        self.store = store
        self.emit = emit

    # --- reading ------------------------------------------------------------------------------
    def get(self, portal: Portal, otype: str, object_id: str, id_property: str | None = None,
            archived: bool = False) -> Record | None:
        table = portal.table(otype)
        if id_property and id_property != "hs_object_id":
            self.require_unique_property(portal, otype, id_property)
            if archived:
                return next((r for r in table.records.values()
                             if r.archived and r.properties.get(id_property) == str(object_id)), None)
            return table.find_unique(id_property, str(object_id))
        rec = table.records.get(str(object_id))
        if rec is None or rec.archived != archived:
            return None
        return rec

    def require_unique_property(self, portal: Portal, otype: str, prop: str) -> None:
        pdef = portal.properties[otype].get(prop)
        if pdef is None or pdef["archived"]:
            raise validation(f"Property \"{prop}\" does not exist", errors=[{
                "message": f"Property \"{prop}\" does not exist", "code": "PROPERTY_DOESNT_EXIST",
                "context": {"propertyName": [prop]}}])
        if not pdef["hasUniqueValue"]:
            raise validation(f"{prop} is not a unique property; idProperty must name a property with hasUniqueValue=true",
                             errors=[{"message": f"{prop} is not a unique identifier property",
                                      "code": "INVALID_ID_PROPERTY", "context": {"propertyName": [prop]}}])

    def render(self, portal: Portal, otype: str, rec: Record, properties: Iterable[str] | None = None,
               associations: Iterable[str] | None = None) -> dict:
        ot = schema.OBJECT_TYPES[otype]
        defs = portal.properties[otype]
        wanted = list(properties) if properties else list(ot.default_properties)
        names = [p for p in wanted if p in defs and not defs[p]["archived"]]
        for always in ALWAYS_RETURNED:
            if always not in names:
                names.append(always)
        props = {n: (rec.properties.get(n) or None) for n in names}
        out = {"id": rec.id, "properties": props, "createdAt": iso_ms(rec.created_at),
               "updatedAt": iso_ms(rec.updated_at), "archived": rec.archived}
        if rec.archived and rec.archived_at:
            out["archivedAt"] = iso_ms(rec.archived_at)
        if associations:
            assoc_out = {}
            for name in associations:
                to = schema.resolve_type(name)
                if to is None:
                    continue
                rows = []
                for to_id, type_ids in self.associated(portal, otype, rec.id, to.name):
                    for tid in sorted(type_ids):
                        rows.append({"id": to_id, "type": schema.v3_association_name(otype, to.name, tid)})
                if rows:
                    assoc_out[name] = {"results": rows}
            if assoc_out:
                out["associations"] = assoc_out
        return out

    # --- validation ---------------------------------------------------------------------------
    def clean(self, portal: Portal, otype: str, raw: dict, existing: Record | None,
              allow_readonly: bool = False) -> dict[str, str]:
        """Validate raw input values; return the normalised strings or raise PropertyErrors."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise validation("properties must be an object of property names to values")
        defs = portal.properties[otype]
        problems: list[tuple[str, str, str]] = []
        clean: dict[str, str] = {}
        for name, value in raw.items():
            pdef = defs.get(name)
            if pdef is None or pdef["archived"]:
                problems.append((name, "PROPERTY_DOESNT_EXIST", f"Property \"{name}\" does not exist"))
                continue
            if pdef["modificationMetadata"]["readOnlyValue"] and not allow_readonly:
                if name == "hs_object_id" and existing is not None and str(value) == existing.id:
                    continue
                problems.append((name, "READ_ONLY_VALUE", f"{name} is a read only property; its value cannot be set."))
                continue
            stored, problem = normalise(pdef, value)
            if stored and otype == "contacts" and name == "email":
                stored = stored.strip().lower()     # HubSpot stores contact emails lower-cased
            if problem:
                problems.append((name, problem[0], problem[1]))
            else:
                clean[name] = stored
        if otype == "deals" and not problems:
            problems += self._check_stage(portal, clean, existing)
        if otype == "line_items" and existing is None and not problems:
            self._copy_from_product(portal, raw, clean)
        if otype in ("line_items", "products") and not problems:
            problems += self._check_commerce(portal, otype, clean)
        if problems:
            raise PropertyErrors(problems)
        return clean

    def _copy_from_product(self, portal: Portal, raw: dict, clean: dict) -> None:
        """A new line item naming a product takes the product's values for what it does not set."""
        product = self._product(portal, clean.get("hs_product_id"))
        if product is None:
            return
        for name in LINE_ITEM_FROM_PRODUCT:
            if name not in raw and product.properties.get(name):
                clean[name] = product.properties[name]

    def _product(self, portal: Portal, product_id: str | None) -> Record | None:
        if not product_id:
            return None
        try:
            key = str(int(float(product_id)))
        except ValueError:
            return None
        rec = portal.table("products").records.get(key)
        return rec if rec is not None and not rec.archived else None

    def _check_commerce(self, portal: Portal, otype: str, clean: dict) -> list:
        problems = []
        term = clean.get("hs_recurring_billing_period")
        if term and not ISO_PERIOD.match(term):
            problems.append(("hs_recurring_billing_period", "INVALID_PROPERTY_VALUE",
                             f"{term} is not a valid term; use an ISO-8601 period such as P12M, P1Y, P30D or P2W."))
        if otype != "line_items":
            return problems
        price = clean.get("price")
        if price and float(price) < 0:
            problems.append(("price", "INVALID_PROPERTY_VALUE",
                             f"{price} is not a valid price: a line item's price cannot be negative "
                             f"(a reduction belongs in discount or hs_discount_percentage)."))
        product_id = clean.get("hs_product_id")
        if product_id and self._product(portal, product_id) is None:
            problems.append(("hs_product_id", "INVALID_PROPERTY_VALUE",
                             f"Product {product_id} does not exist; hs_product_id must be the id of a product."))
        return problems

    def _check_stage(self, portal: Portal, clean: dict, existing: Record | None) -> list:
        pipelines = portal.pipelines["deals"]
        current = existing.properties if existing else {}
        pipeline_id = clean.get("pipeline") or current.get("pipeline") or "default"
        if pipeline_id not in pipelines or pipelines[pipeline_id]["archived"]:
            return [("pipeline", "INVALID_OPTION",
                     f"{pipeline_id} was not one of the allowed options: [{', '.join(pipelines)}]")]
        stage = clean.get("dealstage", current.get("dealstage"))
        if stage and ("dealstage" in clean or "pipeline" in clean):
            stage_ids = [s["id"] for s in pipelines[pipeline_id]["stages"] if not s["archived"]]
            if stage not in stage_ids:
                return [("dealstage", "INVALID_OPTION",
                         f"{stage} was not one of the allowed options: [{', '.join(stage_ids)}] "
                         f"(stages of pipeline {pipeline_id})")]
        return []

    def check_unique(self, portal: Portal, otype: str, clean: dict, rec_id: str | None,
                     pending: dict | None = None) -> None:
        """409 when a unique value is already held by another live record (or earlier batch input)."""
        table = portal.table(otype)
        label = schema.OBJECT_TYPES[otype].label
        for prop in table.unique:
            value = clean.get(prop)
            if not value:
                continue
            owner = table.find_unique(prop, value)
            if owner is not None and owner.id != rec_id:
                raise conflict(f"{label} already exists. Existing ID: {owner.id}",
                               context={"propertyName": [prop], "existingId": [owner.id]})
            if pending is not None:
                key = (prop, value)
                if key in pending and pending[key] != rec_id:
                    raise conflict(f"Duplicate value {value!r} for unique property {prop} within the batch",
                                   context={"propertyName": [prop]})

    # --- writing ------------------------------------------------------------------------------
    def create(self, portal: Portal, otype: str, raw_props: dict, source: Source,
               associations: list | None = None, *, validated: dict | None = None) -> Record:
        clean = validated if validated is not None else self.clean(portal, otype, raw_props, None)
        self.check_unique(portal, otype, clean, None)
        links = self.parse_create_associations(portal, otype, associations or [])
        now = self.store.now_ms()
        rid = portal.next_id()
        props = {k: v for k, v in clean.items() if v != ""}
        props.update(hs_object_id=rid, createdate=iso_ms(now), hs_lastmodifieddate=iso_ms(now))
        if otype == "contacts":
            props["lastmodifieddate"] = iso_ms(now)
        if otype == "deals":
            props.setdefault("pipeline", "default")
        rec = Record(rid, props, now, now)
        self._derive(portal, otype, rec)
        table = portal.table(otype)
        table.records[rid] = rec
        table.reindex(rec)
        ot = schema.OBJECT_TYPES[otype]
        self._event(portal, ot, rec, source, "creation", changeFlag="NEW")
        for name, value in rec.properties.items():
            if name not in TIMESTAMP_PROPS and name not in ("hs_object_id", "createdate"):
                self._event(portal, ot, rec, source, "propertyChange", propertyName=name, propertyValue=value)
        for to_type, to_id, type_ids in links:
            self.associate(portal, otype, rid, to_type, to_id, type_ids, source)
        return rec

    def update(self, portal: Portal, otype: str, rec: Record, raw_props: dict, source: Source,
               *, validated: dict | None = None) -> Record:
        clean = validated if validated is not None else self.clean(portal, otype, raw_props, rec)
        self.check_unique(portal, otype, clean, rec.id)
        table = portal.table(otype)
        before = dict(rec.properties)
        for name, value in clean.items():
            old = rec.properties.get(name)
            if value == "":
                rec.properties.pop(name, None)
            else:
                rec.properties[name] = value
            table.index_set(rec, name, old, value)
        self._derive(portal, otype, rec)
        changed = [n for n in rec.properties.keys() | before.keys()
                   if rec.properties.get(n) != before.get(n)]
        if changed:
            now = self.store.now_ms()
            rec.updated_at = now
            rec.properties["hs_lastmodifieddate"] = iso_ms(now)
            if otype == "contacts":
                rec.properties["lastmodifieddate"] = iso_ms(now)
            ot = schema.OBJECT_TYPES[otype]
            for name in changed:
                self._event(portal, ot, rec, source, "propertyChange", propertyName=name,
                            propertyValue=rec.properties.get(name, ""))
        return rec

    def archive(self, portal: Portal, otype: str, rec: Record, source: Source) -> None:
        if rec.archived:
            return
        table = portal.table(otype)
        table.unindex(rec)
        rec.archived = True
        rec.archived_at = self.store.now_ms()
        self._event(portal, schema.OBJECT_TYPES[otype], rec, source, "deletion", changeFlag="DELETED")

    def _derive(self, portal: Portal, otype: str, rec: Record) -> None:
        p = rec.properties
        if otype == "deals":
            stage = None
            pipeline = portal.pipelines["deals"].get(p.get("pipeline", "default"))
            if pipeline and p.get("dealstage"):
                stage = next((s for s in pipeline["stages"] if s["id"] == p["dealstage"]), None)
            if stage:
                prob = float(stage["metadata"].get("probability", "0"))
                closed = stage["metadata"].get("isClosed") == "true"
                p["hs_deal_stage_probability"] = str(prob)
                p["hs_is_closed"] = "true" if closed else "false"
                p["hs_is_closed_won"] = "true" if closed and prob >= 1.0 else "false"
            else:
                for derived in ("hs_deal_stage_probability", "hs_is_closed", "hs_is_closed_won"):
                    p.pop(derived, None)
        elif otype == "line_items":
            try:
                qty = float(p.get("quantity") or 1)
                price = float(p.get("price") or 0)
                discount = float(p.get("discount") or 0)
                amount = qty * (price - discount)
                pct = float(p.get("hs_discount_percentage") or 0)
                amount *= (1 - pct / 100)
                p["amount"] = f"{amount:.2f}".rstrip("0").rstrip(".") if "price" in p else p.get("amount", "")
            except ValueError:
                pass
            if not p.get("amount"):
                p.pop("amount", None)

    # --- associations -------------------------------------------------------------------------
    def parse_create_associations(self, portal: Portal, otype: str, associations: list,
                                  claimed: set | None = None) -> list:
        """v3 create ``associations`` -> [(to_type, to_id, [typeIds])]; 400 when invalid.

        ``claimed``: line items earlier inputs of the same batch already give a parent deal."""
        links = []
        if not isinstance(associations, list):
            raise validation("associations must be a list")
        for a in associations:
            try:
                to_id = str(a["to"]["id"])
                types = a["types"]
            except (KeyError, TypeError):
                raise validation("Each association needs to.id and types") from None
            if not isinstance(types, list) or not types:
                raise validation("Each association needs types: a list of {associationCategory, associationTypeId}")
            for t in types:
                tid, category = association_spec(t)
                to_type = next((to for (frm, to), rows in schema.ASSOCIATION_TYPES.items()
                                if frm == otype and any(r[0] == tid for r in rows)), None)
                if to_type is None:
                    raise validation(f"{tid} is not a valid association type id for {otype}")
                check_category(otype, to_type, tid, category)
                target = portal.table(to_type).records.get(to_id)
                if target is None or target.archived:
                    raise validation(f"No {to_type} with id {to_id} exists to associate with",
                                     context={"ids": [to_id]})
                links.append((to_type, to_id, [tid]))
        parents = {to_id for to_type, to_id, _t in links if otype == "line_items" and to_type == "deals"}
        if len(parents) > 1:
            raise single_parent_error(None, sorted(parents))
        if otype == "deals":
            for to_type, to_id, _t in links:
                if to_type != "line_items":
                    continue
                others = [d for d, _types in self.associated(portal, "line_items", to_id, "deals")]
                if others or (claimed is not None and to_id in claimed):
                    raise single_parent_error(to_id, others or ["another input of this batch"])
                if claimed is not None:
                    claimed.add(to_id)
        return links

    def check_single_parent(self, portal: Portal, ftype: str, fid: str, ttype: str, tid: str) -> None:
        """A line item belongs to exactly one deal: 400 when it already has another."""
        if {ftype, ttype} != {"deals", "line_items"}:
            return
        line_item, deal = (fid, tid) if ftype == "line_items" else (tid, fid)
        others = [d for d, _types in self.associated(portal, "line_items", line_item, "deals") if d != deal]
        if others:
            raise single_parent_error(line_item, others)

    def associated(self, portal: Portal, otype: str, oid: str, to_type: str) -> list[tuple[str, set[int]]]:
        edges = portal.assoc.get((otype, oid), {})
        table = portal.table(to_type)
        out = []
        for (t, tid), types in edges.items():
            if t != to_type or not types:
                continue
            rec = table.records.get(tid)
            if rec is None or rec.archived:
                continue
            out.append((tid, types))
        out.sort(key=lambda row: int(row[0]))
        return out

    def associate(self, portal: Portal, ftype: str, fid: str, ttype: str, tid: str,
                  type_ids: list[int], source: Source) -> None:
        self.check_single_parent(portal, ftype, fid, ttype, tid)
        added = False
        primary = False
        default = schema.default_association_type(ftype, ttype)
        if default is not None and default not in type_ids:
            type_ids = [default, *type_ids]     # a labelled association always includes the unlabelled one
        for type_id in type_ids:
            inverse = schema.INVERSE_TYPE.get(type_id, type_id)
            if schema.is_primary_type(ftype, ttype, type_id):
                self._drop_other_primary(portal, ftype, fid, ttype, tid, type_id, source)
                primary = True
            fwd = portal.assoc.setdefault((ftype, fid), {}).setdefault((ttype, tid), set())
            back = portal.assoc.setdefault((ttype, tid), {}).setdefault((ftype, fid), set())
            if type_id not in fwd:
                added = True
            fwd.add(type_id)
            back.add(inverse)
            if (ftype, ttype, type_id) == ("contacts", "companies", 1):
                self._set_system(portal, "contacts", fid, "associatedcompanyid", tid, source)
            if (ftype, ttype, inverse) == ("companies", "contacts", 2):
                self._set_system(portal, "contacts", tid, "associatedcompanyid", fid, source)
        if added:
            self._assoc_events(portal, ftype, fid, ttype, tid, source, removed=False, primary=primary)

    def disassociate(self, portal: Portal, ftype: str, fid: str, ttype: str, tid: str,
                     type_ids: list[int] | None, source: Source) -> bool:
        fwd = portal.assoc.get((ftype, fid), {}).get((ttype, tid))
        if not fwd:
            return False
        back = portal.assoc.get((ttype, tid), {}).get((ftype, fid), set())
        drop = set(fwd) if type_ids is None else set(type_ids) & fwd
        if not drop:
            return False
        primary = any(schema.is_primary_type(ftype, ttype, t) for t in drop)
        for type_id in drop:
            fwd.discard(type_id)
            back.discard(schema.INVERSE_TYPE.get(type_id, type_id))
        if primary and ftype == "contacts" and ttype == "companies":
            self._set_system(portal, "contacts", fid, "associatedcompanyid", "", source)
        if primary and ftype == "companies" and ttype == "contacts":
            self._set_system(portal, "contacts", tid, "associatedcompanyid", "", source)
        self._assoc_events(portal, ftype, fid, ttype, tid, source, removed=True, primary=primary)
        return True

    def _drop_other_primary(self, portal, ftype, fid, ttype, tid, type_id, source) -> None:
        for (t, other), types in list(portal.assoc.get((ftype, fid), {}).items()):
            if t == ttype and other != tid and type_id in types:
                self.disassociate(portal, ftype, fid, ttype, other, [type_id], source)

    def _set_system(self, portal, otype, oid, prop, value, source) -> None:
        rec = portal.table(otype).records.get(oid)
        if rec is not None and rec.properties.get(prop, "") != value:
            self.update(portal, otype, rec, {}, source, validated={prop: value})

    def _assoc_events(self, portal, ftype, fid, ttype, tid, source, removed, primary) -> None:
        for a_type, a_id, b_type, b_id in ((ftype, fid, ttype, tid), (ttype, tid, ftype, fid)):
            ot = schema.OBJECT_TYPES[a_type]
            self.emit(portal.id, {
                "subscriptionType": f"{ot.singular}.associationChange", "objectId": int(a_id),
                "changeSource": source.change_source, "sourceId": source.source_id,
                "associationType": schema.webhook_association_type(a_type, b_type),
                "fromObjectId": int(a_id), "toObjectId": int(b_id),
                "associationRemoved": removed, "isPrimaryAssociation": primary,
                "changeFlag": "ASSOCIATION_REMOVED" if removed else "ASSOCIATION_ADDED",
            })

    def _event(self, portal: Portal, ot: schema.ObjectType, rec: Record, source: Source, kind: str, **extra) -> None:
        event = {"subscriptionType": f"{ot.singular}.{kind}", "objectId": int(rec.id),
                 "changeSource": source.change_source, "sourceId": source.source_id}
        if kind == "propertyChange":
            event["changeFlag"] = "PROPERTY_CHANGE"
        event.update(extra)
        self.emit(portal.id, event)


ASSOCIATION_CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK")


def association_spec(spec) -> tuple[int, str]:
    """(typeId, category) of one ``{associationCategory, associationTypeId}``; both are required."""
    if not isinstance(spec, dict):
        raise validation("Each association type must be an object {associationCategory, associationTypeId}")
    missing = [k for k in ("associationCategory", "associationTypeId") if spec.get(k) in (None, "")]
    if missing:
        raise validation(f"Cannot build AssociationSpec, some of required attributes are not set {missing}",
                         context={"missingAttributes": missing})
    category = spec["associationCategory"]
    if category not in ASSOCIATION_CATEGORIES:
        raise validation(f"associationCategory {category!r} is not one of {list(ASSOCIATION_CATEGORIES)}")
    try:
        return int(spec["associationTypeId"]), category
    except (TypeError, ValueError):
        raise validation(f"associationTypeId must be a number, got {spec['associationTypeId']!r}") from None


def check_category(ftype: str, ttype: str, type_id: int, category: str) -> None:
    """The category must be the one the type id is defined in (every type here is HUBSPOT_DEFINED)."""
    if category != "HUBSPOT_DEFINED" and any(t == type_id for t, _l, _p in schema.association_types(ftype, ttype)):
        raise validation(f"associationTypeId {type_id} is a HUBSPOT_DEFINED type of {ftype} → {ttype}; "
                         f"associationCategory {category} does not match it")


def single_parent_error(line_item: str | None, deals: list[str]) -> ApiError:
    who = f"Line item {line_item} is already associated with deal {', '.join(deals)}" if line_item \
        else f"A line item cannot be associated with more than one deal ({', '.join(deals)})"
    return validation(f"{who}: a line item belongs to exactly one parent object. Create a copy of the line item "
                      f"for each deal instead.", context={"lineItemId": [line_item] if line_item else [],
                                                          "parentIds": deals})

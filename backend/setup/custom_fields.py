"""Custom-field mappings: which HubSpot property feeds which billwerk custom field, per entity and object.

The admin creates a property in HubSpot's group *Billwerk custom fields sync* and a custom field in
billwerk, then maps one to the other here (admin page *Custom mappings*, or ``flask --app backend
custom-fields map``). Both sides are read live when the mapping is made: the HubSpot property must
exist in that group, the billwerk field must exist for the object (listed by billwerk where it can
list them, else proven by an order preview that carries the key), and the types must fit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError

from backend.clients.base import ApiError, ValidationFailed
from backend.clients.billwerk import client_for
from backend.clients.hubspot import HubSpotClient
from backend.errors import HubwerkError
from backend.extensions import db
from backend.mapping.custom_fields import HUBSPOT_TYPES, carry_problem
from backend.models import BillwerkAccount, CustomFieldMapping, Portal
from backend.setup.properties import CUSTOM_FIELDS_GROUP

GROUP_NAME = CUSTOM_FIELDS_GROUP["name"]
#: billwerk's rule for custom-field keys.
FIELD_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GROUP_LABEL = CUSTOM_FIELDS_GROUP["label"]
#: object of a mapping -> (HubSpot object type, billwerk object of the custom field)
OBJECTS = {"deal": ("deals", "Contract"), "company": ("companies", "Customer")}


class MappingRefused(HubwerkError):
    def __init__(self, message: str):
        super().__init__(message, code="mapping_refused", status=400)


@dataclass(frozen=True)
class HubSpotCandidate:
    name: str
    label: str
    type: str
    mappable: bool


@dataclass(frozen=True)
class BillwerkField:
    key: str
    label: str
    type: str | None


def _object(obj: str) -> tuple[str, str]:
    if obj not in OBJECTS:
        raise MappingRefused(f"The object must be deal (-> contract custom field) or company (-> customer custom "
                             f"field), not {obj!r}.")
    return OBJECTS[obj]


def _account(portal: Portal) -> BillwerkAccount:
    if portal.billwerk_account is None:
        raise MappingRefused("Connect billwerk first: custom fields are mapped per billwerk entity.")
    return portal.billwerk_account


def _entity_id(account: BillwerkAccount, entity_id: str | None) -> str:
    entity = account.entity((entity_id or "").strip().lower() or None)
    if entity is None:
        known = ", ".join(e.entity_id for e in account.entities)
        raise MappingRefused(f"Entity {entity_id} is not connected; use one of {known}.")
    return entity.entity_id


def hubspot_candidates(portal: Portal, obj: str) -> list[HubSpotCandidate]:
    """The properties of the group *Billwerk custom fields sync* on deals or companies, read live."""
    object_type, _ = _object(obj)
    found = HubSpotClient(portal).get_properties(object_type)
    out = [HubSpotCandidate(p["name"], p.get("label") or p["name"], p.get("type") or "string",
                            (p.get("type") or "string") in HUBSPOT_TYPES)
           for p in found if p.get("groupName") == GROUP_NAME and not p.get("archived") and not p.get("hidden")]
    return sorted(out, key=lambda c: c.label.lower())


def billwerk_fields_by_object(portal: Portal, entity_id: str | None) -> dict[str, list[BillwerkField]] | None:
    """The entity's custom fields per mapping object (one billwerk call); ``None`` where billwerk cannot list them."""
    account = _account(portal)
    definitions = client_for(account, _entity_id(account, entity_id)).custom_field_definitions()
    if definitions is None:
        return None
    out: dict[str, list[BillwerkField]] = {}
    for obj, (_, billwerk_object) in OBJECTS.items():
        out[obj] = sorted((BillwerkField(d["Key"], d.get("Label") or d["Key"], d.get("Type"))
                           for d in definitions if str(d.get("Object", "")).lower() == billwerk_object.lower()),
                          key=lambda f: f.key.lower())
    return out


def billwerk_fields(portal: Portal, entity_id: str | None, obj: str) -> list[BillwerkField] | None:
    """The entity's custom fields for the object as billwerk lists them; ``None`` where it cannot."""
    _object(obj)
    by_object = billwerk_fields_by_object(portal, entity_id)
    return None if by_object is None else by_object[obj]


_SAMPLES = {"number": 1, "bool": True, "date": None, "datetime": None}


def _prove_by_preview(account: BillwerkAccount, entity_id: str, obj: str, key: str, hubspot_type: str) -> None:
    """Where billwerk lists no fields: a preview (which stores nothing) carrying the key shows whether
    billwerk knows it; billwerk refuses an undefined custom field with a 4xx naming it."""
    client = client_for(account, entity_id)
    variant = next(iter(client.plan_variants()), None)
    if variant is None:
        raise MappingRefused("billwerk has no plan variant to check the field with; create one, or let billwerk "
                             "list its custom fields.")
    sample = _SAMPLES.get(hubspot_type, "hubwerk check")
    if sample is None:
        sample = date.today().isoformat()
    order: dict = {"Cart": {"PlanVariantId": variant["Id"]},
                   "Customer": {"CompanyName": "hubwerk field check", "EmailAddress": "check@hubwerk.invalid"}}
    if obj == "deal":
        order["ContractCustomFields"] = {key: sample}
    else:
        order["Customer"]["CustomFields"] = {key: sample}
    try:
        client.preview_order(order)
    except ValidationFailed as exc:
        raise MappingRefused(f"billwerk refused the custom field {key}: {exc.provider_message or exc.message}") from None
    except ApiError as exc:
        raise MappingRefused(f"billwerk could not check the custom field {key}: {exc.message}") from None


def add_mapping(portal: Portal, entity_id: str | None, obj: str, hubspot_property: str, billwerk_field: str
                ) -> CustomFieldMapping:
    """Check both sides live, then store the mapping; a refusal says what to fix in one sentence."""
    _object(obj)
    account = _account(portal)
    entity_id = _entity_id(account, entity_id)
    hubspot_property, billwerk_field = (hubspot_property or "").strip(), (billwerk_field or "").strip()
    if not hubspot_property or not billwerk_field:
        raise MappingRefused("Choose a HubSpot property and a billwerk custom field.")
    if not FIELD_KEY.match(billwerk_field):
        raise MappingRefused(f"{billwerk_field!r} is not a billwerk custom-field key: keys start with a letter or an "
                             "underscore and contain only letters, digits and underscores.")
    candidates = {c.name: c for c in hubspot_candidates(portal, obj)}
    candidate = candidates.get(hubspot_property)
    if candidate is None:
        raise MappingRefused(f"HubSpot property {hubspot_property} is not a {obj} property of the group "
                             f"'{GROUP_LABEL}'; create it there (or move it into that group) first.")
    fields = billwerk_fields(portal, entity_id, obj)
    billwerk_type = None
    if fields is not None:
        field = next((f for f in fields if f.key == billwerk_field), None)
        if field is None:
            known = ", ".join(f.key for f in fields) or "none"
            raise MappingRefused(f"billwerk has no {OBJECTS[obj][1].lower()} custom field {billwerk_field} in entity "
                                 f"{entity_id} (defined: {known}); create it in billwerk first.")
        billwerk_type = field.type
    problem = carry_problem(hubspot_property, candidate.type, billwerk_field, billwerk_type)
    if problem:
        raise MappingRefused(problem)
    if fields is None:
        _prove_by_preview(account, entity_id, obj, billwerk_field, candidate.type)
    mapping = CustomFieldMapping(portal_id=portal.id, entity_id=entity_id, object=obj, hubspot_property=hubspot_property,
                                 hubspot_label=candidate.label, hubspot_type=candidate.type,
                                 billwerk_field=billwerk_field, billwerk_type=billwerk_type)
    db.session.add(mapping)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise MappingRefused(f"{hubspot_property} or {billwerk_field} is already mapped for {obj}s of entity "
                             f"{entity_id}; remove that mapping first.") from None
    return mapping


def remove_mapping(portal: Portal, entity_id: str | None, obj: str, hubspot_property: str) -> CustomFieldMapping:
    _object(obj)
    found = db.session.execute(db.select(CustomFieldMapping).where(
        CustomFieldMapping.portal_id == portal.id, CustomFieldMapping.entity_id == (entity_id or "").strip().lower(),
        CustomFieldMapping.object == obj, CustomFieldMapping.hubspot_property == (hubspot_property or "").strip(),
    )).scalar_one_or_none()
    if found is None:
        raise MappingRefused(f"No {obj} mapping of {hubspot_property} in entity {entity_id}.")
    db.session.delete(found)
    db.session.commit()
    return found


def remove_mapping_by_id(portal: Portal, mapping_id: int) -> CustomFieldMapping:
    found = db.session.get(CustomFieldMapping, mapping_id)
    if found is None or found.portal_id != portal.id:
        raise MappingRefused("That mapping does not exist (any more).")
    db.session.delete(found)
    db.session.commit()
    return found


def list_mappings(portal: Portal) -> list[CustomFieldMapping]:
    return list(db.session.execute(db.select(CustomFieldMapping).where(CustomFieldMapping.portal_id == portal.id)
                                   .order_by(CustomFieldMapping.entity_id, CustomFieldMapping.object,
                                             CustomFieldMapping.hubspot_property)).scalars())


def mappings_for(portal_id: int, entity_id: str, obj: str) -> list[CustomFieldMapping]:
    """The mappings the value flows apply to one record of ``obj`` in ``entity_id``."""
    return list(db.session.execute(db.select(CustomFieldMapping).where(
        CustomFieldMapping.portal_id == portal_id, CustomFieldMapping.entity_id == entity_id,
        CustomFieldMapping.object == obj).order_by(CustomFieldMapping.id)).scalars())


def mapped_properties(portal_id: int, obj: str) -> tuple[str, ...]:
    """Every HubSpot property some entity maps for ``obj`` (what a flow must read)."""
    return tuple(sorted(set(db.session.execute(db.select(CustomFieldMapping.hubspot_property).where(
        CustomFieldMapping.portal_id == portal_id, CustomFieldMapping.object == obj)).scalars())))

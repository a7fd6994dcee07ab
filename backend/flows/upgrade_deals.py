"""Creating an up-/downgrade deal (billwerk document, "Creating an up-/downgrade deal").

A deal that holds a billwerk contract (not stopped) gets one follow-up deal: named
``Up- / Downgrade deal for <origin name>``, in the origin's pipeline at its first open stage, with the
origin's companies and contacts under the same association labels, ``billwerk_deal_type=upgrade``,
``billwerk_origin_deal_id`` and the entity, and copies of the origin's line items (one batch, created
with their association to the new deal). The rep then edits that cart into the contract *after* the
change; validating and executing it are the deal flows' upgrade orders. The origin's trigger property
``billwerk_upgrade_deal`` is cleared.

Exactly one follow-up per origin and contract, whatever repeats: the claim row
(:class:`~backend.models.UpgradeDealLink`) is committed before HubSpot is asked to create anything,
the new deal's id is stored the moment HubSpot answers, and a claim without an id (a run that died in
between) first searches HubSpot for the deal it may have created.
"""
from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from backend.clients.hubspot import HubSpotClient
from backend.errors import FlowError, Skip
from backend.extensions import db
from backend.flows.context import portal_context
from backend.flows.records import associated, properties_by_id
from backend.models import ContractLink, SyncRun, UpgradeDealLink

log = logging.getLogger(__name__)

FLOW = "create_upgrade_deal"
TRIGGER_PROPERTY = "billwerk_upgrade_deal"
ORIGIN_PROPERTIES = ("dealname", "pipeline", "dealstage", "billwerk_entity", "billwerk_contract_id", "billwerk_customer_id",
                     "billwerk_sync_stopped", TRIGGER_PROPERTY, "hubspot_owner_id", "closedate")
#: What a copy of a line item carries over (HubSpot fills the rest from the product).
LINE_ITEM_COPY = ("name", "quantity", "price", "hs_product_id", "discount", "hs_discount_percentage", "description",
                  "hs_sku", "recurringbillingfrequency", "hs_recurring_billing_period", "hs_recurring_billing_start_date",
                  "hs_billing_start_delay_type", "hs_term_in_months")
LINE_ITEM_TO_DEAL = 20  # HubSpot-defined association type: line item -> deal


def upgrade_deal_name(origin_name: str) -> str:
    return f"Up- / Downgrade deal for {origin_name}".strip()


def first_open_stage(pipelines: list[dict], pipeline_id: str | None) -> str | None:
    """The first stage (by display order) of the pipeline that is not closed."""
    pipeline = next((p for p in pipelines if p.get("id") == pipeline_id), None)
    if pipeline is None:
        return None
    for stage in sorted(pipeline.get("stages") or [], key=lambda s: (s.get("displayOrder", 0), s.get("id", ""))):
        if str((stage.get("metadata") or {}).get("isClosed", "false")).lower() != "true":
            return stage["id"]
    return None


def _association_specs(entries: list[dict]) -> list[dict]:
    """The association types of an association read, as create-with-associations wants them."""
    specs = []
    for t in entries:
        category, type_id = t.get("category"), t.get("typeId")
        if category and type_id is not None:
            specs.append({"associationCategory": category, "associationTypeId": int(type_id)})
    return specs


def _associations(hubspot: HubSpotClient, deal_id: str) -> list[dict]:
    """The origin's companies and contacts with every label they carry."""
    out = []
    for to_type in ("companies", "contacts"):
        for entry in associated(hubspot, "deals", to_type, [deal_id]).get(deal_id, []):
            specs = _association_specs(entry.get("associationTypes") or [])
            if specs:
                out.append({"to": {"id": str(entry["toObjectId"])}, "types": specs})
    return out


def _find_created(hubspot: HubSpotClient, origin_id: str) -> str | None:
    """A follow-up deal an earlier attempt created before it could record it."""
    filters = [{"propertyName": "billwerk_origin_deal_id", "operator": "EQ", "value": origin_id},
               {"propertyName": "billwerk_deal_type", "operator": "EQ", "value": "upgrade"}]
    for page in hubspot.search("deals", [{"filters": filters}], properties=["billwerk_origin_deal_id"],
                               sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}], limit=1, on_cap="stop"):
        for found in page.results:
            return str(found["id"])
        break
    return None


def _claim(portal_id: int, origin_id: str, contract_id: str) -> UpgradeDealLink:
    claim = UpgradeDealLink.for_origin(portal_id, origin_id, contract_id)
    if claim is not None:
        return claim
    db.session.add(UpgradeDealLink(portal_id=portal_id, origin_deal_id=origin_id, billwerk_contract_id=contract_id))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    return UpgradeDealLink.for_origin(portal_id, origin_id, contract_id)


def _refuse(hubspot: HubSpotClient, origin_id: str, message: str) -> None:
    hubspot.update_object("deals", origin_id, {TRIGGER_PROPERTY: "", "billwerk_apply_message": message})
    raise FlowError(message, retriable=False)


def create_upgrade_deal(run: SyncRun) -> dict:
    """Idempotent on the origin deal and its contract: a repeat finds the follow-up deal and only
    repairs what is missing (the origin's trigger)."""
    portal, account, hubspot = portal_context(run, "up-/downgrades need the contract in billwerk.")
    origin_id = str(run.object_id)
    found = properties_by_id(hubspot, "deals", [origin_id], ORIGIN_PROPERTIES)
    if origin_id not in found:
        raise Skip(f"Deal {origin_id} no longer exists in HubSpot.")
    origin = found[origin_id]
    link = ContractLink.for_deal(portal.id, origin_id)
    if link is None or link.sync_stopped:
        why = ("its contract has moved to a newer up-/downgrade deal; start the next up-/downgrade from that deal"
               if link is not None else "it has no billwerk contract yet; create the contract first (close the deal "
               "as won with Apply changes = Request change)")
        _refuse(hubspot, origin_id, f"No up-/downgrade deal was created: {why}.")
    # Runs of one flow and deal never run side by side (the run lock), so the claim needs no lock of its own.
    claim = _claim(portal.id, origin_id, link.billwerk_contract_id)
    created = False
    if claim.upgrade_deal_id is None and claim.attempts:
        claim.upgrade_deal_id = _find_created(hubspot, origin_id)
    if claim.upgrade_deal_id is None:
        stage = first_open_stage(hubspot.pipelines("deals"), origin.get("pipeline"))
        if stage is None:
            _refuse(hubspot, origin_id, f"No up-/downgrade deal was created: the pipeline {origin.get('pipeline')} "
                                        "has no open stage.")
        properties = {"dealname": upgrade_deal_name(origin.get("dealname") or ""), "pipeline": origin.get("pipeline"),
                      "dealstage": stage, "billwerk_deal_type": "upgrade", "billwerk_origin_deal_id": origin_id,
                      "billwerk_entity": origin.get("billwerk_entity") or link.entity_id}
        if origin.get("hubspot_owner_id"):
            properties["hubspot_owner_id"] = origin["hubspot_owner_id"]
        claim.attempts += 1
        db.session.commit()
        deal = hubspot.create_object("deals", properties, _associations(hubspot, origin_id))
        claim.upgrade_deal_id = str(deal["id"])
        db.session.commit()
        created = True
    if not claim.line_items_copied:
        _copy_line_items(hubspot, origin_id, claim.upgrade_deal_id)
        claim.line_items_copied = True
        db.session.commit()
    if origin.get(TRIGGER_PROPERTY):
        hubspot.update_object("deals", origin_id, {TRIGGER_PROPERTY: ""})
    log.info("flow.upgrade.deal_created" if created else "flow.upgrade.deal_found",
             extra={"hub_id": portal.hub_id, "origin_deal_id": origin_id, "deal_id": claim.upgrade_deal_id})
    return {"created": int(created), "found": int(not created), "deal_id": claim.upgrade_deal_id}


def _copy_line_items(hubspot: HubSpotClient, origin_id: str, deal_id: str) -> None:
    line_ids = [str(e["toObjectId"]) for e in associated(hubspot, "deals", "line_items", [origin_id]).get(origin_id, [])]
    if not line_ids:
        return
    lines = properties_by_id(hubspot, "line_items", line_ids, LINE_ITEM_COPY)
    inputs = []
    for line_id in sorted(lines, key=int):
        props = {k: v for k, v in lines[line_id].items() if k in LINE_ITEM_COPY and v not in (None, "")}
        inputs.append({"properties": props, "associations": [{"to": {"id": deal_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": LINE_ITEM_TO_DEAL}]}]})
    hubspot.batch_create("line_items", inputs).raise_for_errors()

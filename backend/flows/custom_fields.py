"""Custom-field values travelling to billwerk.

* On creation: :func:`contract_custom_fields` gives the order's ``ContractCustomFields`` (validation
  preview and contract creation), :func:`customer_custom_fields` the new customer's ``CustomFields``
  (import, contract creation).
* After creation: the flow ``sync_custom_fields`` (cron, every few minutes, and on demand) finds
  deals with a contract and linked companies whose mapped properties changed and writes only their
  custom fields: the contract's ``CustomFields`` (billwerk's own connector never updates a contract
  from a deal once it exists; hubwerk does) and the customer's ``CustomFields``.

HubSpot's webhook subscriptions name their properties in the app's configuration, so properties an
admin creates later cannot be subscribed to; changes are found by a search on
``hs_lastmodifieddate`` instead. The last values sent are remembered per record (a hash), so a
record the connector itself touched, or whose other properties changed, costs no billwerk call.
Each record's outcome is written to it: ``billwerk_contract_update_status`` / ``_message`` on deals,
``billwerk_customer_update_status`` / ``_message`` on companies.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone

from backend.clients.base import ApiError, PreconditionFailed, ValidationFailed
from backend.clients.billwerk import client_for
from backend.clients.hubspot import HubSpotClient
from backend.extensions import db
from backend.flows.context import portal_context
from backend.jobs.runs import start_run
from backend.jobs.runtime import app_context
from backend.mapping.custom_fields import ValueProblem, custom_field_values
from backend.models import ContractLink, CustomerLink, CustomFieldMapping, CustomFieldState, Portal, SyncRun, utcnow
from backend.setup.custom_fields import mapped_properties, mappings_for

log = logging.getLogger(__name__)

FLOW = "sync_custom_fields"
#: Search is eventually consistent: each pass looks this far behind the previous one's start.
OVERLAP = timedelta(minutes=2)
#: A portal's first pass looks back this far.
FIRST_LOOK_BACK = timedelta(days=1)
#: Records handled per object and pass; the rest wait for the next pass (the cursor does not pass them).
MAX_RECORDS = 2000
ETAG_ATTEMPTS = 3

_OBJECTS = {
    # object: (HubSpot type, HubSpot property that says it is linked, status properties)
    "deal": ("deals", "billwerk_contract_id", ("billwerk_contract_update_status", "billwerk_contract_update_message")),
    "company": ("companies", "billwerk_customer_id", ("billwerk_customer_update_status", "billwerk_customer_update_message")),
}


def _values(portal_id: int, entity_id: str, obj: str, properties: dict, keep_empty: bool) -> tuple[dict, list[ValueProblem]]:
    mappings = mappings_for(portal_id, entity_id, obj)
    if not mappings:
        return {}, []
    return custom_field_values(mappings, properties, keep_empty=keep_empty)


def contract_custom_fields(portal_id: int, entity_id: str, deal_properties: dict) -> tuple[dict, list[ValueProblem]]:
    """``ContractCustomFields`` of a deal's order (empty values left out)."""
    return _values(portal_id, entity_id, "deal", deal_properties, keep_empty=False)


def customer_custom_fields(portal_id: int, entity_id: str, company_properties: dict, *, keep_empty: bool = False
                           ) -> tuple[dict, list[ValueProblem]]:
    """``CustomFields`` of a company's customer; ``keep_empty`` sends cleared values as ``null`` (updates)."""
    return _values(portal_id, entity_id, "company", company_properties, keep_empty=keep_empty)


def values_hash(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def remember_sent(portal_id: int, obj: str, hubspot_id: str, entity_id: str, values: dict) -> None:
    """Record what billwerk now holds (creation flows call this too, so the next pass sends nothing)."""
    state = db.session.execute(db.select(CustomFieldState).where(
        CustomFieldState.portal_id == portal_id, CustomFieldState.object == obj,
        CustomFieldState.hubspot_id == str(hubspot_id), CustomFieldState.entity_id == entity_id)).scalar_one_or_none()
    if state is None:
        state = CustomFieldState(portal_id=portal_id, object=obj, hubspot_id=str(hubspot_id), entity_id=entity_id)
        db.session.add(state)
    state.values_hash = values_hash(values)
    state.synced_at = utcnow()


def _sent_hash(portal_id: int, obj: str, hubspot_id: str, entity_id: str) -> str | None:
    return db.session.execute(db.select(CustomFieldState.values_hash).where(
        CustomFieldState.portal_id == portal_id, CustomFieldState.object == obj,
        CustomFieldState.hubspot_id == str(hubspot_id), CustomFieldState.entity_id == entity_id)).scalar_one_or_none()


def _targets(portal: Portal, obj: str, hubspot_id: str) -> list[tuple[str, str]]:
    """(entity id, billwerk id) the record's custom fields go to: the deal's current contract, or every
    customer the company is linked to (one per entity)."""
    if obj == "deal":
        link = ContractLink.for_deal(portal.id, hubspot_id)
        return [(link.entity_id, link.billwerk_contract_id)] if link and not link.sync_stopped else []
    return [(link.entity_id, link.billwerk_customer_id) for link in CustomerLink.all_for_company(portal.id, hubspot_id)]


def _write_to_billwerk(client, obj: str, billwerk_id: str, values: dict) -> None:
    """Only ``CustomFields`` is sent (billwerk merges it key by key), under the record's ETag so a
    concurrent change in billwerk is re-read instead of overwritten."""
    get, patch = ((client.get_contract, client.patch_contract) if obj == "deal"
                  else (client.get_customer, client.patch_customer))
    for attempt in range(ETAG_ATTEMPTS):
        current = get(billwerk_id)
        try:
            patch(billwerk_id, {"CustomFields": values}, if_match=current.etag)
            return
        except PreconditionFailed:
            if attempt == ETAG_ATTEMPTS - 1:
                raise


def _changed_records(hubspot: HubSpotClient, obj: str, since: datetime, properties: tuple[str, ...]) -> list[dict]:
    object_type, linked_property, _ = _OBJECTS[obj]
    filters = [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(int(since.timestamp() * 1000))},
               {"propertyName": linked_property, "operator": "HAS_PROPERTY"}]
    out: list[dict] = []
    for page in hubspot.search(object_type, [{"filters": filters}], properties=properties,
                               sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], on_cap="stop"):
        out.extend(page.results)
        if len(out) >= MAX_RECORDS:
            break
    return out[:MAX_RECORDS]


def sync_object(portal: Portal, account, hubspot: HubSpotClient, obj: str, records: list[dict], counts: dict) -> None:
    """Send changed custom fields of ``records`` (HubSpot objects with their properties) and write each
    record's outcome back in batches."""
    _, _, (status_property, message_property) = _OBJECTS[obj]
    statuses: list[dict] = []
    for record in records:
        hubspot_id, props = str(record["id"]), record.get("properties") or {}
        failures: list[str] = []
        sent_any = False
        for entity_id, billwerk_id in _targets(portal, obj, hubspot_id):
            values, problems = _values(portal.id, entity_id, obj, props, keep_empty=True)
            if problems:
                failures.extend(p.message for p in problems)
                continue
            if not values or _sent_hash(portal.id, obj, hubspot_id, entity_id) == values_hash(values):
                continue
            try:
                _write_to_billwerk(client_for(account, entity_id), obj, billwerk_id, values)
            except ValidationFailed as exc:
                failures.append(f"billwerk refused the custom fields: {exc.provider_message or exc.message}")
                continue
            except ApiError as exc:
                failures.append(f"billwerk could not be updated ({exc.message}); the connector tries again.")
                counts["retry_later"] = counts.get("retry_later", 0) + 1
                continue
            remember_sent(portal.id, obj, hubspot_id, entity_id, values)
            db.session.commit()
            sent_any = True
        if failures:
            counts["failed"] += 1
            statuses.append({"id": hubspot_id, "properties": {status_property: "failed", message_property: "\n".join(failures)}})
            # Forget the hash so the next pass tries again even if nothing changes in HubSpot.
        elif sent_any:
            counts["updated"] += 1
            if props.get(status_property) != "updated" or props.get(message_property):
                statuses.append({"id": hubspot_id, "properties": {status_property: "updated", message_property: ""}})
        else:
            counts["unchanged"] += 1
    if statuses:
        result = hubspot.batch_update(_OBJECTS[obj][0], statuses)
        counts["status_write_failures"] = counts.get("status_write_failures", 0) + len(getattr(result, "errors", []) or [])


def sync_custom_fields(run: SyncRun) -> dict:
    """Idempotent on the portal and the values last sent: a replay re-reads HubSpot and sends only
    what differs from what billwerk was last given."""
    portal, account, hubspot = portal_context(run, "custom fields are written once it is.")
    counts = {"updated": 0, "unchanged": 0, "failed": 0}
    started = utcnow()
    for obj in ("deal", "company"):
        properties = mapped_properties(portal.id, obj)
        if not properties:
            continue
        cursor = _cursor(portal.id, obj)
        since = (cursor.modified_since - OVERLAP) if cursor.modified_since else started - FIRST_LOOK_BACK
        _, _, (status_property, message_property) = _OBJECTS[obj]
        records = _changed_records(hubspot, obj, since, properties + (status_property, message_property))
        sync_object(portal, account, hubspot, obj, records, counts)
        # Never past this pass's start; a capped pass resumes at its last record.
        last = records[-1]["properties"].get("hs_lastmodifieddate") if len(records) >= MAX_RECORDS else None
        cursor.modified_since = _parse(last) if last else started
        db.session.commit()
    return counts


def _cursor(portal_id: int, obj: str) -> CustomFieldState:
    """The pass cursor lives in the state table under the pseudo record ``*``."""
    state = db.session.execute(db.select(CustomFieldState).where(
        CustomFieldState.portal_id == portal_id, CustomFieldState.object == obj,
        CustomFieldState.hubspot_id == "*", CustomFieldState.entity_id == "*")).scalar_one_or_none()
    if state is None:
        state = CustomFieldState(portal_id=portal_id, object=obj, hubspot_id="*", entity_id="*", values_hash="")
        db.session.add(state)
    return state


def _parse(value: str) -> datetime:
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def start_custom_field_syncs() -> int:
    """Start a pass for every portal that has mappings (joins a pass that is still waiting)."""
    portal_ids = set(db.session.execute(db.select(CustomFieldMapping.portal_id).distinct()).scalars())
    started = 0
    for portal in db.session.execute(db.select(Portal).where(Portal.id.in_(portal_ids), Portal.status == "active")).scalars():
        if portal.billwerk_account is None:
            continue
        start_run(FLOW, portal_id=portal.id, object_type="portal", object_id=str(portal.hub_id), queue="low")
        started += 1
    return started


def sync_custom_fields_everywhere() -> int:
    """Cron entry point."""
    with app_context():
        return start_custom_field_syncs()

"""``provision_properties``: create the connector's property groups and properties
on deals, companies, contacts and products, idempotently and with batch calls.

Per object: one read of the groups, one read of the properties, at most one batch create, and
one update per enumeration whose options are missing (repairs, and ``billwerk_entity`` following
the connected entities). Re-running on a complete portal reads and writes nothing else.
"""
from __future__ import annotations

import logging

from backend.clients.base import Conflict
from backend.clients.hubspot import HubSpotClient
from backend.errors import FlowError
from backend.extensions import db
from backend.setup.properties import GROUPS, PROPERTIES
from backend.models import Portal, SyncRun, utcnow

log = logging.getLogger(__name__)


def entity_options(portal: Portal) -> tuple[tuple[str, str], ...]:
    account = portal.billwerk_account
    return tuple((e.entity_id, e.name) for e in account.entities) if account else ()


def provision_properties(run: SyncRun) -> dict:
    portal = db.session.get(Portal, run.portal_id)
    if portal is None or portal.status != "active":
        raise FlowError("The portal is not connected; reinstall the connector first.")
    return provision(portal, HubSpotClient(portal))


def provision(portal: Portal, client: HubSpotClient) -> dict:
    counts = {"groups_created": 0, "properties_created": 0, "properties_repaired": 0}
    entities = entity_options(portal)
    problems = []
    for object_type, specs in PROPERTIES.items():
        existing_groups = {g["name"] for g in (client.call("GET", f"/crm/v3/properties/{object_type}/groups") or {}).get("results", [])}
        for group in GROUPS[object_type]:
            if group["name"] not in existing_groups:
                try:
                    client.create_property_group(object_type, group)
                    counts["groups_created"] += 1
                except Conflict:  # created meanwhile by another run: that is the goal
                    pass
        existing = {p["name"]: p for p in client.get_properties(object_type)}
        missing = [spec.definition(entities) for spec in specs if spec.name not in existing]
        if missing:
            try:
                result = client.batch_create_properties(object_type, missing)
            except Conflict:  # the whole batch refused as existing (a retry after a lost answer): done
                present = {p["name"] for p in client.get_properties(object_type)}
                problems += [f"{object_type}.{d['name']}: not created" for d in missing if d["name"] not in present]
            else:
                counts["properties_created"] += len(result.results)
                problems += [f"{object_type}.{(e.input or {}).get('name', '?')}: {e.message}" for e in result.errors if e.status != 409]
        for spec in specs:
            current = existing.get(spec.name)
            if current is None or spec.type not in ("enumeration", "bool"):
                continue
            have = {o.get("value") for o in current.get("options") or []}
            wanted = spec.wanted_options(entities)
            if all(value in have for value, _ in wanted):
                continue
            # Keep every existing option (deals may use them), add the missing ones.
            options = list(current.get("options") or []) + [
                {"label": label, "value": value, "hidden": False, "displayOrder": len(have) + i}
                for i, (value, label) in enumerate(v for v in wanted if v[0] not in have)
            ]
            client.update_property(object_type, spec.name, {"options": options})
            counts["properties_repaired"] += 1
    if problems:
        raise FlowError("Some properties could not be created: " + "; ".join(problems[:5]), retriable=True)
    portal.properties_provisioned_at = utcnow()
    db.session.commit()
    return counts

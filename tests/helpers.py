"""Test helpers: signed HubSpot requests and connected portals/accounts, as the real callers make them."""
from __future__ import annotations

import base64
import json
import time

from backend.extensions import db
from backend.models import BillwerkAccount, BillwerkEntity, Portal
from backend.security.hubspot_signature import signature_v1, signature_v2, signature_v3

SECRET = "hubwerk-sandbox-client-secret"
BASE = "http://127.0.0.1:5000"
ROOT_ENTITY = "5f0000000000000000000001"
SUB_ENTITY = "5f0000000000000000000002"


def v3_headers(method: str, path_and_query: str, body: bytes = b"", *, secret: str = SECRET, timestamp_ms: int | None = None) -> dict:
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    return {"X-HubSpot-Signature-v3": signature_v3(secret, method, BASE + path_and_query, body, ts), "X-HubSpot-Request-Timestamp": ts}


def v1_headers(body: bytes, *, secret: str = SECRET) -> dict:
    return {"X-HubSpot-Signature": signature_v1(secret, body), "X-HubSpot-Signature-Version": "v1"}


def v2_headers(method: str, path_and_query: str, body: bytes, *, secret: str = SECRET) -> dict:
    return {"X-HubSpot-Signature": signature_v2(secret, method, BASE + path_and_query, body), "X-HubSpot-Signature-Version": "v2"}


def basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def connected_portal(hub_id: int = 100001, *, username: str | None = None, password: str = "pw-" + "x" * 30,
                     entities=((ROOT_ENTITY, "Sandbox GmbH"), (SUB_ENTITY, "Sandbox Ltd (UK)"))) -> tuple[Portal, BillwerkAccount]:
    portal = Portal(hub_id=hub_id, access_token="at", refresh_token="rt", scopes=["oauth"])
    account = BillwerkAccount(portal=portal, base_url="http://127.0.0.1:5002", client_id="cid", client_secret="cs",
                              webhook_username=username or f"hubwerk-{hub_id}", webhook_password=password, webhook_events=[])
    for position, (entity_id, name) in enumerate(entities):
        account.entities.append(BillwerkEntity(entity_id=entity_id, name=name, public_api_key=f"key-{entity_id}", position=position))
    db.session.add(account)
    db.session.commit()
    return portal, account


def body(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()

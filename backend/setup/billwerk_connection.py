"""Connecting a portal's billwerk account: prove the credentials, store them encrypted, issue
the webhook credentials (kept on re-runs unless rotated). Used by the admin page and the CLI."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from flask import current_app

from backend.clients.base import ApiError, AuthError
from backend.clients.billwerk import BillwerkClient, normalize_base_url
from backend.errors import HubwerkError
from backend.extensions import db
from backend.jobs.runs import start_run
from backend.models import BillwerkAccount, BillwerkEntity, Portal, utcnow
from backend.security.basic_auth import new_credentials

log = logging.getLogger(__name__)

_ENTITY_ID = re.compile(r"^[0-9a-fA-F]{24}$")

# The events billwerk's own HubSpot connector asks for; the others keep the deal current too.
RECOMMENDED_EVENTS = ("ContractCreated", "ContractChanged", "InvoiceCreated", "OrderSucceeded", "PaymentEscalated", "PaymentEscalationReset")
ALL_EVENTS = RECOMMENDED_EVENTS + ("ContractDataChanged", "ContractCancelled", "CustomerCreated", "CustomerChanged",
                                   "InvoiceCorrected", "PaymentDataChanged")


@dataclass(frozen=True)
class EntityInput:
    entity_id: str
    public_api_key: str
    name: str


def parse_entity_option(value: str) -> EntityInput:
    """``ENTITY_ID:PUBLIC_API_KEY[:NAME]`` from the CLI."""
    parts = value.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise HubwerkError(f"--entity {value!r} must look like ENTITY_ID:PUBLIC_API_KEY[:NAME].", code="bad_entity")
    return EntityInput(parts[0].strip(), parts[1].strip(), (parts[2].strip() if len(parts) == 3 else "") or parts[0].strip())


def _canonical(entity: EntityInput) -> EntityInput:
    """billwerk writes ids in lower case (webhooks' EntityId); store them so, or nothing would match."""
    return EntityInput(entity.entity_id.strip().lower(), entity.public_api_key.strip(), entity.name)


def webhook_url() -> str:
    return current_app.config["HUBWERK"].public_base_url + "/api/webhook/billwerk/events"


def connect_billwerk(portal: Portal, *, base_url: str, client_id: str, client_secret: str | None,
                     entities: list[EntityInput], rotate_webhook_credentials: bool = False,
                     webhook_events: list[str] | None = None) -> BillwerkAccount:
    """Prove and store the billwerk connection of ``portal``; nothing is stored if billwerk refuses."""
    account = portal.billwerk_account
    client_id = (client_id or "").strip()
    if not client_id:
        raise HubwerkError("Enter the billwerk client id (billwerk: Settings > My Apps).", code="missing_client_id")
    secret = (client_secret or "").strip()
    if not secret and account is not None:
        try:
            same_place = normalize_base_url(base_url) == account.base_url and client_id == account.client_id
        except ValueError:
            same_place = False
        # The stored secret is only ever sent where it came from: a new base URL or client id needs it typed again.
        if same_place:
            secret = account.client_secret
        else:
            raise HubwerkError("Enter the client secret again: the base URL or client id changed.", code="missing_client_secret")
    if not secret:
        raise HubwerkError("Enter the billwerk client secret (shown once when the app was created in billwerk).", code="missing_client_secret")
    entities = [_canonical(e) for e in entities]
    if not entities:
        raise HubwerkError("Enter at least the root entity: its id and its public API key (billwerk: Settings > Self-Service).", code="missing_entity")
    seen = set()
    for entity in entities:
        if not _ENTITY_ID.match(entity.entity_id):
            raise HubwerkError(f"Entity id {entity.entity_id!r} is not a billwerk id (24 hexadecimal characters).", code="bad_entity")
        if entity.entity_id.lower() in seen:
            raise HubwerkError(f"Entity {entity.entity_id} is listed twice.", code="bad_entity")
        seen.add(entity.entity_id.lower())
        if not entity.public_api_key:
            raise HubwerkError(f"Entity {entity.entity_id} needs its public API key.", code="bad_entity")
    try:
        base = normalize_base_url(base_url)
    except ValueError as exc:
        raise HubwerkError(str(exc), code="bad_base_url") from None

    client = BillwerkClient(base, client_id, secret)
    try:
        client.verify()
        for entity in entities:
            client.for_entity(entity.entity_id).verify()
    except AuthError:
        raise HubwerkError("billwerk refused the client id or secret. Copy both again from billwerk (Settings > My Apps) and save.", code="billwerk_auth_failed") from None
    except ApiError as exc:
        if exc.provider_status in (403, 404):
            raise HubwerkError(f"billwerk does not know one of these entity ids for this client ({exc.message}). Check the entity ids.", code="billwerk_unknown_entity") from None
        raise HubwerkError(f"Could not verify the billwerk connection: {exc.message}", code="billwerk_unreachable", status=502) from None

    if account is None:
        username, password = new_credentials(f"hubwerk-{portal.hub_id}")
        account = BillwerkAccount(portal=portal, webhook_username=username, webhook_password=password,
                                  webhook_events=list(RECOMMENDED_EVENTS), webhook_enabled=True)
        db.session.add(account)
    elif rotate_webhook_credentials:
        account.webhook_username, account.webhook_password = new_credentials(f"hubwerk-{portal.hub_id}")
        account.webhook_enabled = True
    account.base_url = base
    account.client_id = client_id
    account.client_secret = secret
    account.verified_at = utcnow()
    if webhook_events is not None:
        account.webhook_events = [e for e in ALL_EVENTS if e in webhook_events]
    _replace_entities(account, entities)
    db.session.commit()
    log.info("billwerk.connected", extra={"hub_id": portal.hub_id, "entities": len(entities)})
    # billwerk_entity's options on HubSpot follow the connected entities.
    start_run("provision_properties", portal_id=portal.id, object_type="portal", object_id=str(portal.hub_id), queue="high")
    return account


def _replace_entities(account: BillwerkAccount, entities: list[EntityInput]) -> None:
    wanted = {e.entity_id for e in entities}
    for row in list(account.entities):
        if row.entity_id not in wanted:
            account.entities.remove(row)
    # (account, position) is unique: park the kept rows on temporary positions before renumbering.
    for index, row in enumerate(account.entities):
        row.position = -1 - index
    db.session.flush()
    by_id = {row.entity_id: row for row in account.entities}
    for position, entity in enumerate(entities):
        row = by_id.get(entity.entity_id)
        if row is None:
            row = BillwerkEntity(entity_id=entity.entity_id)
            account.entities.append(row)
        row.name = entity.name
        row.public_api_key = entity.public_api_key
        row.position = position
    account.entities.sort(key=lambda e: e.position)


def rotate_webhook_credentials(account: BillwerkAccount) -> None:
    account.webhook_username, account.webhook_password = new_credentials(f"hubwerk-{account.portal.hub_id}")
    account.webhook_enabled = True
    db.session.commit()


def save_webhook_events(account: BillwerkAccount, events: list[str]) -> None:
    """The events the admin ticked, in the page's order; unknown names are dropped."""
    account.webhook_events = [e for e in ALL_EVENTS if e in events]
    db.session.commit()

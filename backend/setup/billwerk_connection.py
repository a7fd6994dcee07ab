"""Connecting a portal's billwerk account: prove the credentials, store them encrypted, issue
the webhook credentials (kept on re-runs unless rotated). Used by the admin page and the CLI."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from flask import current_app

from backend.clients.base import ApiError
from backend.clients.billwerk import BillwerkClient, CredentialsRefused, normalize_base_url
from backend.clients.billwerk_reachability import diagnose, scheme_typo
from backend.errors import HubwerkError
from backend.extensions import db
from backend.jobs.runs import start_run
from backend.models import BillwerkAccount, BillwerkEntity, Portal, utcnow
from backend.security.basic_auth import new_credentials

log = logging.getLogger(__name__)

_ENTITY_ID = re.compile(r"^[0-9a-fA-F]{24}$")

# The client used to prove a connection answers an admin within seconds: a short connect timeout
# and one retry, not the workers' patience.
VERIFY_TIMEOUT = (3, 10)


@dataclass(frozen=True)
class WebhookEvent:
    """A row of the webhook page: a billwerk event, how much the connector needs it, and what for."""

    name: str
    need: str  # "required", "recommended" or "optional"
    purpose: str


# One row per event; the page renders this table in this order. "required": billwerk's own HubSpot
# connector asks for exactly these, and the deal falls behind its contract without them, so they
# cannot be unticked.
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = (
    WebhookEvent("ContractCreated", "required", "A new contract: the deal gets its contract id and status."),
    WebhookEvent("ContractChanged", "required", "Up- and downgrades and other contract changes reach the deal."),
    WebhookEvent("InvoiceCreated", "required", "A new invoice or credit: the deal's balance and billed-until follow."),
    WebhookEvent("OrderSucceeded", "required", "An order was committed for the contract."),
    WebhookEvent("PaymentEscalated", "required", "Dunning started: the deal shows the payment escalation."),
    WebhookEvent("PaymentEscalationReset", "required", "Dunning ended: the escalation is cleared on the deal."),
    WebhookEvent("ContractDataChanged", "recommended", "Contract data changed: the deal follows the contract."),
    WebhookEvent("ContractCancelled", "recommended", "The contract was cancelled: the deal shows its end date."),
    WebhookEvent("PaymentDataChanged", "recommended", "Payment provider or method changed: only this event tells the deal."),
    WebhookEvent("CustomerCreated", "optional", "A customer was created in billwerk."),
    WebhookEvent("CustomerChanged", "optional", "A customer was changed in billwerk."),
    WebhookEvent("InvoiceCorrected", "optional", "An invoice was corrected."),
)
REQUIRED_EVENTS = tuple(e.name for e in WEBHOOK_EVENTS if e.need == "required")
# The selection a new connection starts with.
RECOMMENDED_EVENTS = tuple(e.name for e in WEBHOOK_EVENTS if e.need in ("required", "recommended"))
ALL_EVENTS = tuple(e.name for e in WEBHOOK_EVENTS)


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
    _check_keys(entities)
    base = _checked_base_url(base_url)

    client = BillwerkClient(base, client_id, secret, timeout=VERIFY_TIMEOUT, max_retries=1)
    try:
        client.verify()
    except CredentialsRefused:
        raise HubwerkError("billwerk refused the client id or secret. Copy both again from billwerk (Settings > My Apps) and save.", code="billwerk_auth_failed") from None
    except ApiError as exc:
        raise HubwerkError(f"Could not verify the billwerk connection at {base}: {exc.message}", code="billwerk_unreachable", status=502) from None
    for entity in entities:
        try:
            client.for_entity(entity.entity_id).verify()
        except ApiError as exc:
            if exc.provider_status in (401, 403, 404):
                said = f" (billwerk: {exc.provider_message})" if exc.provider_message else ""
                raise HubwerkError(f"billwerk refused entity {entity.entity_id} ({entity.name}) for client {client_id}{said}. "
                                   "Check that entity id, and that the app may act on that entity.",
                                   code="billwerk_unknown_entity") from None
            raise HubwerkError(f"Could not verify entity {entity.entity_id} ({entity.name}): {exc.message}",
                               code="billwerk_unreachable", status=502) from None

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
        account.webhook_events = check_webhook_events(webhook_events)
    _replace_entities(account, entities)
    db.session.commit()
    log.info("billwerk.connected", extra={"hub_id": portal.hub_id, "entities": len(entities)})
    # billwerk_entity's options on HubSpot follow the connected entities.
    start_run("provision_properties", portal_id=portal.id, object_type="portal", object_id=str(portal.hub_id), queue="high")
    return account


# What billwerk can and cannot prove when a connection is saved. The client id and secret (a token)
# and each entity id (a call in that entity) are proven. A public API key is only ever used by
# billwerk's browser SDK (SubscriptionJS); billwerk's REST API has no call that checks one, so the
# connector cannot tell a wrong key from a right one and says so instead of calling it verified.
KEYS_NOT_PROVABLE = ("The public API keys could not be proven: billwerk's API has no call that checks them. "
                     "Compare each with billwerk (Settings > Self-Service, in that entity).")
_PUBLIC_KEY = re.compile(r"^[0-9a-fA-F]{24}$")


def _check_keys(entities: list[EntityInput]) -> None:
    """Refuse what is surely a copy-and-paste slip; billwerk itself cannot check the keys."""
    seen: dict[str, str] = {}
    ids = {e.entity_id for e in entities}
    for entity in entities:
        key = entity.public_api_key
        if any(c.isspace() for c in key):
            raise HubwerkError(f"The public API key of entity {entity.entity_id} contains spaces; copy it again.", code="bad_entity")
        if key.lower() in ids:
            raise HubwerkError(f"The public API key of entity {entity.entity_id} is an entity id; enter the key "
                               "shown under Settings > Self-Service.", code="bad_entity")
        if key in seen:
            raise HubwerkError(f"Entities {seen[key]} and {entity.entity_id} have the same public API key; each entity has its own.",
                               code="bad_entity")
        seen[key] = entity.entity_id


def key_warnings(entities) -> list[str]:
    """Keys that do not look like billwerk's (24 hexadecimal characters): worth a second look."""
    return [f"The public API key of entity {e.entity_id} does not look like a billwerk key (24 hexadecimal characters)."
            for e in entities if not _PUBLIC_KEY.match(e.public_api_key or "")]


def _checked_base_url(raw: str) -> str:
    """The normalized base URL, or a quick, precise refusal: a typo, no such host, nothing on the port,
    not a billwerk API (each answered within a couple of seconds)."""
    typo = scheme_typo(raw)
    if typo:
        raise HubwerkError(typo, code="bad_base_url")
    try:
        base = normalize_base_url(raw)
    except ValueError as exc:
        raise HubwerkError(str(exc), code="bad_base_url") from None
    diagnose(base)
    return base


def check_webhook_events(selected: list[str]) -> list[str]:
    """The selection to store, in table order; refuses one without every required event."""
    missing = [e for e in REQUIRED_EVENTS if e not in selected]
    if missing:
        raise HubwerkError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required: without "
                           f"{'it' if len(missing) == 1 else 'them'} the deals fall behind their contracts. Tick "
                           f"{'it' if len(missing) == 1 else 'them'} here and in billwerk.", code="required_events")
    return [e for e in ALL_EVENTS if e in selected]


def save_webhook_events(account: BillwerkAccount, selected: list[str]) -> None:
    """The events the admin ticked, in the page's order (unknown names dropped); every required one must be there."""
    account.webhook_events = check_webhook_events(selected)
    db.session.commit()


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

"""The ordered checks every inbound request passes: authenticate (before parsing), resolve the
tenant the credentials prove, parse, store the delivery and commit, then acknowledge.

A refused request gets 401/4xx JSON and changes nothing: no inbox row, no job.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g, request
from redis.exceptions import RedisError
from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from backend.errors import HubwerkError, NotFound, Unauthorized
from backend.flows import card_reads
from backend.ids import is_id
from backend.extensions import db
from backend.models import BillwerkAccount, BillwerkEntity, InboxEvent, Portal, UsedSignature, utcnow
from backend.security import basic_auth, hubspot_signature

log = logging.getLogger(__name__)

UNSIGNED = Unauthorized("The request is not signed by HubSpot for this app.")
# Compared against when the username is unknown, so both paths take the same time.
_DUMMY_PASSWORD = "x" * 43


def signed_uri() -> str:
    """The URI HubSpot signed: PUBLIC_BASE_URL + the raw path and query string as received."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        raw = request.path + ("?" + request.query_string.decode("latin-1") if request.query_string else "")
    return current_app.config["HUBWERK"].public_base_url + raw


def authenticate_hubspot(accept: tuple[str, ...], *, one_value_each: bool = True,
                         used_in_redis: bool = False) -> hubspot_signature.Verified:
    """``one_value_each``: a query parameter named twice is refused (cards and actions read theirs;
    webhooks take nothing from the query). ``used_in_redis``: the v3 single-use check is kept in
    Redis (card calls: a view stores nothing, and cards need Redis for their rate limit anyway),
    falling back to the database when Redis does not answer."""
    settings = current_app.config["HUBWERK"]
    try:
        verified = hubspot_signature.verify(
            secret=settings.hubspot_client_secret,
            method=request.method,
            uri=signed_uri(),
            body=request.get_data(cache=True),
            headers=request.headers,
            now_ms=int(time.time() * 1000),
            accept=accept,
        )
    except hubspot_signature.SignatureError as exc:
        log.warning("hubspot.signature.refused", extra={"reason": exc.reason, "path": request.path})
        raise UNSIGNED from None
    if one_value_each:
        refuse_repeated_parameters()
    if verified.version == "v3" and not (_first_use_redis(verified.signature) if used_in_redis else _first_use(verified.signature)):
        log.warning("hubspot.signature.replayed", extra={"path": request.path})
        raise Unauthorized("This signed request was already used; HubSpot signs every request anew.")
    return verified


def _first_use(signature: str) -> bool:
    """v3 signatures are single-use inside their five-minute window. The used ones are kept in
    the database, the same store the delivery goes to: Redis being away never refuses a delivery."""
    used = UsedSignature(digest=hashlib.sha256(signature.encode()).hexdigest(),
                         expires_at=utcnow() + timedelta(milliseconds=2 * hubspot_signature.V3_MAX_AGE_MS))
    db.session.add(used)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def _first_use_redis(signature: str) -> bool:
    """``_first_use`` in Redis: one ``SET NX`` for as long as the database row would be kept. The
    same round trip reads the generation of the card views' portal memo (``g.view_generation``,
    see ``card_reads.view_portal``); without Redis there is none and the view reads the database."""
    digest = hashlib.sha256(signature.encode()).hexdigest()
    try:
        redis = current_app.extensions["hubwerk.redis"]()
        pipe = redis.pipeline(transaction=False)
        pipe.set(f"hubwerk:used-signature:{digest}", b"1", nx=True, px=2 * hubspot_signature.V3_MAX_AGE_MS)
        pipe.get(card_reads.VIEW_GENERATION_KEY)
        first, generation = pipe.execute()
    except (RedisError, OSError):
        return _first_use(signature)
    g.view_generation = generation or b"0"
    return bool(first)


def refuse_repeated_parameters() -> None:
    """A signed URI with a parameter twice (two ``portalId``) is ambiguous: refused, never "first wins"."""
    repeated = sorted(name for name, values in request.args.lists() if len(values) > 1)
    if repeated:
        log.warning("hubspot.request.repeated_parameter", extra={"path": request.path, "parameters": repeated[:5]})
        raise HubwerkError(f"The query parameter(s) {', '.join(repeated[:5])} appear more than once; send each once.",
                           code="bad_request", status=400)


def portal_by_hub_id(value: str | None) -> Portal | None:
    if not is_id(value):
        return None
    # The tokens are loaded (and decrypted) only by a request that calls HubSpot.
    return db.session.execute(_PORTAL_BY_HUB_ID, {"hub_id": int(value)}).scalar_one_or_none()


_PORTAL_BY_HUB_ID = (db.select(Portal).options(defer(Portal.access_token), defer(Portal.refresh_token))
                     .where(Portal.hub_id == bindparam("hub_id")))


def installed_portal(hub_id_raw: str | None, read=None) -> Portal:
    """The portal a signed request names; 404 when the connector is not installed there. ``read``
    (hub id -> portal or None) replaces the Portal row look-up (card views: ``card_reads.view_portal``)."""
    if not is_id(hub_id_raw):
        raise HubwerkError("The portalId query parameter is missing or not a number.", code="bad_request", status=400)
    portal = (read or portal_by_hub_id)(hub_id_raw)
    if portal is None or portal.status == "revoked":
        raise NotFound(f"The connector is not installed in HubSpot portal {hub_id_raw}.", code="portal_not_installed")
    return portal


def check_app_id() -> None:
    app_id = request.args.get("appId")
    if app_id is not None and app_id != current_app.config["HUBWERK"].hubspot_app_id:
        log.warning("hubspot.card.wrong_app", extra={"path": request.path})
        raise Unauthorized("This request was made for another HubSpot app.")


@dataclass(frozen=True)
class WebhookAccount:
    """What a billwerk hook needs of the account it proves: read in one query, no ORM objects."""

    id: int
    portal_id: int
    entity_ids: tuple[str, ...]        # root entity first

    def entity(self, entity_id: str | None) -> str | None:
        """The connected entity with this id (``None``/empty: the root entity), or ``None``."""
        if not entity_id:
            return self.entity_ids[0] if self.entity_ids else None
        wanted = entity_id.strip().lower()
        return wanted if wanted in self.entity_ids else None


def authenticate_billwerk() -> WebhookAccount:
    """The connected billwerk account named by the Basic username, proven by its password."""
    try:
        username, password = basic_auth.parse_basic(request.headers.get("Authorization"))
    except basic_auth.BasicAuthError as exc:
        log.warning("billwerk.webhook.unauthorized", extra={"reason": exc.reason})
        raise Unauthorized("billwerk webhook calls need the Basic credentials shown on the connector's webhook page.") from None
    # One query on the hot path of every hook: the account's columns, its portal's status, its entities.
    rows = db.session.execute(
        db.select(BillwerkAccount.id, BillwerkAccount.portal_id, BillwerkAccount.webhook_password,
                  BillwerkAccount.webhook_enabled, Portal.status, BillwerkEntity.entity_id)
        .join(Portal, Portal.id == BillwerkAccount.portal_id)
        .outerjoin(BillwerkEntity, BillwerkEntity.account_id == BillwerkAccount.id)
        .where(BillwerkAccount.webhook_username == username)
        .order_by(BillwerkEntity.position)).all()
    first = rows[0] if rows else None
    expected = first.webhook_password if first is not None else _DUMMY_PASSWORD
    if not basic_auth.same_secret(password, expected) or first is None or not first.webhook_enabled or first.status == "revoked":
        log.warning("billwerk.webhook.unauthorized", extra={"reason": "wrong or disabled credentials"})
        raise Unauthorized("These billwerk webhook credentials are wrong or have been disabled.")
    return WebhookAccount(id=first.id, portal_id=first.portal_id,
                          entity_ids=tuple(row.entity_id for row in rows if row.entity_id is not None))


def parse_json(expect: type):
    """The body as UTF-8 JSON (what HubSpot and billwerk send). UTF-16/32 bodies, which
    ``json.loads(bytes)`` would guess, and nesting too deep to parse are malformed, not a crash."""
    try:
        data = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        data = None
    if not isinstance(data, expect):
        shape = "a JSON array" if expect is list else "a JSON object"
        raise HubwerkError(f"The body must be {shape}.", code="malformed_json", status=400)
    return data


def store_delivery(source: str, *, name: str | None = None, portal: Portal | None = None,
                   account: WebhookAccount | None = None, dedupe_key: str | None = None) -> InboxEvent:
    """Store the delivery as received and commit: from here on nothing can be lost."""
    path = request.path + ("?" + request.query_string.decode("latin-1") if request.query_string else "")
    event = InboxEvent(
        source=source,
        name=(name or "")[:128] or None,
        portal_id=portal.id if portal else (account.portal_id if account else None),
        billwerk_account_id=account.id if account else None,
        dedupe_key=(dedupe_key or "")[:255] or None,
        method=request.method,
        path=path[:512],
        headers=InboxEvent.safe_headers(request.headers),
        body=request.get_data(as_text=True),
    )
    session = db.session()
    session.add(event)
    # The row is what was just written: kept readable after the commit instead of read back.
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    return event


def body_key() -> str:
    """The key of a byte-identical delivery, whatever signed it: a HubSpot webhook body names its
    events (ids, times, attempt number), so the same bytes again are a replay or a duplicate."""
    return "sha256:" + hashlib.sha256(request.get_data(cache=True)).hexdigest()


def store_once(source: str, dedupe_key: str, **kw) -> tuple[InboxEvent, bool]:
    """``store_delivery`` for a delivery that may come again: the row and whether it is new."""
    try:
        return store_delivery(source, dedupe_key=dedupe_key, **kw), True
    except IntegrityError:
        db.session.rollback()
        first = db.session.execute(db.select(InboxEvent).where(InboxEvent.source == source,
                                                              InboxEvent.dedupe_key == dedupe_key[:255])).scalar_one()
        log.info("inbound.duplicate", extra={"inbox_id": first.id, "source": source})
        return first, False

"""OAuth 2 client-credentials tokens, bearer checks and legal-entity selection (reference §3, §9).

* ``POST /oauth/token/`` (trailing slash optional), form ``grant_type=client_credentials``; the
  client id and secret come as form fields **or** HTTP Basic. Reply
  ``{"access_token", "token_type": "bearer", "expires_in", "expires"}``. ``expires`` appears in
  the only public fixture of this reply (gem ``bearer_token.json``); its meaning is [NF], so the
  sandbox sets it to the same number of seconds as ``expires_in``. Bad credentials → 401
  ``{"error": "invalid_client"}``; another grant type → 400 ``{"error": "unsupported_grant_type"}``.
* API calls carry ``Authorization: Bearer <token>`` or ``?access_token=<token>``; a missing,
  unknown, expired or revoked token → 401 ``{"Message": …}``.
* ``X-SELECTED-LEGAL-ENTITY-ID`` (any spelling of the header) picks the entity; without it the
  call acts on the account's root entity.
"""
from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, g, request

from .errors import ApiError, json_response
from .store import Account, Token

bp = Blueprint("billwerk_oauth", __name__)

ENTITY_HEADER = "X-SELECTED-LEGAL-ENTITY-ID"
DENIED = "Authorization has been denied for this request."


def _sandbox():
    from flask import current_app
    return current_app.extensions["billwerk_sandbox"]


@bp.post("/oauth/token")
def issue_token():
    sb = _sandbox()
    grant = request.form.get("grant_type")
    client_id = request.form.get("client_id")
    client_secret = request.form.get("client_secret")
    if request.authorization and request.authorization.type == "basic":
        client_id = client_id or request.authorization.username
        client_secret = client_secret or request.authorization.password
    if grant != "client_credentials":
        return json_response({"error": "unsupported_grant_type"}, 400)
    with sb.store.lock:
        account = sb.store.accounts.get(client_id or "")
        if account is None or not hmac.compare_digest(
                (client_secret or "").encode(), account.client_secret.encode()):
            return json_response({"error": "invalid_client"}, 401, {"WWW-Authenticate": 'Basic realm="billwerk"'})
        ttl = int(sb.settings.token_ttl_s)
        value = secrets.token_urlsafe(32)
        sb.store.tokens[value] = Token(value, account.client_id, sb.clock() + ttl)
    g.account = account
    return json_response({"access_token": value, "token_type": "bearer", "expires_in": ttl, "expires": ttl},
                         headers={"Cache-Control": "no-store"})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    for k, v in request.args.items():
        if k.lower() == "access_token":
            return v
    return None


def authenticate(sb) -> Account:
    """The account behind the request's token, or raise 401."""
    value = bearer_token()
    with sb.store.lock:
        token = sb.store.tokens.get(value or "")
        if token is None or token.revoked or token.expires_at <= sb.clock():
            raise ApiError(401, DENIED, {"WWW-Authenticate": 'Bearer realm="billwerk"'})
        return sb.store.accounts[token.client_id]


def select_entity(account: Account) -> str:
    """Resolve ``X-SELECTED-LEGAL-ENTITY-ID``.

    An entity id that is not one of the account's entities gets **403**, not 404: the request is
    authenticated but not allowed to act on that entity, and a 404 would be indistinguishable
    from "object not found" while the cause is a misconfigured entity id on the caller's side.
    The answer is the same whether the entity belongs to another account or does not exist, so
    it reveals nothing about other tenants.
    """
    raw = request.headers.get(ENTITY_HEADER)
    if raw is None or raw.strip() == "":
        return account.root.id
    entity = account.entity(raw.strip().lower())
    if entity is None:
        raise ApiError(403, f"The legal entity {raw.strip()} is not accessible with this token.")
    return entity.id

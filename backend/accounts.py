"""The connector account of a portal: the password the admin sets after installing, login
throttling, and sessions. Passwords are stored as scrypt hashes (werkzeug)."""
from __future__ import annotations

from flask import current_app, session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import HubwerkError
from backend.extensions import db
from backend.ids import is_id
from backend.models import Portal

MIN_PASSWORD_LENGTH = 12
LOGIN_ATTEMPTS = 5          # per portal and client address …
LOGIN_WINDOW_S = 15 * 60    # … within this window


def set_password(portal: Portal, password: str, confirm: str) -> None:
    if password != confirm:
        raise HubwerkError("The two passwords differ; type the same password twice.", code="password_mismatch")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise HubwerkError(f"Use at least {MIN_PASSWORD_LENGTH} characters for the connector password.", code="password_too_short")
    portal.password_hash = generate_password_hash(password, method="scrypt")
    db.session.commit()


def _throttle_key(hub_id: str, client_address: str) -> str:
    return f"hubwerk:login:{hub_id}:{client_address}"


def check_login(hub_id: str, password: str, client_address: str) -> Portal:
    """The portal whose password this is; raises after too many failed attempts."""
    redis = current_app.extensions["hubwerk.redis"]()
    key = _throttle_key(hub_id, client_address)
    failures = int(redis.get(key) or 0)
    if failures >= LOGIN_ATTEMPTS:
        wait_min = max(1, (redis.ttl(key) + 59) // 60)
        raise HubwerkError(f"Too many failed logins. Try again in {wait_min} minute(s).", code="login_throttled", status=429)
    portal = None
    if is_id(hub_id):
        portal = db.session.execute(db.select(Portal).where(Portal.hub_id == int(hub_id))).scalar_one_or_none()
    # Hash something either way, so an unknown portal answers as slowly as a wrong password.
    stored = portal.password_hash if portal is not None and portal.password_hash else generate_password_hash("unused", method="scrypt")
    if portal is None or portal.status == "revoked" or not portal.password_hash or not check_password_hash(stored, password):
        pipe = redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, LOGIN_WINDOW_S)
        pipe.execute()
        raise HubwerkError("Portal id or password is wrong.", code="login_failed", status=401)
    redis.delete(key)
    return portal


def log_in(portal: Portal) -> None:
    session.clear()
    session["portal_id"] = portal.id
    session.permanent = True


def log_out() -> None:
    session.clear()


def current_portal() -> Portal | None:
    portal_id = session.get("portal_id")
    if portal_id is None:
        return None
    portal = db.session.get(Portal, portal_id)
    if portal is None or portal.status == "revoked":
        session.clear()
        return None
    return portal

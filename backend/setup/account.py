"""The connector account of a portal: the password the admin sets after installing, login
throttling, and sessions. Passwords are stored as scrypt hashes (werkzeug)."""
from __future__ import annotations

import functools
import hashlib

from flask import current_app, session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import HubwerkError
from backend.extensions import db
from backend.ids import is_id
from backend.models import Portal

MIN_PASSWORD_LENGTH = 12
LOGIN_ATTEMPTS = 5          # per portal and client address …
LOGIN_WINDOW_S = 15 * 60    # … within this window


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("not a password of any portal", method="scrypt")


def set_password(portal: Portal, password: str, confirm: str) -> None:
    if password != confirm:
        raise HubwerkError("The two passwords differ; type the same password twice.", code="password_mismatch")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise HubwerkError(f"Use at least {MIN_PASSWORD_LENGTH} characters for the connector password.", code="password_too_short")
    portal.password_hash = generate_password_hash(password, method="scrypt")
    db.session.commit()


def reset_password(portal: Portal, password: str, confirm: str) -> None:
    """The operator's way back in (``flask --app backend reset-password``): a new password, every
    session of the old one ended (the session fingerprint changes), the failed-login counts cleared."""
    set_password(portal, password, confirm)
    redis = current_app.extensions["hubwerk.redis"]()
    for key in redis.scan_iter(match=_throttle_key(str(portal.hub_id), "*"), count=500):
        redis.delete(key)


def _throttle_key(hub_id: str, client_address: str) -> str:
    return f"hubwerk:login:{hub_id}:{client_address}"


def check_login(hub_id: str, password: str, client_address: str) -> Portal:
    """The portal whose password this is; refuses after too many failed attempts.

    The attempt is counted before the password is checked, so parallel guesses cannot slip
    through between a check and its increment; a success clears the counter.
    """
    redis = current_app.extensions["hubwerk.redis"]()
    hub = int(hub_id) if is_id(hub_id) else None
    key = _throttle_key(str(hub) if hub is not None else "-", client_address)
    pipe = redis.pipeline()
    pipe.set(key, 0, ex=LOGIN_WINDOW_S, nx=True)  # the window starts at the first attempt (works on Redis 6 and 7)
    pipe.incr(key)
    attempts = pipe.execute()[1]
    if attempts > LOGIN_ATTEMPTS:
        wait_min = max(1, (redis.ttl(key) + 59) // 60)
        raise HubwerkError(f"Too many failed logins. Try again in {wait_min} minute(s).", code="login_throttled", status=429)
    portal = db.session.execute(db.select(Portal).where(Portal.hub_id == hub)).scalar_one_or_none() if hub is not None else None
    # Hash something either way, so an unknown portal answers as slowly as a wrong password.
    stored = portal.password_hash if portal is not None and portal.password_hash else _dummy_hash()
    if not check_password_hash(stored, password) or portal is None or portal.status == "revoked" or not portal.password_hash:
        raise HubwerkError("Portal id or password is wrong.", code="login_failed", status=401)
    redis.delete(key)
    return portal


def _fingerprint(portal: Portal) -> str:
    """Changes whenever the password does (and when a revoke clears it): older sessions end."""
    return hashlib.sha256(f"{portal.id}:{portal.password_hash or ''}".encode()).hexdigest()[:32]


def log_in(portal: Portal) -> None:
    session.clear()
    session["portal_id"] = portal.id
    session["auth"] = _fingerprint(portal)
    session.permanent = True


def log_out() -> None:
    session.clear()


def current_portal() -> Portal | None:
    portal_id = session.get("portal_id")
    if portal_id is None:
        return None
    portal = db.session.get(Portal, portal_id)
    if portal is None or portal.status == "revoked" or not portal.password_hash or session.get("auth") != _fingerprint(portal):
        session.clear()
        return None
    return portal

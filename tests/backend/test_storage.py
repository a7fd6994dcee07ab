"""Secrets at rest, key rotation, constraints and migrations, on whichever database CI chose."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from backend import create_app
from backend.config import load_settings
from backend.crypto import SecretUnreadable
from backend.extensions import db
from backend.models import BillwerkAccount, BillwerkEntity, CustomerLink, InboxEvent, Portal
from tests.conftest import app_environ

SECRETS = {
    "access": "hs-access-token-PLAINTEXT-1",
    "refresh": "hs-refresh-token-PLAINTEXT-2",
    "client_secret": "bw-client-secret-PLAINTEXT-3",
    "webhook_password": "bw-webhook-password-PLAINTEXT-4",
    "public_api_key": "bw-public-api-key-PLAINTEXT-5",
}


def make_account(hub_id=100001):
    portal = Portal(hub_id=hub_id, access_token=SECRETS["access"], refresh_token=SECRETS["refresh"], scopes=["oauth"])
    account = BillwerkAccount(
        portal=portal, base_url="https://sandbox.billwerk.com", client_id="cid",
        client_secret=SECRETS["client_secret"], webhook_username=f"hw-{hub_id}", webhook_password=SECRETS["webhook_password"],
    )
    account.entities.append(BillwerkEntity(entity_id="5f0000000000000000000001", name="Root", public_api_key=SECRETS["public_api_key"], position=0))
    db.session.add(account)
    db.session.commit()
    return portal, account


def raw_dump() -> str:
    """Every row of every table, read with plain SQL (no column types in the way)."""
    out = []
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            for row in connection.execute(text(f"SELECT * FROM {table.name}")):
                out.append(repr(tuple(row)))
    return "\n".join(out)


def test_secrets_are_not_stored_in_plain_text(ctx):
    make_account()
    dump = raw_dump()
    assert "gAAAAA" in dump  # Fernet tokens are there
    for secret in SECRETS.values():
        assert secret not in dump
    db.session.expire_all()
    portal = db.session.execute(db.select(Portal)).scalar_one()
    assert portal.access_token == SECRETS["access"]
    assert portal.billwerk_account.entities[0].public_api_key == SECRETS["public_api_key"]


def _app_with_keys(tmp_path, keys, settings):
    env = app_environ(tmp_path, ENCRYPTION_KEYS=",".join(keys))
    if settings.database_url.startswith("sqlite"):
        env["DATABASE_URL"] = settings.database_url  # the same file as the session app
    return create_app(load_settings(env, instance_path=tmp_path), config={"TESTING": True})


def test_rotation_keeps_everything_readable(app, settings, tmp_path):
    old_key = settings.encryption_keys[0]
    with app.app_context():
        make_account()
    new_key = Fernet.generate_key().decode()

    rotated = _app_with_keys(tmp_path, [new_key, old_key], settings)
    with rotated.app_context():
        assert db.session.execute(db.select(Portal)).scalar_one().refresh_token == SECRETS["refresh"]
        result = rotated.test_cli_runner().invoke(args=["rotate-encryption"])
        assert result.exit_code == 0, result.output
        assert "re-encrypted 5 secret(s)" in result.output
        assert all(s not in raw_dump() for s in SECRETS.values())

    only_new = _app_with_keys(tmp_path, [new_key], settings)
    with only_new.app_context():
        account = db.session.execute(db.select(BillwerkAccount)).scalar_one()
        assert account.client_secret == SECRETS["client_secret"]
        assert account.webhook_password == SECRETS["webhook_password"]

    only_old_gone = _app_with_keys(tmp_path, [Fernet.generate_key().decode()], settings)
    with only_old_gone.app_context():
        with pytest.raises(SecretUnreadable, match="ENCRYPTION_KEYS"):
            db.session.execute(db.select(Portal)).scalar_one().access_token


def test_one_link_per_company_and_entity(ctx):
    portal, _ = make_account()
    db.session.add(CustomerLink(portal_id=portal.id, entity_id="e1", hubspot_company_id="9", billwerk_customer_id="c1", origin="import"))
    db.session.commit()
    db.session.add(CustomerLink(portal_id=portal.id, entity_id="e1", hubspot_company_id="9", billwerk_customer_id="c2", origin="import"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # the same company may be linked in another entity, but a customer belongs to one company
    db.session.add(CustomerLink(portal_id=portal.id, entity_id="e2", hubspot_company_id="9", billwerk_customer_id="c3", origin="manual"))
    db.session.commit()
    db.session.add(CustomerLink(portal_id=portal.id, entity_id="e2", hubspot_company_id="10", billwerk_customer_id="c3", origin="manual"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_one_entity_id_per_account(ctx):
    _, account = make_account()
    account.entities.append(BillwerkEntity(entity_id="5f0000000000000000000001", name="Dup", public_api_key="k", position=1))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_inbox_drops_credential_headers(ctx):
    headers = InboxEvent.safe_headers({"Authorization": "Basic abc", "Cookie": "s=1", "X-HubSpot-Signature-v3": "sig",
                                       "X-HubSpot-Signature": "v1sig", "X-HubSpot-Signature-Version": "v1",
                                       "X-HubSpot-Request-Timestamp": "1", "Content-Type": "application/json"})
    # signatures go too: a stored v1 signature next to the stored body would be a replayable request
    assert headers == {"X-HubSpot-Signature-Version": "v1", "X-HubSpot-Request-Timestamp": "1", "Content-Type": "application/json"}


def test_migrations_match_the_models(ctx):
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_migrations_run_down_and_up(app):
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        downgrade(revision="base")
        with db.engine.connect() as connection:
            remaining = set(db.inspect(connection).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        upgrade()
        with db.engine.connect() as connection:
            assert {"portals", "sync_runs", "inbox_events"} <= set(db.inspect(connection).get_table_names())

"""Shared fixtures.

The suite runs twice in CI: on the embedded defaults (SQLite and an embedded Redis under a
temporary instance folder, nothing set) and against real PostgreSQL and Redis when
``DATABASE_URL`` / ``REDIS_URL`` are set. The schema is built once per session by the real
migrations; every test starts with empty tables and an empty Redis database.
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from backend import create_app
from backend.config import load_settings
from backend.extensions import db

pytest_plugins = ["sandbox.pytest_plugin"]

# Settings the tests must not inherit from a developer's shell.
_ISOLATED = ("HUBWERK_ENV", "SECRET_KEY", "ENCRYPTION_KEYS", "HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET",
             "HUBSPOT_APP_ID", "HUBSPOT_API_BASE_URL", "HUBSPOT_AUTHORIZE_URL", "HUBSPOT_APP_BASE_URL",
             "HUBSPOT_RATE_LIMIT", "PUBLIC_BASE_URL", "HUBWERK_INSTANCE_PATH", "FORWARDED_PROXIES")


def app_environ(instance_path, **overrides) -> dict:
    """The environment a test app is built from: the CI database/Redis choice plus overrides."""
    environ = {k: v for k, v in os.environ.items() if k not in _ISOLATED}
    environ["HUBWERK_ENV"] = "test"
    environ["HUBWERK_INSTANCE_PATH"] = str(instance_path)
    environ.update({k: v for k, v in overrides.items() if v is not None})
    for k in [k for k, v in overrides.items() if v is None]:
        environ.pop(k, None)
    return environ


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory):
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def settings(instance_path):
    return load_settings(app_environ(instance_path), instance_path=instance_path)


@pytest.fixture(scope="session")
def app(settings):
    app = create_app(settings, config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    with app.app_context():
        _fresh_schema()
    yield app
    if settings.embedded_redis:
        from backend.redis_store import stop_embedded_server

        stop_embedded_server(settings.instance_path)


def _fresh_schema() -> None:
    from flask_migrate import upgrade

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    else:
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Empty tables and Redis before each test that uses the app."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as connection:
            if db.engine.dialect.name == "postgresql":
                connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    connection.execute(text(f"DELETE FROM {table}"))
        app.extensions["hubwerk.redis"]().flushdb()
    yield
    # A test that kills a worker mid-run leaves its leases with this process's keeper, which would
    # go on renewing them against a Redis that is gone once the session ends.
    from backend.jobs import leases
    if leases._keeper_instance is not None:
        with leases._keeper_instance.lock:
            leases._keeper_instance.leases.clear()
    # billwerk access tokens are kept per (base URL, client id) for the process; the next test's
    # sandbox may answer on the same URL without knowing them (a 401, a new token, one call more).
    from backend.clients import billwerk, ratelimit
    billwerk._token_caches.clear()
    ratelimit._outage_slots.clear()   # a test's simulated Redis outage ends with the test


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def redis(app):
    return app.extensions["hubwerk.redis"]()

"""hubwerk: the HubSpot <-> billwerk connector.

``create_app()`` builds the Flask app. Nothing happens at import time: settings are read,
extensions bound and the database checked only when the factory is called.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from backend.config import ConfigError, Settings, load_settings

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")


def create_app(settings: Settings | None = None, config: dict | None = None) -> Flask:
    """Build the app from ``settings`` (default: the environment) and optional Flask config overrides."""
    from backend import crypto, models, registry  # noqa: F401  (models register their tables)
    from backend.cli import register_cli
    from backend.cli_custom_fields import custom_fields
    from backend.db_setup import check_database, engine_options
    from backend.extensions import csrf, db, migrate
    from backend.logs import configure_logging
    from backend.redis_store import client_for, embedded_redis_url
    from backend.web import register_web
    from backend.web.sessions import CookieSessions

    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.instance_path), template_folder="web/templates", static_folder="web/static")
    app.session_interface = CookieSessions()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        HUBWERK=settings,
        HUBWERK_CHECK_DATABASE=True,
    )
    if config:
        app.config.update(config)

    configure_logging(settings.log_level)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    crypto.init_app(app, settings.encryption_keys)

    def redis_client():
        # Resolved on first use, not here: building the app must not start a Redis server.
        url = settings.redis_url or embedded_redis_url(settings.instance_path)
        return client_for(url)

    app.extensions["hubwerk.redis"] = redis_client

    registry.register()
    register_web(app)
    register_cli(app)
    app.cli.add_command(custom_fields)
    if settings.forwarded_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind N trusted proxies: the client's address (login throttling, logs) comes from X-Forwarded-For.
        n = settings.forwarded_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    if app.config["HUBWERK_CHECK_DATABASE"]:
        with app.app_context():
            check_database(db.engine, settings.database_url)
    return app


__all__ = ["create_app", "ConfigError"]

"""HTTP: thin blueprints that verify, parse, call a flow and answer."""
from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from backend.extensions import csrf
    from backend.web import (admin, admin_custom_fields, admin_customers, admin_runs, cards, errors, health, oauth,  # noqa: F401
                             requests_log, webhooks, workflow_actions)

    requests_log.init_app(app)
    errors.init_app(app)
    # Browsers ask for /favicon.ico on every page, admin or not.
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.ico"))
    app.register_blueprint(health.bp)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(admin.bp)
    # Machine-to-machine endpoints authenticate every request by signature or credentials;
    # CSRF tokens are for the admin pages' forms.
    for api in (webhooks.bp, cards.bp, workflow_actions.bp):
        csrf.exempt(api)
        app.register_blueprint(api)

"""gunicorn settings for the ``web`` process, from the environment (Procfile: ``gunicorn 'backend:create_app()'``).

PORT (5000), HOST (0.0.0.0), WEB_CONCURRENCY (2 worker processes), WEB_THREADS (4 threads each).
"""
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
# One JSON line per request comes from the app itself, with its request id.
accesslog = None
# Behind a TLS-terminating proxy (Heroku, a load balancer): trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Check settings and the database once, before any worker forks: a bad value ends gunicorn
    with one clear line instead of workers that fail to boot over and over."""
    from backend.config import load_settings
    from backend.db_setup import check_database, engine_options
    from sqlalchemy import create_engine

    settings = load_settings()
    check_database(create_engine(settings.database_url, **engine_options(settings.database_url)), settings.database_url)

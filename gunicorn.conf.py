"""gunicorn settings for the ``web`` process, from the environment (Procfile: ``gunicorn 'backend:create_app()'``).

PORT (5000), HOST (0.0.0.0), WEB_CONCURRENCY (2 worker processes), WEB_THREADS (4 threads each).
"""
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
# A worker takes a connection only when a thread is free for it; the others wait in the kernel's
# accept queue for whichever worker frees a thread first. With gunicorn's default (1,000) one worker
# takes connections its threads cannot serve yet while the other idles: card views' p99 was ~2.5x
# their p50 (bench/cards.py), now ~1.5x. No connection is kept alive idle, so none holds a slot.
worker_connections = threads
keepalive = 0
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

"""Typed settings, read once from the environment.

Every value is parsed and checked here, so a bad or missing setting stops startup with one
line that names the variable instead of failing later inside a request or a job.
"""
from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

ENVIRONMENTS = ("development", "test", "production")

# The offline HubSpot sandbox's default app (sandbox/hubspot). Development and tests use it
# when no real HubSpot app is configured; production refuses to start without real values.
SANDBOX_HUBSPOT_CLIENT_ID = "hubwerk-sandbox-client-id"
SANDBOX_HUBSPOT_CLIENT_SECRET = "hubwerk-sandbox-client-secret"
SANDBOX_HUBSPOT_APP_ID = "4242"

# Written by `make run` (backend/devserver.py) under the instance folder while it runs: the URLs it
# chose (sandboxes, public URL and port). Development processes of the same checkout take them as
# defaults, so an operator command in a second shell talks to the same sandboxes as the dev server.
DEVSERVER_STATE_FILE = "devserver.json"
DEVSERVER_DECIDES = ("PUBLIC_BASE_URL", "HUBSPOT_API_BASE_URL", "HUBSPOT_AUTHORIZE_URL", "HUBSPOT_APP_BASE_URL")

_RATE_LIMIT_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s\s*$")


class ConfigError(SystemExit):
    """A setting is missing or malformed.

    A ``SystemExit`` on purpose: raised during startup (gunicorn, ``flask`` CLI, worker) it ends
    the process with exit status 1 and exactly one line on stderr, without a traceback.
    """

    def __init__(self, variable: str, problem: str):
        self.variable = variable
        self.problem = problem
        super().__init__(f"error: {variable}: {problem}")


@dataclass(frozen=True)
class RateLimit:
    calls: int
    window_s: float

    def __str__(self) -> str:
        return f"{self.calls}/{self.window_s:g}s"


@dataclass(frozen=True)
class Settings:
    env: str
    instance_path: Path
    database_url: str
    redis_url: str | None
    secret_key: str = field(repr=False)
    encryption_keys: tuple[str, ...] = field(repr=False)
    public_base_url: str
    hubspot_client_id: str
    hubspot_client_secret: str = field(repr=False)
    hubspot_app_id: str
    hubspot_api_base_url: str
    hubspot_authorize_url: str
    hubspot_app_base_url: str
    hubspot_rate_limit: RateLimit
    log_level: str
    forwarded_proxies: int = 0
    worker_nice: int = 10

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_sandbox_hubspot_app(self) -> bool:
        return self.hubspot_client_id == SANDBOX_HUBSPOT_CLIENT_ID

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None


def load_settings(environ: Mapping[str, str] | None = None, instance_path: str | Path | None = None) -> Settings:
    """Read and validate every setting; raise :class:`ConfigError` naming the first bad one."""
    env_map = dict(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env_map.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    env = (get("HUBWERK_ENV") or "development").lower()
    if env not in ENVIRONMENTS:
        raise ConfigError("HUBWERK_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    production = env == "production"

    instance = Path(instance_path or get("HUBWERK_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    if env == "development":
        # A value set in the environment still wins over what the dev server decided.
        env_map = {**running_devserver_settings(instance), **{k: v for k, v in env_map.items() if v.strip()}}

    database_url = _database_url(get("DATABASE_URL"), instance)
    redis_url = _redis_url(get("REDIS_URL"))

    secret_key = get("SECRET_KEY")
    if secret_key is None:
        if production:
            raise ConfigError("SECRET_KEY", "must be set in production (a long random string, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
        secret_key = _generated_once(instance / "secret_key", lambda: secrets.token_urlsafe(48))
    elif len(secret_key) < 16:
        raise ConfigError("SECRET_KEY", "is too short: use at least 16 random characters")

    keys_raw = get("ENCRYPTION_KEYS")
    if keys_raw is None:
        if production:
            raise ConfigError("ENCRYPTION_KEYS", "must be set in production (comma-separated Fernet keys, newest first; make one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)")
        keys_raw = _generated_once(instance / "encryption_keys", lambda: Fernet.generate_key().decode())
    encryption_keys = _fernet_keys(keys_raw)

    public_base_url = _http_url("PUBLIC_BASE_URL", get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000")

    client_id = get("HUBSPOT_CLIENT_ID")
    client_secret = get("HUBSPOT_CLIENT_SECRET")
    app_id = get("HUBSPOT_APP_ID")
    if production:
        for name, value in (("HUBSPOT_CLIENT_ID", client_id), ("HUBSPOT_CLIENT_SECRET", client_secret), ("HUBSPOT_APP_ID", app_id)):
            if value is None:
                raise ConfigError(name, "must be set in production (from your HubSpot app's Auth settings)")
    client_id = client_id or SANDBOX_HUBSPOT_CLIENT_ID
    client_secret = client_secret or SANDBOX_HUBSPOT_CLIENT_SECRET
    app_id = app_id or SANDBOX_HUBSPOT_APP_ID
    if not app_id.isdigit():
        raise ConfigError("HUBSPOT_APP_ID", f"must be the numeric id of your HubSpot app, not {app_id!r}")

    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}")

    proxies_raw = get("FORWARDED_PROXIES") or "0"
    if not proxies_raw.isascii() or not proxies_raw.isdigit() or int(proxies_raw) > 5:
        raise ConfigError("FORWARDED_PROXIES", f"must be the number of reverse proxies in front of the connector (0-5), not {proxies_raw!r}")

    nice_raw = get("WORKER_NICE") or "10"
    if not nice_raw.isascii() or not nice_raw.isdigit() or int(nice_raw) > 19:
        raise ConfigError("WORKER_NICE", f"must be the worker's niceness, 0 (as the web process) to 19 (lowest), not {nice_raw!r}")

    return Settings(
        env=env,
        instance_path=instance,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        encryption_keys=encryption_keys,
        public_base_url=public_base_url,
        hubspot_client_id=client_id,
        hubspot_client_secret=client_secret,
        hubspot_app_id=app_id,
        hubspot_api_base_url=_http_url("HUBSPOT_API_BASE_URL", get("HUBSPOT_API_BASE_URL") or "https://api.hubapi.com"),
        hubspot_authorize_url=_http_url("HUBSPOT_AUTHORIZE_URL", get("HUBSPOT_AUTHORIZE_URL") or "https://app.hubspot.com/oauth/authorize", keep_path=True),
        hubspot_app_base_url=_http_url("HUBSPOT_APP_BASE_URL", get("HUBSPOT_APP_BASE_URL") or "https://app.hubspot.com"),
        hubspot_rate_limit=_rate_limit(get("HUBSPOT_RATE_LIMIT") or "110/10s"),
        log_level=log_level,
        forwarded_proxies=int(proxies_raw),
        worker_nice=int(nice_raw),
    )


def running_devserver_settings(instance: Path) -> dict[str, str]:
    """The settings a running ``make run`` of this instance folder decided; nothing when none runs.

    A state file left behind by a dev server that no longer runs (its pid is gone) is ignored.
    """
    try:
        data = json.loads((Path(instance) / DEVSERVER_STATE_FILE).read_text())
        os.kill(int(data["pid"]), 0)
        environment = data["environment"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {k: str(v) for k, v in environment.items() if k in DEVSERVER_DECIDES and v}


def _generated_once(path: Path, make) -> str:
    """Development convenience: create a secret once under instance/ and reuse it afterwards."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    # O_EXCL: when several processes start at once, exactly one writes; the others read its value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def _database_url(raw: str | None, instance: Path) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if raw is None:
        return f"sqlite:///{instance / 'hubwerk.db'}"
    url = raw
    # Heroku-style and bare PostgreSQL URLs mean psycopg 3, the driver we ship.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError("DATABASE_URL", f"is not a usable database URL ({_first_line(exc)}); expected e.g. postgresql+psycopg://user:password@host:5432/dbname") from None
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigError("DATABASE_URL", f"names {parsed.get_backend_name()!r}: hubwerk supports PostgreSQL and SQLite")
    if parsed.get_backend_name() == "postgresql" and not parsed.database:
        raise ConfigError("DATABASE_URL", "names no database: add /dbname at the end")
    return url


def _redis_url(raw: str | None) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("REDIS_URL", f"must start with redis://, rediss:// or unix://, not {raw.split(':', 1)[0]!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError("REDIS_URL", "names no host: expected e.g. redis://127.0.0.1:6379/0")
    try:
        parts.port
    except ValueError:
        raise ConfigError("REDIS_URL", "has a port that is not a number") from None
    return raw


def _fernet_keys(raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ConfigError("ENCRYPTION_KEYS", "is empty: give at least one Fernet key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigError("ENCRYPTION_KEYS", f"key #{position} is not a valid Fernet key (32 url-safe base64-encoded bytes)") from None
    return keys


def _http_url(name: str, raw: str, keep_path: bool = False) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(name, f"must be an http(s) URL, not {raw!r}")
    if parts.query or parts.fragment:
        raise ConfigError(name, "must not carry a query string or fragment")
    return raw if keep_path else raw.rstrip("/")


def _rate_limit(raw: str) -> RateLimit:
    match = _RATE_LIMIT_RE.match(raw)
    if not match or int(match.group(1)) <= 0 or float(match.group(2)) <= 0:
        raise ConfigError("HUBSPOT_RATE_LIMIT", f"must look like 110/10s (calls per seconds), not {raw!r}")
    return RateLimit(int(match.group(1)), float(match.group(2)))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from backend.config import ConfigError, load_settings
from tests.conftest import app_environ


def settings_from(tmp_path, **env):
    return load_settings(app_environ(tmp_path, **env), instance_path=tmp_path)


def test_defaults_need_nothing(tmp_path):
    s = settings_from(tmp_path, DATABASE_URL=None, REDIS_URL=None)
    assert s.database_url == f"sqlite:///{tmp_path / 'hubwerk.db'}"
    assert s.redis_url is None and s.embedded_redis
    assert s.public_base_url == "http://127.0.0.1:5000"
    assert s.hubspot_api_base_url == "https://api.hubapi.com"
    assert s.hubspot_authorize_url == "https://app.hubspot.com/oauth/authorize"
    assert str(s.hubspot_rate_limit) == "110/10s"
    assert s.uses_sandbox_hubspot_app


def test_dev_secrets_are_generated_once_into_the_instance_folder(tmp_path):
    first = settings_from(tmp_path)
    second = settings_from(tmp_path)
    assert first.secret_key == second.secret_key
    assert first.encryption_keys == second.encryption_keys
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_urls_use_psycopg(tmp_path):
    s = settings_from(tmp_path, DATABASE_URL="postgres://u:p@db.example:5432/hubwerk")
    assert s.database_url == "postgresql+psycopg://u:p@db.example:5432/hubwerk"


@pytest.mark.parametrize(
    "variable, value, words",
    [
        ("DATABASE_URL", "not a url", "not a usable database URL"),
        ("DATABASE_URL", "mysql://u@h/db", "supports PostgreSQL and SQLite"),
        ("DATABASE_URL", "postgresql://u@h", "names no database"),
        ("REDIS_URL", "http://localhost", "must start with redis://"),
        ("REDIS_URL", "redis://localhost:port/0", "port that is not a number"),
        ("ENCRYPTION_KEYS", "not-a-key", "key #1 is not a valid Fernet key"),
        ("PUBLIC_BASE_URL", "ftp://x", "must be an http(s) URL"),
        ("HUBSPOT_RATE_LIMIT", "110 per 10", "must look like 110/10s"),
        ("HUBSPOT_APP_ID", "abc", "numeric id"),
        ("HUBWERK_ENV", "staging", "must be one of"),
        ("FORWARDED_PROXIES", "yes", "number of reverse proxies"),
        ("SECRET_KEY", "short", "too short"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, variable, value, words):
    with pytest.raises(ConfigError) as exc:
        settings_from(tmp_path, **{variable: value})
    assert exc.value.variable == variable
    assert str(exc.value).startswith(f"error: {variable}: ")
    assert words in str(exc.value)
    assert "\n" not in str(exc.value)


def test_second_malformed_key_is_named(tmp_path):
    good = Fernet.generate_key().decode()
    with pytest.raises(ConfigError, match="key #2"):
        settings_from(tmp_path, ENCRYPTION_KEYS=f"{good},garbage")


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ENCRYPTION_KEYS", "HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET", "HUBSPOT_APP_ID"])
def test_production_requires_real_secrets(tmp_path, missing):
    env = {
        "HUBWERK_ENV": "production",
        "SECRET_KEY": "x" * 40,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HUBSPOT_CLIENT_ID": "cid",
        "HUBSPOT_CLIENT_SECRET": "csecret",
        "HUBSPOT_APP_ID": "123",
    }
    settings_from(tmp_path, **env)  # complete: starts
    env[missing] = None
    with pytest.raises(ConfigError) as exc:
        settings_from(tmp_path, **env)
    assert exc.value.variable == missing


def _flask(tmp_path, *args, **env):
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend", *args],
        env=app_environ(tmp_path, **env), capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nothing"}, "DATABASE_URL"),
        ({"DATABASE_URL": "::nonsense::"}, "DATABASE_URL"),
        ({"HUBWERK_ENV": "production", "SECRET_KEY": "x" * 40, "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
          "HUBSPOT_CLIENT_ID": "cid", "HUBSPOT_APP_ID": "1", "HUBSPOT_CLIENT_SECRET": None}, "HUBSPOT_CLIENT_SECRET"),
        ({"ENCRYPTION_KEYS": "abc,def"}, "ENCRYPTION_KEYS"),
    ],
)
def test_startup_stops_with_one_line(tmp_path, env, variable):
    result = _flask(tmp_path, "db", "upgrade", **env)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {variable}: ")
    assert "Traceback" not in result.stderr + result.stdout


def test_unreachable_database_hides_the_password(tmp_path):
    result = _flask(tmp_path, "db", "upgrade", DATABASE_URL="postgresql+psycopg://user:hunter2@127.0.0.1:1/db")
    assert result.returncode == 1
    assert "hunter2" not in result.stderr
    assert "cannot connect to postgresql+psycopg://user:***@127.0.0.1:1/db" in result.stderr


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(tmp_path):
    from backend import create_app

    app = create_app(settings_from(tmp_path, FORWARDED_PROXIES="1"), config={"TESTING": True})

    @app.get("/whoami")
    def whoami():
        from flask import request
        return request.remote_addr or ""

    seen = app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert seen.get_data(as_text=True) == "203.0.113.9"

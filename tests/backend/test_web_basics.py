import json
import logging

from backend import create_app
from backend.config import load_settings
from tests.conftest import app_environ


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_names_the_part_that_is_down(app, tmp_path):
    broken = create_app(
        load_settings(app_environ(tmp_path, REDIS_URL="redis://127.0.0.1:1/0"), instance_path=tmp_path),
        config={"TESTING": True},
    )
    with broken.app_context():
        from backend.extensions import db

        db.create_all()
    body = broken.test_client().get("/healthz")
    assert body.status_code == 503
    assert body.get_json()["database"] == "ok"
    assert body.get_json()["redis"].startswith("down")
    assert body.get_json()["status"] == "error"


def test_unknown_route_is_json(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert response.get_json()["message"]


def test_wrong_method_is_json(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"


def test_crash_is_json_without_stack_trace(tmp_path):
    app = create_app(load_settings(app_environ(tmp_path), instance_path=tmp_path), config={"TESTING": False})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals at /srv/app.py line 3")

    response = app.test_client().get("/boom", headers={"X-Request-Id": "req-12345678"})
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "internal_error"
    assert "req-12345678" in body["message"]
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/healthz", headers={"X-Request-Id": "abcdef123456"}).headers["X-Request-Id"] == "abcdef123456"
    generated = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"}).headers["X-Request-Id"]
    assert len(generated) == 32


def test_logs_are_json_with_request_id_and_redacted(app, client, capsys):
    from backend.logs import JsonFormatter, ContextFilter

    record = logging.LogRecord("hubwerk.test", logging.INFO, __file__, 1, "flow.import.invalid_address", None, None)
    record.company_id = "42"
    record.access_token = "tok-should-not-appear"
    record.payload = {"client_secret": "s3cr3t", "name": "ACME"}
    with app.test_request_context(headers={"X-Request-Id": "req-abcdef12"}):
        from flask import g

        g.request_id = "req-abcdef12"
        ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "flow.import.invalid_address"
    assert line["request_id"] == "req-abcdef12"
    assert line["company_id"] == "42"
    assert line["access_token"] == "[redacted]"
    assert line["payload"] == {"client_secret": "[redacted]", "name": "ACME"}


def test_request_log_line(app, client, caplog):
    caplog.set_level(logging.INFO, logger="hubwerk.http")
    client.get("/healthz?token=abc")
    record = next(r for r in caplog.records if r.getMessage() == "http.request")
    assert record.path == "/healthz" and record.status == 200 and record.request_id
    assert "token=abc" not in str(vars(record))


def test_no_import_time_side_effects(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = "import backend, backend.models, backend.jobs.runs, backend.jobs.schedule, backend.cli, backend.web; import os; print(sorted(os.listdir('.')))"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")} | {"PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # no instance/ folder, no database file, no Redis server

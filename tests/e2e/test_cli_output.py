"""The operator commands as a shell sees them: `| head` ends quietly, the human output is not mixed
with JSON log lines (logs go to stderr, warnings only unless LOG_LEVEL asks), progress facts once."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend.extensions import db
from backend.models import InboxEvent, SyncRun
from tests.conftest import app_environ
from tests.e2e.records import BROKEN, GOOD_DE, company_with_deal

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shell(connector, settings):
    """Run ``flask --app backend …`` in a real subprocess against the connector's database, Redis and sandboxes."""
    portal = connector.install()
    connector.connect_billwerk(portal)
    flask = shutil.which("flask", path=str(Path(sys.executable).parent)) or shutil.which("flask")
    env = app_environ(
        settings.instance_path, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
        PUBLIC_BASE_URL=connector.url, HUBSPOT_API_BASE_URL=connector.hubspot.base_url,
        HUBSPOT_AUTHORIZE_URL=f"{connector.hubspot.base_url}/oauth/authorize", HUBSPOT_APP_BASE_URL=connector.hubspot.base_url,
        SECRET_KEY=settings.secret_key, ENCRYPTION_KEYS=",".join(settings.encryption_keys), LOG_LEVEL=None,
    )
    env["FLASK"] = flask

    def run(command: str, **env_extra) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=REPO, env=env | env_extra,
                              capture_output=True, text=True, timeout=120)

    return connector, portal, run


def test_sync_runs_list_into_head_ends_quietly(shell):
    connector, portal, run = shell
    db.session.add_all([SyncRun(flow="worker_probe", status="succeeded", portal_id=portal.id, counts={"pid": 1})
                        for _ in range(1500)])  # far more than a pipe buffer holds
    db.session.commit()
    done = run('"$FLASK" --app backend sync-runs list --limit 5000 | head -3')
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3
    assert "BrokenPipe" not in done.stderr and "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.stderr == ""


def test_foreground_commands_keep_logs_off_stdout_and_quiet(shell):
    connector, portal, run = shell
    company_with_deal(connector.hubspot, GOOD_DE, stage="closedwon")
    company_with_deal(connector.hubspot, BROKEN, stage="closedwon")
    connector.hubspot.flush_webhooks(timeout=10)
    db.session.execute(db.delete(InboxEvent))
    db.session.commit()
    done = run('"$FLASK" --app backend import-customers --portal-id 100001')
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert not any(line.lstrip().startswith("{") for line in lines), done.stdout  # no JSON among the human lines
    assert '"level": "info"' not in done.stderr, done.stderr  # info logs only when asked
    assert sum("deals read" in line for line in lines) == 1, done.stdout
    assert lines[-1].startswith("imported 1, linked to existing customers 0, already linked 0, need fixing in HubSpot 1")
    verbose = run('"$FLASK" --app backend import-customers --portal-id 100001', LOG_LEVEL="INFO")
    assert verbose.returncode == 0 and '"level": "info"' in verbose.stderr
    assert not any(line.lstrip().startswith("{") for line in verbose.stdout.splitlines())

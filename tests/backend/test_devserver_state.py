"""What `make run` decides is what every development process of the same checkout uses."""
import json
import os
import subprocess
import sys

from backend.config import DEVSERVER_STATE_FILE, load_settings


def _state(instance, pid, **environment):
    instance.mkdir(parents=True, exist_ok=True)
    (instance / DEVSERVER_STATE_FILE).write_text(json.dumps({"pid": pid, "environment": environment, "process_groups": []}))


def test_settings_take_the_running_dev_servers_urls(tmp_path):
    instance = tmp_path / "instance"
    _state(instance, os.getpid(), HUBSPOT_API_BASE_URL="http://127.0.0.1:6001", HUBSPOT_APP_BASE_URL="http://127.0.0.1:6001",
           HUBSPOT_AUTHORIZE_URL="http://127.0.0.1:6001/oauth/authorize", PUBLIC_BASE_URL="http://127.0.0.1:6000",
           SECRET_KEY="never-taken-from-this-file")
    settings = load_settings({}, instance_path=instance)
    assert settings.hubspot_api_base_url == "http://127.0.0.1:6001"
    assert settings.hubspot_authorize_url == "http://127.0.0.1:6001/oauth/authorize"
    assert settings.public_base_url == "http://127.0.0.1:6000"
    assert settings.secret_key != "never-taken-from-this-file"


def test_the_environment_wins_over_the_dev_server(tmp_path):
    instance = tmp_path / "instance"
    _state(instance, os.getpid(), HUBSPOT_API_BASE_URL="http://127.0.0.1:6001")
    settings = load_settings({"HUBSPOT_API_BASE_URL": "https://api.hubapi.com"}, instance_path=instance)
    assert settings.hubspot_api_base_url == "https://api.hubapi.com"


def test_a_dev_server_that_no_longer_runs_is_ignored(tmp_path):
    instance = tmp_path / "instance"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    _state(instance, int(gone), HUBSPOT_API_BASE_URL="http://127.0.0.1:6001")
    assert load_settings({}, instance_path=instance).hubspot_api_base_url == "https://api.hubapi.com"


def test_tests_and_production_ignore_it(tmp_path):
    instance = tmp_path / "instance"
    _state(instance, os.getpid(), HUBSPOT_API_BASE_URL="http://127.0.0.1:6001")
    assert load_settings({"HUBWERK_ENV": "test"}, instance_path=instance).hubspot_api_base_url == "https://api.hubapi.com"


def test_a_garbled_state_file_is_ignored(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / DEVSERVER_STATE_FILE).write_text("{not json")
    assert load_settings({}, instance_path=instance).hubspot_api_base_url == "https://api.hubapi.com"

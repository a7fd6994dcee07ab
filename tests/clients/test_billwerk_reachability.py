"""Base-URL typos are answered within about two seconds with what is wrong."""
import socket
import time

import pytest

from backend.clients.billwerk_reachability import BaseUrlProblem, diagnose, scheme_typo


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("typed, fixed", [("http//127.0.0.1:5002", "http://127.0.0.1:5002"),
                                          ("https//sandbox.billwerk.com", "https://sandbox.billwerk.com"),
                                          ("https:/app.billwerk.com", "https://app.billwerk.com"),
                                          ("htps://app.billwerk.com", "https://app.billwerk.com")])
def test_scheme_typos_are_named_with_the_fix(typed, fixed):
    assert repr(fixed) in scheme_typo(typed)


@pytest.mark.parametrize("typed", ["https://app.billwerk.com", "sandbox.billwerk.com", "localhost:5002", "http://127.0.0.1:5002"])
def test_good_urls_are_no_typo(typed):
    assert scheme_typo(typed) is None


def test_the_billwerk_sandbox_passes(billwerk_sandbox):
    diagnose(billwerk_sandbox.base_url)


def _quickly(url: str) -> str:
    started = time.monotonic()
    with pytest.raises(BaseUrlProblem) as caught:
        diagnose(url)
    assert time.monotonic() - started < 3.0
    return caught.value.message


def test_nothing_on_the_port():
    port = _closed_port()
    assert f"nothing answers on port {port} of 127.0.0.1" in _quickly(f"http://127.0.0.1:{port}")


def test_no_such_host():
    message = _quickly("https://sandbox.bilwerk.invalid")
    assert "sandbox.bilwerk.invalid" in message and ("no host called" in message or "could not be looked up" in message)


def test_a_known_host_misspelt_gets_a_suggestion(monkeypatch):
    def no_such_host(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    assert "Did you mean sandbox.billwerk.com?" in _quickly("https://sandbox.bilwerk.com")


def test_a_server_that_is_not_billwerk(hubspot_sandbox):
    message = _quickly(hubspot_sandbox.base_url)
    assert "not as a billwerk API" in message and "/oauth/token/" in message


def test_a_port_that_accepts_but_never_answers():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(BaseUrlProblem) as caught:
            diagnose(f"http://127.0.0.1:{port}", limit_s=0.5)
        assert time.monotonic() - started < 2.5
        assert "not a billwerk API" in caught.value.message

"""What is wrong with a billwerk base URL, said within about two seconds.

An admin's typo (``http//…``, ``sandbox.bilwerk.com``, a wrong port) must not hang for the client's
full timeout and retries and then say "check the network": each check here has a short limit and
names the one thing to fix — the spelling, a host that does not exist, a port where nothing
answers, or a server that answers but is no billwerk API.
"""
from __future__ import annotations

import difflib
import re
import socket
import threading
from urllib.parse import urlsplit

import requests

from backend.errors import HubwerkError

#: seconds for each of: the name look-up, the TCP connection, the token endpoint's first answer
QUICK_S = 2.0
KNOWN_HOSTS = ("sandbox.billwerk.com", "app.billwerk.com")
_SCHEME_TYPO = re.compile(r"^(?P<scheme>https?|htps?|htp|htttps?|hhttps?|ttps?)(?P<sep>://|:/|//|:|/)(?P<rest>[A-Za-z0-9\[].*)$", re.IGNORECASE)


class BaseUrlProblem(HubwerkError):
    code = "billwerk_base_url"
    status = 400


def scheme_typo(raw: str) -> str | None:
    """``http//host``, ``https:/host``, ``htps://host``: a sentence naming the typo, else None."""
    text = (raw or "").strip()
    match = _SCHEME_TYPO.match(text)
    if match is None:
        return None
    scheme, sep = match.group("scheme").lower(), match.group("sep")
    if scheme in ("http", "https") and sep == "://":
        return None
    fixed = f"{'https' if scheme.endswith('s') else 'http'}://{match.group('rest')}"
    return f"{text!r} is not a URL: write {fixed!r} (the scheme is http or https, then a colon and two slashes)."


def _resolve(host: str, port: int, limit_s: float) -> tuple[bool, str | None]:
    """(resolved?, error text); the look-up runs in a thread so a slow resolver cannot hold us up."""
    outcome: dict = {}

    def look_up():
        try:
            outcome["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=look_up, daemon=True)
    worker.start()
    worker.join(limit_s)
    if worker.is_alive():
        return False, f"the name {host} could not be looked up within {limit_s:g} s"
    if "error" in outcome:
        return False, None
    return True, None


def _did_you_mean(host: str) -> str:
    close = difflib.get_close_matches(host.lower(), KNOWN_HOSTS, n=1, cutoff=0.8)
    return f" Did you mean {close[0]}?" if close else ""


def diagnose(root_url: str, *, limit_s: float = QUICK_S, session: requests.Session | None = None) -> None:
    """Raise :class:`BaseUrlProblem` naming what is wrong with ``root_url`` (a normalized billwerk
    root URL); return quietly when a billwerk-like token endpoint answers there."""
    parts = urlsplit(root_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # Behind an HTTP proxy the name is resolved and the connection made by the proxy, not here.
    if not requests.utils.get_environ_proxies(root_url):
        _check_host_and_port(root_url, host, port, limit_s)
    _check_token_endpoint(root_url, host, port, limit_s, session)


def _check_host_and_port(root_url: str, host: str, port: int, limit_s: float) -> None:
    resolved, slow = _resolve(host, port, limit_s)
    if not resolved:
        if slow:
            raise BaseUrlProblem(f"billwerk base URL {root_url}: {slow}; check the spelling of the host and the network.")
        raise BaseUrlProblem(f"billwerk base URL {root_url}: there is no host called {host}.{_did_you_mean(host)}")
    try:
        with socket.create_connection((host, port), timeout=limit_s):
            pass
    except ConnectionRefusedError:
        raise BaseUrlProblem(f"billwerk base URL {root_url}: nothing answers on port {port} of {host}; check the port.") from None
    except (TimeoutError, socket.timeout):
        raise BaseUrlProblem(f"billwerk base URL {root_url}: {host} does not answer on port {port} within {limit_s:g} s "
                             "(wrong port, or a firewall in between).") from None
    except OSError as exc:
        raise BaseUrlProblem(f"billwerk base URL {root_url}: {host}:{port} cannot be reached ({exc.strerror or exc}).") from None


def _check_token_endpoint(root_url: str, host: str, port: int, limit_s: float, session) -> None:
    """billwerk's token endpoint refuses a request without credentials (400/401/403); a 404, a redirect,
    a server error or a page that takes it means another server, or a path too many in the URL."""
    from backend.clients.billwerk import TOKEN_PATH

    http = session or requests
    try:
        resp = http.post(root_url + TOKEN_PATH, data={"grant_type": "client_credentials"}, timeout=(limit_s, limit_s * 2),
                         allow_redirects=False)
    except requests.exceptions.SSLError:
        raise BaseUrlProblem(f"billwerk base URL {root_url}: {host} does not speak https on port {port} "
                             "(try http:// for a local server, or check the port).") from None
    except requests.Timeout:
        raise BaseUrlProblem(f"billwerk base URL {root_url}: {host}:{port} accepts connections but does not answer "
                             f"within {limit_s * 2:g} s; it is not a billwerk API.") from None
    except requests.RequestException as exc:
        raise BaseUrlProblem(f"billwerk base URL {root_url}: {host}:{port} does not answer like a web server "
                             f"({type(exc).__name__}); check the port.") from None
    if resp.status_code in (400, 401, 403) or (200 <= resp.status_code < 300 and _json_error(resp, any_json=True)):
        return
    raise BaseUrlProblem(f"billwerk base URL {root_url}: {host} answers, but not as a billwerk API "
                         f"(its token endpoint {TOKEN_PATH} answered HTTP {resp.status_code}). Enter the billwerk system's "
                         f"address, e.g. sandbox.billwerk.com or app.billwerk.com.")


def _json_error(resp: requests.Response, any_json: bool = False) -> bool:
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, dict) and (any_json or "error" in body or "Message" in body or "message" in body)

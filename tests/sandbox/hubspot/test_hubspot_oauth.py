"""OAuth: authorize page, code exchange, refresh, token info, expiry, revoke, uninstall."""
import re
from urllib.parse import parse_qs, urlsplit

import requests

CLIENT = {"client_id": "hubwerk-sandbox-client-id", "client_secret": "hubwerk-sandbox-client-secret"}
REDIRECT = "http://127.0.0.1:5000/oauth/hubspot/callback"


def _authorize(hs, **extra):
    params = {"client_id": CLIENT["client_id"], "redirect_uri": REDIRECT, "scope": "oauth crm.objects.deals.read",
              "state": "xyz"}
    params.update(extra)
    return requests.get(hs.base_url + "/oauth/authorize", params=params, allow_redirects=False, timeout=5)


def _exchange(hs, code, redirect_uri=REDIRECT):
    return requests.post(hs.base_url + "/oauth/v1/token", data=dict(CLIENT, grant_type="authorization_code",
                                                                    code=code, redirect_uri=redirect_uri), timeout=5)


def test_choose_account_page_and_connect(hubspot_sandbox):
    hs = hubspot_sandbox
    hs.create_portal(200002, "Portal B")
    page = _authorize(hs)
    assert page.status_code == 200 and "Choose account" in page.text and "Connect app" in page.text
    assert "Sandbox Portal" in page.text and "Portal B" in page.text
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    form["portal_id"] = "200002"
    resp = requests.post(hs.base_url + "/oauth/authorize", data=form, allow_redirects=False, timeout=5)
    assert resp.status_code == 302
    loc = urlsplit(resp.headers["Location"])
    q = parse_qs(loc.query)
    assert loc.path == "/oauth/hubspot/callback" and q["state"] == ["xyz"]
    tok = _exchange(hs, q["code"][0])
    assert tok.status_code == 200
    body = tok.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800 and body["hub_id"] == 200002
    assert body["refresh_token"] and body["access_token"]
    info = requests.get(f"{hs.base_url}/oauth/v1/access-tokens/{body['access_token']}", timeout=5).json()
    assert info["hub_id"] == 200002 and info["app_id"] == 4242
    assert info["scopes"] == ["oauth", "crm.objects.deals.read"]
    assert {"user", "hub_domain", "expires_in", "token_type"} <= set(info)
    # code is single use
    again = _exchange(hs, q["code"][0])
    assert again.status_code == 400
    assert again.json()["status"] == "BAD_AUTH_CODE" and again.json()["error"] == "invalid_grant"
    assert again.json()["correlationId"]


def test_auto_approve_and_redirect_uri_must_match(hubspot_sandbox):
    hs = hubspot_sandbox
    hs.configure(auto_approve=True)
    resp = _authorize(hs)
    assert resp.status_code == 302
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    bad = _exchange(hs, code, redirect_uri="http://evil.example/cb")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"


def test_unknown_client_id_error_page(hubspot_sandbox):
    resp = _authorize(hubspot_sandbox, client_id="nope")
    assert resp.status_code == 400 and "text/html" in resp.headers["Content-Type"]


def test_wrong_secret_and_bad_refresh(hubspot_sandbox):
    hs = hubspot_sandbox
    r = requests.post(hs.base_url + "/oauth/v1/token", data={"grant_type": "refresh_token", "refresh_token": "x",
                                                             "client_id": CLIENT["client_id"], "client_secret": "no"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"
    r = requests.post(hs.base_url + "/oauth/v1/token", data=dict(CLIENT, grant_type="refresh_token", refresh_token="x"))
    assert r.status_code == 400
    assert r.json()["status"] == "BAD_REFRESH_TOKEN" and r.json()["error"] == "invalid_grant"


def test_token_expiry_refresh_and_401_shapes(hubspot_sandbox, tokens):
    hs = hubspot_sandbox
    url = hs.base_url + "/crm/v3/objects/companies"
    auth = {"Authorization": "Bearer " + tokens["access_token"]}
    assert requests.get(url, headers=auth).status_code == 200
    hs.advance_time(1801)
    expired = requests.get(url, headers=auth)
    assert expired.status_code == 401
    assert expired.json()["category"] == "EXPIRED_AUTHENTICATION" and expired.json()["correlationId"]
    unknown = requests.get(url, headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401 and unknown.json()["category"] == "INVALID_AUTHENTICATION"
    assert requests.get(url).status_code == 401
    fresh = requests.post(hs.base_url + "/oauth/v1/token",
                          data=dict(CLIENT, grant_type="refresh_token", refresh_token=tokens["refresh_token"])).json()
    assert fresh["refresh_token"] == tokens["refresh_token"] and fresh["access_token"] != tokens["access_token"]
    assert requests.get(url, headers={"Authorization": "Bearer " + fresh["access_token"]}).status_code == 200


def test_token_ttl_setting(hubspot_sandbox):
    hs = hubspot_sandbox
    hs.configure(token_ttl_s=60)
    tok = hs.issue_tokens()
    assert tok["expires_in"] == 60
    hs.advance_time(61)
    r = requests.get(hs.base_url + "/crm/v3/objects/deals", headers={"Authorization": "Bearer " + tok["access_token"]})
    assert r.status_code == 401


def test_refresh_token_info_and_delete(hubspot_sandbox, tokens):
    hs = hubspot_sandbox
    url = f"{hs.base_url}/oauth/v1/refresh-tokens/{tokens['refresh_token']}"
    info = requests.get(url).json()
    assert info["hub_id"] == hs.default_portal_id and info["client_id"] == CLIENT["client_id"]
    assert requests.delete(url).status_code == 204
    r = requests.post(hs.base_url + "/oauth/v1/token",
                      data=dict(CLIENT, grant_type="refresh_token", refresh_token=tokens["refresh_token"]))
    assert r.json()["error"] == "invalid_grant"


def test_uninstall_kills_tokens(hubspot_sandbox, tokens):
    hs = hubspot_sandbox
    auth = {"Authorization": "Bearer " + tokens["access_token"]}
    assert requests.delete(hs.base_url + "/appinstalls/v3/external-install", headers=auth).status_code == 204
    assert requests.get(hs.base_url + "/crm/v3/objects/deals", headers=auth).status_code == 401
    r = requests.post(hs.base_url + "/oauth/v1/token",
                      data=dict(CLIENT, grant_type="refresh_token", refresh_token=tokens["refresh_token"]))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert hs.portal_info(hs.default_portal_id)["installed"] is False


def test_missing_scopes_403(hubspot_sandbox):
    hs = hubspot_sandbox
    tok = hs.issue_tokens(scopes=["oauth", "crm.objects.deals.read"])
    auth = {"Authorization": "Bearer " + tok["access_token"]}
    assert requests.get(hs.base_url + "/crm/v3/objects/deals", headers=auth).status_code == 200
    r = requests.post(hs.base_url + "/crm/v3/objects/deals", headers=auth, json={"properties": {"dealname": "x"}})
    assert r.status_code == 403 and r.json()["category"] == "MISSING_SCOPES"

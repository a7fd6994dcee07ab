"""Tokens (both credential styles, errors, expiry, revocation) and tenant isolation."""
from __future__ import annotations

import requests

from billwerk_helpers import ROOT, UK, Api

CID, SECRET = "hubwerk-sandbox-billwerk-client", "hubwerk-sandbox-billwerk-secret"


def _token(bw, **kw):
    return requests.post(f"{bw.base_url}/oauth/token", **kw)


def test_form_fields_and_basic_auth_both_work(bw):
    r1 = _token(bw, data={"grant_type": "client_credentials", "client_id": CID, "client_secret": SECRET})
    r2 = _token(bw, data={"grant_type": "client_credentials"}, auth=(CID, SECRET))
    for r in (r1, r2):
        assert r.status_code == 200
        body = r.json()
        assert set(body) >= {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert r1.json()["access_token"] != r2.json()["access_token"]


def test_bad_credentials_and_grant(bw):
    r = _token(bw, data={"grant_type": "client_credentials", "client_id": CID, "client_secret": "wrong"})
    assert (r.status_code, r.json()) == (401, {"error": "invalid_client"})
    r = _token(bw, data={"grant_type": "client_credentials"}, auth=("nobody", SECRET))
    assert (r.status_code, r.json()) == (401, {"error": "invalid_client"})
    r = _token(bw, data={"grant_type": "password", "client_id": CID, "client_secret": SECRET})
    assert (r.status_code, r.json()) == (400, {"error": "unsupported_grant_type"})


def test_bearer_header_and_query_token(bw, api):
    token = api.fetch_token()
    assert requests.get(f"{bw.base_url}/api/v1/customers", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert requests.get(f"{bw.base_url}/api/v1/customers", params={"access_token": token}).status_code == 200
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {token}"}):
        r = requests.get(f"{bw.base_url}/api/v1/customers", headers=headers)
        assert r.status_code == 401 and "Message" in r.json()


def test_tokens_expire(bw, api):
    bw.set_limits(token_ttl_s=60)
    api.fetch_token()
    assert api.get("customers").status_code == 200
    bw.advance_clock(61)
    assert api.get("customers").status_code == 401
    api.fetch_token()                       # the client's re-token path
    assert api.get("customers").status_code == 200


def test_revocation_python_and_control_api(bw, api):
    api.fetch_token()
    assert bw.revoke_tokens() == 1
    assert api.get("customers").status_code == 401
    api.fetch_token()
    r = requests.post(f"{bw.base_url}/_sandbox/tokens/revoke", json={"client_id": CID})
    assert r.json() == {"revoked": 1}
    assert api.get("customers").status_code == 401


def test_tenant_isolation(bw, api):
    bw.add_account("client-b", "secret-b", [{"id": "6a0000000000000000000001", "name": "B GmbH",
                                              "public_api_key": "6a00000000000000000000a1"}])
    bw.seed(catalog_items=10, customers=2)
    b = Api(bw, "client-b", "secret-b")
    own = b.post("customers", {"CompanyName": "B's customer", "ExternalCustomerId": "x"}).json()
    a_customers = api.get("customers").json()
    assert len(a_customers) == 2 and all(c["Id"] != own["Id"] for c in a_customers)
    assert [c["Id"] for c in b.get("customers").json()] == [own["Id"]]
    assert b.get(f"customers/{a_customers[0]['Id']}").status_code == 404
    assert api.get(f"customers/{own['Id']}").status_code == 404
    assert b.get("planVariants").json() == []
    # an entity of another account, or none at all, is refused with 403
    for ent in (ROOT, UK, "ffffffffffffffffffffffff"):
        r = b.get("customers", entity=ent)
        assert r.status_code == 403 and "Message" in r.json()
    assert api.get("customers", entity="6a0000000000000000000001").status_code == 403
    # the same external id may exist in another tenant
    assert api.post("customers", {"ExternalCustomerId": "x"}).status_code == 201

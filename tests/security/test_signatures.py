"""HubSpot's published test vectors (reference/hubspot-platform.md §4.3) and the SDK's helper."""
import pytest
from hubspot.utils.signature import Signature

from backend.security.basic_auth import BasicAuthError, parse_basic
from backend.security.hubspot_signature import (SignatureError, signature_v1, signature_v2, signature_v3, v3_decoded_uri, verify)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
BODY_A = b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
BODY_B = b"{'example_field':'example_value'}"
URI = "https://www.example.com/webhook_uri"


@pytest.mark.parametrize("computed, expected", [
    (lambda: signature_v1(SECRET, BODY_A), "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"),
    (lambda: signature_v2(SECRET, "GET", URI, b""), "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"),
    (lambda: signature_v1(SECRET, BODY_B), "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"),
    (lambda: signature_v2(SECRET, "POST", URI, BODY_B), "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"),
    (lambda: signature_v3(SECRET, "POST", URI, BODY_B, "15000000"), "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="),
    (lambda: signature_v2(SECRET, "POST", URI, BODY_A), "276a2548f0a0181a076d456de09c0e7477ae101ccc16a11600488a77714e9b8d"),
], ids=["v1-docs", "v2-docs", "v1-sdk", "v2-sdk", "v3-sdk", "v2-computed"])
def test_published_vectors(computed, expected):
    assert computed() == expected


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_agrees_with_the_official_sdk(version):
    ts = "1700000000000"
    ours = {"v1": signature_v1(SECRET, BODY_A), "v2": signature_v2(SECRET, "POST", URI, BODY_A),
            "v3": signature_v3(SECRET, "POST", URI, BODY_A, ts)}[version]
    assert Signature.get_signature(SECRET, BODY_A.decode(), version, http_uri=URI, http_method="POST", timestamp=ts) == ours


def headers_v3(uri, body, ts, secret=SECRET):
    return {"X-HubSpot-Signature-v3": signature_v3(secret, "POST", uri, body, str(ts)), "X-HubSpot-Request-Timestamp": str(ts)}


NOW = 1_800_000_000_000


def test_v3_accepts_fresh_and_decoded_uris():
    assert verify(secret=SECRET, method="POST", uri=URI, body=BODY_A, headers=headers_v3(URI, BODY_A, NOW), now_ms=NOW, accept=("v3",)).version == "v3"
    encoded = "https://x.example/api/cards/deals/1?userEmail=a%40b.com&portalId=1"
    decoded_sig = headers_v3(v3_decoded_uri(encoded), b"", NOW)
    assert verify(secret=SECRET, method="POST", uri=encoded, body=b"", headers=decoded_sig, now_ms=NOW, accept=("v3",))
    assert v3_decoded_uri(encoded) == "https://x.example/api/cards/deals/1?userEmail=a@b.com&portalId=1"
    # HubSpot's table only, either case; other escapes (here %20 and %25) stay as sent
    assert v3_decoded_uri("/a?x=%3a%2F%20%%3A%25%2c") == "/a?x=:/%20%:%25,"


@pytest.mark.parametrize("case", ["stale", "future", "tampered-body", "tampered-query", "wrong-secret", "no-timestamp", "non-numeric-ts"])
def test_v3_refusals(case):
    uri, body, ts, secret = URI + "?portalId=1", BODY_A, NOW, SECRET
    headers = headers_v3(uri, body, ts, secret)
    if case == "stale":
        headers = headers_v3(uri, body, NOW - 300_001)
    if case == "future":
        headers = headers_v3(uri, body, NOW + 300_001)
    if case == "tampered-body":
        body = body.replace(b"62515", b"62516")
    if case == "tampered-query":
        uri = URI + "?portalId=2"
    if case == "wrong-secret":
        headers = headers_v3(uri, body, ts, "other-secret")
    if case == "no-timestamp":
        del headers["X-HubSpot-Request-Timestamp"]
    if case == "non-numeric-ts":
        headers["X-HubSpot-Request-Timestamp"] = "yesterday"
    with pytest.raises(SignatureError):
        verify(secret=SECRET, method="POST", uri=uri, body=body, headers=headers, now_ms=NOW, accept=("v3",))


def test_v3_decides_when_present_and_versions_are_per_endpoint():
    good_v1 = {"X-HubSpot-Signature": signature_v1(SECRET, BODY_A), "X-HubSpot-Signature-Version": "v1"}
    assert verify(secret=SECRET, method="POST", uri=URI, body=BODY_A, headers=good_v1, now_ms=NOW, accept=("v3", "v1")).version == "v1"
    with pytest.raises(SignatureError):  # a bad v3 is not rescued by a good v1
        verify(secret=SECRET, method="POST", uri=URI, body=BODY_A, headers=good_v1 | headers_v3(URI, b"other", NOW), now_ms=NOW, accept=("v3", "v1"))
    with pytest.raises(SignatureError, match="not accepted"):  # cards take v3 only
        verify(secret=SECRET, method="POST", uri=URI, body=BODY_A, headers=good_v1, now_ms=NOW, accept=("v3",))
    with pytest.raises(SignatureError, match="no HubSpot signature"):
        verify(secret=SECRET, method="POST", uri=URI, body=BODY_A, headers={}, now_ms=NOW, accept=("v1",))
    v2 = {"X-HubSpot-Signature": signature_v2(SECRET, "POST", URI, BODY_A), "X-HubSpot-Signature-Version": "v2"}
    assert verify(secret=SECRET, method="POST", uri=URI, body=BODY_A, headers=v2, now_ms=NOW, accept=("v2",)).version == "v2"
    with pytest.raises(SignatureError):
        verify(secret=SECRET, method="POST", uri=URI + "?x=1", body=BODY_A, headers=v2, now_ms=NOW, accept=("v2",))


@pytest.mark.parametrize("header", [None, "", "Bearer abc", "Basic !!!", "Basic " + "bm9jb2xvbg==", "Basic " + "OnB3"])
def test_basic_auth_refusals(header):
    with pytest.raises(BasicAuthError):
        parse_basic(header)


def test_basic_auth_keeps_colons_in_passwords():
    import base64
    assert parse_basic("Basic " + base64.b64encode(b"user:pa:ss").decode()) == ("user", "pa:ss")

"""Signatures v1/v2/v3 against reference §4.3's vectors and the official SDK's helper."""
import time

import pytest
from hubspot.utils.signature import Signature

from sandbox.hubspot import signing

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
BODY_A = ('[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
          '"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
          '"changeFlag":"NEW","appId":54321}]')
BODY_B = "{'example_field':'example_value'}"
URI = "https://www.example.com/webhook_uri"

VECTORS = [
    ("v1", "", "", BODY_A, "", "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"),
    ("v2", "GET", URI, "", "", "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"),
    ("v1", "", "", BODY_B, "", "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"),
    ("v2", "POST", URI, BODY_B, "", "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"),
    ("v3", "POST", URI, BODY_B, "15000000", "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="),
    ("v2", "POST", URI, BODY_A, "", "276a2548f0a0181a076d456de09c0e7477ae101ccc16a11600488a77714e9b8d"),
]


@pytest.mark.parametrize("version,method,uri,body,ts,expected", VECTORS)
def test_reference_vectors(version, method, uri, body, ts, expected):
    assert signing.sign(version, SECRET, method=method, uri=uri, body=body, timestamp=ts) == expected
    sdk = Signature.get_signature(SECRET, body, version, http_uri=uri, http_method=method or "POST", timestamp=ts)
    assert sdk == expected


def test_bytes_and_str_agree():
    assert signing.sign_v1(SECRET, BODY_A.encode()) == signing.sign_v1(SECRET, BODY_A)


def test_verify_v3_freshness_and_sdk_accepts():
    ts = str(int(time.time() * 1000))
    sig = signing.sign_v3(SECRET, "POST", URI, "{}", ts)
    assert signing.verify("v3", SECRET, sig, method="POST", uri=URI, body="{}", timestamp=ts)
    assert Signature.is_valid(sig, SECRET, "{}", URI, "POST", "v3", ts)
    old = "15000000"
    old_sig = signing.sign_v3(SECRET, "POST", URI, "{}", old)
    assert not signing.verify("v3", SECRET, old_sig, method="POST", uri=URI, body="{}", timestamp=old)
    assert not signing.verify("v2", SECRET, "0" * 64, method="POST", uri=URI, body="{}")


def test_signed_headers():
    h = signing.signed_headers(SECRET, versions=("v1", "v3"), method="POST", uri=URI, body=BODY_A.encode(),
                               timestamp_ms=15000000)
    assert h["X-HubSpot-Signature-Version"] == "v1"
    assert h["X-HubSpot-Signature"] == VECTORS[0][5]
    assert h["X-HubSpot-Request-Timestamp"] == "15000000"
    with pytest.raises(ValueError):
        signing.sign("v9", SECRET)

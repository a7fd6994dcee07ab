"""Invoice dispatch and e-invoicing (sandbox/billwerk/dispatch.py): each mode refused without what it needs."""
from __future__ import annotations

import pytest

from billwerk_helpers import Api, new_customer_body, signup_variant
from sandbox.billwerk import dispatch

PRODUCTION = ("tenant-production", "s3cret")


@pytest.fixture
def production_api(bw):
    bw.add_account(*PRODUCTION, [{"id": "6a0000000000000000000001", "name": "Live GmbH",
                                  "public_api_key": "6a00000000000000000000a1"}], production=True)
    return Api(bw, *PRODUCTION)


def test_email_needs_an_email_address(api):
    r = api.post("customers", new_customer_body(EmailAddress=None, DefaultBearerMedium="Email"))
    assert r.status_code == 422 and "EmailAddress is required when DefaultBearerMedium is Email" in r.json()["Message"]
    c = api.post("customers", new_customer_body(DefaultBearerMedium="Email")).json()
    cleared = api.patch(f"customers/{c['Id']}", {"EmailAddress": ""})
    assert cleared.status_code == 422 and "EmailAddress" in cleared.json()["Message"]
    # billwerk's default mode on a customer created without an address stays possible
    assert api.post("customers", {"CompanyName": "No Mail GmbH"}).status_code == 201


def test_snail_mail_is_refused_on_sandbox_accounts(api, bw):
    assert bw.account_info(bw.settings.default_client_id)["production"] is False
    r = api.post("customers", new_customer_body(DefaultBearerMedium="SnailMail"))
    assert r.status_code == 422 and "only available on production accounts" in r.json()["Message"]
    c = api.post("customers", new_customer_body()).json()
    r = api.patch(f"customers/{c['Id']}", {"DefaultBearerMedium": "SnailMail"})
    assert r.status_code == 422 and dispatch.SANDBOX_SNAIL_MAIL in r.json()["Message"]
    assert api.get(f"customers/{c['Id']}").json()["DefaultBearerMedium"] == "Email"


def test_snail_mail_needs_a_postal_address(production_api):
    c = production_api.post("customers", new_customer_body(DefaultBearerMedium="SnailMail")).json()
    assert c["DefaultBearerMedium"] == "SnailMail"
    r = production_api.patch(f"customers/{c['Id']}", {"Address": {"PostalCode": None}})
    assert r.status_code == 422 and "Address.PostalCode is required when DefaultBearerMedium is SnailMail" in r.json()["Message"]
    r = production_api.post("customers", new_customer_body(DefaultBearerMedium="SnailMail", ExternalCustomerId="hs-2",
                                                            Address={"City": "Berlin"}))
    assert r.status_code == 422 and "Address.Street" in r.json()["Message"]


@pytest.mark.parametrize("missing", dispatch.EINVOICING_FIELDS)
def test_einvoicing_needs_receiver_id_network_and_buyer_reference(api, missing):
    complete = {dispatch.RECEIVER_ID: "0088:4012345000009", dispatch.NETWORK: "Peppol", dispatch.BUYER_REFERENCE: "PO-1"}
    body = new_customer_body(DefaultBearerMedium="EInvoicing", **{k: v for k, v in complete.items() if k != missing})
    r = api.post("customers", body)
    assert r.status_code == 422 and f"{missing} is required when DefaultBearerMedium is EInvoicing" in r.json()["Message"]
    c = api.post("customers", new_customer_body(DefaultBearerMedium="EInvoicing", **complete)).json()
    r = api.patch(f"customers/{c['Id']}", {missing: None})
    assert r.status_code == 422 and missing in r.json()["Message"]


def test_an_order_for_a_new_customer_follows_the_same_rules(api, seeded):
    variant = signup_variant(api)
    for customer, wanted in ((new_customer_body(DefaultBearerMedium="SnailMail"), "production accounts"),
                             (new_customer_body(DefaultBearerMedium="EInvoicing", BuyerReference="PO-1",
                                                EInvoiceReceiverId="0088:1"), "Customer.EInvoicingNetwork")):
        r = api.post("orders", {"Cart": {"PlanVariantId": variant["Id"]}, "Customer": customer})
        assert r.status_code == 422 and wanted in r.json()["Message"], r.json()


def test_the_control_api_adds_production_accounts(bw):
    from werkzeug.test import Client

    client = Client(bw.app)
    r = client.post("/_sandbox/accounts", json={"client_id": "live", "client_secret": "x", "production": True,
                                                "entities": [{"id": "6b0000000000000000000001", "name": "Live"}]})
    assert r.status_code == 201 and r.get_json()["production"] is True
    c = Api(bw, "live", "x").post("customers", new_customer_body(DefaultBearerMedium="SnailMail"))
    assert c.status_code == 201, c.json()

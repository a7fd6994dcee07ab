"""BillwerkClient against the billwerk sandbox: tokens, entities, paging, errors, orders."""
from __future__ import annotations

import pytest

from backend.clients.base import (AuthError, Forbidden, NotFound, PreconditionFailed, RateLimited, ServerError,
                                  ValidationFailed)
from backend.clients.billwerk import BillwerkClient, CredentialsRefused
from tests.clients.conftest import ROOT_ENTITY, UK_ENTITY, calls

API = "/api/v1"


def _token_calls(sb):
    return calls(sb, "/oauth/token", "POST")


def _customer(n: int, **extra) -> dict:
    return {"CompanyName": f"ACME {n}", "FirstName": "Jane", "LastName": "Doe", "EmailAddress": f"jane{n}@example.com",
            "ExternalCustomerId": f"ext-{n}", "Locale": "de-DE",
            "Address": {"Street": "Hauptstraße", "HouseNumber": "1", "PostalCode": "10115", "City": "Berlin",
                        "Country": "DE"}, **extra}


# --- credentials and tokens ---------------------------------------------------------------------------

def test_verify_and_wrong_secret(make_billwerk, billwerk_sandbox):
    assert make_billwerk().verify() is True

    with pytest.raises(AuthError) as exc:
        make_billwerk(client_secret="wrong-secret").verify()

    err = exc.value
    assert isinstance(err, CredentialsRefused) and not err.retriable
    assert err.message.startswith("billwerk refused the client id or secret")
    assert "wrong-secret" not in err.message
    assert len(_token_calls(billwerk_sandbox)) == 2      # one good, one refused: no retry of a refusal


def test_token_is_cached_and_fetched_again_after_401(billwerk, billwerk_sandbox):
    billwerk.get_customer(billwerk.create_customer(_customer(1))["Id"])
    assert len(_token_calls(billwerk_sandbox)) == 1

    billwerk_sandbox.revoke_tokens()
    assert list(billwerk.customers())

    assert len(_token_calls(billwerk_sandbox)) == 2
    assert [c["status"] for c in calls(billwerk_sandbox, API + "/customers", "GET")][-2:] == [401, 200]


def test_token_is_fetched_again_shortly_before_it_expires(make_billwerk, billwerk_sandbox):
    now = [1000.0]
    client = make_billwerk(clock=lambda: now[0])
    list(client.plan_groups())
    now[0] += 3600 - 30          # inside the refetch margin of a 3600 s token
    list(client.plan_groups())
    assert len(_token_calls(billwerk_sandbox)) == 2


# --- entities ------------------------------------------------------------------------------------------------

def test_entity_header_and_for_entity_share_the_token(billwerk, billwerk_sandbox):
    root_customer = billwerk.create_customer(_customer(1))
    uk = billwerk.for_entity(UK_ENTITY)
    uk_customer = uk.create_customer(_customer(2, Address={"Street": "High St", "HouseNumber": "1",
                                                           "PostalCode": "EC1A 1BB", "City": "London",
                                                           "Country": "GB"}))

    assert [c["Id"] for c in uk.customers()] == [uk_customer["Id"]]
    assert [c["Id"] for c in billwerk.customers()] == [root_customer["Id"]]
    with pytest.raises(NotFound):
        uk.get_customer(root_customer["Id"])
    entities = {c["entity_id"] for c in calls(billwerk_sandbox, API) if c["method"] == "GET"}
    assert entities == {ROOT_ENTITY, UK_ENTITY}
    assert len(_token_calls(billwerk_sandbox)) == 1


def test_unknown_entity_is_forbidden(billwerk):
    with pytest.raises(Forbidden) as exc:
        billwerk.for_entity("5f00000000000000000000ff").verify()
    assert exc.value.provider_status == 403 and not isinstance(exc.value, RateLimited)


# --- paging --------------------------------------------------------------------------------------------------

def test_iter_all_follows_the_inclusive_cursor_across_pages(billwerk, billwerk_sandbox):
    billwerk_sandbox.seed(catalog_items=5, customers=1100, contracts_per_customer=0)
    billwerk_sandbox.reset_calls()

    ids = [c["Id"] for c in billwerk.customers()]

    assert len(ids) == 1100 and len(set(ids)) == 1100
    assert ids == sorted(ids)
    pages = calls(billwerk_sandbox, API + "/customers", "GET")
    assert [p["query"].get("take") for p in pages] == ["500", "500", "500"]
    assert "from" not in pages[0]["query"] and pages[1]["query"]["from"] == ids[499]
    assert pages[2]["query"]["from"] == ids[998]
    assert [p["batch_size"] for p in pages] == [500, 500, 102]


def test_catalog_iterators(billwerk, billwerk_sandbox):
    billwerk_sandbox.seed(catalog_items=30, customers=0)
    state = billwerk_sandbox.state("catalog")["catalog"]
    root = {k: [o for o in v if o["EntityId"] == ROOT_ENTITY] for k, v in state.items()}

    assert len(list(billwerk.plan_groups())) == len(root["plan_groups"])
    assert len(list(billwerk.plans())) == len(root["plans"])
    assert len(list(billwerk.plan_variants())) == len(root["plan_variants"])
    assert len(list(billwerk.components())) == len(root["components"])
    assert len(list(billwerk.discounts())) == len(root["discounts"])
    assert {c["Code"] for c in billwerk.coupons()} == {"WELCOME10", "SAVE5"}
    group = root["plan_groups"][0]["Id"]
    assert all(p["PlanGroupId"] == group for p in billwerk.plans(plan_group_id=group))


# --- rate limits, retries, errors ------------------------------------------------------------------------

def test_429_is_retried_with_backoff(billwerk, billwerk_sandbox, sleeps):
    billwerk_sandbox.add_fault(path_prefix=API + "/customers", status=429, times=2)

    assert list(billwerk.customers()) == []

    assert [c["status"] for c in calls(billwerk_sandbox, API + "/customers")] == [429, 429, 200]
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.1 and 1.0 <= sleeps[1] <= 2.2


def test_403_rate_limit_exceeded_is_a_rate_limit(make_billwerk, billwerk_sandbox, sleeps):
    billwerk_sandbox.set_limits(rate_limit=2, window_s=1.0, style="403")
    client = make_billwerk()
    list(client.plan_groups())
    list(client.plan_groups())

    list(client.plan_groups())         # 403 "rate limit exceeded", wait (sandbox clock moves), retry

    statuses = [c["status"] for c in calls(billwerk_sandbox, API + "/plangroups")]
    assert 403 in statuses and statuses[-1] == 200 and sleeps

    billwerk_sandbox.set_limits(rate_limit=1, window_s=10_000.0, style="403")
    limited = make_billwerk(max_retries=1)
    list(limited.plan_groups())
    with pytest.raises(RateLimited) as exc:
        list(limited.plan_groups())
    assert exc.value.retriable and exc.value.provider_status == 403


def test_5xx_retried_for_reads_and_previews_not_for_orders(billwerk, billwerk_sandbox, sleeps):
    billwerk_sandbox.add_fault(path_prefix=API + "/orders/preview", status=500, times=1)
    with pytest.raises(ValidationFailed):                 # retried preview reaches the real validation
        billwerk.preview_order({"Cart": {"PlanVariantId": "5e0000000000000000000000"}, "Customer": _customer(1)})
    assert [c["status"] for c in calls(billwerk_sandbox, API + "/orders/preview")] == [500, 422]

    billwerk_sandbox.add_fault(path_prefix=API + "/orders", method="POST", status=502, times=1)
    with pytest.raises(ServerError) as exc:
        billwerk.create_order({"Cart": {"PlanVariantId": "5e0000000000000000000000"}, "Customer": _customer(1)})
    creates = [c for c in calls(billwerk_sandbox, API + "/orders", "POST") if c["path"].rstrip("/") == API + "/orders"]
    assert exc.value.retriable and [c["status"] for c in creates] == [502]


def test_error_translation(billwerk):
    with pytest.raises(NotFound) as exc:
        billwerk.get_customer("5e0000000000000000000001")
    assert exc.value.provider_message and exc.value.message.startswith("billwerk has nothing at GET /customers/")

    with pytest.raises(ValidationFailed) as exc:
        billwerk.create_order({"Cart": {"PlanVariantId": "5e0000000000000000000000"}, "Customer": _customer(1)})
    assert exc.value.provider_status == 422 and exc.value.provider_message in exc.value.message


def test_etag_if_match_gives_412_on_a_stale_version(billwerk):
    created = billwerk.create_customer(_customer(1))
    fresh = billwerk.get_customer(created["Id"])
    assert fresh.etag

    patched = billwerk.patch_customer(created["Id"], {"FirstName": "Janet"}, if_match=fresh.etag)
    assert patched["FirstName"] == "Janet" and patched.etag != fresh.etag

    with pytest.raises(PreconditionFailed) as exc:
        billwerk.patch_customer(created["Id"], {"FirstName": "Jo"}, if_match=fresh.etag)
    assert exc.value.provider_status == 412 and "reload it" in exc.value.message


# --- resources ---------------------------------------------------------------------------------------------

def _signup_variant(billwerk_sandbox) -> str:
    variants = billwerk_sandbox.state("plan_variants")["plan_variants"]
    return next(v["Id"] for v in variants if v["EntityId"] == ROOT_ENTITY and v.get("AllowWithoutPaymentData")
                and not v.get("Hidden") and not v.get("TrialPeriod"))


def test_order_preview_create_commit_and_contract(billwerk, billwerk_sandbox):
    billwerk_sandbox.seed(catalog_items=10, customers=0)
    order = {"Cart": {"PlanVariantId": _signup_variant(billwerk_sandbox)}, "Customer": _customer(7)}

    preview = billwerk.preview_order(order)
    assert preview["Total"] > 0 and "Id" not in preview
    assert billwerk.preview_order({"Order": order})["Total"] == preview["Total"]     # wrapped input too

    created = billwerk.create_order(order)
    assert created["Status"] == "InProgress" and created["ContractId"]
    contract = billwerk.commit_order(created["Id"])
    assert contract["Id"] == created["ContractId"]

    customer = billwerk.find_customer_by_external_id("ext-7")
    assert customer["Id"] == created["CustomerId"]
    assert billwerk.find_customer_by_external_id("ext-404") is None
    assert [c["Id"] for c in billwerk.customer_contracts(customer["Id"])] == [contract["Id"]]

    got = billwerk.get_contract(contract["Id"])
    patched = billwerk.patch_contract(contract["Id"], {"ExternalId": "deal-1"}, if_match=got.etag)
    assert patched["ExternalId"] == "deal-1"
    assert [c["Id"] for c in billwerk.contracts(externalId="deal-1")] == [contract["Id"]]
    changes = list(billwerk.contract_changes(contract["Id"]))
    if changes:
        assert billwerk.get_contract_change(changes[0]["Id"])["Id"] == changes[0]["Id"]
    for invoice in billwerk.invoices(customerId=customer["Id"]):
        assert billwerk.get_invoice(invoice["Id"])["Id"] == invoice["Id"]


def test_webhooks_register_list_delete(billwerk, billwerk_sandbox):
    hook = billwerk.register_webhook("https://hubwerk.example/webhooks/billwerk", ["ContractChanged", "OrderSucceeded"])
    assert hook["Id"] in [h["Id"] for h in billwerk.list_webhooks()]
    billwerk.delete_webhook(hook["Id"])
    assert billwerk.list_webhooks() == []


def test_client_accepts_host_names(billwerk_sandbox):
    client = BillwerkClient(billwerk_sandbox.base_url + "/api/v1/", "id", "secret")
    assert client.base_url == billwerk_sandbox.base_url + "/api/v1"
    assert BillwerkClient("sandbox", "id", "secret").base_url == "https://sandbox.billwerk.com/api/v1"

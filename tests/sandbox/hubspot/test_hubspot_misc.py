"""Thread safety, eventual consistency option, account info, small HubSpot habits."""
from concurrent.futures import ThreadPoolExecutor


def test_concurrent_writes_are_consistent(api, hubspot_sandbox):
    hubspot_sandbox.set_limits(rate_limit=10_000)

    def create(i):
        return api.post("/crm/v3/objects/contacts", json={"properties": {"email": f"u{i}@example.com"}}).json()["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(80)))
    assert len(set(ids)) == 80
    assert len(hubspot_sandbox.objects("contacts")) == 80
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: api.post("/crm/v3/objects/contacts",
                                                     json={"properties": {"email": "same@example.com"}}).status_code,
                                 range(8)))
    assert sorted(statuses) == [201] + [409] * 7


def test_search_delay_setting(api, hubspot_sandbox):
    hubspot_sandbox.configure(search_delay_s=5)
    api.post("/crm/v3/objects/companies", json={"properties": {"name": "fresh"}})
    assert api.post("/crm/v3/objects/companies/search", json={}).json()["total"] == 0
    hubspot_sandbox.advance_time(6)
    assert api.post("/crm/v3/objects/companies/search", json={}).json()["total"] == 1


def test_contact_email_is_lower_cased_and_unique_case_insensitively(api):
    first = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "Max@Example.COM"}}).json()
    assert first["properties"]["email"] == "max@example.com"
    dup = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "max@example.com"}})
    assert dup.status_code == 409 and first["id"] in dup.json()["message"]


def test_account_info(api, hubspot_sandbox):
    info = api.get("/account-info/v3/details").json()
    assert info["portalId"] == hubspot_sandbox.default_portal_id and info["accountType"] == "SANDBOX"


def test_method_not_allowed_shape(api):
    r = api.put("/crm/v3/objects/deals")
    assert r.status_code == 405 and r.json()["correlationId"]


def test_record_page_for_links(hubspot_sandbox):
    import requests
    hs = hubspot_sandbox
    report = hs.seed(companies=2)
    cid = report["company_ids"][0]
    page = requests.get(f"{hs.base_url}/contacts/{hs.default_portal_id}/record/0-2/{cid}")
    assert page.status_code == 200 and "Company" in page.text and "/record/0-3/" in page.text
    assert requests.get(f"{hs.base_url}/contacts/{hs.default_portal_id}/record/0-2/1").status_code == 404
    assert hs.calls == []

"""Records created in the HubSpot sandbox as a user would (webhooks follow, changeSource CRM_UI)."""
from __future__ import annotations

GOOD_DE = {"name": "Nordlicht Software GmbH", "address": "Friedrichstraße 123", "city": "Berlin", "zip": "10117",
           "country": "DE", "phone": "+49 30 1234567"}
GOOD_US = {"name": "Blue Harbor Inc.", "address": "500 Market Street", "city": "San Francisco", "zip": "94105",
           "country": "US", "state": "CA"}
BROKEN = {"name": "Broken Ltd", "address": "High Street", "city": "London", "zip": "", "country": "UK"}


def company_with_deal(hs, company: dict, *, stage: str = "appointmentscheduled", contact: dict | None = None,
                      portal_id: int | None = None) -> dict:
    c = hs.user_create("companies", company, portal_id=portal_id)
    slug = "".join(ch for ch in company["name"].lower() if ch.isalnum())[:20]
    person = hs.user_create("contacts", contact or {"firstname": "Anna", "lastname": "Schmidt", "email": f"anna@{slug}.example"},
                            portal_id=portal_id)
    deal = hs.user_create("deals", {"dealname": f"{company['name']} – Pro", "pipeline": "default", "dealstage": stage,
                                    "amount": "1200"}, portal_id=portal_id)
    hs.user_associate("deals", deal["id"], "companies", c["id"], type_ids=[341, 5], portal_id=portal_id)
    hs.user_associate("deals", deal["id"], "contacts", person["id"], portal_id=portal_id)
    hs.user_associate("contacts", person["id"], "companies", c["id"], portal_id=portal_id)
    return {"company": c["id"], "contact": person["id"], "deal": deal["id"]}

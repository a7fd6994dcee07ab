"""Deterministic, realistic demo data written straight into the store (no HTTP, no webhooks).

``seed(companies=N, ...)`` creates, per call and portal:

* N companies with DE / US / GB / FR addresses. About 85 % are clean; the rest are broken on
  purpose, one problem each (see ``BROKEN``): missing zip, country "UK", country spelled
  "Germany", US without state, state "XX", street without house number. Streets come in both
  the "42 Main St" and the "Hauptstraße 5" form.
* ``contacts_per_company`` contacts per company (primary company association; about 10 %
  without email);
* ``deals_per_company`` deals per company, exactly ``round(N * closed_won_ratio)`` companies
  with a closed-won deal (default pipeline ``closedwon`` or the custom "Enterprise"
  pipeline's won stage, probability 1.0); deals are associated to their company (primary)
  and first contact;
* ``products`` products (monthly/annual plans) and ``line_items_per_deal`` line items on each
  closed-won deal.

``demo=True`` (what ``python -m sandbox`` and ``make run`` use) makes the quick start's promises
true whatever N is: the first closed-won companies carry the classic problems of ``DEMO_PROBLEMS``
(country "UK", no postal code, US state "XX", no street at all), so the import tool shows
*needs fixing* rows, and the first company without a closed-won deal gets a clean address, a
contact with an e-mail and an open deal in the default pipeline (``demo_deal_id``) for the
quick start to move to closed won. The random draws stay the same, so every other record is the
one ``demo=False`` gives.

The same arguments give the same data (``seed`` is the random seed).
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from . import schema
from .pipelines import create_pipeline
from .store import Portal, Record
from .values import iso_ms

BASE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)

ADDRESSES = {
    "DE": {"cities": [("Berlin", "10115", "BE"), ("München", "80331", "BY"), ("Hamburg", "20095", "HH"),
                      ("Köln", "50667", "NW"), ("Frankfurt am Main", "60311", "HE"), ("Leipzig", "04109", "SN")],
           "streets": ["Hauptstraße", "Bahnhofstraße", "Friedrichstraße", "Schillerstraße", "Lindenallee", "Gartenweg"],
           "form": "street_number", "tld": "de", "phone": "+49 30 {n:07d}", "legal": ["GmbH", "AG", "GmbH & Co. KG"]},
    "US": {"cities": [("San Francisco", "94105", "CA"), ("New York", "10001", "NY"), ("Austin", "78701", "TX"),
                      ("Boston", "02108", "MA"), ("Seattle", "98101", "WA"), ("Chicago", "60601", "IL")],
           "streets": ["Main St", "Market Street", "Oak Avenue", "Broadway", "Elm St", "Pine Street"],
           "form": "number_street", "tld": "com", "phone": "+1 415 {n:07d}", "legal": ["Inc.", "LLC", "Corp."]},
    "GB": {"cities": [("London", "EC1A 1BB", ""), ("Manchester", "M1 1AE", ""), ("Edinburgh", "EH1 1YZ", ""),
                      ("Bristol", "BS1 4DJ", "")],
           "streets": ["High Street", "Baker Street", "Station Road", "Church Lane"],
           "form": "number_street", "tld": "co.uk", "phone": "+44 20 {n:08d}", "legal": ["Ltd", "PLC"]},
    "FR": {"cities": [("Paris", "75001", ""), ("Lyon", "69001", ""), ("Marseille", "13001", ""), ("Toulouse", "31000", "")],
           "streets": ["Rue de Rivoli", "Avenue Victor Hugo", "Boulevard Haussmann", "Rue du Faubourg"],
           "form": "number_street", "tld": "fr", "phone": "+33 1 {n:08d}", "legal": ["SARL", "SAS", "SA"]},
}
COUNTRY_WEIGHTS = [("DE", 0.45), ("US", 0.25), ("GB", 0.15), ("FR", 0.15)]
BROKEN = ["missing_zip", "country_uk", "country_name", "us_without_state", "state_xx", "no_house_number"]
BROKEN_RATIO = 0.15
# One each on the first closed-won companies of a demo seed (demo=True).
DEMO_PROBLEMS = ["country_uk", "missing_zip", "state_xx", "no_street"]

NAME_A = ["Nordlicht", "Blue Harbor", "Alpen", "Silverline", "Rheinwerk", "Brightpath", "Eichenhof", "Lumen",
          "Kestrel", "Hanse", "Cobalt", "Seeblick", "Redwood", "Sonnenfeld", "Quartz", "Falkenstein", "Meridian",
          "Bergmann", "Oakridge", "Weitblick"]
NAME_B = ["Software", "Analytics", "Logistik", "Consulting", "Media", "Systems", "Robotics", "Energie", "Labs",
          "Health", "Digital", "Foods", "Mobility", "Finance", "Cloud", "Design", "Werkzeuge", "Networks",
          "Textil", "Solutions"]
FIRST = {"DE": ["Anna", "Lukas", "Marie", "Jonas", "Lea", "Felix", "Sophie", "Paul"],
         "US": ["Emma", "Liam", "Olivia", "Noah", "Ava", "Ethan", "Mia", "Mason"],
         "GB": ["Oliver", "Amelia", "George", "Isla", "Harry", "Poppy"],
         "FR": ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Jules"]}
LAST = {"DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"],
        "US": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia"],
        "GB": ["Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright"],
        "FR": ["Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre"]}
PLANS = [("Starter", 29.0), ("Professional", 99.0), ("Business", 249.0), ("Enterprise", 990.0)]
OPEN_STAGES = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent"]
ENTERPRISE_STAGES = [
    {"label": "Discovery", "metadata": {"probability": "0.1", "isClosed": "false"}},
    {"label": "Proposal", "metadata": {"probability": "0.5", "isClosed": "false"}},
    {"label": "Negotiation", "metadata": {"probability": "0.7", "isClosed": "false"}},
    {"label": "Enterprise won", "metadata": {"probability": "1.0", "isClosed": "true"}},
    {"label": "Enterprise lost", "metadata": {"probability": "0.0", "isClosed": "true"}},
]


def _slug(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ç": "c"})
    return "".join(c for c in text.lower().translate(table) if c.isalnum())


def _ensure_enterprise(portal: Portal) -> dict:
    for p in portal.pipelines["deals"].values():
        if p["label"] == "Enterprise" and not p["archived"]:
            return p
    return create_pipeline(portal, {"label": "Enterprise", "displayOrder": 1, "stages": ENTERPRISE_STAGES})


class _Writer:
    def __init__(self, hs, portal: Portal):
        self.hs, self.portal = hs, portal

    def add(self, otype: str, props: dict, at: datetime) -> Record:
        ms = int(at.timestamp() * 1000)
        rid = self.portal.next_id()
        props = {k: v for k, v in props.items() if v not in (None, "")}
        props.update(hs_object_id=rid, createdate=iso_ms(ms), hs_lastmodifieddate=iso_ms(ms))
        if otype == "contacts":
            props["lastmodifieddate"] = iso_ms(ms)
        rec = Record(rid, props, ms, ms)
        self.hs.crm._derive(self.portal, otype, rec)
        table = self.portal.table(otype)
        table.records[rid] = rec
        table.reindex(rec)
        return rec

    def link(self, ftype: str, fid: str, ttype: str, tid: str, type_ids: list[int]) -> None:
        fwd = self.portal.assoc.setdefault((ftype, fid), {}).setdefault((ttype, tid), set())
        back = self.portal.assoc.setdefault((ttype, tid), {}).setdefault((ftype, fid), set())
        for t in type_ids:
            fwd.add(t)
            back.add(schema.INVERSE_TYPE.get(t, t))


def _country(rng: random.Random) -> str:
    r, acc = rng.random(), 0.0
    for code, weight in COUNTRY_WEIGHTS:
        acc += weight
        if r < acc:
            return code
    return "DE"


def _address(rng: random.Random, code: str, broken: str | None) -> dict:
    spec = ADDRESSES[code]
    city, zipcode, state = rng.choice(spec["cities"])
    street = rng.choice(spec["streets"])
    number = str(rng.randint(1, 180))
    address = f"{street} {number}" if spec["form"] == "street_number" else f"{number} {street}"
    out = {"address": address, "city": city, "zip": zipcode, "country": code,
           "state": state if code in ("US", "DE") else ""}
    if rng.random() < 0.1:
        out["address2"] = rng.choice(["Gebäude B", "Suite 200", "2nd Floor", "Bâtiment A"])
    if broken == "missing_zip":
        out["zip"] = ""
    elif broken == "country_uk":
        out["country"] = "UK"
    elif broken == "country_name":
        out["country"] = {"DE": "Germany", "US": "United States", "GB": "United Kingdom", "FR": "France"}[code]
    elif broken == "us_without_state":
        out["state"] = ""
    elif broken == "state_xx":
        out["state"] = "XX"
    elif broken == "no_house_number":
        out["address"] = street
    elif broken == "no_street":
        out["address"] = ""
        out.pop("address2", None)
    return out


def seed_portal(hs, portal: Portal, companies: int = 40, contacts_per_company: int = 2, deals_per_company: int = 1,
                closed_won_ratio: float = 0.3, products: int = 8, line_items_per_deal: int = 1,
                enterprise_ratio: float = 0.25, seed: int = 42, broken_ratio: float = BROKEN_RATIO,
                demo: bool = False) -> dict:
    rng = random.Random(seed)
    w = _Writer(hs, portal)
    enterprise = _ensure_enterprise(portal)
    ent_won = next(s["id"] for s in enterprise["stages"] if s["metadata"]["probability"] == "1.0")
    ent_lost = next(s["id"] for s in enterprise["stages"] if s["metadata"]["probability"] == "0.0")
    ent_open = [s["id"] for s in enterprise["stages"] if s["metadata"]["isClosed"] == "false"]
    contacts_table = portal.table("contacts")

    product_recs = []
    for i in range(products):
        plan, price = PLANS[i % len(PLANS)]
        annual = (i // len(PLANS)) % 2 == 1
        product_recs.append(w.add("products", {
            "name": f"hubwerk {plan} ({'annual' if annual else 'monthly'})",
            "description": f"{plan} plan, billed {'annually' if annual else 'monthly'}",
            "price": str(price * 10 if annual else price), "hs_sku": f"SKU-{plan.upper()}-{'Y' if annual else 'M'}-{i}",
            "recurringbillingfrequency": "annually" if annual else "monthly",
            "hs_recurring_billing_period": "P12M" if annual else "P1M",
        }, BASE_TIME - timedelta(days=400 - i)))

    won = set(rng.sample(range(companies), round(companies * closed_won_ratio))) if companies else set()
    demo_broken = dict(zip(sorted(won), DEMO_PROBLEMS)) if demo else {}
    demo_open = min((i for i in range(companies) if i not in won), default=None) if demo else None
    report = {"companies": 0, "contacts": 0, "deals": 0, "products": len(product_recs), "line_items": 0,
              "closed_won_companies": len(won),
              "broken_addresses": {k: 0 for k in BROKEN + [k for k in DEMO_PROBLEMS if demo and k not in BROKEN]},
              "enterprise_pipeline_id": enterprise["id"], "company_ids": [], "closed_won_company_ids": []}
    if demo:
        report["demo_deal_id"] = None
    for i in range(companies):
        code = _country(rng)
        broken = rng.choice(BROKEN) if rng.random() < broken_ratio else None
        if i in demo_broken:
            broken = demo_broken[i]
        elif i == demo_open:
            broken = None
        if broken == "us_without_state" or broken == "state_xx":
            code = "US"
        if broken == "country_uk":
            code = "GB"
        if broken == "country_name" and code not in ADDRESSES:
            code = "DE"
        spec = ADDRESSES[code]
        base = f"{NAME_A[i % len(NAME_A)]} {NAME_B[(i // len(NAME_A)) % len(NAME_B)]}"
        cycle = i // (len(NAME_A) * len(NAME_B))
        name = f"{base}{f' {cycle + 1}' if cycle else ''} {rng.choice(spec['legal'])}"
        domain = f"{_slug(base)}{cycle + 1 if cycle else ''}.{spec['tld']}"
        created = BASE_TIME + timedelta(minutes=17 * i)
        props = {"name": name, "domain": domain, "website": f"https://www.{domain}",
                 "phone": spec["phone"].format(n=rng.randint(1000000, 9999999)),
                 "industry": rng.choice(schema.INDUSTRIES), "numberofemployees": str(rng.choice([5, 12, 40, 120, 800])),
                 "lifecyclestage": "customer" if i in won else rng.choice(["lead", "opportunity", "salesqualifiedlead"])}
        props.update(_address(rng, code, broken))
        company = w.add("companies", props, created)
        report["companies"] += 1
        report["company_ids"].append(company.id)
        if broken:
            report["broken_addresses"][broken] += 1

        contact_ids = []
        for c in range(contacts_per_company):
            first, last = rng.choice(FIRST[code]), rng.choice(LAST[code])
            email = ""
            if rng.random() >= 0.1 or (i == demo_open and c == 0):
                email = f"{_slug(first)}.{_slug(last)}@{domain}"
                if contacts_table.find_unique("email", email):
                    email = f"{_slug(first)}.{_slug(last)}{c}.{i}@{domain}"
            contact = w.add("contacts", {"firstname": first, "lastname": last, "email": email,
                                         "phone": spec["phone"].format(n=rng.randint(1000000, 9999999)),
                                         "company": name, "jobtitle": rng.choice(["CEO", "CFO", "Head of Finance",
                                                                                  "Office Manager", "CTO"]),
                                         "associatedcompanyid": company.id, "lifecyclestage": props["lifecyclestage"]},
                            created + timedelta(minutes=1 + c))
            w.link("contacts", contact.id, "companies", company.id, [279, 1])
            contact_ids.append(contact.id)
            report["contacts"] += 1

        for d in range(deals_per_company):
            plan, price = rng.choice(PLANS)
            on_enterprise = rng.random() < enterprise_ratio
            if i in won and d == 0:
                pipeline, stage = (enterprise["id"], ent_won) if on_enterprise else ("default", "closedwon")
            elif on_enterprise:
                pipeline, stage = enterprise["id"], rng.choice(ent_open + [ent_lost])
            else:
                pipeline, stage = "default", rng.choice(OPEN_STAGES + ["closedlost"])
            if i == demo_open and d == 0:
                pipeline, stage = "default", "contractsent"
            closed = created + timedelta(days=rng.randint(3, 60))
            deal = w.add("deals", {"dealname": f"{name} – {plan}", "amount": str(price * 12), "pipeline": pipeline,
                                   "dealstage": stage, "closedate": iso_ms(int(closed.timestamp() * 1000)),
                                   "dealtype": "newbusiness", "deal_currency_code": "USD" if code == "US" else "EUR"},
                         created + timedelta(minutes=5 + d))
            w.link("deals", deal.id, "companies", company.id, [341, 5])
            if contact_ids:
                w.link("deals", deal.id, "contacts", contact_ids[0], [3])
            report["deals"] += 1
            if i == demo_open and d == 0:
                report["demo_deal_id"] = deal.id
            is_won = deal.properties.get("hs_is_closed_won") == "true"
            if is_won and d == 0:
                report["closed_won_company_ids"].append(company.id)
            if is_won and product_recs:
                for n in range(line_items_per_deal):
                    prod = rng.choice(product_recs)
                    li = w.add("line_items", {"name": prod.properties["name"], "quantity": str(rng.randint(1, 5)),
                                              "price": prod.properties["price"], "hs_product_id": prod.id,
                                              "hs_sku": prod.properties.get("hs_sku", ""),
                                              "recurringbillingfrequency": prod.properties["recurringbillingfrequency"],
                                              "hs_recurring_billing_period": prod.properties["hs_recurring_billing_period"]},
                               created + timedelta(minutes=6 + n))
                    w.link("deals", deal.id, "line_items", li.id, [19])
                    report["line_items"] += 1
    return report

"""Deterministic demo and benchmark data, written straight into the store (no webhooks).

``seed(catalog_items=60, customers=10)`` gives **every entity** of the account:

* a catalogue of exactly ``catalog_items`` sellable items (plan variants + components +
  discounts), built group by group: each plan group has two plans with a monthly and a yearly
  plan variant, two quantity-based components (seats, storage), an on/off component (premium
  support), a metered component in every other group, a relative (percentage) and an absolute
  discount. The first two groups carry the coupons ``WELCOME10`` and ``SAVE5``. Every 23rd item
  is hidden. The starter plan's monthly variant of every third group has a 14-day trial. Monthly
  starter variants and all yearly variants allow signup without payment data. Names and
  descriptions are localized (``_c``, ``de``, ``en``). Prices are in the entity's currency.
* ``customers`` customers (``ExternalCustomerId`` ``seed-0001`` …) and, for four out of five,
  ``contracts_per_customer`` active contracts paying by credit card, direct debit or invoice,
  with a seat subscription and one invoice.

The same calls in the same order always produce the same ids, names and prices; billing dates
(``BilledUntil``/``NextBillingDate``) are computed against the sandbox clock.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from .customers import new_customer
from .formats import add_period, fmt_ts
from .invoices import create_invoice
from .pricing import price, vat_rate

SEED_EPOCH = datetime(2025, 1, 6, 9, 0, 0)

GROUPS = ("Cloud", "Analytics", "Commerce", "Security", "Collaboration", "Marketing", "Logistics", "Finance")
TIERS = (("Starter", "Einsteiger"), ("Pro", "Profi"), ("Business", "Business"), ("Enterprise", "Enterprise"))
COMPANIES = ("Nordlicht", "Bergwerk", "Flusswerk", "Sonnenhof", "Seeblick", "Waldhaus", "Eisenhut", "Kranich",
             "Blauwal", "Morgenrot", "Silberling", "Feldstein")
FIRST = ("Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Klara", "Lukas")
LAST = ("Schmidt", "Müller", "Weber", "Fischer", "Wagner", "Becker", "Hoffmann", "Koch", "Richter", "Klein")
STREETS = ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße", "Lindenallee", "Marktplatz")
CITIES_DE = (("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"), ("50667", "Köln"), ("60311", "Frankfurt am Main"))
CITIES_GB = (("EC1A 1BB", "London"), ("M1 1AE", "Manchester"), ("B1 1AA", "Birmingham"), ("LS1 1UR", "Leeds"))
COUPONS = ("WELCOME10", "SAVE5")

MONTH = {"Unit": "Month", "Quantity": 1}
YEAR = {"Unit": "Year", "Quantity": 1}


def _text(c: str, de: str, en: str | None = None) -> dict:
    return {"_c": c, "de": de, "en": en or c}


def seed_catalog(sb, entity, items: int) -> dict:
    """Write ``items`` sellable catalogue items for ``entity``; returns the ids by kind."""
    store, e = sb.store, entity.id
    made = {"plan_groups": [], "plans": [], "plan_variants": [], "components": [], "discounts": [], "coupons": []}
    count = 0
    g = 0
    while count < items:
        gname = f"{GROUPS[g % len(GROUPS)]} {g // len(GROUPS) + 1}"
        group = store.insert("plan_groups", {
            "Id": store.new_id(), "InternalName": gname, "Name": _text(gname, gname),
            "Description": _text(f"{gname} products", f"{gname}-Produkte"), "Hidden": False, "_entity": e})
        made["plan_groups"].append(group["Id"])
        gid = group["Id"]

        def counted(table, obj):
            nonlocal count
            obj.setdefault("Hidden", count % 23 == 22)
            obj.update({"IsDeletable": False, "_entity": e})
            count += 1
            made[table].append(obj["Id"])
            return store.insert(table, obj)

        monthly_ids = []
        for p in range(2):
            if count >= items:
                break
            tier, tier_de = TIERS[(g + p) % len(TIERS)]
            pname = f"{gname} {tier}"
            plan = store.insert("plans", {
                "Id": store.new_id(), "PlanGroupId": gid, "InternalName": pname, "ExternalId": f"plan-{g}-{p}",
                "Name": _text(pname, f"{gname} {tier_de}"), "Description": _text(f"{pname} plan", f"Tarif {gname} {tier_de}"),
                "Hidden": False, "_entity": e})
            made["plans"].append(plan["Id"])
            fee = float(9 + (g * 7 + p * 20) % 90) + 0.9 * p
            for yearly in (False, True):
                if count >= items:
                    break
                label, label_de = ("yearly", "jährlich") if yearly else ("monthly", "monatlich")
                period = YEAR if yearly else MONTH
                variant = {
                    "Id": store.new_id(), "PlanId": plan["Id"], "PlanGroupId": gid,
                    "InternalName": f"{pname} {label}", "ExternalId": f"{pname.lower().replace(' ', '-')}-{label}",
                    "Name": _text(f"{pname} ({label})", f"{gname} {tier_de} ({label_de})"),
                    "Description": _text(f"{pname} ({label})", f"{gname} {tier_de} ({label_de})"),
                    "Currency": entity.currency,
                    "ContractPeriod": YEAR if yearly else {"Unit": "Month", "Quantity": 12 if p else 1},
                    "LaterContractPeriod": period,
                    "CancellationPeriod": {"Unit": "Month", "Quantity": 3 if yearly else 1},
                    "LaterCancellationPeriod": MONTH,
                    "BillingPeriod": period, "FeePeriod": period,
                    "PaymentPeriodMode": "PrePaid", "BillingDateAlignment": "None",
                    "RecurringFee": round(fee * 10, 2) if yearly else fee, "SetupFee": 0.0 if p == 0 else 49.0,
                    "Quota": [], "EndAfterFirstContractPeriod": False, "AfterFirstContractPeriodNextStep": "Continue",
                    "AllowSelfService": True, "AllowWithoutPaymentData": yearly or p == 0,
                }
                if not yearly and p == 0 and g % 3 == 2:
                    variant["TrialPeriod"] = {"Unit": "Day", "Quantity": 14}
                counted("plan_variants", variant)
                if not yearly:
                    monthly_ids.append(variant["Id"])
        comps = [
            ("Seats", "Arbeitsplätze", "QuantityBased", 5.0 + g % 5, "Seat"),
            ("Storage", "Speicher", "QuantityBased", 0.5, "GB"),
            ("Premium support", "Premium-Support", "OnOff", 29.0, None),
        ]
        if g % 2 == 1:
            comps.append(("API calls", "API-Aufrufe", "Metered", 0.01, "Call"))
        for name, name_de, ctype, unit, qunit in comps:
            if count >= items:
                break
            counted("components", {
                "Id": store.new_id(), "PlanGroupId": gid, "InternalName": f"{gname} {name}",
                "ExternalId": f"{gname.lower().replace(' ', '-')}-{name.lower().replace(' ', '-')}",
                "Name": _text(name, name_de), "Description": _text(f"{name} ({gname})", f"{name_de} ({gname})"),
                "ComponentType": ctype, "PricePerUnit": unit, "FeePeriod": MONTH, "QuantityUnit": qunit,
                "Currency": entity.currency})
        disc_ids = []
        for kind in ("Relative", "Absolute"):
            if count >= items:
                break
            if kind == "Relative":
                pct = 10 + (g % 3) * 10
                effect = {"Type": "Relative", "ReductionPercent": pct}
                name, name_de = f"{gname} {pct}% off", f"{gname} {pct} % Rabatt"
            else:
                effect = {"Type": "Absolute", "FixedAmount": 5.0}
                name, name_de = f"{gname} 5 off", f"{gname} 5 Rabatt"
            disc = counted("discounts", {
                "Id": store.new_id(), "PlanGroupId": gid, "InternalName": name,
                "Description": _text(name, name_de), "Name": _text(name, name_de),
                "Duration": {"Unit": "Month", "Quantity": 3}, "Effect": effect,
                "Targets": {vid: True for vid in monthly_ids} if kind == "Relative" else {},
                "IncludeSetup": False, "CreateSeparateLineItem": True})
            disc_ids.append(disc["Id"])
        if g < len(COUPONS) and disc_ids:
            code = COUPONS[g]
            made["coupons"].append(store.insert("coupons", {
                "Id": store.new_id(), "InternalName": code, "Code": code,
                "Description": _text(f"Coupon {code}", f"Gutschein {code}"), "DiscountId": disc_ids[0],
                "Hidden": False, "_entity": e})["Id"])
        g += 1
    return made


def seed_customers(sb, entity, n: int, contracts_per_customer: int, catalog: dict) -> dict:
    store, e = sb.store, entity.id
    made = {"customers": [], "contracts": []}
    variants = [store.tables["plan_variants"][v] for v in catalog["plan_variants"]]
    variants = [v for v in variants if not v["Hidden"] and not v.get("TrialPeriod")]
    seats = {store.tables["components"][c]["PlanGroupId"]: c for c in catalog["components"]
             if store.tables["components"][c]["InternalName"].endswith("Seats")}
    uk = entity.country == "GB"
    offset = sum(1 for _ in store.scan("customers", e))
    for i in range(offset, offset + n):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        company = f"{COMPANIES[i % len(COMPANIES)]} {'Ltd' if uk else 'GmbH'}"
        if i >= len(COMPANIES):
            company += f" {i // len(COMPANIES) + 1}"
        postal, city = (CITIES_GB if uk else CITIES_DE)[i % len(CITIES_GB if uk else CITIES_DE)]
        created = SEED_EPOCH + timedelta(days=i, hours=i % 7)
        cust = new_customer(sb, e, {
            "ExternalCustomerId": f"seed-{i + 1:04d}", "CompanyName": company, "FirstName": first, "LastName": last,
            "EmailAddress": f"{first.lower()}.{i + 1}@example.{'co.uk' if uk else 'de'}".replace("ü", "ue"),
            "PhoneNumber": f"+{'44 20' if uk else '49 30'} {1000000 + i * 37}", "Language": "en-GB" if uk else "de-DE",
            "Locale": "en-GB" if uk else "de-DE",
            "VatId": f"{'GB' if uk else 'DE'}{100000000 + i}" if i % 2 == 0 else None,
            "Address": {"Street": STREETS[i % len(STREETS)], "HouseNumber": str(1 + i % 120), "PostalCode": postal,
                        "City": city, "Country": "GB" if uk else "DE"},
            "CustomFields": {"segment": ("smb", "mid", "enterprise")[i % 3]},
        }, created_at=created)
        made["customers"].append(cust["Id"])
        if i % 5 == 4 or not variants:
            continue
        for k in range(contracts_per_customer):
            made["contracts"].append(_seed_contract(sb, entity, cust, variants[(i + k * 3) % len(variants)],
                                                    seats, i, created)["Id"])
    return made


def _seed_contract(sb, entity, cust, variant, seats, i, created):
    store, e = sb.store, entity.id
    now = sb.now()
    start = created
    billed = add_period(start, variant["BillingPeriod"])
    while billed <= now:
        billed = add_period(billed, variant["BillingPeriod"])
    style = i % 3
    holder = f"{cust['FirstName']} {cust['LastName']}"
    if style == 0:
        payment = {"PaymentProvider": "Stripe", "PaymentProviderRole": "CreditCard", "PaymentMethod": "CreditCard:Stripe",
                   "PaymentBearer": {"Type": "CreditCard", "CardType": "visa", "Country": entity.country,
                                     "ExpiryMonth": 1 + i % 12, "ExpiryYear": 2030, "Holder": holder,
                                     "Last4": f"{4242 + i:04d}"[-4:]}}
    elif style == 1:
        payment = {"PaymentProvider": "PayOne", "PaymentProviderRole": "Debit", "PaymentMethod": "Debit:PayOne",
                   "PaymentBearer": {"Type": "BankAccount", "Code": "37040044", "Holder": holder,
                                     "Country": entity.country.lower(), "Account": f"*****{3000 + i:04d}"[-9:]}}
    else:
        payment = {"PaymentProvider": "InvoicePayment", "PaymentMethod": "InvoicePayment", "PaymentBearer": None}
    contract = store.insert("contracts", {
        "Id": store.new_id(), "CustomerId": cust["Id"], "ExternalId": f"seed-contract-{i + 1:04d}" if i % 2 else None,
        "ReferenceCode": f"{i + 1:06d}", "Balance": 0.0, "Currency": entity.currency,
        "CreatedAt": fmt_ts(start), "StartDate": fmt_ts(start), "EndDate": None, "TrialEndDate": None,
        "BilledUntil": fmt_ts(billed), "LastBillingDate": fmt_ts(add_period(billed, variant["BillingPeriod"], -1)),
        "NextBillingDate": fmt_ts(billed),
        "Phases": [{"Type": "Normal", "StartDate": fmt_ts(start), "PlanGroupId": variant["PlanGroupId"],
                    "PlanId": variant["PlanId"], "PlanVariantId": variant["Id"]}],
        **payment, "EscalationSuspended": False, "RecurringPaymentsPaused": False, "BillingSuspended": False,
        "OnAccountDueAfter": {"Unit": "Day", "Quantity": 30} if style == 2 else None, "Notes": None,
        "CustomFields": {"costcenter": f"CC-{100 + i}"}, "_entity": e})
    comps = []
    seat = seats.get(variant["PlanGroupId"])
    if seat:
        qty = float(1 + i % 5)
        store.insert("component_subscriptions", {
            "Id": store.new_id(), "ContractId": contract["Id"], "CustomerId": cust["Id"], "ComponentId": seat,
            "Quantity": qty, "StartDate": fmt_ts(start), "EndDate": None, "ProductOverride": None, "_entity": e})
        comps.append((store.tables["components"][seat], qty))
    rate = vat_rate(entity.country, cust["Address"]["Country"], cust.get("VatId"))
    totals = price(variant, comps, [], signup=False, rate=rate)
    create_invoice(sb, contract, cust, totals["lines"], totals, when=add_period(billed, variant["BillingPeriod"], -1))
    if style == 2:
        contract["Balance"] = -totals["TotalGross"]
    return contract


def seed(sb, catalog_items: int = 60, customers: int = 10, contracts_per_customer: int = 1,
         client_id: str | None = None, entity_ids: list[str] | None = None) -> dict:
    """Seed every (or the given) entity of one account; returns ids per entity and kind."""
    with sb.store.lock:
        account = sb.store.accounts[client_id or sb.settings.default_client_id]
        summary = {}
        for entity in account.entities:
            if entity_ids and entity.id not in entity_ids:
                continue
            catalog = seed_catalog(sb, entity, int(catalog_items))
            people = seed_customers(sb, entity, int(customers), int(contracts_per_customer), catalog)
            summary[entity.id] = {k: len(v) for k, v in {**catalog, **people}.items()}
        return summary

"""HubSpot's built-in schema: object types, default properties and groups, the default
deal pipeline and the HUBSPOT_DEFINED association types (reference §7)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectType:
    name: str            # plural API name, e.g. "companies"
    type_id: str         # e.g. "0-2"
    singular: str        # e.g. "company" (webhook subscription prefix)
    label: str           # e.g. "Company" (messages)
    scope: str           # scope stem, e.g. "companies"
    group: str           # default property group
    default_properties: tuple[str, ...]
    search_properties: tuple[str, ...]   # searched by the free-text ``query``


OBJECT_TYPES: dict[str, ObjectType] = {t.name: t for t in (
    ObjectType("contacts", "0-1", "contact", "Contact", "contacts", "contactinformation",
               ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
               ("firstname", "lastname", "email", "phone", "company")),
    ObjectType("companies", "0-2", "company", "Company", "companies", "companyinformation",
               ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
               ("name", "domain", "phone", "website")),
    ObjectType("deals", "0-3", "deal", "Deal", "deals", "dealinformation",
               ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
                "hs_object_id", "pipeline"),
               ("dealname",)),
    ObjectType("products", "0-7", "product", "Product", "products", "productinformation",
               ("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price"),
               ("name", "description", "hs_sku")),
    ObjectType("line_items", "0-8", "line_item", "Line item", "line_items", "lineiteminformation",
               ("amount", "createdate", "hs_lastmodifieddate", "hs_object_id", "name", "price", "quantity"),
               ("name",)),
)}

_ALIASES = {t.type_id: t.name for t in OBJECT_TYPES.values()}
_ALIASES.update({t.singular: t.name for t in OBJECT_TYPES.values()})
_ALIASES.update({"contact": "contacts", "company": "companies", "deal": "deals", "product": "products",
                 "line_item": "line_items", "lineitem": "line_items", "line_items": "line_items"})


def resolve_type(name: str) -> ObjectType | None:
    """Object type by plural name, singular name or type id (``0-2``); case-insensitive."""
    key = (name or "").lower()
    key = _ALIASES.get(key, key)
    return OBJECT_TYPES.get(key)


# --- properties -----------------------------------------------------------------------------

RECURRING_FREQUENCIES = [
    ("Weekly", "weekly"), ("Biweekly", "biweekly"), ("Monthly", "monthly"), ("Quarterly", "quarterly"),
    ("Per six months", "per_six_months"), ("Annually", "annually"), ("Per two years", "per_two_years"),
    ("Per three years", "per_three_years"), ("Per four years", "per_four_years"),
    ("Per five years", "per_five_years"),
]
INDUSTRIES = ["COMPUTER_SOFTWARE", "INFORMATION_TECHNOLOGY_AND_SERVICES", "MARKETING_AND_ADVERTISING",
              "FINANCIAL_SERVICES", "RETAIL", "MANUFACTURING", "CONSULTING", "HOSPITAL_HEALTH_CARE",
              "TELECOMMUNICATIONS", "EDUCATION_MANAGEMENT", "LOGISTICS_AND_SUPPLY_CHAIN", "INTERNET"]
LIFECYCLE = [("Subscriber", "subscriber"), ("Lead", "lead"), ("Marketing Qualified Lead", "marketingqualifiedlead"),
             ("Sales Qualified Lead", "salesqualifiedlead"), ("Opportunity", "opportunity"),
             ("Customer", "customer"), ("Evangelist", "evangelist"), ("Other", "other")]

# (name, label, type, fieldType, extra) -- extra keys: options, unique, readonly, calculated, integer, external
_COMMON = [
    ("hs_object_id", "Record ID", "number", "number", {"unique": True, "readonly": True, "integer": True}),
    ("createdate", "Create Date", "datetime", "date", {"readonly": True}),
    ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", {"readonly": True}),
    ("hubspot_owner_id", "Owner", "enumeration", "select", {"external": True}),
    ("hs_created_by_user_id", "Created by user ID", "number", "number", {"readonly": True}),
]

_BUILTIN: dict[str, list] = {
    "companies": [
        ("name", "Company name", "string", "text", {}),
        ("domain", "Company Domain Name", "string", "text", {}),
        ("website", "Website URL", "string", "text", {}),
        ("address", "Street Address", "string", "text", {}),
        ("address2", "Street Address 2", "string", "text", {}),
        ("city", "City", "string", "text", {}),
        ("zip", "Postal Code", "string", "text", {}),
        ("state", "State/Region", "string", "text", {}),
        ("country", "Country/Region", "string", "text", {}),
        ("phone", "Phone Number", "string", "phonenumber", {}),
        ("industry", "Industry", "enumeration", "select", {"options": [(v.replace("_", " ").title(), v) for v in INDUSTRIES]}),
        ("description", "Description", "string", "textarea", {}),
        ("numberofemployees", "Number of Employees", "number", "number", {"integer": True}),
        ("annualrevenue", "Annual Revenue", "number", "number", {}),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", {"options": LIFECYCLE}),
        ("hs_is_target_account", "Target Account", "bool", "booleancheckbox", {}),
        ("num_associated_contacts", "Number of Associated Contacts", "number", "number", {"readonly": True, "calculated": True}),
        ("num_associated_deals", "Number of Associated Deals", "number", "number", {"readonly": True, "calculated": True}),
    ],
    "contacts": [
        ("firstname", "First Name", "string", "text", {}),
        ("lastname", "Last Name", "string", "text", {}),
        ("email", "Email", "string", "text", {"unique": True}),
        ("phone", "Phone Number", "string", "phonenumber", {}),
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber", {}),
        ("company", "Company Name", "string", "text", {}),
        ("jobtitle", "Job Title", "string", "text", {}),
        ("address", "Street Address", "string", "text", {}),
        ("city", "City", "string", "text", {}),
        ("zip", "Postal Code", "string", "text", {}),
        ("state", "State/Region", "string", "text", {}),
        ("country", "Country/Region", "string", "text", {}),
        ("website", "Website URL", "string", "text", {}),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", {"options": LIFECYCLE}),
        ("associatedcompanyid", "Primary Associated Company ID", "number", "number", {"integer": True}),
        ("lastmodifieddate", "Last Modified Date", "datetime", "date", {"readonly": True}),
        ("hs_language", "Preferred language", "enumeration", "select",
         {"options": [("German", "de"), ("English", "en"), ("French", "fr")]}),
    ],
    "deals": [
        ("dealname", "Deal Name", "string", "text", {}),
        ("amount", "Amount", "number", "number", {}),
        ("dealstage", "Deal Stage", "enumeration", "radio", {"external": True}),
        ("pipeline", "Pipeline", "enumeration", "select", {"external": True}),
        ("closedate", "Close Date", "datetime", "date", {}),
        ("dealtype", "Deal Type", "enumeration", "radio",
         {"options": [("New Business", "newbusiness"), ("Existing Business", "existingbusiness")]}),
        ("description", "Deal Description", "string", "textarea", {}),
        ("deal_currency_code", "Currency", "enumeration", "select",
         {"options": [("Euro", "EUR"), ("US Dollar", "USD"), ("British Pound", "GBP")]}),
        ("hs_priority", "Priority", "enumeration", "select", {"options": [("Low", "low"), ("Medium", "medium"), ("High", "high")]}),
        ("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox", {"readonly": True, "calculated": True}),
        ("hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox", {"readonly": True, "calculated": True}),
        ("hs_deal_stage_probability", "Deal probability", "number", "number", {"readonly": True, "calculated": True}),
        ("num_associated_contacts", "Number of Associated Contacts", "number", "number", {"readonly": True, "calculated": True}),
    ],
    "products": [
        ("name", "Name", "string", "text", {}),
        ("description", "Description", "string", "textarea", {}),
        ("price", "Unit price", "number", "number", {}),
        ("hs_sku", "SKU", "string", "text", {}),
        ("hs_cost_of_goods_sold", "Unit cost", "number", "number", {}),
        ("recurringbillingfrequency", "Billing frequency", "enumeration", "select", {"options": RECURRING_FREQUENCIES}),
        ("hs_recurring_billing_period", "Term", "string", "text", {}),
        ("hs_product_type", "Product type", "enumeration", "select",
         {"options": [("Inventory", "inventory"), ("Non-inventory", "non_inventory"), ("Service", "service")]}),
        ("hs_url", "Product URL", "string", "text", {}),
        ("tax", "Tax", "number", "number", {}),
    ],
    "line_items": [
        ("name", "Name", "string", "text", {}),
        ("description", "Description", "string", "textarea", {}),
        ("quantity", "Quantity", "number", "number", {}),
        ("price", "Unit price", "number", "number", {}),
        ("amount", "Net price", "number", "number", {"readonly": True, "calculated": True}),
        ("discount", "Unit discount", "number", "number", {}),
        ("hs_discount_percentage", "Discount percentage", "number", "number", {}),
        ("hs_product_id", "Product ID", "number", "number", {"integer": True}),
        ("hs_sku", "SKU", "string", "text", {}),
        ("recurringbillingfrequency", "Billing frequency", "enumeration", "select", {"options": RECURRING_FREQUENCIES}),
        ("hs_recurring_billing_period", "Term", "string", "text", {}),
        ("hs_recurring_billing_start_date", "Billing start date", "date", "date", {}),
        ("hs_recurring_billing_number_of_payments", "Number of payments", "number", "number", {"integer": True}),
    ],
}

GROUPS = {
    "companies": [("companyinformation", "Company information"), ("company_activity", "Company activity")],
    "contacts": [("contactinformation", "Contact information"), ("contact_activity", "Contact activity")],
    "deals": [("dealinformation", "Deal information"), ("deal_activity", "Deal activity")],
    "products": [("productinformation", "Product information")],
    "line_items": [("lineiteminformation", "Line item information")],
}


def builtin_property_specs(object_type: str) -> list:
    """``(name, label, type, fieldType, extra)`` for every built-in property of a type."""
    specs = list(_BUILTIN[object_type])
    names = {s[0] for s in specs}
    specs += [c for c in _COMMON if c[0] not in names]
    return specs


# --- pipelines --------------------------------------------------------------------------------

DEFAULT_DEAL_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", 0.2, False),
    ("qualifiedtobuy", "Qualified To Buy", 0.4, False),
    ("presentationscheduled", "Presentation Scheduled", 0.6, False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", 0.8, False),
    ("contractsent", "Contract Sent", 0.9, False),
    ("closedwon", "Closed Won", 1.0, True),
    ("closedlost", "Closed Lost", 0.0, True),
]

# --- associations -----------------------------------------------------------------------------

# (from, to) -> list of (typeId, label, is_primary). The first non-primary entry is the default.
ASSOCIATION_TYPES: dict[tuple[str, str], list[tuple[int, str | None, bool]]] = {
    ("contacts", "companies"): [(279, None, False), (1, "Primary", True)],
    ("companies", "contacts"): [(280, None, False), (2, "Primary", True)],
    ("deals", "contacts"): [(3, None, False)],
    ("contacts", "deals"): [(4, None, False)],
    ("deals", "companies"): [(341, None, False), (5, "Primary", True)],
    ("companies", "deals"): [(342, None, False), (6, "Primary", True)],
    ("deals", "line_items"): [(19, None, False)],
    ("line_items", "deals"): [(20, None, False)],
    ("deals", "deals"): [(451, None, False)],
    ("companies", "companies"): [(450, None, False), (13, "Parent Company", False), (14, "Child Company", False)],
    ("contacts", "contacts"): [(449, None, False)],
}

# typeId -> inverse typeId (the same association seen from the other side)
INVERSE_TYPE = {279: 280, 280: 279, 1: 2, 2: 1, 3: 4, 4: 3, 341: 342, 342: 341, 5: 6, 6: 5,
                19: 20, 20: 19, 451: 451, 450: 450, 449: 449, 13: 14, 14: 13}


def association_types(from_type: str, to_type: str) -> list[tuple[int, str | None, bool]]:
    return ASSOCIATION_TYPES.get((from_type, to_type), [])


def default_association_type(from_type: str, to_type: str) -> int | None:
    for type_id, _label, primary in association_types(from_type, to_type):
        if not primary:
            return type_id
    return None


def association_label(from_type: str, to_type: str, type_id: int) -> str | None:
    for tid, label, _primary in association_types(from_type, to_type):
        if tid == type_id:
            return label
    return None


def is_primary_type(from_type: str, to_type: str, type_id: int) -> bool:
    return any(tid == type_id and primary for tid, _l, primary in association_types(from_type, to_type))


def v3_association_name(from_type: str, to_type: str, type_id: int) -> str:
    """v3 ``associations`` row type: ``deal_to_company`` for the primary type (or the only
    type of a pair without primary), ``deal_to_company_unlabeled`` for the default type
    beside a primary one, ``<base>_<label>`` for other labels."""
    base = f"{OBJECT_TYPES[from_type].singular}_to_{OBJECT_TYPES[to_type].singular}"
    has_primary = any(primary for _t, _l, primary in association_types(from_type, to_type))
    if is_primary_type(from_type, to_type, type_id):
        return base
    if type_id == default_association_type(from_type, to_type):
        return base + "_unlabeled" if has_primary else base
    label = association_label(from_type, to_type, type_id)
    return f"{base}_{(label or str(type_id)).lower().replace(' ', '_')}"


def webhook_association_type(from_type: str, to_type: str) -> str:
    return f"{OBJECT_TYPES[from_type].singular}_TO_{OBJECT_TYPES[to_type].singular}".upper()

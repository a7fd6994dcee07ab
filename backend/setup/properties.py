"""The HubSpot properties the connector owns, as data.

Enumeration values keep billwerk's spelling; labels are the quoted words of the contract.
``billwerk_entity`` gets its options from the connected billwerk account at provisioning time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from backend.mapping.customer import LOCALES

GROUP = {"name": "billwerk", "label": "billwerk", "displayOrder": -1}
CUSTOM_FIELDS_GROUP = {"name": "billwerk_custom_fields_sync", "label": "Billwerk custom fields sync", "displayOrder": -1}

FIELD_TYPES = {"string": "text", "number": "number", "bool": "booleancheckbox", "date": "date", "enumeration": "select"}
BOOL_OPTIONS = (("true", "Yes"), ("false", "No"))


@dataclass(frozen=True)
class PropertySpec:
    name: str
    label: str
    type: str
    description: str = ""
    options: tuple[tuple[str, str], ...] = ()
    unique: bool = False
    textarea: bool = False
    entity_options: bool = False  # options are the connected billwerk entities
    extra: dict = field(default_factory=dict)

    def definition(self, entity_options: tuple[tuple[str, str], ...] = ()) -> dict:
        body = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": "textarea" if self.textarea else FIELD_TYPES[self.type],
            "groupName": GROUP["name"],
            "description": self.description,
            "formField": False,
        }
        if self.unique:
            body["hasUniqueValue"] = True
        options = self.wanted_options(entity_options)
        if self.type in ("enumeration", "bool"):
            body["options"] = [{"label": label, "value": value, "hidden": False, "displayOrder": i} for i, (value, label) in enumerate(options)]
        return body

    def wanted_options(self, entity_options: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...]:
        if self.entity_options:
            return entity_options
        if self.type == "bool":
            return BOOL_OPTIONS
        return self.options


def _entity(description: str) -> PropertySpec:
    return PropertySpec("billwerk_entity", "billwerk entity", "enumeration", description, entity_options=True)


def _s(name, label, description="", **kw):
    return PropertySpec(name, label, "string", description, **kw)


_UPDATE_STATUS = (("updated", "Successfully updated in billwerk"), ("failed", "Update failed"), ("pending", "Pending"))

DEAL = (
    PropertySpec("billwerk_deal_type", "billwerk deal type", "enumeration", "What billwerk should do with this deal.",
                 options=(("signup", "Signup"), ("signup_existing", "Signup for existing Customer"), ("upgrade", "Upgrade"))),
    PropertySpec("billwerk_validation", "billwerk validation", "enumeration", "Set to Request validation to let billwerk check the deal.",
                 options=(("request", "Request validation"), ("valid", "Successfully validated"), ("invalid", "Validation failed"),
                          ("outdated", "Changed since validation"))),
    _s("billwerk_validation_message", "billwerk validation message", "Why validation failed, one reason a line.", textarea=True),
    PropertySpec("billwerk_apply_changes", "Apply changes in billwerk", "enumeration", "Set to Request change to create the contract (or execute the up-/downgrade) once the deal is closed-won.",
                 options=(("request", "Request change"), ("applied", "Successfully applied"), ("failed", "Failed"))),
    _s("billwerk_apply_message", "billwerk apply message", "Why applying the deal in billwerk failed.", textarea=True),
    _entity("The billwerk entity of this deal (multi-entity accounts)."),
    PropertySpec("billwerk_start_date", "billwerk start date", "date", "Contract start."),
    PropertySpec("billwerk_payment_term_days", "Payment term (in days)", "number", "Individual term of payment (signup deals only)."),
    PropertySpec("billwerk_upgrade_deal", "Up-/Downgrade deal", "enumeration", "Create a follow-up deal to up- or downgrade this contract.",
                 options=(("create", "Create new Deal"),)),
    _s("billwerk_origin_deal_id", "billwerk origin deal", "On an up-/downgrade deal: the deal it came from."),
    PropertySpec("billwerk_sync_stopped", "billwerk sync stopped", "bool", "The contract moved to a newer deal."),
    _s("billwerk_customer_id", "billwerk customer ID"),
    _s("billwerk_contract_id", "billwerk contract ID"),
    _s("billwerk_order_id", "billwerk order ID"),
    _s("billwerk_lifecycle_status", "billwerk lifecycle status"),
    _s("billwerk_payment_provider", "billwerk payment provider"),
    _s("billwerk_payment_method", "billwerk payment method"),
    _s("billwerk_currency", "billwerk currency"),
    PropertySpec("billwerk_balance", "billwerk balance", "number", "Contract balance."),
    PropertySpec("billwerk_billed_until", "billwerk billed until", "date"),
    PropertySpec("billwerk_end_date", "billwerk end date", "date"),
    PropertySpec("billwerk_payment_escalated", "billwerk payment escalated", "bool", "Set by PaymentEscalated, cleared by PaymentEscalationReset."),
    _s("billwerk_last_invoice_id", "billwerk last invoice ID"),
    PropertySpec("billwerk_contract_update_status", "Updated contract in Billwerk", "enumeration",
                 "Whether the mapped custom fields of this deal reached its billwerk contract.", options=_UPDATE_STATUS),
    _s("billwerk_contract_update_message", "billwerk contract update message", "Why the contract update failed.", textarea=True),
)

COMPANY = (
    _s("billwerk_customer_id", "billwerk customer ID", "The linked billwerk customer.", unique=True),
    _entity("The billwerk entity of this company."),
    _s("billwerk_house_number", "House number"),
    _s("billwerk_vat_id", "VAT ID"),
    _s("billwerk_external_customer_id", "billwerk customer external id"),
    _s("billwerk_destination_country", "Destination country"),
    PropertySpec("billwerk_locale", "Locale", "enumeration", options=tuple((code, code) for code in LOCALES)),
    PropertySpec("billwerk_default_bearer_medium", "Default bearer medium", "enumeration", "How billwerk dispatches invoices.",
                 options=(("Email", "Email"), ("SnailMail", "Snail mail"), ("ArchiveOnly", "Archive only"), ("EInvoicing", "E-Invoicing"))),
    _s("billwerk_einvoicing_receiver_id", "E-Invoicing Receiver ID"),
    _s("billwerk_buyer_reference", "Buyer Reference"),
    PropertySpec("billwerk_einvoicing_network", "E-Invoicing Network", "enumeration", options=(("Peppol", "Peppol"), ("Finvoice", "Finvoice"))),
    PropertySpec("billwerk_customer_update_status", "Updated customer in Billwerk", "enumeration", options=_UPDATE_STATUS),
    _s("billwerk_customer_update_message", "billwerk update message", "Why the update failed.", textarea=True),
    PropertySpec("billwerk_import_status", "billwerk import status", "enumeration",
                 options=(("imported", "Imported"), ("linked", "Linked"), ("invalid", "Needs fixing"))),
    _s("billwerk_import_errors", "billwerk import problems", "Address and data problems, one a line; cleared on success.", textarea=True),
)

CONTACT = (
    _entity("The billwerk entity of this contact."),
    PropertySpec("billwerk_customer_update_status", "Updated customer in Billwerk", "enumeration", options=_UPDATE_STATUS),
    _s("billwerk_customer_update_message", "billwerk update message", "Why the update failed.", textarea=True),
)

PRODUCT = (
    _s("billwerk_id", "billwerk ID", "The billwerk plan variant, component or discount this product mirrors.", unique=True),
    PropertySpec("billwerk_object_type", "billwerk object type", "enumeration",
                 options=(("plan_variant", "Plan variant"), ("component", "Component"), ("discount", "Discount"))),
    _entity("The billwerk entity the item belongs to."),
)

PROPERTIES: dict[str, tuple[PropertySpec, ...]] = {"deals": DEAL, "companies": COMPANY, "contacts": CONTACT, "products": PRODUCT}
# The custom-field mapping group exists on deals and companies only (custom fields map only there).
GROUPS: dict[str, tuple[dict, ...]] = {
    "deals": (GROUP, CUSTOM_FIELDS_GROUP),
    "companies": (GROUP, CUSTOM_FIELDS_GROUP),
    "contacts": (GROUP,),
    "products": (GROUP,),
}

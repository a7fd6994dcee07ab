"""A HubSpot deal, its line items and their products -> a billwerk order (pure).

The flows read everything in batches and hand it over as :class:`DealInputs`; :func:`read_cart`
says what the cart is and what a rep must fix (each problem its own line, linked to the record
to fix), the ``build_*_order`` functions build the JSON billwerk gets, :func:`cart_hash` names
the cart and its inputs so a later change is noticed, and :func:`read_preview` turns billwerk's
preview into what the deal card shows, with the price differences as warnings.

The cart: the line items whose product carries a billwerk id — exactly one plan variant
(quantity 1), any components (quantity = the line item's quantity, > 0) and any discounts.
billwerk's prices apply; a line item priced differently is a warning, never a failure.

An up-/downgrade deal's cart is the contract *after* the change: the same reading, built with
:func:`build_upgrade_order` (``ContractId``, ``ChangeDate`` and the component subscriptions to
end), so both order kinds share everything up to the order body.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from .customer import build_customer, validate_customer
from .dates import parse_hubspot_date, to_billwerk_datetime
from .numbers import decimal_or_none
from .problems import Problem

DEAL_TYPES: tuple[str, ...] = ("signup", "signup_existing", "upgrade")
#: What a deal without ``billwerk_deal_type`` is: a new customer's signup (a company that already
#: has a billwerk customer simply orders for it).
DEFAULT_DEAL_TYPE = "signup"
ITEM_KINDS: tuple[str, ...] = ("plan_variant", "component", "discount")

#: Deal properties the deal flows read (validation, contract creation, the card).
DEAL_PROPERTIES: tuple[str, ...] = (
    "dealname", "dealstage", "pipeline", "amount", "closedate", "billwerk_deal_type", "billwerk_entity",
    "billwerk_start_date", "billwerk_payment_term_days", "billwerk_origin_deal_id", "billwerk_validation",
    "billwerk_validation_message", "billwerk_apply_changes", "billwerk_apply_message", "billwerk_customer_id",
    "billwerk_contract_id", "billwerk_order_id", "billwerk_sync_stopped",
)
LINE_ITEM_PROPERTIES: tuple[str, ...] = (
    "name", "quantity", "price", "discount", "hs_discount_percentage", "hs_product_id", "amount",
)
#: A change of one of these deal properties may change the order: a validated deal becomes
#: ``outdated`` (HubSpot recalculates ``amount`` whenever line items change).
CART_INPUT_PROPERTIES: frozenset[str] = frozenset({
    "amount", "billwerk_deal_type", "billwerk_entity", "billwerk_start_date", "billwerk_payment_term_days",
    "billwerk_origin_deal_id",
})

@dataclass(frozen=True)
class CatalogItem:
    """What the connector knows of the billwerk item behind a HubSpot product."""

    billwerk_id: str
    object_type: str            # plan_variant | component | discount
    entity_id: str | None
    hidden: bool = False        # hidden or deleted in billwerk: the product is archived
    known: bool = True          # False: the product names a billwerk id the catalog does not have


@dataclass
class DealInputs:
    """Everything the order is built from, read by the flow (in batches, for many deals at once)."""

    deal_id: str
    deal: Mapping[str, Any]
    line_items: list[Mapping[str, Any]]               # HubSpot records: {"id", "properties"}
    products: Mapping[str, CatalogItem | None]        # hs_product_id -> item (None: no billwerk product)
    root_entity: str
    entities: frozenset[str]                          # the connected entities
    company_id: str | None = None
    company: Mapping[str, Any] | None = None
    contact_id: str | None = None
    contact: Mapping[str, Any] | None = None
    customer_id: str | None = None                    # the company's linked billwerk customer (deal's entity)
    contract_id: str | None = None                    # upgrade: the origin deal's contract


@dataclass(frozen=True)
class CartLine:
    line_item_id: str
    name: str
    kind: str
    billwerk_id: str
    quantity: float
    price: Decimal | None                             # the line item's unit price in HubSpot
    discount: Decimal | None                          # a unit discount on the line item
    discount_percentage: Decimal | None


@dataclass
class Cart:
    deal_id: str
    deal_type: str
    entity_id: str
    company_id: str | None
    customer_id: str | None
    plan_variant: CartLine | None = None
    components: list[CartLine] = field(default_factory=list)
    discounts: list[CartLine] = field(default_factory=list)
    start_date: str | None = None                     # billwerk timestamp
    payment_term_days: int | None = None
    contract_id: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    customer: dict | None = None                      # the inline customer of a new customer's signup

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def lines(self) -> list[CartLine]:
        return ([self.plan_variant] if self.plan_variant else []) + self.components + self.discounts


# -- reading --------------------------------------------------------------------------------------

def _text(props: Mapping[str, Any] | None, name: str) -> str:
    value = (props or {}).get(name)
    return "" if value is None else str(value).strip()


def deal_entity(deal: Mapping[str, Any], company: Mapping[str, Any] | None, root_entity: str) -> str:
    """``billwerk_entity`` of the deal, else of its company, else the root entity."""
    return _text(deal, "billwerk_entity") or _text(company, "billwerk_entity") or root_entity


def deal_type(deal: Mapping[str, Any]) -> str:
    return _text(deal, "billwerk_deal_type") or DEFAULT_DEAL_TYPE


def read_cart(inputs: DealInputs) -> Cart:
    """The deal's cart and every problem that keeps billwerk from taking it, each on its record."""
    deal, deal_id = inputs.deal, str(inputs.deal_id)
    entity = deal_entity(deal, inputs.company, inputs.root_entity)
    kind = deal_type(deal)
    cart = Cart(deal_id=deal_id, deal_type=kind, entity_id=entity, company_id=inputs.company_id,
                customer_id=inputs.customer_id, contract_id=inputs.contract_id)

    def on_deal(field_name: str, message: str) -> None:
        cart.problems.append(Problem(field_name, message, "deal", deal_id))

    if kind not in DEAL_TYPES:
        on_deal("billwerk_deal_type", f"Deal type '{kind}' is not one the connector knows: choose Signup, "
                                      "Signup for existing Customer or Upgrade")
    if entity not in inputs.entities:
        on_deal("billwerk_entity", f"The billwerk entity {entity} is not connected: choose one of the connected "
                                   "entities or add it on the connector's billwerk page")
    _read_entities(inputs, cart, entity)
    _read_lines(inputs, cart, entity, on_deal)
    _read_dates(inputs, cart, on_deal)
    if kind == "upgrade":
        if not inputs.contract_id:
            on_deal("billwerk_origin_deal_id", "This up-/downgrade deal has no contract to change: its origin deal "
                                               "has no billwerk contract")
    elif kind in DEAL_TYPES:
        _read_customer(inputs, cart, on_deal)
    return cart


def _read_entities(inputs: DealInputs, cart: Cart, entity: str) -> None:
    for object_type, object_id, props, label in (("company", inputs.company_id, inputs.company, "company"),
                                                 ("contact", inputs.contact_id, inputs.contact, "contact")):
        if object_id is None:
            continue
        own = _text(props, "billwerk_entity") or inputs.root_entity
        if own != entity:
            cart.problems.append(Problem("billwerk_entity", f"The deal's {label} is in billwerk entity {own}, the deal in "
                                                            f"{entity}: put both in the same entity", object_type, str(object_id)))


def _read_lines(inputs: DealInputs, cart: Cart, entity: str, on_deal) -> None:
    if not inputs.line_items:
        on_deal("line_items", "The deal has no line items: add a billwerk plan variant from the product library")
        return
    for record in sorted(inputs.line_items, key=lambda r: int(r["id"]) if str(r["id"]).isdigit() else 0):
        props = record.get("properties") or {}
        line_id = str(record["id"])
        name = _text(props, "name") or f"line item {line_id}"
        product_id = _text(props, "hs_product_id")
        item = inputs.products.get(product_id) if product_id else None
        if item is None:
            on_deal("hs_product_id", f"Line item '{name}' is not a billwerk product: replace it with a product of "
                                     "the billwerk product library")
            continue
        if not item.known:
            on_deal("hs_product_id", f"Line item '{name}' names a billwerk item that billwerk does not have (any more): "
                                     "remove it or choose a current product")
            continue
        if item.hidden:
            on_deal("hs_product_id", f"Line item '{name}' is hidden in billwerk and can no longer be sold: remove it "
                                     "or choose a current product")
            continue
        if (item.entity_id or inputs.root_entity) != entity:
            on_deal("hs_product_id", f"Line item '{name}' is a product of billwerk entity {item.entity_id}, the deal is "
                                     f"in {entity}: use the product of the deal's entity")
            continue
        quantity = decimal_or_none(props.get("quantity"))
        if quantity is None:
            quantity = Decimal(1)
        line = CartLine(line_id, name, item.object_type, item.billwerk_id, float(quantity), decimal_or_none(props.get("price")),
                        decimal_or_none(props.get("discount")), decimal_or_none(props.get("hs_discount_percentage")))
        if item.object_type == "plan_variant":
            if cart.plan_variant is not None:
                on_deal("hs_product_id", f"Line item '{name}' is a second plan variant: a deal takes exactly one "
                                         f"(it already has '{cart.plan_variant.name}')")
                continue
            if quantity != 1:
                on_deal("quantity", f"Line item '{name}' is the plan variant: its quantity must be 1, not {_num(quantity)}")
            cart.plan_variant = line
        elif item.object_type == "component":
            if quantity <= 0:
                on_deal("quantity", f"Line item '{name}' needs a quantity above 0, not {_num(quantity)}")
                continue
            cart.components.append(line)
        elif item.object_type == "discount":
            cart.discounts.append(line)
        else:
            on_deal("hs_product_id", f"Line item '{name}' is a billwerk {item.object_type}, which a deal cannot order")
    if cart.plan_variant is None and cart.deal_type != "upgrade" and not any(
            p.field == "hs_product_id" and "plan variant" in p.message for p in cart.problems):
        on_deal("line_items", "The deal has no billwerk plan variant: add exactly one from the product library")
    elif cart.plan_variant is None and cart.deal_type == "upgrade":
        on_deal("line_items", "The up-/downgrade deal has no plan variant: its cart is the contract after the change, "
                              "plan variant included")


def _read_dates(inputs: DealInputs, cart: Cart, on_deal) -> None:
    raw_start = _text(inputs.deal, "billwerk_start_date")
    if raw_start:
        try:
            start = parse_hubspot_date(raw_start)
        except ValueError:
            on_deal("billwerk_start_date", f"Start date '{raw_start}' is not a date")
        else:
            cart.start_date = to_billwerk_datetime(start) if start else None
    raw_term = _text(inputs.deal, "billwerk_payment_term_days")
    if raw_term:
        days = decimal_or_none(raw_term)
        if days is None or days < 0 or days != days.to_integral_value() or days > 365:
            on_deal("billwerk_payment_term_days", f"Payment term '{raw_term}' must be a whole number of days from 0 to 365")
        elif cart.deal_type == "upgrade":
            cart.warnings.append("The payment term applies to signup deals only; billwerk ignores it for this "
                                 "up-/downgrade")
        else:
            cart.payment_term_days = int(days)


def _read_customer(inputs: DealInputs, cart: Cart, on_deal) -> None:
    if inputs.company_id is None or inputs.company is None:
        on_deal("associations", "The deal has no company: associate the company that becomes the billwerk customer")
        return
    if inputs.customer_id:
        return
    if cart.deal_type == "signup_existing":
        cart.problems.append(Problem("billwerk_customer_id", "A signup for an existing customer needs a company linked "
                                     "to its billwerk customer: link it on the company card, or choose deal type Signup",
                                     "company", str(inputs.company_id)))
        return
    problems = validate_customer(inputs.company, inputs.contact, company_id=inputs.company_id, contact_id=inputs.contact_id)
    cart.problems.extend(problems)
    if not problems:
        cart.customer = build_customer(inputs.company, inputs.contact, company_id=inputs.company_id)


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


# -- the order ------------------------------------------------------------------------------------

def _cart_body(cart: Cart) -> dict:
    body: dict[str, Any] = {}
    if cart.plan_variant is not None:
        body["PlanVariantId"] = cart.plan_variant.billwerk_id
    if cart.components:
        body["ComponentSubscriptions"] = [{"ComponentId": c.billwerk_id, "Quantity": c.quantity} for c in cart.components]
    if cart.discounts:
        body["DiscountSubscriptions"] = [{"DiscountId": d.billwerk_id} for d in cart.discounts]
    return body


def build_signup_order(cart: Cart, *, customer_id: str | None = None,
                       contract_custom_fields: Mapping[str, Any] | None = None) -> dict:
    """The signup order: ``CustomerId`` when the customer exists (``customer_id``, else the
    company's linked one), else the inline ``Customer`` (a preview for a company billwerk does
    not know yet; contract creation creates the customer first)."""
    order: dict[str, Any] = {"Cart": _cart_body(cart)}
    who = customer_id or cart.customer_id
    if who:
        order["CustomerId"] = who
    elif cart.customer is not None:
        order["Customer"] = cart.customer
    if cart.start_date:
        order["StartDate"] = cart.start_date
    if cart.payment_term_days is not None:
        # The contract's individual term of payment, in days.
        order["OnAccountDueAfter"] = {"Unit": "Day", "Quantity": cart.payment_term_days}
    if contract_custom_fields:
        order["ContractCustomFields"] = dict(contract_custom_fields)
    return order


def build_upgrade_order(cart: Cart, *, contract_id: str | None = None, change_date: str | None = None,
                        end_component_subscriptions: list[str] | tuple[str, ...] = (),
                        contract_custom_fields: Mapping[str, Any] | None = None) -> dict:
    """The up-/downgrade order for the contract after the change: ``ContractId``, ``ChangeDate``
    (``billwerk_start_date``, else the caller's "now"), the cart, and the component subscriptions
    of the contract the cart no longer has."""
    order: dict[str, Any] = {"ContractId": contract_id or cart.contract_id, "Cart": _cart_body(cart)}
    if end_component_subscriptions:
        order["Cart"]["EndComponentSubscriptions"] = list(end_component_subscriptions)
    when = cart.start_date or change_date
    if when:
        order["ChangeDate"] = when
    if contract_custom_fields:
        order["ContractCustomFields"] = dict(contract_custom_fields)
    return order


def cart_hash(cart: Cart) -> str:
    """Names the cart and every input that changes the order (deal type, entity, company,
    customer, start date, payment term, contract): equal hashes, equal orders."""
    canonical = {
        "type": cart.deal_type, "entity": cart.entity_id, "company": cart.company_id, "contract": cart.contract_id,
        "plan_variant": cart.plan_variant.billwerk_id if cart.plan_variant else None,
        "components": sorted([c.billwerk_id, c.quantity] for c in cart.components),
        "discounts": sorted(d.billwerk_id for d in cart.discounts),
        "start": cart.start_date, "term": cart.payment_term_days,
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()

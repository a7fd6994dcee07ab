"""Product catalogue (reference §6.3): plan groups, plans, plan variants, components, discounts,
coupons and ``/productinfo``.

The catalogue is read-only through the API (billwerk admins edit it in the UI); the sandbox fills
it with :mod:`.seed` and lets tests hide or show items (``BillwerkSandbox.set_hidden``) as an
admin would. Hidden items stay in every list with ``Hidden: true`` — the connector filters them.

Shapes the reference marks [NF]/[I] and the sandbox's choice:

* PlanVariant: the tap's field names (§6.3) plus ``Name`` (localized), ``Currency`` and, for
  trial variants, ``TrialPeriod {Unit, Quantity}``.
* Component: ``Id, PlanGroupId, InternalName, ExternalId, Name, Description, ComponentType``
  (``QuantityBased`` | ``OnOff`` | ``Metered``), ``PricePerUnit``, ``FeePeriod``, ``QuantityUnit``,
  ``Currency``, ``Hidden``, ``IsDeletable``.
* Discount: §6.3 plus ``Hidden``/``IsDeletable``; ``Effect`` is
  ``{"Type": "Relative", "ReductionPercent": 30}`` or ``{"Type": "Absolute", "FixedAmount": 5.0}``
  (absolute discounts are [NF]; ``FixedAmount`` is the sandbox's name, in the entity's currency).
* Coupon: ``Id, InternalName, Description, Code`` (upper-case alphanumerics), ``DiscountId``,
  ``Hidden``.
* ``/productinfo``: ``{"PlanGroups", "Plans", "PlanVariants", "Components", "Discounts",
  "Coupons"}`` for the selected entity, unpaged.
"""
from __future__ import annotations

from flask import Blueprint

from . import paging
from .common import entity_id, list_response, object_response, sandbox, strip_nulls
from .errors import not_found
from .store import public

bp = Blueprint("billwerk_catalog", __name__)

#: (url segment, table, display name, query filters {arg: field})
RESOURCES = (
    ("plangroups", "plan_groups", "PlanGroup", {}),
    ("plans", "plans", "Plan", {"planGroupId": "PlanGroupId"}),
    ("planvariants", "plan_variants", "PlanVariant", {"planId": "PlanId", "planGroupId": "PlanGroupId"}),
    ("components", "components", "Component", {"planGroupId": "PlanGroupId"}),
    ("discounts", "discounts", "Discount", {"planGroupId": "PlanGroupId"}),
    ("coupons", "coupons", "Coupon", {}),
)

#: Kinds accepted by ``set_hidden`` (python names and table names).
HIDEABLE = {
    "plan_variant": "plan_variants", "planvariant": "plan_variants", "plan_variants": "plan_variants",
    "component": "components", "components": "components",
    "discount": "discounts", "discounts": "discounts",
    "plan": "plans", "plans": "plans",
    "coupon": "coupons", "coupons": "coupons",
}


def _make_routes(segment: str, table: str, name: str, filters: dict) -> None:
    def list_items():
        sb = sandbox()
        wanted = {field: paging.arg(a) for a, field in filters.items() if paging.arg(a)}
        with sb.store.lock:
            items = (o for o in sb.store.scan(table, entity_id(), paging.from_cursor())
                     if all(o.get(f) == v for f, v in wanted.items()))
            return list_response([public(o) for o in paging.page(items)])

    def get_item(id_):
        sb = sandbox()
        with sb.store.lock:
            obj = sb.store.get(table, id_, entity_id())
            if obj is None:
                raise not_found(name, id_)
            return object_response(public(obj))

    bp.add_url_rule(f"/api/v1/{segment}", f"list_{table}", list_items, methods=["GET"])
    bp.add_url_rule(f"/api/v1/{segment}/<id_>", f"get_{table}", get_item, methods=["GET"])


for _res in RESOURCES:
    _make_routes(*_res)


@bp.get("/api/v1/productinfo")
def product_info():
    sb = sandbox()
    with sb.store.lock:
        def all_of(table):
            return [public(o) for o in sb.store.scan(table, entity_id())]
        return object_response({
            "PlanGroups": all_of("plan_groups"), "Plans": all_of("plans"), "PlanVariants": all_of("plan_variants"),
            "Components": all_of("components"), "Discounts": all_of("discounts"), "Coupons": all_of("coupons"),
        })


def set_hidden(sb, kind: str, id_: str, hidden: bool) -> dict:
    table = HIDEABLE.get(kind.lower())
    if table is None:
        raise ValueError(f"cannot hide {kind!r}; use one of plan_variant, component, discount, plan, coupon")
    with sb.store.lock:
        obj = sb.store.get(table, id_)
        if obj is None:
            raise KeyError(id_)
        obj["Hidden"] = bool(hidden)
        sb.store.touch(obj)
        return strip_nulls(public(obj))


def find_coupon(sb, entity: str, code: str) -> dict | None:
    wanted = normalize_coupon(code)
    for c in sb.store.scan("coupons", entity):
        if c.get("Code") == wanted:
            return c
    return None


def normalize_coupon(code) -> str:
    """billwerk normalises coupon codes to upper-case alphanumerics (§7.7)."""
    return "".join(ch for ch in str(code or "").upper() if ch.isalnum())

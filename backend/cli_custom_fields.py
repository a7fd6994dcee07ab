"""``flask --app backend custom-fields list|map|unmap``: the admin page *Custom mappings* on the command line."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from backend.cli import PORTAL_ID, _connected_portal, fails_cleanly

OBJECT = click.Choice(["deal", "company"])


@click.group("custom-fields")
def custom_fields() -> None:
    """Map HubSpot properties of the group 'Billwerk custom fields sync' to billwerk custom fields."""


@custom_fields.command("list")
@with_appcontext
@click.option("--portal-id", type=PORTAL_ID, required=True)
@fails_cleanly
def custom_fields_list(portal_id: int) -> None:
    """The mappings, one a line: entity, object, HubSpot property -> billwerk field."""
    from backend.setup.custom_fields import list_mappings

    mappings = list_mappings(_connected_portal(portal_id))
    if not mappings:
        click.echo("no custom-field mappings")
    for m in mappings:
        target = "contract" if m.object == "deal" else "customer"
        click.echo(f"{m.entity_id}  {m.object:<7}  {m.hubspot_property} -> {target} field {m.billwerk_field}"
                   f"  ({m.hubspot_type} -> {m.billwerk_type or 'checked by preview'})")


@custom_fields.command("map")
@with_appcontext
@click.option("--portal-id", type=PORTAL_ID, required=True)
@click.option("--entity", "entity_id", required=True, help="billwerk entity id")
@click.option("--object", "obj", type=OBJECT, required=True, help="deal (contract field) or company (customer field)")
@click.option("--hubspot-property", required=True, help="internal name of a property of the group 'Billwerk custom fields sync'")
@click.option("--billwerk-field", required=True, help="key of the billwerk custom field")
@fails_cleanly
def custom_fields_map(portal_id: int, entity_id: str, obj: str, hubspot_property: str, billwerk_field: str) -> None:
    """Add a mapping; both sides are checked live."""
    from backend.setup.custom_fields import add_mapping

    m = add_mapping(_connected_portal(portal_id), entity_id, obj, hubspot_property, billwerk_field)
    click.echo(f"mapped {m.object} property {m.hubspot_property} -> billwerk field {m.billwerk_field} in entity {m.entity_id}")


@custom_fields.command("unmap")
@with_appcontext
@click.option("--portal-id", type=PORTAL_ID, required=True)
@click.option("--entity", "entity_id", required=True)
@click.option("--object", "obj", type=OBJECT, required=True)
@click.option("--hubspot-property", required=True)
@fails_cleanly
def custom_fields_unmap(portal_id: int, entity_id: str, obj: str, hubspot_property: str) -> None:
    """Remove a mapping; its value no longer travels to billwerk."""
    from backend.setup.custom_fields import remove_mapping

    m = remove_mapping(_connected_portal(portal_id), entity_id, obj, hubspot_property)
    click.echo(f"removed the {m.object} mapping {m.hubspot_property} -> {m.billwerk_field} in entity {m.entity_id}")

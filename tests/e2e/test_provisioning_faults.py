"""Issue 18 point 5: creating property definitions is safe to repeat (409 = done), so a 5xx is retried."""
from backend.clients.hubspot import HubSpotClient
from backend.extensions import db
from backend.models import SyncRun
from backend.setup.properties import PROPERTIES
from backend.setup.provisioning import provision


def test_one_5xx_while_creating_properties_is_retried(connector):
    connector.hubspot.add_fault(path_prefix="/crm/v3/properties/companies/batch/create", method="POST", status=502, times=1)
    connector.hubspot.add_fault(path_prefix="/crm/v3/properties/deals/groups", method="POST", status=503, times=1)
    portal = connector.install()
    run = db.session.execute(db.select(SyncRun).where(SyncRun.flow == "provision_properties")).scalar_one()
    assert run.status == "succeeded", run.error
    assert portal.properties_provisioned_at is not None
    for object_type, specs in PROPERTIES.items():
        assert {s.name for s in specs} <= set(connector.hubspot.properties(object_type)), object_type


def test_properties_that_exist_already_count_as_done(connector, monkeypatch):
    """A read that missed them (another run created them meanwhile): per-input 409s and a whole-batch 409 are done."""
    portal = connector.install()
    client = HubSpotClient(portal)
    real = client.get_properties
    stale = {"deals", "companies"}

    def get_properties(object_type, **kw):
        if object_type in stale:
            stale.discard(object_type)
            return []
        return real(object_type, **kw)

    monkeypatch.setattr(client, "get_properties", get_properties)
    connector.hubspot.add_fault(path_prefix="/crm/v3/properties/companies/batch/create", method="POST", status=409, times=1)
    counts = provision(portal, client)
    assert counts["properties_created"] == 0


def test_a_whole_batch_409_for_properties_still_missing_is_reported(connector, monkeypatch):
    portal = connector.install()
    client = HubSpotClient(portal)
    real = client.get_properties
    calls = {"n": 0}

    def get_properties(object_type, **kw):
        found = real(object_type, **kw)
        if object_type == "companies":
            calls["n"] += 1
            return [p for p in found if p["name"] != "billwerk_customer_id"]
        return found

    monkeypatch.setattr(client, "get_properties", get_properties)
    connector.hubspot.add_fault(path_prefix="/crm/v3/properties/companies/batch/create", method="POST", status=409, times=1)
    import pytest
    from backend.errors import FlowError

    with pytest.raises(FlowError, match="billwerk_customer_id"):
        provision(portal, client)
    assert calls["n"] == 2

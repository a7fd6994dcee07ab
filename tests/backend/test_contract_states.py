"""The per-contract state of contract updates: moments only move forward, hints are forgotten only
once read, and reconciliation picks the contracts of deals not read for a day, never stopped links."""
from datetime import timedelta

from backend.extensions import db
from backend.flows.contract_updates import holding_links, stale_contracts
from backend.models import ContractLink, ContractState, Portal, utcnow


def _portal() -> Portal:
    portal = Portal(hub_id=515151, status="active")
    db.session.add(portal)
    db.session.commit()
    return portal


def test_moments_and_hints_only_move_forward(ctx):
    portal = _portal()
    state = ContractState.get_or_create(portal.id, "c1")
    assert ContractState.get_or_create(portal.id, "c1").id == state.id
    later, earlier = utcnow(), utcnow() - timedelta(minutes=7)
    ContractState.move_forward(state.id, "escalated_at", later)
    ContractState.move_forward(state.id, "escalated_at", earlier)      # a retried, older hook
    ContractState.move_forward(state.id, "invoice_hint", "65a1c0de0000000000000090")
    ContractState.move_forward(state.id, "invoice_hint", "65a1c0de0000000000000080")
    db.session.expire_all()
    state = db.session.get(ContractState, state.id)
    assert state.escalated_at == later and state.invoice_hint == "65a1c0de0000000000000090"
    ContractState.clear_hint(state.id, "65a1c0de0000000000000080")     # not the hint any more: kept
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(ContractState, state.id).invoice_hint == "65a1c0de0000000000000090"
    ContractState.clear_hint(state.id, "65a1c0de0000000000000090")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(ContractState, state.id).invoice_hint is None


def test_stale_contracts_are_those_not_read_for_a_day_never_stopped_ones(ctx):
    portal = _portal()
    for n, (contract, stopped) in enumerate([("fresh", False), ("old", False), ("never", False), ("moved", True)]):
        db.session.add(ContractLink(portal_id=portal.id, entity_id="e", hubspot_deal_id=str(n + 1),
                                    billwerk_contract_id=contract, sync_stopped=stopped))
    db.session.commit()
    states = ContractState.ensure(portal.id, ["fresh", "old", "moved"])
    states["fresh"].checked_at = utcnow() - timedelta(hours=2)
    states["old"].checked_at = utcnow() - timedelta(hours=30)
    states["moved"].checked_at = utcnow() - timedelta(days=9)
    db.session.commit()
    assert stale_contracts(portal.id) == ["never", "old"]
    assert stale_contracts(portal.id, limit=1) == ["never"]
    assert set(holding_links(portal.id, ["fresh", "moved"])) == {"fresh"}


def test_the_newest_link_that_is_not_stopped_holds_the_contract(ctx):
    portal = _portal()
    db.session.add_all([ContractLink(portal_id=portal.id, entity_id="e", hubspot_deal_id="1", billwerk_contract_id="c",
                                     sync_stopped=True),
                        ContractLink(portal_id=portal.id, entity_id="e", hubspot_deal_id="2", billwerk_contract_id="c",
                                     origin_deal_id="1")])
    db.session.commit()
    assert holding_links(portal.id, ["c"])["c"].hubspot_deal_id == "2"

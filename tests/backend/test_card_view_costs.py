"""Issue 16 point 5: what a card view costs besides its indexed reads."""
from tests.helpers import connected_portal


def test_card_views_remember_the_won_stages_for_a_few_seconds(ctx, redis, monkeypatch):
    """Card views ask for the won stages on every view: a process keeps them VIEW_MEMO_S, flows never."""
    from backend.setup import stages

    portal, _ = connected_portal()
    redis.set(f"hubwerk:won-stages:{portal.id}", '["closedwon"]')
    assert stages.closed_won_stages_for_views(portal) == {"closedwon"}
    redis.set(f"hubwerk:won-stages:{portal.id}", '["won2"]')          # the pipelines changed
    assert stages.closed_won_stages_for_views(portal) == {"closedwon"}  # remembered
    assert stages.closed_won_stages(portal) == {"won2"}                 # what a flow acts on
    monkeypatch.setattr(stages.time, "monotonic", lambda: 10 ** 9)      # VIEW_MEMO_S later
    assert stages.closed_won_stages_for_views(portal) == {"won2"}
    stages.forget_won_stages(portal)
    assert redis.get(f"hubwerk:won-stages:{portal.id}") is None


def test_a_view_portal_is_kept_until_a_commit_changes_a_portal_or_account(ctx, redis, monkeypatch):
    """Views keep the portal and account per process while the generation in Redis stands; a commit
    that changes a portal, an account or an entity moves the generation on, in every process."""
    from sqlalchemy import event

    from backend.extensions import db
    from backend.flows import card_reads

    portal, account = connected_portal()
    card_reads.forget_view_portals()
    hub_id = portal.hub_id
    generation = lambda: redis.get(card_reads.VIEW_GENERATION_KEY) or b"0"  # noqa: E731
    first = card_reads.view_portal(hub_id, generation())
    assert first.account.base_url == account.base_url and first.account.root_entity is not None
    assert "secret" not in repr(first).lower() and "key" not in repr(first.account).lower()

    queries = []
    listener = lambda *args: queries.append(args[2]) if "ORDER BY billwerk_entities.position" in args[2] else None  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert card_reads.view_portal(hub_id, generation()) is first  # kept: no query
        assert queries == []
        before = generation()
        account.base_url = "https://changed.billwerk.example"
        db.session.commit()
        assert generation() != before
        again = card_reads.view_portal(hub_id, generation())
        assert again.account.base_url == "https://changed.billwerk.example" and len(queries) == 1
        monkeypatch.setattr(card_reads.time, "monotonic", lambda: 10 ** 9)   # VIEW_MEMO_S later
        card_reads.view_portal(hub_id, generation())
        assert len(queries) == 2
        assert card_reads.view_portal(hub_id, None) is not None       # no Redis: always read
        assert len(queries) == 3
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)

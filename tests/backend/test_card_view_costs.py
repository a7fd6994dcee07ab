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

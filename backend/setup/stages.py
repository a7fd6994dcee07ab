"""Which deal stages count as closed-won for a portal: the admin's choice, else every stage HubSpot
marks as won. A deal entering one of them starts the customer import."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from flask import current_app
from redis.exceptions import RedisError

from backend.clients.base import ApiError
from backend.clients.hubspot import HubSpotClient
from backend.errors import HubwerkError
from backend.extensions import db
from backend.models import Portal

log = logging.getLogger(__name__)


@dataclass
class StageChoice:
    id: str
    label: str
    won: bool
    selected: bool = False


@dataclass
class PipelineChoice:
    id: str
    label: str
    stages: list[StageChoice] = field(default_factory=list)


def stage_is_won(stage: dict) -> bool:
    """HubSpot marks a won stage as closed with probability 1.0 (metadata values are strings)."""
    meta = stage.get("metadata") or {}
    try:
        probability = float(meta.get("probability", "nan"))
    except (TypeError, ValueError):
        return False
    closed = str(meta.get("isClosed", "true")).lower() == "true"
    return closed and probability == 1.0


def default_won_stages(pipelines: list[dict]) -> set[str]:
    return {s["id"] for p in pipelines for s in p.get("stages", []) if not s.get("archived") and stage_is_won(s)}


WON_STAGES_CACHE_S = 300
WON_STAGES_READ_MS = 3000  # the longest one request waits for another's read of the pipelines


def closed_won_stages(portal: Portal, hubspot: HubSpotClient | None = None, *, pipelines: list[dict] | None = None) -> set[str]:
    """The admin's choice, else every won stage of the portal's deal pipelines (``pipelines`` when
    given, else read from HubSpot and kept five minutes per portal)."""
    if portal.closed_won_stages:
        return set(portal.closed_won_stages)
    if pipelines is not None:
        return default_won_stages(pipelines)
    try:
        return _shared_won_stages(portal, hubspot, current_app.extensions["hubwerk.redis"]())
    except RedisError as exc:  # no shared cache: this request reads the pipelines itself (not on HubSpot's errors)
        log.warning("hubspot.won_stages.redis_away", extra={"portal_id": portal.id, "error": type(exc).__name__})
        return default_won_stages((hubspot or HubSpotClient(portal)).pipelines("deals"))


def _shared_won_stages(portal: Portal, hubspot: HubSpotClient | None, redis) -> set[str]:
    key = f"hubwerk:won-stages:{portal.id}"
    cached = redis.get(key)
    if cached is None and not redis.set(key + ":reading", b"1", nx=True, px=WON_STAGES_READ_MS):
        # Another request is reading the pipelines (20 card views at once find the cache empty
        # together): wait for its answer instead of asking HubSpot too.
        deadline = time.monotonic() + WON_STAGES_READ_MS / 1000
        while cached is None and time.monotonic() < deadline:
            time.sleep(0.05)
            cached = redis.get(key)
    elif cached is None:
        cached = redis.get(key)  # stored by a request that finished between our read and our lock
        if cached is not None:
            redis.delete(key + ":reading")
    if cached is not None:
        return set(json.loads(cached))
    try:
        stages = default_won_stages((hubspot or HubSpotClient(portal)).pipelines("deals"))
        _quietly(redis.set, key, json.dumps(sorted(stages)), ex=WON_STAGES_CACHE_S)  # not stored: still read once
    finally:
        _quietly(redis.delete, key + ":reading")
    return stages


def _quietly(command, *args, **kwargs) -> None:
    try:
        command(*args, **kwargs)
    except (RedisError, OSError) as exc:  # the cache entry expires by itself
        log.warning("hubspot.won_stages.cache_write_failed", extra={"error": type(exc).__name__})


VIEW_MEMO_S = 10.0
# (portal id, installed at) -> (until, stages): card views ask for the won stages on every view; a
# process keeps the answer a few seconds (a rep's card shows a pipeline change 10 s later at most).
_view_memo: dict[tuple, tuple[float, frozenset[str]]] = {}


def closed_won_stages_for_views(portal: Portal, hubspot: HubSpotClient | None = None) -> set[str]:
    """``closed_won_stages`` for card views, remembered by this process for ``VIEW_MEMO_S``
    (flows that act on the answer — the import — always ask ``closed_won_stages``)."""
    if portal.closed_won_stages:
        return set(portal.closed_won_stages)
    key = (portal.id, portal.installed_at)
    now = time.monotonic()
    memo = _view_memo.get(key)
    if memo is not None and memo[0] > now:
        return set(memo[1])
    stages = closed_won_stages(portal, hubspot)
    if len(_view_memo) > 1000:
        _view_memo.clear()
    _view_memo[key] = (now + VIEW_MEMO_S, frozenset(stages))
    return stages


def forget_won_stages(portal: Portal) -> None:
    """Drop the cached won stages of ``portal`` (Redis and this process): the next use reads HubSpot."""
    current_app.extensions["hubwerk.redis"]().delete(f"hubwerk:won-stages:{portal.id}")
    for key in [k for k in _view_memo if k[0] == portal.id]:
        _view_memo.pop(key, None)


def closed_won_choices(portal: Portal) -> list[PipelineChoice]:
    try:
        pipelines = HubSpotClient(portal).pipelines("deals")
    except ApiError as exc:
        raise HubwerkError(f"Could not read the deal pipelines from HubSpot: {exc.message}", code="hubspot_unavailable", status=502) from None
    selected = closed_won_stages(portal, pipelines=pipelines)
    return [
        PipelineChoice(p["id"], p.get("label") or p["id"], [
            StageChoice(s["id"], s.get("label") or s["id"], stage_is_won(s), s["id"] in selected)
            for s in sorted(p.get("stages", []), key=lambda s: s.get("displayOrder", 0)) if not s.get("archived")
        ])
        for p in sorted(pipelines, key=lambda p: p.get("displayOrder", 0))
    ]


def save_closed_won_stages(portal: Portal, stage_ids: list[str], pipelines: list[PipelineChoice]) -> None:
    known = {s.id for p in pipelines for s in p.stages}
    unknown = [s for s in stage_ids if s not in known]
    if unknown:
        raise HubwerkError(f"Stage(s) {', '.join(unknown)} are not in this portal's deal pipelines; reload the page.", code="unknown_stage")
    if not stage_ids:
        raise HubwerkError("Choose at least one closed-won stage.", code="no_stage")
    portal.closed_won_stages = sorted(set(stage_ids))
    db.session.commit()

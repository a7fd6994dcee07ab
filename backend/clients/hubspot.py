"""The HubSpot CRM API for one installed portal: objects, batches of ≤ 100 with per-input
results and errors, search pages with the 10,000-result cap, associations v4 (batch read ≤ 1,000),
properties, pipelines, workflow callbacks.

Calls draw from the portal's shared rate limit (HubSpot allows about 110 calls per 10 s per
portal) and, for search, from a second, slower one (HubSpot allows about 4 searches a second per
token). The access token comes from :class:`~backend.clients.hubspot_auth.TokenManager`; the
client itself stores nothing.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Iterable, Iterator
from urllib.parse import quote

import requests

from backend.clients.base import (DEFAULT_TIMEOUT, AuthError, BaseClient, Conflict, RateLimited,
                                  ValidationFailed, response_json)
from backend.clients.hubspot_auth import HubSpotErrors, HubSpotOAuth, PortalDisconnected, TokenManager, TokenStore
from backend.clients.hubspot_batch import (SEARCH_RESULT_CAP, BatchError, BatchResult, SearchCapReached, SearchPage,
                                           match_errors, merge_by_id, unique)
from backend.clients.ratelimit import Limiters, RateLimitTimeout, RedisRateLimiter

log = logging.getLogger("hubwerk.clients.hubspot")

BATCH_SIZE = 100                 # records per object batch call
ASSOCIATION_READ_BATCH = 1000    # records per associations v4 batch read
SEARCH_PAGE_MAX = 200
DEFAULT_SEARCH_RATE = (4, 1.0)   # searches per second per token


class HubSpotClient(HubSpotErrors, BaseClient):
    """The HubSpot API for one installed portal.

    ``portal`` is a :class:`~backend.models.Portal` or its id. Defaults come from the app
    (settings, Redis); tests pass ``settings`` (e.g. with the sandbox's base URL), ``sleep``
    and small rate limits.
    """

    def __init__(self, portal, *, settings=None, redis=None, oauth: HubSpotOAuth | None = None,
                 token_manager: TokenManager | None = None, token_store: TokenStore | None = None,
                 session: requests.Session | None = None,
                 timeout=DEFAULT_TIMEOUT, max_retries: int = 4, sleep=time.sleep, rate_limit=None,
                 search_rate=DEFAULT_SEARCH_RATE, base_url: str | None = None):
        settings = settings or _current_settings()
        redis = redis if redis is not None else _current_redis()
        portal_id = portal if isinstance(portal, int) else portal.id
        super().__init__(base_url or settings.hubspot_api_base_url, timeout=timeout, session=session,
                         max_retries=max_retries, sleep=sleep)
        self.oauth = oauth or HubSpotOAuth(base_url or settings.hubspot_api_base_url, settings.hubspot_client_id,
                                           settings.hubspot_client_secret, timeout=timeout, session=self.session,
                                           sleep=sleep)
        self.tokens = token_manager or TokenManager(portal_id, oauth=self.oauth, redis=redis,
                                                    store=token_store or _default_token_store())
        self.hub_id = self.tokens.hub_id or self.tokens.load().hub_id
        self.portal_id = portal_id
        calls_window = _limit(rate_limit if rate_limit is not None else settings.hubspot_rate_limit)
        self.rate_limiter = (RedisRateLimiter(redis, f"hubspot:{self.hub_id}", *calls_window, sleep=sleep)
                             if calls_window else None)
        search_window = _limit(search_rate) if search_rate else None
        search_limiter = (RedisRateLimiter(redis, f"hubspot-search:{self.hub_id}", *search_window, sleep=sleep)
                          if search_window else None)
        # The slow search slot first, the portal slot right before sending.
        self.search_limiter = Limiters(search_limiter, self.rate_limiter)
        self._local = threading.local()

    # -- plumbing ------------------------------------------------------------------------------------
    def auth_headers(self) -> dict:
        token = self.tokens.access_token()
        self._local.token = token
        return {"Authorization": f"Bearer {token}"}

    def secrets(self):
        return (getattr(self._local, "token", None), self.oauth.client_secret)

    def acquire(self, method: str, path: str) -> None:
        limiter = self.search_limiter if path.endswith("/search") else self.rate_limiter
        if limiter is None:
            return
        try:
            limiter.acquire()
        except RateLimitTimeout as exc:
            raise RateLimited(f"hubwerk's own HubSpot budget for portal {self.hub_id} stayed exhausted; try again later.",
                              provider="hubspot", method=method, path=path, retry_after=exc.retry_after or 10.0) from None

    def renew_auth(self, err: AuthError) -> bool:
        if isinstance(err, PortalDisconnected):
            return False
        log.info("hubspot.token.rejected", extra={"portal_id": self.portal_id, "hub_id": self.hub_id,
                                                  "correlation_id": err.correlation_id})
        self.tokens.refresh_after_rejection(getattr(self._local, "token", None))
        return True

    def uninstall(self) -> None:
        """Remove the app from this portal (cards, webhooks; HubSpot e-mails the super admins)."""
        self.request("DELETE", "/appinstalls/v3/external-install", expected=(200, 204))

    # -- objects ---------------------------------------------------------------------------------------
    def get_object(self, object_type: str, object_id, properties: Iterable[str] | None = None, *,
                   id_property: str | None = None, associations: Iterable[str] | None = None,
                   archived: bool = False) -> dict:
        params = _params(properties=properties, associations=associations, idProperty=id_property,
                         archived="true" if archived else None)
        return self.call("GET", f"/crm/v3/objects/{object_type}/{quote(str(object_id), safe='')}", params=params)

    def iter_objects(self, object_type: str, properties: Iterable[str] | None = None, *,
                     associations: Iterable[str] | None = None, limit: int = 100) -> Iterator[dict]:
        """Every record of a type through the list endpoint (no 10,000 cap; use it for backfills)."""
        after = None
        while True:
            params = _params(limit=str(min(limit, 100)), after=after, properties=properties, associations=associations)
            page = self.call("GET", f"/crm/v3/objects/{object_type}", params=params) or {}
            yield from page.get("results") or []
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def create_object(self, object_type: str, properties: dict, associations: list | None = None) -> dict:
        body = {"properties": properties}
        if associations:
            body["associations"] = associations
        return self.call("POST", f"/crm/v3/objects/{object_type}", json=body)

    def update_object(self, object_type: str, object_id, properties: dict, *, id_property: str | None = None) -> dict:
        return self.call("PATCH", f"/crm/v3/objects/{object_type}/{quote(str(object_id), safe='')}",
                         params=_params(idProperty=id_property), json={"properties": properties})

    # -- batches ---------------------------------------------------------------------------------------
    def batch_read(self, object_type: str, ids: Iterable, properties: Iterable[str] | None = None,
                   id_property: str | None = None, *, archived: bool = False) -> BatchResult:
        """Records by id (or by a unique ``id_property``); missing ids come back as per-id errors."""
        inputs = [{"id": str(i)} for i in unique(str(i) for i in ids)]
        extra: dict = {"properties": list(properties or [])}
        if id_property:
            extra["idProperty"] = id_property
        return self._batch(f"/crm/v3/objects/{object_type}/batch/read", inputs, extra, idempotent=True,
                           params={"archived": "true"} if archived else None, trace_ids=False)

    def batch_create(self, object_type: str, inputs: Iterable[dict], *, trace_ids: bool = True,
                     split_on_error: bool = False) -> BatchResult:
        """``inputs``: ``{"properties": {…}, "associations": [...]}``. Not retried after a 5xx."""
        return self._batch(f"/crm/v3/objects/{object_type}/batch/create", list(inputs), {}, idempotent=False,
                           trace_ids=trace_ids, split_on_error=split_on_error)

    def batch_update(self, object_type: str, inputs: Iterable[dict], id_property: str | None = None, *,
                     trace_ids: bool = True, split_on_error: bool = False) -> BatchResult:
        """``inputs``: ``{"id": …, "properties": {…}}``; inputs for the same id are merged."""
        inputs = merge_by_id(inputs, id_property)
        return self._batch(f"/crm/v3/objects/{object_type}/batch/update", inputs, {}, idempotent=True,
                           trace_ids=trace_ids, split_on_error=split_on_error)

    def batch_upsert(self, object_type: str, inputs: Iterable[dict], id_property: str, *, trace_ids: bool = True,
                     split_on_error: bool = False) -> BatchResult:
        """``inputs``: ``{"id": <unique value>, "properties": {…}}`` keyed on ``id_property``
        (a ``hasUniqueValue`` property). Inputs for the same value are merged (HubSpot refuses
        duplicates in one batch). Results carry ``new``."""
        inputs = merge_by_id(inputs, id_property)
        return self._batch(f"/crm/v3/objects/{object_type}/batch/upsert", inputs, {}, idempotent=True,
                           trace_ids=trace_ids, split_on_error=split_on_error)

    def batch_archive(self, object_type: str, ids: Iterable) -> BatchResult:
        inputs = [{"id": str(i)} for i in unique(str(i) for i in ids)]
        return self._batch(f"/crm/v3/objects/{object_type}/batch/archive", inputs, {}, idempotent=True,
                           trace_ids=False)

    def _batch(self, path: str, inputs: list[dict], extra: dict, *, idempotent: bool, trace_ids: bool,
               split_on_error: bool = False, params: dict | None = None, size: int = BATCH_SIZE) -> BatchResult:
        prepared = []
        for item in inputs:
            item = dict(item)
            if trace_ids:
                # Per input: HubSpot then reports partial failures per input (207).
                item.setdefault("objectWriteTraceId", uuid.uuid4().hex)
            prepared.append(item)
        result = BatchResult()
        for start in range(0, len(prepared), size):
            self._send_chunk(path, prepared[start:start + size], start, extra, result, idempotent=idempotent,
                             split=split_on_error, params=params)
        return result

    def _send_chunk(self, path: str, chunk: list[dict], offset: int, extra: dict, result: BatchResult, *,
                    idempotent: bool, split: bool, params: dict | None) -> None:
        result.calls += 1
        try:
            resp = self.request("POST", path, json={"inputs": chunk, **extra}, params=params, idempotent=idempotent)
        except (ValidationFailed, Conflict) as err:
            # HubSpot may refuse a whole batch (4xx) for one bad input: halve until it is isolated.
            if not split:
                raise
            if len(chunk) == 1:
                context = err.body.get("context") if isinstance(err.body, dict) else None
                result.errors.append(BatchError(message=err.provider_message or err.message, category=err.category,
                                                status=err.provider_status, index=offset, input=chunk[0],
                                                ids=[str(chunk[0]["id"])] if "id" in chunk[0] else [],
                                                trace_id=chunk[0].get("objectWriteTraceId"), errors=err.errors,
                                                context=context if isinstance(context, dict) else {}))
                return
            mid = len(chunk) // 2
            self._send_chunk(path, chunk[:mid], offset, extra, result, idempotent=idempotent, split=split, params=params)
            self._send_chunk(path, chunk[mid:], offset + mid, extra, result, idempotent=idempotent, split=split,
                             params=params)
            return
        body = response_json(resp) or {}
        result.results.extend(body.get("results") or [])
        result.errors.extend(match_errors(body.get("errors") or [], chunk, offset))
        if resp.status_code == 207 and not body.get("errors"):
            result.errors.append(BatchError(message="HubSpot answered 207 without naming the failed inputs.",
                                            status=207))

    # -- search ----------------------------------------------------------------------------------------
    def search(self, object_type: str, filter_groups: list | None = None, properties: Iterable[str] | None = None,
               sorts: list | None = None, limit: int = SEARCH_PAGE_MAX, *, query: str | None = None,
               after: str | None = None, on_cap: str = "raise") -> Iterator[SearchPage]:
        """Pages of a search, following ``paging.next.after``.

        At the 10,000-result cap the generator stops after the last reachable page and, with
        ``on_cap="raise"`` (default), raises :class:`SearchCapReached` so the caller can narrow
        the query; ``on_cap="stop"`` just ends. Search is eventually consistent: records written
        a moment ago may be missing.
        """
        body: dict = {"filterGroups": filter_groups or [], "properties": list(properties or []),
                      "sorts": sorts or [], "limit": max(1, min(int(limit), SEARCH_PAGE_MAX))}
        if query:
            body["query"] = query
        fetched, last, total = 0, None, None
        cursor = after
        capped = False
        while True:
            if cursor is not None and int(cursor) >= SEARCH_RESULT_CAP:
                capped = True
                break
            payload = dict(body, after=cursor) if cursor is not None else body
            try:
                page = self.call("POST", f"/crm/v3/objects/{object_type}/search", json=payload, idempotent=True) or {}
            except ValidationFailed:
                if cursor is not None and int(cursor) + body["limit"] > SEARCH_RESULT_CAP - SEARCH_PAGE_MAX:
                    capped = True       # HubSpot answers 400 when paging reaches the cap
                    break
                raise
            results = page.get("results") or []
            total = page.get("total", total)
            fetched += len(results)
            if results:
                last = results[-1]
            yield SearchPage(results=results, total=total, after=cursor)
            cursor = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not cursor:
                reached = int(after or 0) + fetched
                capped = total is not None and total > reached and reached >= SEARCH_RESULT_CAP
                break
        if capped:
            log.info("hubspot.search.cap_reached", extra={"hub_id": self.hub_id, "object_type": object_type,
                                                          "total": total, "fetched": fetched})
            if on_cap == "raise":
                raise SearchCapReached(object_type, total, fetched, last)

    def search_all(self, object_type: str, *args, **kw) -> Iterator[dict]:
        """The records of :meth:`search`, one by one."""
        for page in self.search(object_type, *args, **kw):
            yield from page.results

    # -- associations ------------------------------------------------------------------------------------
    def associations_batch_read(self, from_type: str, to_type: str, ids: Iterable) -> BatchResult:
        """Associations v4 of many records (≤ 1000 per call), following each record's own paging.
        ``results``: one ``{"from": {"id"}, "to": [...]}`` per record with associations; records
        without any come back as errors with category ``OBJECT_NOT_FOUND``."""
        merged: dict[str, dict] = {}
        result = BatchResult()
        pending = [{"id": i} for i in unique(str(i) for i in ids)]
        path = f"/crm/v4/associations/{from_type}/{to_type}/batch/read"
        while pending:
            more: list[dict] = []
            for start in range(0, len(pending), ASSOCIATION_READ_BATCH):
                chunk = pending[start:start + ASSOCIATION_READ_BATCH]
                result.calls += 1
                body = self.call("POST", path, json={"inputs": chunk}, idempotent=True) or {}
                for entry in body.get("results") or []:
                    fid = str((entry.get("from") or {}).get("id"))
                    target = merged.setdefault(fid, {"from": {"id": fid}, "to": []})
                    target["to"].extend(entry.get("to") or [])
                    nxt = ((entry.get("paging") or {}).get("next") or {}).get("after")
                    if nxt:
                        more.append({"id": fid, "after": nxt})
                if not any(i.get("after") for i in chunk):
                    result.errors.extend(match_errors(body.get("errors") or [], chunk, start))
            pending = more
        result.results = list(merged.values())
        return result

    @staticmethod
    def association_ids(result: BatchResult) -> dict[str, list[str]]:
        """``{from_id: [to_id, …]}`` from :meth:`associations_batch_read`."""
        return {r["from"]["id"]: [str(t["toObjectId"]) for t in r["to"]] for r in result.results}

    def associate_default(self, from_type: str, from_id, to_type: str, to_id) -> dict:
        """The unlabelled default association (PUT, idempotent)."""
        return self.call("PUT", f"/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}")

    def associate(self, from_type: str, from_id, to_type: str, to_id, type_ids: Iterable[int],
                  category: str = "HUBSPOT_DEFINED") -> dict:
        body = [{"associationCategory": category, "associationTypeId": int(t)} for t in type_ids]
        return self.call("PUT", f"/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}", json=body)

    def associate_default_batch(self, from_type: str, to_type: str, pairs: Iterable[tuple]) -> BatchResult:
        inputs = [{"from": {"id": str(f)}, "to": {"id": str(t)}} for f, t in pairs]
        return self._batch(f"/crm/v4/associations/{from_type}/{to_type}/batch/associate/default", inputs, {},
                           idempotent=True, trace_ids=False)

    # -- schema ------------------------------------------------------------------------------------------
    def pipelines(self, object_type: str) -> list[dict]:
        return (self.call("GET", f"/crm/v3/pipelines/{object_type}") or {}).get("results") or []

    def get_properties(self, object_type: str, *, archived: bool = False) -> list[dict]:
        params = {"archived": "true"} if archived else None
        return (self.call("GET", f"/crm/v3/properties/{object_type}", params=params) or {}).get("results") or []

    def batch_create_properties(self, object_type: str, inputs: Iterable[dict]) -> BatchResult:
        """Create property definitions; an existing name comes back as that input's error (409), so a
        repeat after a lost answer is harmless and a 5xx is retried."""
        return self._batch(f"/crm/v3/properties/{object_type}/batch/create", list(inputs), {}, idempotent=True,
                           trace_ids=False)

    def create_property_group(self, object_type: str, group: dict) -> dict:
        """A repeat answers 409 (the group exists): harmless, so a 5xx is retried."""
        return self.call("POST", f"/crm/v3/properties/{object_type}/groups", json=group, idempotent=True)

    def update_property(self, object_type: str, name: str, changes: dict) -> dict:
        return self.call("PATCH", f"/crm/v3/properties/{object_type}/{quote(name, safe='')}", json=changes)

    # -- workflow actions --------------------------------------------------------------------------------
    def complete_callback(self, callback_id: str, output_fields: dict, *, typed_outputs: dict | None = None,
                          failure_reason_type: str | None = None, request_context: dict | None = None) -> None:
        """Finish a workflow action answered with BLOCK (204). Safe to repeat."""
        body: dict = {"outputFields": output_fields, "typedOutputs": typed_outputs or {}}
        if failure_reason_type:
            body["failureReasonType"] = failure_reason_type
        if request_context:
            body["requestContext"] = request_context
        self.request("POST", f"/automation/v4/actions/callbacks/{quote(str(callback_id), safe='')}/complete",
                     json=body, idempotent=True, expected=(200, 204))

    def complete_callbacks(self, completions: list[dict]) -> None:
        """Finish many workflow actions at once (``{"callbackId", "outputFields", …}``, 100 a call)."""
        for start in range(0, len(completions), 100):
            self.request("POST", "/automation/v4/actions/callbacks/complete",
                         json={"inputs": completions[start:start + 100]}, idempotent=True, expected=(200, 204))


def _current_settings():
    from flask import current_app
    return current_app.config["HUBWERK"]


def _current_redis():
    from flask import current_app
    return current_app.extensions["hubwerk.redis"]()


def _default_token_store() -> TokenStore:
    from backend.models.portal_tokens import PortalTokenStore

    return PortalTokenStore()


def _limit(value) -> tuple[int, float] | None:
    if value is None or value is False:
        return None
    if hasattr(value, "calls"):
        return int(value.calls), float(value.window_s)
    calls, window = value
    return int(calls), float(window)


def _params(**values) -> dict:
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set)) or (not isinstance(value, str) and hasattr(value, "__iter__")):
            value = ",".join(str(v) for v in value)
            if not value:
                continue
        out[key] = value
    return out


__all__ = ["HubSpotClient", "BatchResult", "BatchError", "SearchPage", "SearchCapReached", "PortalDisconnected", "BATCH_SIZE"]

"""Webhook events (Webhooks API v3) and their delivery.

Changes reported by :class:`~sandbox.hubspot.crm.Crm` become events when the app is
installed in the portal and an active subscription matches: per event type, and per property
for ``propertyChange`` (see :mod:`sandbox.hubspot.subscriptions`). Events are queued per portal and POSTed by a daemon
thread as a JSON array of at most ``webhook_batch_size`` (100) events, signed v1
(``X-HubSpot-Signature``) and v3 (``X-HubSpot-Signature-v3`` + ``X-HubSpot-Request-Timestamp``).
A non-2xx answer or a connection error re-queues the batch with ``attemptNumber`` + 1 after
``webhook_backoff_s`` (doubling, capped at 10×) until ``webhook_max_attempts`` attempts were made.
The ``drop_webhooks`` fault makes the next N deliveries vanish unsent (lost events).
:meth:`WebhookDispatcher.flush` blocks until every queued delivery was attempted.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque

import requests

from . import subscriptions
from .signing import signed_headers
from .store import Store


class WebhookDispatcher:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cond = threading.Condition()
        self._queue: deque = deque()            # (not_before, portal_id, [events], attempt)
        self._in_flight = 0
        self._stopped = False
        self.drop_next = 0
        self.deliveries: list[dict] = []         # log: {portal_id, url, status, attempt, count, error, ts}
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="hubspot-sandbox-webhooks", daemon=True)
        self._thread.start()

    # --- producing ---------------------------------------------------------------------------
    def emit(self, portal_id: int, change: dict) -> None:
        """Turn one change into an event when subscribed and installed; queue it."""
        store = self.store
        portal = store.portals.get(portal_id)
        if portal is None or portal.install is None or not store.settings.webhook_target:
            return
        targets = subscriptions.matching(store.subscriptions, change)
        if not targets:
            return
        for sub, overrides in targets:
            portal.webhook_seq += 1
            event = {"eventId": portal.webhook_seq, "subscriptionId": sub["id"],
                     "portalId": portal_id, "appId": store.settings.app_id,
                     "occurredAt": store.now_ms(), "attemptNumber": 0}
            event.update({k: v for k, v in change.items() if v is not None or k == "sourceId"})
            event.update(overrides)
            if event.get("sourceId") is None:
                event.pop("sourceId")
            self._queue_event(portal_id, event)

    def _queue_event(self, portal_id: int, event: dict) -> None:
        store = self.store
        with self._cond:
            # coalesce into the newest not-yet-sent batch of this portal
            for item in reversed(self._queue):
                if item[1] == portal_id and item[3] == 0 and len(item[2]) < store.settings.webhook_batch_size:
                    item[2].append(event)
                    break
            else:
                self._queue.append([0.0, portal_id, [event], 0])
            self._cond.notify_all()

    def discard_portal(self, portal_id: int) -> None:
        """App uninstalled: nothing more is delivered for this portal."""
        with self._cond:
            self._queue = deque(i for i in self._queue if i[1] != portal_id)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self.deliveries.clear()
            self.drop_next = 0
            self._cond.notify_all()

    # --- consuming ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    ready = [i for i in self._queue if i[0] <= time.monotonic()]
                    if ready:
                        break
                    wait = min((i[0] for i in self._queue), default=None)
                    self._cond.wait(None if wait is None else max(0.001, wait - time.monotonic()))
                if self._stopped:
                    return
                item = ready[0]
                self._queue.remove(item)
                self._in_flight += 1
            try:
                self._deliver(item)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _deliver(self, item) -> None:
        _not_before, portal_id, events, attempt = item
        settings = self.store.settings
        target = settings.webhook_target
        portal = self.store.portals.get(portal_id)
        if not target or portal is None or portal.install is None:
            return
        with self._cond:
            if self.drop_next > 0:
                self.drop_next -= 1
                self.deliveries.append({"portal_id": portal_id, "url": target, "status": None, "attempt": attempt,
                                        "count": len(events), "error": "dropped (fault)", "ts": time.time()})
                return
        payload = [dict(e, attemptNumber=attempt) for e in events]
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "HubSpot Connect 2.0 (sandbox)"}
        headers.update(signed_headers(settings.client_secret, versions=("v1", "v3"), method="POST",
                                      uri=target, body=body))
        status, error = None, None
        try:
            resp = self._session.post(target, data=body, headers=headers, timeout=settings.webhook_timeout_s)
            status = resp.status_code
            ok = 200 <= status < 300
        except requests.RequestException as exc:
            ok, error = False, type(exc).__name__
        with self._cond:
            self.deliveries.append({"portal_id": portal_id, "url": target, "status": status, "attempt": attempt,
                                    "count": len(events), "error": error, "ts": time.time()})
            if not ok and attempt + 1 < settings.webhook_max_attempts:
                delay = settings.webhook_backoff_s * min(2 ** attempt, 10)
                self._queue.append([time.monotonic() + delay, portal_id, events, attempt + 1])
                self._cond.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the queue is empty and nothing is in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=2)
        self._session.close()

"""Webhooks: registration API, thin payloads (reference §8.4) and the delivery queue (§8.2, §8.5).

Registration
    ``GET /api/v1/webhooks``, ``POST /api/v1/webhooks`` with ``{"events": [...], "url": "..."}``
    (lower-case keys as n8n sends; any casing works), ``DELETE /api/v1/webhooks/{id}``.
    Setting the authentication type through the API is [NF], so the public API registers
    "No Authentication" hooks only; HTTP Basic credentials (what billwerk's UI offers) are set
    with :meth:`BillwerkSandbox.register_webhook` or ``POST /_sandbox/webhooks``.
    A hook registered with an ``X-SELECTED-LEGAL-ENTITY-ID`` header (or ``entity_id=``) receives
    that entity's events only; without it, the events of all entities of the account. Every
    payload names its entity in ``EntityId``.

Delivery
    ``POST`` JSON, HTTP Basic when credentials are set, timeout ``webhook_timeout_s`` (10 s).
    200/201/202/204 is success; anything else (or a timeout) is retried with a doubling delay
    (``webhook_retry_base_s``, ``2×``, ``4×`` …) up to ``webhook_max_attempts`` attempts in total
    (12), each retry carrying ``X-Retry-Count: n`` (1 on the first retry). 301/302/307/308 are
    followed with the same POST. Hooks sharing a customer (hence a contract) are first sent
    in order; a hook whose attempt failed is retried on its own schedule and does not hold back
    the customer's later hooks, so it can arrive after them (billwerk: "up to two days old").
    Test modes (``/_sandbox/faults``, :meth:`Dispatcher.set_faults`): drop the next *n* hooks,
    send the next *n* twice, deliver ready hooks of different customers newest first, pause
    delivery, send one contract's queued hooks newest first, deliver the next *n* hooks again
    late as retries, or send legacy payloads without ``EntityId``.
"""
from __future__ import annotations

import collections
import itertools
import threading
import time

import requests
from flask import Blueprint, g, request

from .common import entity_id, list_response, object_response, read_json, sandbox
from .errors import invalid, not_found
from .formats import fmt_ts
from .store import public

bp = Blueprint("billwerk_webhooks", __name__)

#: Every event name billwerk offers (reference §8.3).
EVENTS = frozenset("""
AccountingExportFileCreated PaymentsExportFileCreated ReportSucceeded ReportFailed AcctExportSucceeded
AcctExportFailed AutomaticDowngradeInsufficientBalance InsufficientBalanceForNextBilling ComponentCreated
ComponentChanged ComponentDeleted PlanCreated PlanChanged PlanDeleted PlanVariantCreated PlanVariantChanged
PlanVariantDeleted ContractCreated ContractChanged ContractDataChanged ContractCancelled ContractDeleted
CustomerCreated CustomerChanged CustomerDeleted CustomerLocked CustomerUnlocked DunningCreated InvoiceCreated
InvoiceCorrected OrderSucceeded DebitAuthCancelled PaymentBearerExpired PaymentBearerExpiring PaymentDataChanged
PaymentEscalated PaymentEscalationReset PaymentFailed PaymentProcessStatusChanged PaymentRegistered
PaymentSucceeded RecurringBillingApproaching TrialEndApproaching AccountCreated
""".split())

#: Payload keys per event, in billwerk's order; ``Event`` and ``EntityId`` follow (§8.4).
PAYLOAD_KEYS = {
    "ContractCreated": ("ContractId", "CustomerId"),
    "ContractChanged": ("ContractId", "CustomerId", "ExternalCustomerId", "ContractChangeId", "ContractChangeType"),
    "ContractDataChanged": ("ContractId", "CustomerId"),
    "ContractCancelled": ("ContractId", "CustomerId"),
    "ContractDeleted": ("ContractId", "CustomerId"),
    "OrderSucceeded": ("ContractId", "OrderId", "CustomerId"),
    "CustomerCreated": ("CustomerId",),
    "CustomerChanged": ("CustomerId",),
    "CustomerDeleted": ("CustomerId",),
    "InvoiceCreated": ("InvoiceId", "ContractId", "CustomerId"),
    "InvoiceCorrected": ("OldInvoiceId", "NewInvoiceId", "NewInvoiceDraftId", "OldInvoiceDraftId",
                         "NewInvoiceDraftIds", "ContractId", "CustomerId"),
    "PaymentEscalated": ("ContractId", "CustomerId", "TriggerDays", "DueDate", "PaymentEscalationProcessId"),
    "PaymentEscalationReset": ("ContractId", "CustomerId"),
    "PaymentDataChanged": ("ContractId", "CustomerId"),
}

SUCCESS = frozenset({200, 201, 202, 204})


def build_payload(event: str, entity: str, **ids) -> dict:
    keys = PAYLOAD_KEYS.get(event) or tuple(k for k in ids)
    payload = {k: ids.get(k) for k in keys}
    payload["Event"] = event
    payload["EntityId"] = entity
    return payload


def emit(sb, event: str, entity: str, **ids) -> dict:
    """Queue ``event`` for every matching registration of the entity's account."""
    payload = build_payload(event, entity, **ids)
    account = sb.store.account_of_entity(entity)
    if account is None:
        return payload
    for hook in list(sb.store.scan("webhooks")):
        if hook["_account"] != account.client_id:
            continue
        if hook["_scope"] is not None and hook["_scope"] != entity:
            continue
        if event not in hook["Events"]:
            continue
        sb.dispatcher.enqueue(hook, payload)
    sb.emitted.append(payload)
    return payload


def register(sb, client_id: str, url: str, events, username=None, password=None, scope=None) -> dict:
    """Store a registration; ``scope`` = one entity id, or ``None`` for all entities of the account."""
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise invalid("Url must be an absolute http(s) URL.")
    if not isinstance(events, list) or not events:
        raise invalid("Events must be a non-empty list of event names.")
    names = []
    for e in events:
        name = e.strip() if isinstance(e, str) else None      # n8n sends "PlanVariantCreated " (sic)
        if name not in EVENTS:
            raise invalid(f"Events: unknown event name {e!r}.")
        if name not in names:
            names.append(name)
    with sb.store.lock:
        account = sb.store.accounts[client_id]
        if scope is not None:
            scope = str(scope).lower()
            if account.entity(scope) is None:
                raise ValueError(f"entity {scope} does not belong to account {client_id!r}")
        hook = {
            "Id": sb.store.new_id(), "Url": url, "Events": names,
            "AuthenticationType": "BasicAuth" if username is not None else "None",
            "CreatedAt": fmt_ts(sb.now()),
            "_entity": scope or account.root.id, "_account": client_id, "_scope": scope,
            "_username": username, "_password": password,
        }
        if scope:
            hook["EntityId"] = scope
        return sb.store.insert("webhooks", hook)


# -- API ------------------------------------------------------------------------------------------

def _visible(hook) -> bool:
    return hook["_account"] == g.account.client_id


@bp.get("/api/v1/webhooks")
def list_webhooks():
    sb = sandbox()
    with sb.store.lock:
        return list_response([public(h) for h in sb.store.scan("webhooks") if _visible(h)])


@bp.post("/api/v1/webhooks")
def create_webhook():
    sb = sandbox()
    body = read_json()
    scope = entity_id() if request.headers.get("X-SELECTED-LEGAL-ENTITY-ID") else None
    hook = register(sb, g.account.client_id, body.get("Url"), body.get("Events"), scope=scope)
    return object_response(public(hook), 201)


@bp.get("/api/v1/webhooks/<id_>")
def get_webhook(id_):
    sb = sandbox()
    with sb.store.lock:
        hook = sb.store.get("webhooks", id_)
        if hook is None or not _visible(hook):
            raise not_found("Webhook", id_)
        return object_response(public(hook))


@bp.delete("/api/v1/webhooks/<id_>")
def delete_webhook(id_):
    sb = sandbox()
    with sb.store.lock:
        hook = sb.store.get("webhooks", id_)
        if hook is None or not _visible(hook):
            raise not_found("Webhook", id_)
        sb.store.delete("webhooks", hook["Id"])
    return "", 204


# -- delivery -------------------------------------------------------------------------------------

class Dispatcher:
    """Background sender: first attempts in order per customer, retries on their own schedule.

    billwerk sends one contract's hooks in order but does not hold later hooks back while an
    earlier one is being retried, so a retried hook can arrive after newer ones, up to two days
    late. Fault modes (:meth:`set_faults`) make the other orders a receiver has to cope with.
    """

    #: webhook fault keys of ``add_fault`` / ``POST /_sandbox/faults``
    FAULT_KEYS = ("drop_webhooks", "duplicate_webhooks", "reorder_webhooks", "pause_webhooks",
                  "reorder_contract_webhooks", "late_webhooks", "late_by_s", "late_retry_count", "legacy_webhooks")

    def __init__(self, settings):
        self.settings = settings
        self._cv = threading.Condition()
        self._queues: dict[tuple, collections.deque] = {}
        self._retrying: list[dict] = []          # failed first attempts (and late copies): not in order
        self._seq = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._busy = 0
        self.deliveries: list[dict] = []
        self._reset_faults()
        self._session = requests.Session()

    def _reset_faults(self) -> None:
        self.drop_next = 0
        self.duplicate_next = 0
        self.reorder = False
        self.paused = False
        self.reorder_contract: str | None = None
        self.late_next = 0
        self.late_by_s = 1.0
        self.late_retry_count = 3
        self.legacy = False

    # public ---------------------------------------------------------------------------------
    def set_faults(self, **faults) -> dict:
        """``drop_webhooks=n`` / ``duplicate_webhooks=n``: drop or double the next n hooks;
        ``reorder_webhooks``: ready hooks of different customers leave newest first;
        ``pause_webhooks``: hold every hook until resumed;
        ``reorder_contract_webhooks=<ContractId>`` (``None`` ends it): that contract's queued
        hooks leave newest first, as if billwerk had sent them in reverse (pause first to let them
        queue up);
        ``late_webhooks=n`` (with ``late_by_s``, default 1, and ``late_retry_count``, default 3):
        each of the next n hooks is delivered and then delivered once more ``late_by_s`` later with
        ``X-Retry-Count: late_retry_count`` — an old hook billwerk retries because it never saw
        the answer, arriving after newer ones;
        ``legacy_webhooks=True``: new hooks use the legacy payload (``Event`` and the object ids,
        no ``EntityId``/``CustomerId``)."""
        unknown = set(faults) - set(self.FAULT_KEYS)
        if unknown:
            raise ValueError(f"unknown webhook fault(s): {', '.join(sorted(unknown))}")
        with self._cv:
            self.drop_next += int(faults.get("drop_webhooks", 0))
            self.duplicate_next += int(faults.get("duplicate_webhooks", 0))
            self.late_next += int(faults.get("late_webhooks", 0))
            if "late_by_s" in faults:
                self.late_by_s = max(0.0, float(faults["late_by_s"]))
            if "late_retry_count" in faults:
                self.late_retry_count = max(1, int(faults["late_retry_count"]))
            if "reorder_webhooks" in faults:
                self.reorder = bool(faults["reorder_webhooks"])
            if "reorder_contract_webhooks" in faults:
                value = faults["reorder_contract_webhooks"]
                self.reorder_contract = str(value).lower() if value else None
            if "legacy_webhooks" in faults:
                self.legacy = bool(faults["legacy_webhooks"])
            if "pause_webhooks" in faults:
                self.paused = bool(faults["pause_webhooks"])
            self._cv.notify_all()
        return {"webhooks": dict(faults)}

    def clear_faults(self) -> None:
        with self._cv:
            self._reset_faults()
            self._cv.notify_all()

    def enqueue(self, hook: dict, payload: dict) -> None:
        order_key = payload.get("CustomerId") or payload.get("ContractId") or payload.get("EntityId")
        key = (hook["Id"], order_key)
        with self._cv:
            if self.legacy:
                payload = legacy_payload(payload)
            copies = 1
            if self.duplicate_next > 0:
                self.duplicate_next -= 1
                copies = 2
            late = 0
            if self.late_next > 0:
                self.late_next -= 1
                late = 1
            for _ in range(copies):
                delivery = self._new_delivery(hook, payload, key)
                self._queues.setdefault(key, collections.deque()).append(delivery)
                if late:
                    delivery["_late"] = (self.late_by_s, self.late_retry_count)
            self._ensure_thread()
            self._cv.notify_all()

    def _new_delivery(self, hook: dict, payload: dict, key: tuple) -> dict:
        delivery = {
            "Id": next(self._seq), "WebhookId": hook["Id"], "Url": hook["Url"], "Event": payload["Event"],
            "Payload": dict(payload), "Status": "Pending", "Attempts": [],
            "_auth": (hook["_username"], hook["_password"] or "") if hook["_username"] is not None else None,
            "_next": time.monotonic(), "_key": key, "_retry_header": None,
        }
        self.deliveries.append(delivery)
        return delivery

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until every queued delivery is delivered, dropped or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while any(self._queues.values()) or self._retrying or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.05))
        return True

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
        self._stopping = False

    def clear(self) -> None:
        with self._cv:
            self._queues.clear()
            self._retrying.clear()
            self.deliveries.clear()
            self._reset_faults()

    def set_paused(self, paused: bool) -> None:
        self.set_faults(pause_webhooks=paused)

    def snapshot(self) -> list[dict]:
        with self._cv:
            return [{k: v for k, v in d.items() if not k.startswith("_")} for d in self.deliveries]

    # internals ------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="billwerk-webhooks", daemon=True)
            self._thread.start()

    def _head(self, queue: collections.deque) -> dict:
        """The delivery a customer's queue sends next: the oldest, or with ``reorder_contract_webhooks``
        the newest of that contract's hooks."""
        if self.reorder_contract:
            mine = [d for d in queue if str(d["Payload"].get("ContractId") or "").lower() == self.reorder_contract]
            if mine:
                return mine[-1]
        return queue[0]

    def _next_ready(self):
        if self.paused:
            return None, None
        now = time.monotonic()
        heads = [self._head(q) for q in self._queues.values() if q] + self._retrying
        ready = [d for d in heads if d["_next"] <= now]
        if ready:
            pick = max if self.reorder else min
            return pick(ready, key=lambda d: d["Id"]), None
        wait = min((d["_next"] - now for d in heads), default=None)
        return None, wait

    def _run(self) -> None:
        while True:
            with self._cv:
                if self._stopping:
                    return
                delivery, wait = self._next_ready()
                if delivery is None:
                    self._cv.wait(wait if wait is not None else 0.5)
                    continue
                self._busy += 1
                drop = self.drop_next > 0 and not delivery["Attempts"]    # drop whole hooks, not retries
                if drop:
                    self.drop_next -= 1
                queue = self._queues.get(delivery["_key"])
                # Out of the ordered queue before it is sent: the customer's next hook may go as soon
                # as this attempt is over, whatever its outcome.
                if queue is not None and delivery in queue:
                    queue.remove(delivery)
                    if not queue:
                        self._queues.pop(delivery["_key"], None)
                elif delivery in self._retrying:
                    self._retrying.remove(delivery)
            outcome = "Failed"
            try:
                outcome = "Dropped" if drop else self._attempt(delivery)
            finally:
                with self._cv:
                    self._busy -= 1
                    if outcome == "Pending":
                        self._retrying.append(delivery)
                    else:
                        delivery["Status"] = outcome
                        late = delivery.pop("_late", None)
                        if late and outcome == "Delivered":
                            self._send_again_late(delivery, *late)
                    self._cv.notify_all()

    def _send_again_late(self, delivery: dict, late_by_s: float, retry_count: int) -> None:
        again = dict(delivery, Id=next(self._seq), Status="Pending", Attempts=[], Late=True,
                     _next=time.monotonic() + late_by_s, _retry_header=retry_count)
        again["Payload"] = dict(delivery["Payload"])
        self.deliveries.append(again)
        self._retrying.append(again)

    def _attempt(self, delivery: dict) -> str:
        retry = len(delivery["Attempts"])
        if delivery.get("_retry_header"):
            retry += delivery["_retry_header"]
        headers = {"Content-Type": "application/json", "User-Agent": "billwerk-sandbox-webhooks/1.0"}
        if retry:
            headers["X-Retry-Count"] = str(retry)
        record = {"At": None, "RetryCount": retry, "StatusCode": None, "Error": None}
        url = delivery["Url"]
        try:
            for _ in range(5):
                resp = self._session.post(url, json=delivery["Payload"], headers=headers, auth=delivery["_auth"],
                                          timeout=self.settings.webhook_timeout_s, allow_redirects=False)
                if resp.status_code in (301, 302, 307, 308) and resp.headers.get("Location"):
                    url = requests.compat.urljoin(url, resp.headers["Location"])
                    continue
                break
            record["StatusCode"] = resp.status_code
            ok = resp.status_code in SUCCESS
        except requests.RequestException as exc:
            record["Error"] = type(exc).__name__
            ok = False
        record["At"] = time.time()
        delivery["Attempts"].append(record)
        if ok:
            return "Delivered"
        if len(delivery["Attempts"]) >= self.settings.webhook_max_attempts:
            return "Failed"
        delay = self.settings.webhook_retry_base_s * (2 ** (len(delivery["Attempts"]) - 1))
        delivery["_next"] = time.monotonic() + delay
        return "Pending"


def legacy_payload(payload: dict) -> dict:
    """The older hook format some billwerk pages still show: ``Event`` first, then the object
    ids, without ``EntityId`` and ``CustomerId``."""
    out = {"Event": payload["Event"]}
    out.update((k, v) for k, v in payload.items() if k not in ("Event", "EntityId", "CustomerId"))
    return out

"""Workflow custom-action callbacks (Automation Actions v4, reference §3.5).

``POST /automation/v4/actions/callbacks/{callbackId}/complete`` → 204; the callback must
have been issued by :meth:`HubSpotSandbox.execute_workflow_action` for the token's portal
(else 404). ``outputFields`` is required. A callback completes once: completing it again, or
completing one the action already answered synchronously, one whose ``BLOCK`` expired
(``hs_expiration_duration``) or whose execution failed, is refused with 400 and changes nothing.
The batch form takes ``{"inputs": [{"callbackId", "outputFields", "typedOutputs"}]}`` (≤ 100)
and is all-or-nothing.
"""
from __future__ import annotations

from flask import Blueprint, g

from .app import batch_inputs, body_json, no_content, require_scopes, sandbox
from .errors import ApiError, validation

bp = Blueprint("automation", __name__)


def _check(callback_id: str, body) -> dict:
    """The callback a completion may complete; 404 / 400 otherwise."""
    hs = sandbox()
    cb = hs.store.callbacks.get(callback_id)
    if cb is None or cb["portalId"] != g.portal_id:
        raise ApiError(404, f"Callback {callback_id} not found", "OBJECT_NOT_FOUND", context={"callbackId": [callback_id]})
    if not isinstance(body, dict) or not isinstance(body.get("outputFields"), dict):
        raise validation("outputFields is required (an object of output field names to values)")
    refusal = {"COMPLETED": "was already completed" + (" by the action's own answer"
                                                       if cb.get("completedBy") == "response" else ""),
               "EXPIRED": "expired before it was completed (hs_expiration_duration)",
               "FAILED": "belongs to an execution that failed"}.get(cb["state"])
    if refusal:
        raise validation(f"Callback {callback_id} {refusal}; it cannot be completed again.",
                         context={"callbackId": [callback_id], "state": [cb["state"]]})
    return cb


def _complete(cb: dict, body: dict) -> None:
    hs = sandbox()
    completion = {"outputFields": body["outputFields"], "typedOutputs": body.get("typedOutputs") or {},
                  "failureReasonType": body.get("failureReasonType"), "requestContext": body.get("requestContext"),
                  "ts": hs.store.now_ms()}
    cb["completions"].append(completion)
    cb.update(state="COMPLETED", outputFields=body["outputFields"], completedBy="callback")


@bp.route("/automation/v4/actions/callbacks/<callback_id>/complete", methods=["POST"])
def complete(callback_id):
    require_scopes("automation")
    sandbox().expire_callbacks()
    body = body_json()
    _complete(_check(callback_id, body), body)
    return no_content()


@bp.route("/automation/v4/actions/callbacks/complete", methods=["POST"])
def complete_batch():
    require_scopes("automation")
    sandbox().expire_callbacks()
    inputs = batch_inputs(body_json())
    checked = []
    for item in inputs:   # check all first: the batch is all-or-nothing
        if not isinstance(item, dict) or not item.get("callbackId"):
            raise validation("each input needs callbackId and outputFields")
        checked.append((_check(str(item["callbackId"]), item), item))
    ids = [cb["callbackId"] for cb, _ in checked]
    if len(set(ids)) != len(ids):
        raise validation("a callback appears twice in the batch; each completes once")
    for cb, item in checked:
        _complete(cb, item)
    return no_content()

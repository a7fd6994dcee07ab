"""Workflow custom-action callbacks (Automation Actions v4, reference §3.5).

``POST /automation/v4/actions/callbacks/{callbackId}/complete`` → 204; the callback must
have been issued by :meth:`HubSpotSandbox.execute_workflow_action` for the token's portal
(else 404). ``outputFields`` is required. Completing an already completed callback is
accepted again (204) and recorded; the first completion's ``outputFields`` stay in force.
The batch form takes ``{"inputs": [{"callbackId", "outputFields", "typedOutputs"}]}`` (≤ 100).
"""
from __future__ import annotations

from flask import Blueprint, g

from .app import batch_inputs, body_json, no_content, require_scopes, sandbox
from .errors import ApiError, validation

bp = Blueprint("automation", __name__)


def _complete(callback_id: str, body) -> None:
    hs = sandbox()
    cb = hs.store.callbacks.get(callback_id)
    if cb is None or cb["portalId"] != g.portal_id:
        raise ApiError(404, f"Callback {callback_id} not found", "OBJECT_NOT_FOUND", context={"callbackId": [callback_id]})
    if not isinstance(body, dict) or not isinstance(body.get("outputFields"), dict):
        raise validation("outputFields is required (an object of output field names to values)")
    completion = {"outputFields": body["outputFields"], "typedOutputs": body.get("typedOutputs") or {},
                  "failureReasonType": body.get("failureReasonType"), "requestContext": body.get("requestContext"),
                  "ts": hs.store.now_ms()}
    cb["completions"].append(completion)
    if cb["state"] != "COMPLETED":
        cb.update(state="COMPLETED", outputFields=body["outputFields"], completedBy="callback")


@bp.route("/automation/v4/actions/callbacks/<callback_id>/complete", methods=["POST"])
def complete(callback_id):
    require_scopes("automation")
    _complete(callback_id, body_json())
    return no_content()


@bp.route("/automation/v4/actions/callbacks/complete", methods=["POST"])
def complete_batch():
    require_scopes("automation")
    inputs = batch_inputs(body_json())
    for item in inputs:   # validate all first: the batch is all-or-nothing
        if not isinstance(item, dict) or not item.get("callbackId"):
            raise validation("each input needs callbackId and outputFields")
    for item in inputs:
        _complete(str(item["callbackId"]), item)
    return no_content()

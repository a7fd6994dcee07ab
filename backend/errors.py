"""Errors as data: every failure carries a stable code, a sentence a person can act on, an
HTTP status for APIs, and whether trying again later can help."""
from __future__ import annotations


class HubwerkError(Exception):
    code = "error"
    status = 400
    retriable = False

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, retriable: bool | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if retriable is not None:
            self.retriable = retriable

    def as_json(self) -> dict:
        return {"error": self.code, "message": self.message}


class NotFound(HubwerkError):
    code = "not_found"
    status = 404


class Unauthorized(HubwerkError):
    code = "unauthorized"
    status = 401


class FlowError(HubwerkError):
    """A flow could not do its work; ``retriable`` says whether a later attempt can succeed."""

    code = "flow_failed"
    status = 422


class FoundProblems(Exception):
    """Raised by a flow that did its work and found what a person must fix in the source records
    (an address HubSpot holds that billwerk cannot take). Not a failure, nothing to retry: the run
    is recorded as ``succeeded`` with the problems as its message and ``counts``."""

    def __init__(self, message: str, counts: dict | None = None):
        super().__init__(message)
        self.message = message
        self.counts = counts or {}


class Skip(Exception):
    """Raised by a flow when there is nothing to do (already done, no longer applies); the run is
    recorded as ``skipped`` with the reason."""

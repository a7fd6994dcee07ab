"""HubSpot's error shape.

Every refusal the sandbox produces is an :class:`ApiError`, rendered as HubSpot renders
errors: ``{"status": "error", "message", "correlationId", "category", ...}`` with a fresh
UUID ``correlationId`` per response (HubSpot support asks for it; clients should log it).
"""
from __future__ import annotations

import json
import uuid
from typing import Any


def correlation_id() -> str:
    return str(uuid.uuid4())


class ApiError(Exception):
    """An HTTP error answered in HubSpot's JSON error shape."""

    def __init__(self, status: int, message: str, category: str | None = None, *,
                 errors: list | None = None, context: dict | None = None,
                 headers: dict | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors
        self.context = context
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict:
        out: dict[str, Any] = {"status": "error", "message": self.message,
                               "correlationId": correlation_id()}
        if self.category:
            out["category"] = self.category
        if self.errors is not None:
            out["errors"] = self.errors
        if self.context is not None:
            out["context"] = self.context
        out.update(self.extra)
        return out


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, message, "OBJECT_NOT_FOUND")


def validation(message: str, **kw: Any) -> ApiError:
    return ApiError(400, message, "VALIDATION_ERROR", **kw)


def conflict(message: str, **kw: Any) -> ApiError:
    return ApiError(409, message, "CONFLICT", **kw)


class PropertyErrors(Exception):
    """Raised by value validation: a list of per-property problems.

    Each problem is ``(property_name, code, message)``. :meth:`to_api_error` renders the
    400 HubSpot answers: the message is ``"Property values were not valid: "`` followed by
    the JSON list HubSpot embeds, and ``errors`` holds one entry per property with
    ``code`` and ``context.propertyName``.
    """

    def __init__(self, problems: list[tuple[str, str, str]]):
        super().__init__(problems)
        self.problems = problems

    def message(self) -> str:
        inner = [{"isValid": False, "message": msg, "error": code, "name": name,
                  "localizedErrorMessage": msg} for name, code, msg in self.problems]
        return "Property values were not valid: " + json.dumps(inner)

    def error_entries(self) -> list[dict]:
        return [{"message": msg, "code": code, "context": {"propertyName": [name]}}
                for name, code, msg in self.problems]

    def to_api_error(self) -> ApiError:
        return validation(self.message(), errors=self.error_entries())

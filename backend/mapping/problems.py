"""Problems found in HubSpot records, in words a sales rep can act on, each with the record to fix it on.

A problem names the HubSpot property to fix and the record it is on, so the card, the
``billwerk_import_errors`` / ``billwerk_validation_message`` properties and the import log can
each show it with a link straight to that record. Each problem is one line: the contract asks
for every problem to be reported separately, never folded into one "address invalid".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

#: HubSpot's object type ids in record links (``/contacts/<portal>/record/0-2/<id>``).
OBJECT_TYPE_IDS: dict[str, str] = {"contact": "0-1", "company": "0-2", "deal": "0-3"}

# Plural and type-id spellings callers already hold (API paths, webhook payloads).
_ALIASES: dict[str, str] = {
    "contacts": "contact", "companies": "company", "deals": "deal",
    "0-1": "contact", "0-2": "company", "0-3": "deal",
}


def object_type_id(object_type: str) -> str:
    """``"company"`` -> ``"0-2"``; accepts singular, plural or the id itself."""
    key = object_type.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return OBJECT_TYPE_IDS[key]
    except KeyError:
        raise ValueError(f"unknown HubSpot object type {object_type!r}; "
                         f"expected one of {', '.join(OBJECT_TYPE_IDS)}") from None


def record_url(app_base_url: str, portal_id: str | int, object_type: str, object_id: str | int) -> str:
    """Link to a record in HubSpot: ``{base}/contacts/{portal}/record/{typeId}/{id}``.

    The ``/contacts/`` segment is part of HubSpot's app URL for every object type (it is the
    CRM app's path), not the object type itself.
    """
    return f"{app_base_url.rstrip('/')}/contacts/{portal_id}/record/{object_type_id(object_type)}/{object_id}"


@dataclass(frozen=True)
class Problem:
    """One thing to fix in HubSpot before billwerk accepts the record.

    ``field`` is the HubSpot property name (e.g. ``"zip"``), so a UI can highlight it;
    ``message`` is a sentence without jargon; ``object_type`` is ``company``, ``contact`` or
    ``deal`` and ``object_id`` the HubSpot record id.
    """

    field: str
    message: str
    object_type: str
    object_id: str

    def url(self, app_base_url: str, portal_id: str | int) -> str:
        """Where the rep fixes it: the HubSpot record the problem is on."""
        return record_url(app_base_url, portal_id, self.object_type, self.object_id)

    def __str__(self) -> str:
        return self.message


def problems_text(problems: Iterable[Problem], app_base_url: str | None = None, portal_id: str | int | None = None,
                  on: str | None = None) -> str:
    """One message a line, as ``billwerk_import_errors`` and ``billwerk_validation_message`` store
    them; duplicates are dropped, order is kept. With ``on`` (the record the text is written to),
    a problem on another record (the deal's contact, say) names where to fix it."""
    seen: dict[str, None] = {}
    for problem in problems:
        line = problem.message
        if on is not None and app_base_url is not None and problem.object_type != on:
            line = f"{line} ({problem.object_type} {problem.url(app_base_url, portal_id)})"
        seen.setdefault(line, None)
    return "\n".join(seen)
